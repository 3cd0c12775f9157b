// PlayoutTracker: the playout reports of an output that plays agent audio at real time — one
// `started` per turn, then `done` with all its audio or `interrupted` with what was heard.
#include <gtest/gtest.h>

#include <vector>

#include "parley/playout.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using Clock = PlayoutTracker::Clock;

struct Reports {
  std::vector<nlohmann::json> all;
  PlayoutTracker tracker{[this](nlohmann::json r) { all.push_back(std::move(r)); }};
};

TEST(PlayoutTracker, EachTurnIsStartedThenDoneWithAllItsAudio) {
  Reports r;
  const auto t0 = Clock::now();
  EXPECT_TRUE(r.tracker.release(1, 20, t0));
  EXPECT_FALSE(r.tracker.release(1, 20, t0));
  EXPECT_FALSE(r.tracker.release(-1, 20, t0));  // audio of no turn: not counted for turn 1
  EXPECT_EQ(r.tracker.play_end(), t0 + 60ms);
  EXPECT_TRUE(r.tracker.release(2, 20, t0));  // the next turn ends the previous one
  r.tracker.finish();
  ASSERT_EQ(r.all.size(), 4u);
  EXPECT_EQ(r.all[0], (nlohmann::json{{"turn_id", 1},
                                      {"played_ms", 0.0},
                                      {"started", true},
                                      {"interrupted", false},
                                      {"done", false}}));
  EXPECT_EQ(r.all[1],
            (nlohmann::json{
                {"turn_id", 1}, {"played_ms", 40.0}, {"interrupted", false}, {"done", true}}));
  EXPECT_TRUE(r.all[2].value("started", false));
  EXPECT_EQ(r.all[3].value("turn_id", 0), 2);
  EXPECT_EQ(r.all[3].value("played_ms", 0.0), 20.0);
  EXPECT_EQ(r.tracker.playing_turn(), -1);
}

TEST(PlayoutTracker, InterruptReportsWhatWasHeardAndWhenTheAudioStops) {
  Reports r;
  const auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i) r.tracker.release(3, 100, t0);  // 1 s handed to the device at t0
  // 400 ms later only 400 ms were heard; the rest still plays out of the device buffer.
  EXPECT_FALSE(r.tracker.interrupt(3, t0 + 400ms).has_value());  // not older than the flush
  const auto stop = r.tracker.interrupt(4, t0 + 400ms);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(*stop, t0 + 1000ms);
  ASSERT_EQ(r.all.size(), 2u);
  EXPECT_EQ(r.all[1].value("turn_id", 0), 3);
  EXPECT_TRUE(r.all[1].value("interrupted", false));
  EXPECT_FALSE(r.all[1].value("done", true));
  EXPECT_NEAR(r.all[1].value("played_ms", 0.0), 400.0, 0.01);
  // Reported once: nothing is playing any more, a second flush reports nothing.
  EXPECT_FALSE(r.tracker.interrupt(5, t0 + 500ms).has_value());
  r.tracker.finish();
  EXPECT_EQ(r.all.size(), 2u);
  // A turn dropped before it played was not heard at all.
  r.tracker.dropped_unplayed(4);
  ASSERT_EQ(r.all.size(), 3u);
  EXPECT_EQ(
      r.all[2],
      (nlohmann::json{{"turn_id", 4}, {"played_ms", 0.0}, {"interrupted", true}, {"done", false}}));
}

TEST(PlayoutTracker, DropBufferedRestartsThePlaybackClock) {
  Reports r;
  const auto t0 = Clock::now();
  r.tracker.release(1, 500, t0);
  r.tracker.drop_buffered(t0 + 100ms);
  r.tracker.release(2, 20, t0 + 100ms);
  EXPECT_EQ(r.tracker.play_end(), t0 + 120ms);
}

}  // namespace
}  // namespace parley
