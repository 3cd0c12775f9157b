// Tests for speech/audio_processor.h: WebRTC VAD flags eSpeak-synthesised speech (resampled to
// 16 kHz with libsoxr) as voice and digital silence as non-voice; echo cancellation removes a
// far-end signal that leaks into the microphone; config and frame-size errors are reported.
#include <gtest/gtest.h>
#include <soxr.h>

#include <cmath>
#include <future>
#include <string>
#include <vector>

#include "speech/audio_processor.h"
#include "speech/espeak_synthesizer.h"
#include "speech/speech_segmenter.h"

namespace parley::speech {
namespace {

constexpr size_t kFrame = 160;  // 10 ms at 16 kHz

// Synthesises `text` with eSpeak NG and resamples it to 16 kHz; empty when eSpeak is unavailable.
std::vector<int16_t> speech_16k(const std::string& text) {
  EspeakService& tts = EspeakService::instance();
  if (!tts.start().is_ok()) return {};
  std::vector<int16_t> native;
  std::promise<Status> done;
  SynthRequest request;
  request.text = text;
  request.on_audio = [&native](std::span<const int16_t> pcm, bool) {
    native.insert(native.end(), pcm.begin(), pcm.end());
  };
  request.on_done = [&done](const Status& s) { done.set_value(s); };
  if (!tts.submit(std::move(request)).is_ok() || !done.get_future().get().is_ok()) return {};

  const double in_rate = tts.sample_rate();
  std::vector<int16_t> out(static_cast<size_t>(native.size() * 16000.0 / in_rate) + 16);
  size_t produced = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = soxr_oneshot(in_rate, 16000, 1, native.data(), native.size(), nullptr,
                                  out.data(), out.size(), &produced, &io, &quality, nullptr);
  EXPECT_EQ(err, nullptr) << err;
  out.resize(produced - produced % kFrame);
  return out;
}

double rms(std::span<const int16_t> pcm) {
  double sum = 0;
  for (int16_t s : pcm) sum += static_cast<double>(s) * s;
  return pcm.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(pcm.size()));
}

TEST(AudioProcessorConfigTest, RejectsUnsupportedSettings) {
  AudioProcessorConfig config;
  EXPECT_TRUE(config.validate().is_ok());
  config.sample_rate_hz = 44100;
  EXPECT_EQ(config.validate().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.validate().message().find("48000"), std::string::npos);
  config.sample_rate_hz = 48000;
  config.echo_canceller = EchoCanceller::kMobile;
  EXPECT_EQ(config.validate().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.validate().message().find("AECM"), std::string::npos);
  config.echo_canceller = EchoCanceller::kFull;
  EXPECT_TRUE(config.validate().is_ok());
  EXPECT_NE(config.to_string().find("echo=aec"), std::string::npos) << config.to_string();
  config.stream_delay_ms = 900;
  EXPECT_EQ(AudioProcessor::create(config).status().code(), StatusCode::kInvalidArgument);
}

TEST(AudioProcessorTest, RejectsFramesThatAreNot10Ms) {
  auto apm = AudioProcessor::create(AudioProcessorConfig{});
  ASSERT_TRUE(apm.is_ok()) << apm.status().to_string();
  EXPECT_EQ((*apm)->frame_samples(), kFrame);
  std::vector<int16_t> frame(kFrame + 1, 0);
  const auto result = (*apm)->process(frame, {});
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("160 samples"), std::string::npos);
  EXPECT_EQ((*apm)->set_stream_delay_ms(-1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*apm)->speech_probability(), -1.0f);  // noise suppression is off
  EXPECT_FALSE((*apm)->stream_has_echo());
}

