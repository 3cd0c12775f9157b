// Strict parsing of the /v1/listen and /v1/speak query parameters.
#include "model_server/stream_params.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace parley::model_server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<bool> parse_bool(std::string_view name, std::string_view value) {
  const std::string v = lower(value);
  if (v == "true" || v == "1" || v.empty()) return true;
  if (v == "false" || v == "0") return false;
  return invalid_argument(fmt::format("{}={} is not a boolean: use true or false", name, value));
}

Result<int> parse_int(std::string_view name, std::string_view value, int min, int max) {
  int v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < min || v > max) {
    return invalid_argument(
        fmt::format("{}={} is not an integer in {}..{}", name, value, min, max));
  }
  return v;
}

Result<double> parse_double(std::string_view name, std::string_view value, double min, double max) {
  try {
    size_t used = 0;
    const double v = std::stod(std::string(value), &used);
    if (used == value.size() && v >= min && v <= max) return v;
  } catch (...) {
  }
  return invalid_argument(fmt::format("{}={} is not a number in {}..{}", name, value, min, max));
}

bool valid_model_name(std::string_view model) {
  return !model.empty() && model.size() <= 100 &&
         std::all_of(model.begin(), model.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
         });
}

// Deepgram listen parameters that change the transcript and that PocketSphinx cannot honour.
const std::set<std::string, std::less<>>& unsupported_listen_features() {
  static const std::set<std::string, std::less<>> names = {
      "diarize",          "diarize_model", "multichannel",    "redact",          "search",
      "replace",          "keywords",      "keyterm",         "numerals",        "dictation",
      "profanity_filter", "callback",      "callback_method", "detect_entities", "filler_words",
      "detect_language",  "alternatives",  "paragraphs",      "utterances",      "measurements",
      "no_delay"};
  return names;
}

}  // namespace

#define PARLEY_ASSIGN_PARAM(target, expr) \
  do {                                    \
    auto r_ = (expr);                     \
    if (!r_.is_ok()) return r_.status();  \
    target = *r_;                         \
  } while (0)

Result<ListenParams> ListenParams::parse(const std::vector<net::QueryParam>& query) {
  ListenParams p;
  bool rate_given = false;
  std::optional<bool> interim;
  for (const auto& [name, value] : query) {
    if (name == "model") {
      if (!valid_model_name(value)) {
        return invalid_argument(fmt::format("model={} is not a model name", value));
      }
      p.model = value;
    } else if (name == "language") {
      const std::string l = lower(value);
      if (l != "en" && !l.starts_with("en-")) {
        return invalid_argument(fmt::format(
            "language={} is not available: this server transcribes English only (PocketSphinx "
            "en-us); use language=en",
            value));
      }
      p.language = value;
    } else if (name == "encoding") {
      if (lower(value) != "linear16") {
        return invalid_argument(
            fmt::format("encoding={} is not supported: send signed 16-bit little-endian PCM with "
                        "encoding=linear16&sample_rate=N, or a 16-bit WAV file without encoding",
                        value));
      }
      p.encoding = "linear16";
    } else if (name == "sample_rate") {
      PARLEY_ASSIGN_PARAM(p.sample_rate, parse_int(name, value, 8000, 48000));
      rate_given = true;
    } else if (name == "channels") {
      PARLEY_ASSIGN_PARAM(p.channels, parse_int(name, value, 1, 8));
    } else if (name == "interim_results") {
      PARLEY_ASSIGN_PARAM(interim, parse_bool(name, value));
    } else if (name == "endpointing") {
      if (lower(value) == "false") {
        p.endpointing_ms.reset();
      } else if (lower(value) == "true") {
        p.endpointing_ms = 10;
      } else {
        PARLEY_ASSIGN_PARAM(p.endpointing_ms, parse_int(name, value, 0, 60000));
      }
    } else if (name == "utterance_end_ms") {
      PARLEY_ASSIGN_PARAM(p.utterance_end_ms, parse_int(name, value, 1000, 60000));
    } else if (name == "vad_events") {
      PARLEY_ASSIGN_PARAM(p.vad_events, parse_bool(name, value));
    } else if (name == "punctuate") {
      PARLEY_ASSIGN_PARAM(p.punctuate, parse_bool(name, value));
    } else if (name == "smart_format") {
      PARLEY_ASSIGN_PARAM(p.smart_format, parse_bool(name, value));
    } else if (name == "tag") {
      p.tags.push_back(value);
    } else if (name == "mip_opt_out" || name == "version") {
      // Billing / model-version selectors: meaningless here and harmless to accept.
    } else if (unsupported_listen_features().count(name)) {
      return invalid_argument(fmt::format(
          "{} is a Deepgram feature this server does not implement (PocketSphinx); remove it",
          name));
    } else {
      return invalid_argument(fmt::format(
          "unknown parameter '{}'; /v1/listen accepts model, language, encoding, sample_rate, "
          "channels, interim_results, endpointing, utterance_end_ms, vad_events, punctuate, "
          "smart_format, tag",
          name));
    }
  }
  if (p.encoding && !rate_given) {
    return invalid_argument("sample_rate is required with encoding=linear16 (e.g. 16000)");
  }
  p.interim_results = interim.value_or(false);
  if (p.utterance_end_ms && !p.interim_results) {
    return invalid_argument("utterance_end_ms needs interim_results=true");
  }
  if (p.smart_format) p.punctuate = true;
  return p;
}

