// Deepgram-protocol JSON messages, request ids, timestamps and SHA-256.
#include "model_server/deepgram_messages.h"

#include <chrono>
#include <ctime>
#include <random>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace parley::model_server {

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  const uint16_t version = static_cast<uint16_t>(((a >> 16) & 0x0FFF) | 0x4000);
  const uint16_t variant = static_cast<uint16_t>(((b >> 48) & 0x3FFF) | 0x8000);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", static_cast<uint32_t>(a >> 32),
                     static_cast<uint16_t>(a & 0xFFFF), version, variant, b & 0xFFFFFFFFFFFFull);
}

std::string iso8601_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms.count());
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}
Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size());
}

std::string Sha256::hex() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, ctx_->md);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy, digest, &len);
  EVP_MD_CTX_free(copy);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

nlohmann::json results_message(const TranscriptEvent& s, const std::string& request_id,
                               int channel_count) {
  nlohmann::json words = nlohmann::json::array();
  for (const auto& w : s.words) {
    words.push_back({{"word", w.word},
                     {"start", w.start},
                     {"end", w.end},
                     {"confidence", w.confidence},
                     {"punctuated_word", w.punctuated_word}});
  }
  return {
      {"type", "Results"},
      {"channel_index", {0, channel_count}},
      {"duration", s.duration},
      {"start", s.start},
      {"is_final", s.is_final},
      {"speech_final", s.speech_final},
      {"from_finalize", s.from_finalize},
      {"channel",
       {{"alternatives",
         nlohmann::json::array(
             {{{"transcript", s.transcript}, {"confidence", s.confidence}, {"words", words}}})}}},
      {"metadata",
       {{"request_id", request_id},
        {"model_info",
         {{"name", kListenModelName},
          {"version", kListenModelVersion},
          {"arch", kListenModelArch}}},
        {"model_uuid", kListenModelUuid}}},
  };
}

nlohmann::json speech_started_message(double timestamp) {
  return {{"type", "SpeechStarted"}, {"channel", {0, 1}}, {"timestamp", timestamp}};
}

nlohmann::json utterance_end_message(double last_word_end) {
  return {{"type", "UtteranceEnd"}, {"channel", {0, 1}}, {"last_word_end", last_word_end}};
}

nlohmann::json listen_metadata_message(const std::string& request_id, const std::string& created,
                                       const std::string& sha256, double duration, int channels) {
  return {
      {"type", "Metadata"},
      {"transaction_key", "deprecated"},
      {"request_id", request_id},
      {"sha256", sha256},
      {"created", created},
      {"duration", duration},
      {"channels", channels},
      {"models", {kListenModelUuid}},
      {"model_info",
       {{kListenModelUuid,
         {{"name", kListenModelName},
          {"version", kListenModelVersion},
          {"arch", kListenModelArch}}}}},
  };
}

nlohmann::json speak_metadata_message(const std::string& request_id, const std::string& model) {
  return {{"type", "Metadata"},
          {"request_id", request_id},
          {"model_name", model},
          {"model_version", "espeak-ng"},
          {"model_uuid", kSpeakModelUuid}};
}

std::optional<std::string> control_type(std::string_view payload, nlohmann::json* parsed) {
  size_t i = 0;
  while (i < payload.size() &&
         (payload[i] == ' ' || payload[i] == '\n' || payload[i] == '\r' || payload[i] == '\t')) {
    ++i;
  }
  if (i >= payload.size() || payload[i] != '{' || payload.size() > (64u << 10)) {
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("type");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  std::string type = it->get<std::string>();
  if (parsed) *parsed = std::move(j);
  return type;
}

}  // namespace parley::model_server
