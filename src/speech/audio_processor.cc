// AudioProcessor: configures WebRTC audio processing 0.3 and runs it on 10 ms int16 frames.
#include "speech/audio_processor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

// WebRTC 0.3's headers are not -Wextra clean; they are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wdeprecated-copy"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>
#pragma GCC diagnostic pop

namespace parley::speech {
namespace {

constexpr int kMaxStreamDelayMs = 500;  // WebRTC clamps larger delays

const char* likelihood_name(VadLikelihood l) {
  switch (l) {
    case VadLikelihood::kVeryLow:
      return "very_low";
    case VadLikelihood::kLow:
      return "low";
    case VadLikelihood::kModerate:
      return "moderate";
    case VadLikelihood::kHigh:
      return "high";
  }
  return "?";
}

const char* ns_level_name(NoiseSuppressionLevel l) {
  switch (l) {
    case NoiseSuppressionLevel::kLow:
      return "low";
    case NoiseSuppressionLevel::kModerate:
      return "moderate";
    case NoiseSuppressionLevel::kHigh:
      return "high";
    case NoiseSuppressionLevel::kVeryHigh:
      return "very_high";
  }
  return "?";
}

const char* echo_name(EchoCanceller e) {
  switch (e) {
    case EchoCanceller::kNone:
      return "none";
    case EchoCanceller::kFull:
      return "aec";
    case EchoCanceller::kMobile:
      return "aecm";
  }
  return "?";
}

webrtc::VoiceDetection::Likelihood to_webrtc(VadLikelihood l) {
  switch (l) {
    case VadLikelihood::kVeryLow:
      return webrtc::VoiceDetection::kVeryLowLikelihood;
    case VadLikelihood::kLow:
      return webrtc::VoiceDetection::kLowLikelihood;
    case VadLikelihood::kModerate:
      return webrtc::VoiceDetection::kModerateLikelihood;
    case VadLikelihood::kHigh:
      return webrtc::VoiceDetection::kHighLikelihood;
  }
  return webrtc::VoiceDetection::kLowLikelihood;
}

webrtc::NoiseSuppression::Level to_webrtc(NoiseSuppressionLevel l) {
  switch (l) {
    case NoiseSuppressionLevel::kLow:
      return webrtc::NoiseSuppression::kLow;
    case NoiseSuppressionLevel::kModerate:
      return webrtc::NoiseSuppression::kModerate;
    case NoiseSuppressionLevel::kHigh:
      return webrtc::NoiseSuppression::kHigh;
    case NoiseSuppressionLevel::kVeryHigh:
      return webrtc::NoiseSuppression::kVeryHigh;
  }
  return webrtc::NoiseSuppression::kModerate;
}

// Turns a WebRTC error code into a Status naming the step that failed.
Status check(int err, const char* what) {
  if (err == webrtc::AudioProcessing::kNoError) return Status::ok();
  return internal_error(std::string("WebRTC audio processing: ") + what + " failed (error " +
                        std::to_string(err) + ")");
}

}  // namespace

Status AudioProcessorConfig::validate() const {
  if (sample_rate_hz != 8000 && sample_rate_hz != 16000 && sample_rate_hz != 32000 &&
      sample_rate_hz != 48000) {
    return invalid_argument("AudioProcessorConfig.sample_rate_hz is " +
                            std::to_string(sample_rate_hz) +
                            "; WebRTC audio processing needs 8000, 16000, 32000 or 48000");
  }
  if (echo_canceller == EchoCanceller::kMobile && sample_rate_hz > 16000) {
    return invalid_argument(
        "the mobile echo canceller (AECM) runs at 8 or 16 kHz only; use "
        "EchoCanceller::kFull at " +
        std::to_string(sample_rate_hz) + " Hz");
  }
  if (stream_delay_ms < 0 || stream_delay_ms > kMaxStreamDelayMs) {
    return invalid_argument("AudioProcessorConfig.stream_delay_ms is " +
                            std::to_string(stream_delay_ms) + "; it must be within 0..500");
  }
  return Status::ok();
}

std::string AudioProcessorConfig::to_string() const {
  std::ostringstream out;
  out << "AudioProcessorConfig(rate=" << sample_rate_hz
      << ", vad=" << (voice_detection ? likelihood_name(vad_likelihood) : "off")
      << ", ns=" << (noise_suppression ? ns_level_name(noise_suppression_level) : "off")
      << ", echo=" << echo_name(echo_canceller)
      << ", delay_agnostic=" << (delay_agnostic ? "true" : "false")
      << ", high_pass=" << (high_pass_filter ? "true" : "false")
      << ", stream_delay_ms=" << stream_delay_ms << ")";
  return out.str();
}

Result<std::unique_ptr<AudioProcessor>> AudioProcessor::create(const AudioProcessorConfig& config) {
  PARLEY_RETURN_IF_ERROR(config.validate());
  webrtc::Config extra;
  if (config.echo_canceller == EchoCanceller::kFull) {
    // The extended filter covers longer echo paths; delay-agnostic mode tracks the delay itself.
    extra.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
    extra.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(config.delay_agnostic));
  }
  webrtc::AudioProcessing* apm = webrtc::AudioProcessing::Create(extra);
  if (apm == nullptr) return internal_error("WebRTC audio processing could not be created");
  std::unique_ptr<AudioProcessor> processor(new AudioProcessor(config, apm));
  PARLEY_RETURN_IF_ERROR(processor->configure());
  return processor;
}

