// SpeechSegmenter: onset accumulation with gap tolerance, and hangover before speech_end.
#include "speech/speech_segmenter.h"

#include <algorithm>
#include <sstream>

namespace parley::speech {

Status SpeechSegmenterConfig::validate() const {
  if (frame_ms <= 0) {
    return invalid_argument("SpeechSegmenterConfig.frame_ms must be positive, got " +
                            std::to_string(frame_ms));
  }
  if (min_speech_ms < 0 || min_silence_ms < 0 || max_onset_gap_ms < 0 || onset_ms < 0) {
    return invalid_argument("SpeechSegmenterConfig durations must not be negative: " + to_string());
  }
  if (onset_ms > 0 && onset_ms >= min_speech_ms) {
    // The cue would never come: speech_start is certain before that much voice was heard.
    return invalid_argument("onset_ms (" + std::to_string(onset_ms) +
                            ") must be below min_speech_ms (" + std::to_string(min_speech_ms) +
                            "): speech_onset is an early cue before speech_start; 0 turns it off");
  }
  return Status::ok();
}

std::string SpeechSegmenterConfig::to_string() const {
  std::ostringstream out;
  out << "SpeechSegmenterConfig(frame_ms=" << frame_ms << ", min_speech_ms=" << min_speech_ms
      << ", min_silence_ms=" << min_silence_ms << ", max_onset_gap_ms=" << max_onset_gap_ms
      << ", onset_ms=" << onset_ms << ")";
  return out.str();
}

const char* speech_event_name(SpeechEventType type) {
  switch (type) {
    case SpeechEventType::kSpeechStart:
      return "speech_start";
    case SpeechEventType::kSpeechEnd:
      return "speech_end";
    case SpeechEventType::kSpeechOnset:
      return "speech_onset";
  }
  return "unknown";
}

SpeechSegmenter::SpeechSegmenter(SpeechSegmenterConfig config) : config_(config) {
  config_.frame_ms = std::max(config_.frame_ms, 1);
  config_.min_speech_ms = std::max(config_.min_speech_ms, 0);
  config_.min_silence_ms = std::max(config_.min_silence_ms, 0);
  config_.max_onset_gap_ms = std::max(config_.max_onset_gap_ms, 0);
  config_.onset_ms = std::max(config_.onset_ms, 0);
}

std::optional<SpeechEvent> SpeechSegmenter::push(bool voiced) {
  const int64_t frame_start = position_ms_;
  position_ms_ += config_.frame_ms;

  if (in_speech_) {
    if (voiced) {
      last_voice_end_ms_ = position_ms_;
      silence_ms_ = 0;
      return std::nullopt;
    }
    silence_ms_ += config_.frame_ms;
    if (silence_ms_ < config_.min_silence_ms) return std::nullopt;
    in_speech_ = false;
    onset_start_ms_ = -1;
    return SpeechEvent{SpeechEventType::kSpeechEnd, last_voice_end_ms_, position_ms_};
  }

  if (!voiced) {
    if (onset_start_ms_ >= 0) {
      onset_gap_ms_ += config_.frame_ms;
      if (onset_gap_ms_ > config_.max_onset_gap_ms) onset_start_ms_ = -1;  // start over
    }
    return std::nullopt;
  }
  if (onset_start_ms_ < 0) {
    onset_start_ms_ = frame_start;
    onset_voiced_ms_ = 0;
    onset_reported_ = false;
  }
  onset_gap_ms_ = 0;
  onset_voiced_ms_ += config_.frame_ms;
  if (onset_voiced_ms_ < config_.min_speech_ms) {
    if (config_.onset_ms <= 0 || onset_reported_ || onset_voiced_ms_ < config_.onset_ms)
      return std::nullopt;
    onset_reported_ = true;
    return SpeechEvent{SpeechEventType::kSpeechOnset, onset_start_ms_, position_ms_};
  }
  in_speech_ = true;
  last_voice_end_ms_ = position_ms_;
  silence_ms_ = 0;
  return SpeechEvent{SpeechEventType::kSpeechStart, onset_start_ms_, position_ms_};
}

std::optional<SpeechEvent> SpeechSegmenter::flush() {
  std::optional<SpeechEvent> event;
  if (in_speech_)
    event = SpeechEvent{SpeechEventType::kSpeechEnd, last_voice_end_ms_, position_ms_};
  reset(position_ms_);
  return event;
}

void SpeechSegmenter::reset(int64_t start_ms) {
  position_ms_ = start_ms;
  in_speech_ = false;
  onset_start_ms_ = -1;
  onset_voiced_ms_ = 0;
  onset_gap_ms_ = 0;
  onset_reported_ = false;
  last_voice_end_ms_ = start_ms;
  silence_ms_ = 0;
}

}  // namespace parley::speech