TEST(AudioProcessorTest, FlagsSynthesisedSpeechAsVoiceAndSilenceAsNot) {
  const std::vector<int16_t> speech = speech_16k("hello world, this is a test of voice detection");
  if (speech.empty()) GTEST_SKIP() << "eSpeak NG is not available";
  AudioProcessorConfig config;
  config.noise_suppression = true;  // must not hide clean speech from the detector
  auto created = AudioProcessor::create(config);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  AudioProcessor& apm = **created;

  const std::vector<int16_t> silence(kFrame, 0);
  std::vector<int16_t> cleaned(kFrame);
  for (int i = 0; i < 100; ++i) {
    auto voice = apm.process(silence, cleaned);
    ASSERT_TRUE(voice.is_ok()) << voice.status().to_string();
    EXPECT_FALSE(*voice) << "digital silence flagged as voice at frame " << i;
  }

  int voiced = 0;
  int loud_frames = 0;
  int loud_voiced = 0;
  SpeechSegmenter segmenter;
  std::vector<SpeechEvent> events;
  for (size_t pos = 0; pos < speech.size(); pos += kFrame) {
    std::span<const int16_t> frame(speech.data() + pos, kFrame);
    auto voice = apm.process(frame, cleaned);
    ASSERT_TRUE(voice.is_ok()) << voice.status().to_string();
    voiced += *voice;
    if (rms(frame) > 1000) {
      ++loud_frames;
      loud_voiced += *voice;
    }
    if (auto e = segmenter.push(*voice)) events.push_back(*e);
  }
  EXPECT_GE(apm.speech_probability(), 0.0f);  // the noise suppressor's estimate is available
  EXPECT_LE(apm.speech_probability(), 1.0f);
  const int frames = static_cast<int>(speech.size() / kFrame);
  EXPECT_GT(voiced, frames / 2) << voiced << " of " << frames << " speech frames flagged";
  ASSERT_GT(loud_frames, 50);
  EXPECT_GT(loud_voiced, loud_frames * 9 / 10) << loud_voiced << " of " << loud_frames;
  // The flags segment into one utterance starting near the beginning of the speech.
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().type, SpeechEventType::kSpeechStart);
  EXPECT_LT(events.front().timestamp_ms, 300);

  // After a short hangover, digital silence is non-voice again.
  int late_voiced = 0;
  for (int i = 0; i < 100; ++i) {
    auto voice = apm.process(silence, cleaned);
    ASSERT_TRUE(voice.is_ok());
    if (i >= 50) late_voiced += *voice;
  }
  EXPECT_EQ(late_voiced, 0);
}

TEST(AudioProcessorTest, EchoCancellerRemovesLeakedFarEndSpeech) {
  const std::vector<int16_t> far = speech_16k(
      "the agent is talking to the user through a loudspeaker, and its own voice leaks back into "
      "the microphone, which the echo canceller must remove before speech recognition");
  if (far.empty()) GTEST_SKIP() << "eSpeak NG is not available";
  AudioProcessorConfig config;
  config.echo_canceller = EchoCanceller::kFull;
  config.delay_agnostic = false;
  config.stream_delay_ms = 40;
  auto created = AudioProcessor::create(config);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  AudioProcessor& apm = **created;

  // The microphone hears the far end 40 ms later at half amplitude (an echo, nothing else).
  constexpr size_t kDelay = 640;
  std::vector<int16_t> mic(far.size(), 0);
  for (size_t i = kDelay; i < far.size(); ++i) mic[i] = static_cast<int16_t>(far[i - kDelay] / 2);

  double in_energy = 0;
  double out_energy = 0;
  std::vector<int16_t> cleaned(kFrame);
  const size_t frames = far.size() / kFrame;
  for (size_t f = 0; f < frames; ++f) {
    std::span<const int16_t> far_frame(far.data() + f * kFrame, kFrame);
    std::span<const int16_t> mic_frame(mic.data() + f * kFrame, kFrame);
    ASSERT_TRUE(apm.analyze_reverse(far_frame).is_ok());
    ASSERT_TRUE(apm.process(mic_frame, cleaned).is_ok());
    if (f >= frames / 2) {  // after the canceller has converged
      in_energy += rms(mic_frame) * rms(mic_frame);
      out_energy += rms(cleaned) * rms(cleaned);
    }
  }
  ASSERT_GT(in_energy, 0.0);
  EXPECT_LT(out_energy, in_energy * 0.1)
      << "echo return loss enhancement only " << 10 * std::log10(in_energy / out_energy) << " dB";
}

}  // namespace
}  // namespace parley::speech
