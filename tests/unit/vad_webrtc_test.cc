// webrtc_vad addon: speech_start / speech_end at the right stream times on eSpeak speech framed by
// silence, audio passed through untouched, 48 kHz stereo converted for detection, 8-bit audio
// refused, end of stream closing an utterance, flush forwarded.
#include <gtest/gtest.h>

#include "parley/addon.h"
#include "parley/media/pcm.h"
#include "parley/testing/extension_tester.h"
#include "speech_test_audio.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using testing::ExtensionTester;

constexpr int64_t kStartMs = 5000;     // stream time of the first frame
constexpr int64_t kLeadMs = 1000;      // silence before the speech
constexpr int64_t kTrailMs = 1500;     // silence after it
constexpr int64_t kOnsetSlackMs = 60;  // speech_start within this of the audible onset

struct VadEvent {
  std::string event;
  int64_t timestamp_ms;
};

// What the addon sent for one input stream.
struct VadOutput {
  std::vector<VadEvent> events;
  std::vector<std::unique_ptr<AudioFrame>> frames;  // pcm_frame, eof excluded
  std::unique_ptr<AudioFrame> eof;
};

class WebrtcVadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_builtin_addons(registry_);
    speech_ = speech_test::espeak_speech(
        "Hello there. This is a test of voice activity detection, with a short pause.");
    if (speech_.empty()) GTEST_SKIP() << "eSpeak NG is not available";
    signal_.assign(kLeadMs * 16, 0);
    signal_.insert(signal_.end(), speech_.begin(), speech_.end());
    signal_.resize(signal_.size() + kTrailMs * 16, 0);
    auto [first, last] = speech_test::audible_span_ms(speech_);
    onset_ms_ = kStartMs + kLeadMs + first;
    offset_ms_ = kStartMs + kLeadMs + last;
  }

  // Feeds `frames` then an eof frame, and collects everything until the eof comes back.
  VadOutput run(ExtensionTester& t, std::vector<std::unique_ptr<AudioFrame>> frames) {
    for (auto& f : frames) EXPECT_TRUE(t.send(std::move(f)).is_ok());
    auto eof = std::make_unique<AudioFrame>();
    eof->is_eof = true;
    EXPECT_TRUE(t.send(std::move(eof)).is_ok());
    VadOutput out;
    for (;;) {
      auto m = t.wait_for(MessageKind::kAudioFrame, "pcm_frame", 10s);
      if (!m) {
        ADD_FAILURE() << "no eof frame came back";
        break;
      }
      std::unique_ptr<AudioFrame> frame(static_cast<AudioFrame*>(m.release()));
      if (frame->is_eof) {
        out.eof = std::move(frame);
        break;
      }
      out.frames.push_back(std::move(frame));
    }
    for (auto& m : t.take_all()) {
      if (m->kind() == MessageKind::kData && m->name() == "vad_event")
        out.events.push_back(
            {m->get<std::string>("event", ""), m->get<int64_t>("timestamp_ms", -1)});
    }
    return out;
  }

  // One utterance, starting at the audible onset and ending at (or just after) its end.
  void expect_one_utterance(const VadOutput& out) {
    ASSERT_EQ(out.events.size(), 2u);
    std::cout << "audible " << onset_ms_ << ".." << offset_ms_ << " ms; speech_start at "
              << out.events[0].timestamp_ms << ", speech_end at " << out.events[1].timestamp_ms
              << "\n";
    EXPECT_EQ(out.events[0].event, "speech_start");
    EXPECT_EQ(out.events[1].event, "speech_end");
    EXPECT_NEAR(out.events[0].timestamp_ms, onset_ms_, kOnsetSlackMs);
    // WebRTC's detector holds voice a little past the last loud block (its own hangover).
    EXPECT_GE(out.events[1].timestamp_ms, offset_ms_ - 60);
    EXPECT_LE(out.events[1].timestamp_ms, offset_ms_ + 200);
  }

  AddonRegistry registry_;
  std::vector<int16_t> speech_;
  std::vector<int16_t> signal_;  // silence, speech, silence at 16 kHz mono
  int64_t onset_ms_ = 0;
  int64_t offset_ms_ = 0;
};

