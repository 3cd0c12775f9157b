// SpeechSegmenter: turns per-frame voice flags (from a VAD) into speech_start / speech_end events.
//
// Pure logic with no audio and no clock of its own: time advances by `frame_ms` per pushed frame,
// so results are deterministic and tests need no sleeping. Speech starts once `min_speech_ms` of
// voiced frames have been seen (short unvoiced gaps of up to `max_onset_gap_ms` inside the onset
// do not restart the count) and ends after `min_silence_ms` of unvoiced frames (the hangover).
// Each event carries both when the speech really started/ended and when that became certain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "parley/status.h"

namespace parley::speech {

// Timing rules of a SpeechSegmenter.
struct SpeechSegmenterConfig {
  // Duration of one pushed frame in ms (10 for WebRTC VAD frames).
  int frame_ms = 10;
  // Voiced audio needed before speech_start is declared (filters clicks and coughs).
  int min_speech_ms = 200;
  // Unvoiced audio needed before speech_end is declared (the hangover bridging pauses).
  int min_silence_ms = 500;
  // Longest unvoiced gap tolerated inside an onset before the voiced count starts over.
  int max_onset_gap_ms = 60;
  // When positive and below min_speech_ms: voiced audio after which a speech_onset event says
  // speech *may* be starting — an early cue for barge-in, before speech_start is certain. 0: off.
  int onset_ms = 0;

  // Checks that every duration is non-negative, frame_ms is positive and a positive onset_ms is
  // below min_speech_ms.
  Status validate() const;
  // One-line human-readable description, for logs.
  std::string to_string() const;
};

// Kind of a segmenter event.
enum class SpeechEventType { kSpeechStart, kSpeechEnd, kSpeechOnset };

// A change between silence and speech.
struct SpeechEvent {
  // speech_start or speech_end.
  SpeechEventType type = SpeechEventType::kSpeechStart;
  // Stream time of the change: start of the first voiced frame, or end of the last voiced frame.
  int64_t timestamp_ms = 0;
  // Stream time at which the change was decided (end of the frame that confirmed it).
  int64_t detected_at_ms = 0;
};

// "speech_start" / "speech_end" / "speech_onset", the names used by vad_event messages.
const char* speech_event_name(SpeechEventType type);

// Stateful frame-by-frame speech segmenter for one stream; not thread-safe.
class SpeechSegmenter {
 public:
  // A segmenter with `config`, which should have passed validate() (bad values are clamped).
  explicit SpeechSegmenter(SpeechSegmenterConfig config = {});

  // Consumes one frame's voice flag; returns the event this frame confirmed, if any.
  std::optional<SpeechEvent> push(bool voiced);
  // Ends the stream: returns speech_end if speech was in progress, then resets.
  std::optional<SpeechEvent> flush();
  // Forgets all state; the next frame starts at stream time `start_ms`.
  void reset(int64_t start_ms = 0);

  // True between speech_start and speech_end.
  bool in_speech() const { return in_speech_; }
  // Stream time of the end of the last pushed frame.
  int64_t position_ms() const { return position_ms_; }
  // The rules this segmenter applies.
  const SpeechSegmenterConfig& config() const { return config_; }

 private:
  SpeechSegmenterConfig config_;
  int64_t position_ms_ = 0;
  bool in_speech_ = false;
  // While silent: the onset being accumulated.
  int64_t onset_start_ms_ = -1;  // -1: no onset in progress
  int64_t onset_voiced_ms_ = 0;
  int64_t onset_gap_ms_ = 0;
  bool onset_reported_ = false;  // speech_onset sent for the onset in progress
  // While speaking: the hangover.
  int64_t last_voice_end_ms_ = 0;
  int64_t silence_ms_ = 0;
};

}  // namespace parley::speech
