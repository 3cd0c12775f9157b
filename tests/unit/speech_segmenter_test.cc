// Tests for speech/speech_segmenter.h: speech_start / speech_end at the right frames for
// synthetic voice-flag sequences.
#include "speech/speech_segmenter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::speech {
namespace {

// An event together with the index of the frame whose push() returned it.
struct Emitted {
  size_t frame;
  SpeechEvent event;
};

// Pushes runs of (voiced, frame count) and returns the events with the frames that emitted them.
std::vector<Emitted> run(SpeechSegmenter& segmenter, const std::vector<std::pair<bool, int>>& runs,
                         size_t* frames_pushed = nullptr) {
  std::vector<Emitted> out;
  size_t frame = 0;
  for (const auto& [voiced, count] : runs) {
    for (int i = 0; i < count; ++i, ++frame) {
      if (auto e = segmenter.push(voiced)) out.push_back({frame, *e});
    }
  }
  if (frames_pushed != nullptr) *frames_pushed = frame;
  return out;
}

TEST(SpeechSegmenterTest, OnsetCueComesOncePerOnsetBeforeSpeechStart) {
  SpeechSegmenterConfig config;
  config.onset_ms = 80;
  SpeechSegmenter segmenter(config);
  // A 100 ms click (onset cue, no speech), 200 ms silence, then 250 ms of voice.
  const auto events = run(segmenter, {{true, 10}, {false, 20}, {true, 25}, {false, 5}});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event.type, SpeechEventType::kSpeechOnset);
  EXPECT_EQ(events[0].frame, 7u);  // the 8th voiced frame
  EXPECT_EQ(events[0].event.timestamp_ms, 0);
  EXPECT_EQ(events[0].event.detected_at_ms, 80);
  EXPECT_EQ(events[1].event.type, SpeechEventType::kSpeechOnset);
  EXPECT_EQ(events[1].event.timestamp_ms, 300);
  EXPECT_EQ(events[1].event.detected_at_ms, 380);
  EXPECT_EQ(events[2].event.type, SpeechEventType::kSpeechStart);
  EXPECT_EQ(events[2].event.timestamp_ms, 300);
  EXPECT_STREQ(speech_event_name(SpeechEventType::kSpeechOnset), "speech_onset");

  // Off by default, and never once speech has started or when not below min_speech_ms — which
  // validate() refuses, naming both properties, so a configuration cannot lose the cue silently.
  SpeechSegmenter plain;
  EXPECT_EQ(run(plain, {{true, 25}}).size(), 1u);
  EXPECT_TRUE(config.validate().is_ok());
  config.onset_ms = 200;
  SpeechSegmenter same(config);
  const auto only_start = run(same, {{true, 25}});
  ASSERT_EQ(only_start.size(), 1u);
  EXPECT_EQ(only_start[0].event.type, SpeechEventType::kSpeechStart);
  const Status not_below = config.validate();
  EXPECT_EQ(not_below.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_below.message().find("onset_ms (200) must be below min_speech_ms (200)"),
            std::string::npos)
      << not_below.message();
  config.onset_ms = -1;
  EXPECT_FALSE(config.validate().is_ok());
}

TEST(SpeechSegmenterTest, EmitsStartAndEndAtTheConfirmingFrames) {
  SpeechSegmenter segmenter;  // 10 ms frames, 200 ms speech, 500 ms silence
  // 50 ms silence, 250 ms voice, 600 ms silence.
  const auto events = run(segmenter, {{false, 5}, {true, 25}, {false, 60}});
  ASSERT_EQ(events.size(), 2u);

  EXPECT_EQ(events[0].event.type, SpeechEventType::kSpeechStart);
  EXPECT_EQ(events[0].frame, 24u);  // the 20th voiced frame
  EXPECT_EQ(events[0].event.timestamp_ms, 50);
  EXPECT_EQ(events[0].event.detected_at_ms, 250);

  EXPECT_EQ(events[1].event.type, SpeechEventType::kSpeechEnd);
  EXPECT_EQ(events[1].frame, 79u);  // the 50th silent frame after the last voiced one (29)
  EXPECT_EQ(events[1].event.timestamp_ms, 300);
  EXPECT_EQ(events[1].event.detected_at_ms, 800);
  EXPECT_FALSE(segmenter.in_speech());
  EXPECT_EQ(segmenter.position_ms(), 900);
}

