// Query parameters of the Deepgram-compatible endpoints: /v1/listen (live speech-to-text) and
// /v1/speak (streaming text-to-speech). Parsing is strict: an unknown parameter or a bad value is
// refused before the WebSocket upgrade with a message saying what to send instead, because a
// silently ignored option would change results without the client knowing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "parley/net/http.h"
#include "parley/status.h"

namespace parley::model_server {

// /v1/listen options (Deepgram live transcription names and defaults).
struct ListenParams {
  // Any Deepgram model name is accepted; every one maps to PocketSphinx en-us.
  std::string model = "general";
  // English only ("en", "en-US", "en-GB", ...).
  std::string language = "en";
  // "linear16" for raw PCM; nullopt = detect a WAV header, else raw linear16 at sample_rate.
  std::optional<std::string> encoding;
  // Rate of raw audio in Hz (8000..48000); a WAV header overrides it when encoding is absent.
  int sample_rate = 16000;
  // Interleaved channels of raw audio (1..8); they are mixed down to mono.
  int channels = 1;
  // Send interim (is_final=false) Results while an utterance is in progress.
  bool interim_results = false;
  // Silence in ms that ends an utterance with speech_final=true; nullopt = endpointing=false.
  std::optional<int> endpointing_ms = 10;
  // Gap after the last word in ms that triggers UtteranceEnd (needs interim_results); nullopt=off.
  std::optional<int> utterance_end_ms;
  // Send SpeechStarted when the voice detector hears speech.
  bool vad_events = false;
  // Capitalise and end sentences with a period (PocketSphinx itself emits bare lower case).
  bool punctuate = false;
  // Implies punctuate here (no numerals or entity formatting).
  bool smart_format = false;
  // Deepgram's `tag` values, echoed in nothing but accepted.
  std::vector<std::string> tags;

  // Reads the query of a /v1/listen request; invalid_argument naming the parameter otherwise.
  static Result<ListenParams> parse(const std::vector<net::QueryParam>& query);
  // One-line description, for logs.
  std::string to_string() const;
};

// /v1/speak options (Deepgram streaming TTS names).
struct SpeakParams {
  // "aura-..." names map to eSpeak's en-us voice; "espeak-<voice>" picks an eSpeak NG voice.
  std::string model = "aura-asteria-en";
  // The eSpeak NG voice derived from model.
  std::string voice = "en-us";
  // Only "linear16" (signed 16-bit little-endian mono).
  std::string encoding = "linear16";
  // Output rate in Hz: 8000, 16000, 22050, 24000, 32000 or 48000.
  int sample_rate = 24000;
  // Speaking rate factor 0.5..2.0 (1.0 = 175 words per minute).
  double speed = 1.0;

  // Reads the query of a /v1/speak request; invalid_argument naming the parameter otherwise.
  static Result<SpeakParams> parse(const std::vector<net::QueryParam>& query);
  // One-line description, for logs.
  std::string to_string() const;
};

// Which behaviour /invocations-bidirectional-stream has.
enum class BidiRoute { kEcho, kListen, kSpeak };

// "echo", "listen", "speak" → BidiRoute; invalid_argument otherwise.
Result<BidiRoute> parse_bidi_route(std::string_view name);
// The name of a route.
const char* bidi_route_name(BidiRoute route);

// A Deepgram-shaped HTTP error: {"err_code", "err_msg", "request_id"} plus the dg-error header
// (browsers cannot read the body of a refused WebSocket handshake, but can see headers in
// devtools).
net::HttpResponse deepgram_error(int status, std::string_view err_code, std::string_view message,
                                 std::string_view request_id);

}  // namespace parley::model_server