AudioProcessor::AudioProcessor(AudioProcessorConfig config, webrtc::AudioProcessing* apm)
    : config_(std::move(config)),
      frame_samples_(static_cast<size_t>(config_.sample_rate_hz / 100)),
      delay_ms_(config_.stream_delay_ms),
      apm_(apm),
      near_frame_(std::make_unique<webrtc::AudioFrame>()),
      far_frame_(std::make_unique<webrtc::AudioFrame>()) {}

AudioProcessor::~AudioProcessor() = default;

Status AudioProcessor::configure() {
  using webrtc::AudioProcessing;
  const int rate = config_.sample_rate_hz;
  PARLEY_RETURN_IF_ERROR(check(apm_->Initialize(rate, rate, rate, AudioProcessing::kMono,
                                                AudioProcessing::kMono, AudioProcessing::kMono),
                               "Initialize"));
  PARLEY_RETURN_IF_ERROR(
      check(apm_->high_pass_filter()->Enable(config_.high_pass_filter), "high-pass filter"));
  if (config_.voice_detection) {
    webrtc::VoiceDetection* vad = apm_->voice_detection();
    PARLEY_RETURN_IF_ERROR(check(vad->set_likelihood(to_webrtc(config_.vad_likelihood)),
                                 "voice detection likelihood"));
    PARLEY_RETURN_IF_ERROR(check(vad->set_frame_size_ms(10), "voice detection frame size"));
    PARLEY_RETURN_IF_ERROR(check(vad->Enable(true), "voice detection"));
  }
  if (config_.noise_suppression) {
    webrtc::NoiseSuppression* ns = apm_->noise_suppression();
    PARLEY_RETURN_IF_ERROR(check(ns->set_level(to_webrtc(config_.noise_suppression_level)),
                                 "noise suppression level"));
    PARLEY_RETURN_IF_ERROR(check(ns->Enable(true), "noise suppression"));
  }
  if (config_.echo_canceller == EchoCanceller::kFull) {
    webrtc::EchoCancellation* aec = apm_->echo_cancellation();
    PARLEY_RETURN_IF_ERROR(check(aec->enable_drift_compensation(false), "AEC drift compensation"));
    PARLEY_RETURN_IF_ERROR(check(
        aec->set_suppression_level(webrtc::EchoCancellation::kModerateSuppression), "AEC level"));
    PARLEY_RETURN_IF_ERROR(check(aec->Enable(true), "echo cancellation (AEC)"));
  } else if (config_.echo_canceller == EchoCanceller::kMobile) {
    webrtc::EchoControlMobile* aecm = apm_->echo_control_mobile();
    PARLEY_RETURN_IF_ERROR(
        check(aecm->set_routing_mode(webrtc::EchoControlMobile::kSpeakerphone), "AECM routing"));
    PARLEY_RETURN_IF_ERROR(check(aecm->Enable(true), "echo cancellation (AECM)"));
  }
  return Status::ok();
}

Status AudioProcessor::load_frame(webrtc::AudioFrame& frame, std::span<const int16_t> samples,
                                  const char* what) {
  if (samples.size() != frame_samples_) {
    return invalid_argument(std::string(what) +
                            " takes 10 ms frames: " + std::to_string(frame_samples_) +
                            " samples at " + std::to_string(config_.sample_rate_hz) + " Hz, got " +
                            std::to_string(samples.size()));
  }
  frame.UpdateFrame(0, 0, samples.data(), samples.size(), config_.sample_rate_hz,
                    webrtc::AudioFrame::kNormalSpeech, webrtc::AudioFrame::kVadUnknown, 1);
  return Status::ok();
}

Status AudioProcessor::analyze_reverse(std::span<const int16_t> far_end) {
  PARLEY_RETURN_IF_ERROR(load_frame(*far_frame_, far_end, "analyze_reverse"));
  return check(apm_->ProcessReverseStream(far_frame_.get()), "analyze_reverse");
}

Result<bool> AudioProcessor::process(std::span<const int16_t> near_end,
                                     std::span<int16_t> cleaned) {
  if (!cleaned.empty() && cleaned.size() != near_end.size()) {
    return invalid_argument("process: the output span has " + std::to_string(cleaned.size()) +
                            " samples, the input " + std::to_string(near_end.size()));
  }
  PARLEY_RETURN_IF_ERROR(load_frame(*near_frame_, near_end, "process"));
  if (config_.echo_canceller != EchoCanceller::kNone) {
    // WebRTC wants the delay before every frame once an echo canceller is on.
    apm_->set_stream_delay_ms(delay_ms_);
  }
  const int err = apm_->ProcessStream(near_frame_.get());
  // A "bad stream parameter" warning (e.g. a clamped delay) still produces a processed frame.
  if (err != webrtc::AudioProcessing::kNoError &&
      err != webrtc::AudioProcessing::kBadStreamParameterWarning) {
    PARLEY_RETURN_IF_ERROR(check(err, "process"));
  }
  if (!cleaned.empty()) {
    std::memcpy(cleaned.data(), near_frame_->data_, cleaned.size() * sizeof(int16_t));
  }
  return config_.voice_detection && apm_->voice_detection()->stream_has_voice();
}

Status AudioProcessor::set_stream_delay_ms(int delay_ms) {
  if (delay_ms < 0 || delay_ms > kMaxStreamDelayMs) {
    return invalid_argument("stream delay " + std::to_string(delay_ms) +
                            " ms is outside 0..500 ms");
  }
  delay_ms_ = delay_ms;
  return Status::ok();
}

bool AudioProcessor::stream_has_echo() const {
  return config_.echo_canceller == EchoCanceller::kFull &&
         apm_->echo_cancellation()->stream_has_echo();
}

float AudioProcessor::speech_probability() const {
  return config_.noise_suppression ? apm_->noise_suppression()->speech_probability() : -1.0f;
}

}  // namespace parley::speech
