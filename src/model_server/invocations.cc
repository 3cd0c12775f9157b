// POST /invocations: one-shot transcription (WAV body → JSON) and synthesis ({"text"} → WAV).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "model_server/deepgram_messages.h"
#include "model_server/server_state.h"
#include "model_server/transcriber.h"
#include "parley/media/audio_converter.h"
#include "parley/media/wav.h"
#include "speech/espeak_synthesizer.h"

namespace parley::model_server {
namespace {

using StatePtr = std::shared_ptr<ModelServer::State>;

bool accepts_wav(std::optional<std::string_view> accept) {
  if (!accept || accept->empty()) return true;
  for (std::string_view ok : {"audio/wav", "audio/x-wav", "audio/wave", "audio/*", "*/*"}) {
    if (accept->find(ok) != std::string_view::npos) return true;
  }
  return false;
}

// Transcribes a whole WAV file on the calling (compute) thread.
net::HttpResponse transcribe(const StatePtr& state, const std::string& body) {
  const std::string request_id = new_request_id();
  auto audio = media::parse_wav(
      std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()), "request body");
  if (!audio.is_ok()) {
    return net::HttpResponse::json_error(400, "invalid_audio", audio.status().message());
  }
  std::vector<int16_t> mono;
  auto converter = media::AudioConverter::create({speech::kPocketSphinxSampleRate, 1});
  if (!converter.is_ok()) {
    return net::HttpResponse::json_error(500, "internal", converter.status().message());
  }
  if (auto st = (*converter)->convert(audio->samples, {audio->sample_rate, audio->channels}, mono);
      !st.is_ok()) {
    return net::HttpResponse::json_error(400, "invalid_audio", st.message());
  }
  (void)(*converter)->flush(mono);
  auto lease = state->pool.try_acquire();
  if (!lease.is_ok()) {
    return net::HttpResponse::json_error(503, "busy",
                                         "no speech decoder is free: " + lease.status().message());
  }
  std::vector<TranscriptEvent> segments;
  TranscriberOptions options;  // final segments only, cut at PocketSphinx's endpoints
  StreamingTranscriber transcriber(**lease, options, [&](TranscriptEvent e) {
    if (e.kind == TranscriptEvent::Kind::kSegment && !e.transcript.empty()) {
      segments.push_back(std::move(e));
    }
  });
  Status st = transcriber.accept(mono);
  if (st.is_ok()) st = transcriber.finalize(false, false);
  if (!st.is_ok()) return net::HttpResponse::json_error(500, "decoder", st.message());