TEST(SpeechSegmenterTest, IgnoresBlipsShorterThanMinSpeech) {
  SpeechSegmenter segmenter;
  const auto events = run(segmenter, {{true, 19}, {false, 10}, {true, 5}, {false, 100}});
  EXPECT_TRUE(events.empty());
  EXPECT_FALSE(segmenter.in_speech());
}

TEST(SpeechSegmenterTest, PausesShorterThanMinSilenceDoNotEndSpeech) {
  SpeechSegmenter segmenter;
  const auto events =
      run(segmenter, {{true, 30}, {false, 49}, {true, 10}, {false, 40}, {true, 1}, {false, 50}});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.type, SpeechEventType::kSpeechStart);
  EXPECT_EQ(events[0].event.timestamp_ms, 0);
  EXPECT_EQ(events[1].event.type, SpeechEventType::kSpeechEnd);
  // Last voiced frame is index 129 (30 + 49 + 10 + 40), so speech ends at 1300 ms.
  EXPECT_EQ(events[1].event.timestamp_ms, 1300);
  EXPECT_EQ(events[1].frame, 179u);
}

TEST(SpeechSegmenterTest, ShortGapsInsideTheOnsetAreTolerated) {
  SpeechSegmenter segmenter;  // max_onset_gap_ms = 60
  // 100 ms voice, 50 ms gap, 100 ms voice: onset kept, start at frame 0.
  auto events = run(segmenter, {{true, 10}, {false, 5}, {true, 10}});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.timestamp_ms, 0);
  EXPECT_EQ(events[0].frame, 24u);

  segmenter.reset();
  // A 70 ms gap is too long: the onset restarts after it.
  events = run(segmenter, {{true, 10}, {false, 7}, {true, 20}});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.timestamp_ms, 170);
  EXPECT_EQ(events[0].frame, 36u);
}

TEST(SpeechSegmenterTest, CustomDurationsAndFrameSize) {
  SpeechSegmenterConfig config;
  config.frame_ms = 20;
  config.min_speech_ms = 100;
  config.min_silence_ms = 200;
  ASSERT_TRUE(config.validate().is_ok());
  SpeechSegmenter segmenter(config);
  segmenter.reset(1000);  // stream time starts at 1 s
  const auto events = run(segmenter, {{false, 2}, {true, 5}, {false, 10}});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].frame, 6u);
  EXPECT_EQ(events[0].event.timestamp_ms, 1040);
  EXPECT_EQ(events[0].event.detected_at_ms, 1140);
  EXPECT_EQ(events[1].frame, 16u);
  EXPECT_EQ(events[1].event.timestamp_ms, 1140);
  EXPECT_EQ(events[1].event.detected_at_ms, 1340);
}

TEST(SpeechSegmenterTest, FlushEndsSpeechInProgress) {
  SpeechSegmenter segmenter;
  const auto events = run(segmenter, {{true, 30}, {false, 10}});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(segmenter.in_speech());
  const auto end = segmenter.flush();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->type, SpeechEventType::kSpeechEnd);
  EXPECT_EQ(end->timestamp_ms, 300);
  EXPECT_EQ(end->detected_at_ms, 400);
  EXPECT_FALSE(segmenter.in_speech());
  EXPECT_FALSE(segmenter.flush().has_value());
  EXPECT_STREQ(speech_event_name(end->type), "speech_end");
  EXPECT_STREQ(speech_event_name(SpeechEventType::kSpeechStart), "speech_start");
}

TEST(SpeechSegmenterTest, ValidateRejectsNonsense) {
  SpeechSegmenterConfig config;
  config.frame_ms = 0;
  EXPECT_EQ(config.validate().code(), StatusCode::kInvalidArgument);
  config.frame_ms = 10;
  config.min_silence_ms = -1;
  EXPECT_EQ(config.validate().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.validate().message().find("min_silence_ms=-1"), std::string::npos);
}

}  // namespace
}  // namespace parley::speech
