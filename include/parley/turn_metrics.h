// Per-turn timing marks: each stage of a conversation reports when it reached a milestone of a
// turn as `turn_mark` data {turn_id, stage, t_ms} on one monotonic clock, and the turn_timeline
// addon assembles them into the turn's timeline (DESIGN.md §2, §5).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "parley/message.h"

namespace parley {

// Milliseconds on the process's monotonic clock (steady_clock), the clock of every mark.
inline double monotonic_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Names of the marks, in the order a turn normally reaches them.
namespace stage {
inline constexpr const char* kUserSpeechStart = "user_speech_start";
inline constexpr const char* kUserSpeechEnd = "user_speech_end";
inline constexpr const char* kAsrFinal = "asr_final";
inline constexpr const char* kLlmRequest = "llm_request";
inline constexpr const char* kLlmFirstToken = "llm_first_token";
inline constexpr const char* kTtsFirstAudio = "tts_first_audio";
inline constexpr const char* kFirstAudioOut = "first_audio_out";
inline constexpr const char* kBargeIn = "barge_in";             // user speech over the agent
inline constexpr const char* kLastAudioOut = "last_audio_out";  // last agent frame after a flush
}  // namespace stage

// A `turn_mark` data message marking `stage_name` of `turn_id` now (or at `t_ms`).
inline std::unique_ptr<Data> make_stage_mark(int64_t turn_id, const char* stage_name,
                                             double t_ms = monotonic_ms()) {
  return std::make_unique<Data>(
      "turn_mark", nlohmann::json{{"turn_id", turn_id}, {"stage", stage_name}, {"t_ms", t_ms}});
}

}  // namespace parley
