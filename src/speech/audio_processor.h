// Voice activity detection, noise suppression and echo cancellation over WebRTC audio processing
// 0.3 (Debian's libwebrtc-audio-processing1), for 10 ms frames of mono signed 16-bit audio.
//
// One AudioProcessor serves one audio stream (one session's microphone). For echo cancellation
// the far-end signal (what the agent plays to the user) is fed with analyze_reverse() and the
// microphone with process(), both in 10 ms frames at the same rate, interleaved in time order.
// Not thread-safe: call it from one thread (or strand) at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "parley/status.h"

namespace webrtc {
class AudioProcessing;
class AudioFrame;
}  // namespace webrtc

namespace parley::speech {

// How readily the detector calls a frame speech: kHigh clips less speech but lets more noise
// through, kVeryLow is the most aggressive at rejecting noise (WebRTC's VAD aggressiveness 3).
enum class VadLikelihood { kVeryLow, kLow, kModerate, kHigh };

// Strength of noise suppression.
enum class NoiseSuppressionLevel { kLow, kModerate, kHigh, kVeryHigh };

// Which echo canceller runs, if any.
enum class EchoCanceller {
  kNone,    // no echo cancellation
  kFull,    // WebRTC AEC: best quality, 8..48 kHz
  kMobile,  // WebRTC AECM: cheaper, 8 or 16 kHz only
};

// What an AudioProcessor does and at which sample rate.
struct AudioProcessorConfig {
  // 8000, 16000, 32000 or 48000.
  int sample_rate_hz = 16000;
  // Run the voice activity detector (process() reports a voice flag only when true).
  bool voice_detection = true;
  // Detector sensitivity; WebRTC's default is kLow.
  VadLikelihood vad_likelihood = VadLikelihood::kLow;
  // Run the noise suppressor on the near-end signal.
  bool noise_suppression = false;
  // Noise suppressor strength.
  NoiseSuppressionLevel noise_suppression_level = NoiseSuppressionLevel::kModerate;
  // Remove the far-end signal (see analyze_reverse) from the near-end one.
  EchoCanceller echo_canceller = EchoCanceller::kNone;
  // With kFull: let AEC estimate the far-end → near-end delay itself instead of trusting
  // set_stream_delay_ms (recommended when the playout delay is unknown, as in a browser).
  bool delay_agnostic = true;
  // Remove DC and low-frequency rumble before processing.
  bool high_pass_filter = false;
  // Initial far-end → near-end delay in ms (0..500), see AudioProcessor::set_stream_delay_ms.
  int stream_delay_ms = 0;

  // Checks the sample rate, delay range and component combination.
  Status validate() const;
  // One-line human-readable description, for logs.
  std::string to_string() const;
};

// WebRTC audio processing for one mono stream in 10 ms frames.
class AudioProcessor {
 public:
  // Builds and initialises the WebRTC pipeline described by `config`.
  static Result<std::unique_ptr<AudioProcessor>> create(const AudioProcessorConfig& config);

  ~AudioProcessor();
  AudioProcessor(const AudioProcessor&) = delete;
  AudioProcessor& operator=(const AudioProcessor&) = delete;

  // Samples in one 10 ms frame at the configured rate (160 at 16 kHz).
  size_t frame_samples() const { return frame_samples_; }
  // The configuration this processor was built with.
  const AudioProcessorConfig& config() const { return config_; }

  // Feeds one 10 ms far-end frame (audio played to the user); needed only for echo cancellation.
  Status analyze_reverse(std::span<const int16_t> far_end);
  // Processes one 10 ms near-end (microphone) frame. Writes the cleaned frame to `cleaned` (same
  // size; may be the input's memory; pass an empty span when only the voice flag is wanted) and
  // returns whether the frame contains voice (always false when voice_detection is off).
  Result<bool> process(std::span<const int16_t> near_end, std::span<int16_t> cleaned);
  // Sets the delay in ms (0..500) between a far-end frame being analysed and its echo reaching the
  // microphone: playout buffering + acoustic path + capture buffering.
  Status set_stream_delay_ms(int delay_ms);
  // Whether the echo canceller believes the last near-end frame contained echo.
  bool stream_has_echo() const;
  // The noise suppressor's speech probability of the last frame in [0, 1]; -1 when it is off.
  float speech_probability() const;

 private:
  AudioProcessor(AudioProcessorConfig config, webrtc::AudioProcessing* apm);
  Status configure();
  Status load_frame(webrtc::AudioFrame& frame, std::span<const int16_t> samples, const char* what);

  AudioProcessorConfig config_;
  size_t frame_samples_;
  int delay_ms_;
  std::unique_ptr<webrtc::AudioProcessing> apm_;
  std::unique_ptr<webrtc::AudioFrame> near_frame_;
  std::unique_ptr<webrtc::AudioFrame> far_frame_;
};

}  // namespace parley::speech