std::string ListenParams::to_string() const {
  return fmt::format(
      "model={} language={} encoding={} sample_rate={} channels={} interim_results={} "
      "endpointing={} utterance_end_ms={} vad_events={} punctuate={}",
      model, language, encoding.value_or("auto"), sample_rate, channels, interim_results,
      endpointing_ms ? std::to_string(*endpointing_ms) : "false",
      utterance_end_ms ? std::to_string(*utterance_end_ms) : "off", vad_events, punctuate);
}

Result<SpeakParams> SpeakParams::parse(const std::vector<net::QueryParam>& query) {
  SpeakParams p;
  for (const auto& [name, value] : query) {
    if (name == "model") {
      if (!valid_model_name(value)) {
        return invalid_argument(fmt::format("model={} is not a model name", value));
      }
      p.model = value;
      if (value.starts_with("espeak-") && value.size() > 7) {
        p.voice = value.substr(7);
      } else if (value.starts_with("aura")) {
        p.voice = "en-us";
      } else {
        return invalid_argument(
            fmt::format("model={} is unknown: use an aura-* name (spoken by eSpeak NG en-us) or "
                        "espeak-<voice>, e.g. espeak-en-gb",
                        value));
      }
    } else if (name == "encoding") {
      if (lower(value) != "linear16") {
        return invalid_argument(
            fmt::format("encoding={} is not supported: this server streams linear16", value));
      }
    } else if (name == "sample_rate") {
      PARLEY_ASSIGN_PARAM(p.sample_rate, parse_int(name, value, 8000, 48000));
      static const int kRates[] = {8000, 16000, 22050, 24000, 32000, 48000};
      if (std::find(std::begin(kRates), std::end(kRates), p.sample_rate) == std::end(kRates)) {
        return invalid_argument(fmt::format(
            "sample_rate={} is not one of 8000, 16000, 22050, 24000, 32000, 48000", value));
      }
    } else if (name == "speed") {
      PARLEY_ASSIGN_PARAM(p.speed, parse_double(name, value, 0.5, 2.0));
    } else if (name == "container") {
      if (lower(value) != "none") {
        return invalid_argument(fmt::format(
            "container={} is not supported on the streaming endpoint: use container=none", value));
      }
    } else if (name == "mip_opt_out" || name == "tag") {
      // Billing / tagging: accepted, no effect here.
    } else {
      return invalid_argument(fmt::format(
          "unknown parameter '{}'; /v1/speak accepts model, encoding, sample_rate, speed, "
          "container",
          name));
    }
  }
  return p;
}

std::string SpeakParams::to_string() const {
  return fmt::format("model={} voice={} encoding={} sample_rate={} speed={}", model, voice,
                     encoding, sample_rate, speed);
}

Result<BidiRoute> parse_bidi_route(std::string_view name) {
  if (name == "echo") return BidiRoute::kEcho;
  if (name == "listen") return BidiRoute::kListen;
  if (name == "speak") return BidiRoute::kSpeak;
  return invalid_argument(
      fmt::format("bidirectional route '{}' is not one of echo, listen, speak", name));
}

const char* bidi_route_name(BidiRoute route) {
  switch (route) {
    case BidiRoute::kEcho:
      return "echo";
    case BidiRoute::kListen:
      return "listen";
    case BidiRoute::kSpeak:
      return "speak";
  }
  return "?";
}

net::HttpResponse deepgram_error(int status, std::string_view err_code, std::string_view message,
                                 std::string_view request_id) {
  nlohmann::json body = {{"err_code", err_code}, {"err_msg", message}, {"request_id", request_id}};
  auto r = net::HttpResponse::json(status, body);
  r.headers.set("dg-error", std::string(message));
  r.headers.set("dg-request-id", std::string(request_id));
  return r;
}

}  // namespace parley::model_server