TEST_F(WebrtcVadTest, SpeechStartAndEndAtTheSpeechOnsetAndOffsetInStreamTime) {
  ExtensionTester t("webrtc_vad", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto out = run(t, speech_test::to_frames(signal_, 16000, 1, 20, kStartMs));
  expect_one_utterance(out);
}

TEST_F(WebrtcVadTest, PassesTheOriginalFramesThroughWithoutCopying) {
  ExtensionTester t("webrtc_vad", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto frames = speech_test::to_frames(signal_, 16000, 1, 20, kStartMs);
  std::vector<const uint8_t*> payloads;
  std::vector<int64_t> stamps;
  for (const auto& f : frames) {
    payloads.push_back(f->buffer().data());
    stamps.push_back(f->timestamp_ms);
  }
  auto out = run(t, std::move(frames));
  ASSERT_EQ(out.frames.size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(out.frames[i]->buffer().data(), payloads[i]) << "frame " << i << " was copied";
    EXPECT_EQ(out.frames[i]->timestamp_ms, stamps[i]);
  }
  ASSERT_TRUE(out.eof);
}

TEST_F(WebrtcVadTest, Converts48kHzStereoForDetectionAndForwardsItUnchanged) {
  media::PcmAudio mono{16000, 1, signal_};
  auto hi = media::resample(mono, 48000);
  ASSERT_TRUE(hi.is_ok());
  std::vector<int16_t> stereo;
  ASSERT_TRUE(media::upmix_from_mono(hi->samples, 2, stereo).is_ok());
  ExtensionTester t("webrtc_vad", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto out = run(t, speech_test::to_frames(stereo, 48000, 2, 10, kStartMs));
  expect_one_utterance(out);
  ASSERT_FALSE(out.frames.empty());
  EXPECT_EQ(out.frames[0]->sample_rate, 48000);
  EXPECT_EQ(out.frames[0]->channels, 2);
}

TEST_F(WebrtcVadTest, RefusesEightBitAudioAndKeepsWorkingOn16Bit) {
  ExtensionTester t("webrtc_vad", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  // 8-bit frames: refused (logged), neither forwarded nor analysed.
  for (int i = 0; i < 50; ++i) {
    auto f = std::make_unique<AudioFrame>();
    f->bytes_per_sample = 1;
    f->timestamp_ms = i * 20;
    f->set_buffer(Buffer(std::vector<uint8_t>(320, static_cast<uint8_t>(i % 2 ? 0xF0 : 0x10))));
    ASSERT_TRUE(t.send(std::move(f)).is_ok());
  }
  auto out = run(t, speech_test::to_frames(signal_, 16000, 1, 20, kStartMs));
  for (const auto& f : out.frames) EXPECT_EQ(f->bytes_per_sample, 2);
  EXPECT_EQ(out.frames.size(), speech_test::to_frames(signal_, 16000, 1, 20).size());
  expect_one_utterance(out);
}

TEST_F(WebrtcVadTest, EndOfStreamInsideSpeechClosesTheUtterance) {
  ExtensionTester t("webrtc_vad", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  // The stream ends in the middle of the speech.
  std::vector<int16_t> cut(signal_.begin(), signal_.begin() + (kLeadMs + 1000) * 16);
  auto out = run(t, speech_test::to_frames(cut, 16000, 1, 20, kStartMs));
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(out.events[1].event, "speech_end");
  EXPECT_LE(out.events[1].timestamp_ms, kStartMs + kLeadMs + 1000);
  ASSERT_TRUE(out.eof);
}

TEST_F(WebrtcVadTest, CleanedAudioIs16kHzMonoWhenNoiseSuppressionIsOn) {
  ExtensionTester t("webrtc_vad", {{"noise_suppression", true}}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto out = run(t, speech_test::to_frames(signal_, 16000, 1, 20, kStartMs));
  expect_one_utterance(out);
  size_t samples = 0;
  for (size_t i = 0; i < out.frames.size(); ++i) {
    const AudioFrame& f = *out.frames[i];
    EXPECT_EQ(f.sample_rate, 16000);
    EXPECT_EQ(f.channels, 1);
    EXPECT_EQ(f.timestamp_ms, kStartMs + static_cast<int64_t>(i) * 10);
    // 10 ms frames; the last one holds what is left, without padding.
    if (i + 1 < out.frames.size()) {
      EXPECT_EQ(f.samples_per_channel, 160);
    }
    samples += f.samples_per_channel;
  }
  EXPECT_EQ(samples, signal_.size());  // all of it, in order, nothing padded
  EXPECT_EQ(out.frames.front()->timestamp_ms, kStartMs);
  ASSERT_TRUE(out.eof);
  EXPECT_EQ(out.eof->timestamp_ms, kStartMs + static_cast<int64_t>(signal_.size() / 16));
}

TEST_F(WebrtcVadTest, ForwardsFlushAndRejectsBadProperties) {
  ExtensionTester t("webrtc_vad", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto result = t.send_cmd(make_flush(3));
  EXPECT_TRUE(result->ok()) << result->status().to_string();
  auto forwarded = t.wait_for_cmd("flush");
  ASSERT_TRUE(forwarded);
  EXPECT_EQ(forwarded->get<int64_t>("turn_id", -1), 3);

  ExtensionTester bad("webrtc_vad", {{"vad_likelihood", "sometimes"}}, registry_);
  Status s = bad.start();
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("very_low, low, moderate or high"), std::string::npos) << s.message();

  // An onset cue that could never come before speech_start fails the start instead of silently.
  ExtensionTester late_onset("webrtc_vad", {{"onset_ms", 300}}, registry_);
  s = late_onset.start();
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("onset_ms (300) must be below min_speech_ms (200)"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace parley