  std::string text;
  double confidence = 0;
  nlohmann::json words = nlohmann::json::array(), segs = nlohmann::json::array();
  for (const auto& s : segments) {
    if (!text.empty()) text.push_back(' ');
    text += s.transcript;
    confidence += s.confidence / static_cast<double>(segments.size());
    segs.push_back({{"start", s.start},
                    {"end", s.start + s.duration},
                    {"transcript", s.transcript},
                    {"confidence", s.confidence}});
    for (const auto& w : s.words) {
      words.push_back(
          {{"word", w.word}, {"start", w.start}, {"end", w.end}, {"confidence", w.confidence}});
    }
  }
  return net::HttpResponse::json(200, {{"request_id", request_id},
                                       {"transcript", text},
                                       {"confidence", confidence},
                                       {"duration", audio->duration_s()},
                                       {"words", words},
                                       {"segments", segs}});
}

// Synthesises `request` with eSpeak and answers with a WAV file when it is done.
void synthesize(const nlohmann::json& request, net::HttpResponder respond) {
  std::string voice = "en-us";
  if (auto it = request.find("voice"); it != request.end()) {
    // Checked by hand: json::value() throws on a non-string, on an I/O thread.
    if (!it->is_string()) {
      return respond.send(net::HttpResponse::json_error(
          400, "invalid_parameter",
          "\"voice\" must be a string naming an eSpeak NG voice, e.g. \"en-us\""));
    }
    voice = it->get<std::string>();
  }
  const int native = speech::EspeakService::instance().sample_rate();
  int rate = native;
  if (auto it = request.find("sample_rate"); it != request.end()) {
    if (!it->is_number_integer() || it->get<int>() < 8000 || it->get<int>() > 48000) {
      return respond.send(net::HttpResponse::json_error(
          400, "invalid_parameter", "\"sample_rate\" must be an integer in 8000..48000"));
    }
    rate = it->get<int>();
  }
  auto audio = std::make_shared<media::PcmAudio>();
  audio->sample_rate = native;
  speech::SynthRequest req;
  req.text = request["text"].get<std::string>();
  req.voice = voice;
  req.on_audio = [audio](std::span<const int16_t> s, bool) {
    audio->samples.insert(audio->samples.end(), s.begin(), s.end());
  };
  req.on_done = [audio, respond, rate](const Status& st) {
    if (!st.is_ok()) {
      const int code = st.code() == StatusCode::kNotFound ? 400 : 500;
      return respond.send(net::HttpResponse::json_error(code, "synthesis_failed", st.message()));
    }
    media::PcmAudio out = std::move(*audio);
    if (rate != out.sample_rate) {
      std::vector<int16_t> resampled;
      auto conv = media::AudioConverter::create({rate, 1});
      if (conv.is_ok() && (*conv)->convert(out.samples, {out.sample_rate, 1}, resampled).is_ok() &&
          (*conv)->flush(resampled).is_ok()) {
        out.samples = std::move(resampled);
        out.sample_rate = rate;
      }
    }
    auto wav = media::encode_wav(out);
    if (!wav.is_ok()) {
      return respond.send(net::HttpResponse::json_error(500, "internal", wav.status().message()));
    }
    respond.send(net::HttpResponse::text(200, std::string(wav->begin(), wav->end()), "audio/wav"));
  };
  auto handle = speech::EspeakService::instance().submit(std::move(req));
  if (!handle.is_ok()) {
    respond.send(
        net::HttpResponse::json_error(503, "synthesis_unavailable", handle.status().message()));
  }
}

}  // namespace

void handle_invocations(const StatePtr& state, const net::HttpRequest& request,
                        net::HttpResponder respond) {
  std::string reason;
  if (state->get_readiness(&reason) != Readiness::kReady) {
    return respond.send(net::HttpResponse::json_error(
        503, "loading", "the models are not ready yet (" + reason + "); retry when /ping is 200"));
  }
  const std::string_view body = request.body;
  const auto content_type = request.header("Content-Type").value_or("");
  const size_t first = body.find_first_not_of(" \t\r\n");
  const bool json = content_type.find("json") != std::string_view::npos ||
                    (first != std::string_view::npos && body[first] == '{');
  if (json) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      return respond.send(net::HttpResponse::json_error(
          400, "invalid_request",
          "a JSON body must be {\"text\": \"...\"} (speech synthesis); to transcribe, POST a WAV "
          "file with Content-Type: audio/wav"));
    }
    if (!accepts_wav(request.header("Accept"))) {
      return respond.send(net::HttpResponse::json_error(
          406, "not_acceptable", "synthesis answers audio/wav: send Accept: audio/wav"));
    }
    return synthesize(j, std::move(respond));
  }
  if (body.starts_with("RIFF")) {
    boost::asio::post(state->runtime->compute(), [state, body = request.body, respond]() {
      respond.send(transcribe(state, body));
    });
    return;
  }
  respond.send(net::HttpResponse::json_error(
      415, "unsupported_media_type",
      "POST a 16-bit PCM WAV file (Content-Type: audio/wav) to transcribe it, or JSON "
      "{\"text\": \"...\"} with Accept: audio/wav to synthesise speech"));
}

}  // namespace parley::model_server
