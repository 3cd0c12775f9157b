// The JSON messages of Deepgram's live protocols as this server writes them (field names checked
// against the official @deepgram/sdk types), plus the ids, times and digests they carry.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model_server/transcriber.h"

namespace parley::model_server {

// The fixed identity reported for PocketSphinx en-us in model_info / model_uuid.
inline constexpr const char* kListenModelUuid = "6b3b0a2e-5f0c-4c1e-9a53-70636b737068";
inline constexpr const char* kListenModelName = "pocketsphinx-en-us";
inline constexpr const char* kListenModelVersion = "5prealpha";
inline constexpr const char* kListenModelArch = "pocketsphinx";
inline constexpr const char* kSpeakModelUuid = "0e5b8f42-1d3c-4a8e-b7a1-657370656b6e";

// A random RFC 4122 version-4 UUID, e.g. for request_id.
std::string new_request_id();
// The current UTC time as "2025-01-31T12:34:56.789Z".
std::string iso8601_now();

// Incremental SHA-256 (OpenSSL), for the Metadata digest of the audio received.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  // Lower-case hex digest of everything so far (the object stays usable).
  std::string hex() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// {"type":"Results", ...} for a segment event.
nlohmann::json results_message(const TranscriptEvent& segment, const std::string& request_id,
                               int channel_count);
// {"type":"SpeechStarted","channel":[0,1],"timestamp":s}.
nlohmann::json speech_started_message(double timestamp);
// {"type":"UtteranceEnd","channel":[0,1],"last_word_end":s}.
nlohmann::json utterance_end_message(double last_word_end);
// The final {"type":"Metadata", ...} of a listen stream.
nlohmann::json listen_metadata_message(const std::string& request_id, const std::string& created,
                                       const std::string& sha256, double duration, int channels);
// The {"type":"Metadata", ...} a speak stream starts with.
nlohmann::json speak_metadata_message(const std::string& request_id, const std::string& model);

// The "type" of a JSON control message ({"type":"KeepAlive"}), or nullopt when `payload` is not
// a JSON object with a string "type". Cheap for audio: only payloads that start with '{' (after
// whitespace) and are under 64 KiB are parsed. SageMaker delivers JSON in binary frames when the
// client gave no DataType, so binary frames are checked too.
std::optional<std::string> control_type(std::string_view payload, nlohmann::json* parsed = nullptr);

}  // namespace parley::model_server
