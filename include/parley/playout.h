// PlayoutTracker: what an audio output has played of each agent turn, for the stages that play
// agent audio out at real time (wav_sink with realtime, channel_transport). It keeps the output's
// playback clock and the playing turn, and makes the `playout` reports every stage relies on:
// {turn_id, played_ms, started, interrupted, done} — one `started` per turn, then one `done` or
// `interrupted` (docs/protocol.md; the LLM cuts its history to `played_ms` of an interrupted turn,
// the turn detector listens for barge-in between `started` and the end).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace parley {

class PlayoutTracker {
 public:
  using Clock = std::chrono::steady_clock;
  // Receives the properties of each playout report, for the owner to send on.
  using Report = std::function<void(nlohmann::json)>;

  explicit PlayoutTracker(Report report) : report_(std::move(report)) {}

  // A frame of `turn` (< 0: audio of no agent turn) lasting `duration_ms` is handed to the device
  // at `now`; it plays once what was handed before has played. Returns true for the first frame
  // of a turn, which ends the previous turn (reported done) and reports this one started.
  bool release(int64_t turn, double duration_ms, Clock::time_point now) {
    const bool first = turn >= 0 && turn != playing_;
    if (first) {
      finish();
      playing_ = turn;
      report_({{"turn_id", turn},
               {"played_ms", 0.0},
               {"started", true},
               {"interrupted", false},
               {"done", false}});
    }
    if (duration_ms > 0) {
      play_end_ =
          std::max(play_end_, now) + std::chrono::microseconds(std::llround(duration_ms * 1000.0));
      if (turn >= 0) released_ms_ += duration_ms;
    }
    return first;
  }

  // All of the playing turn's audio has played (or was sent): reports it done.
  void finish() {
    if (playing_ < 0) return;
    report(playing_, released_ms_, /*interrupted=*/false);
  }

  // A flush before turn `before` at `now`: a playing older turn is cut where the device is (what
  // was handed to it still plays) and reported interrupted with what was heard. Returns when its
  // audio stops — the flushing turn's last_audio_out — or nullopt when no older turn was playing.
  std::optional<Clock::time_point> interrupt(int64_t before, Clock::time_point now) {
    if (playing_ < 0 || playing_ >= before) return std::nullopt;
    const double unheard_ms =
        std::chrono::duration<double, std::milli>(std::max(play_end_ - now, Clock::duration{}))
            .count();
    report(playing_, std::max(0.0, released_ms_ - unheard_ms), /*interrupted=*/true);
    return std::max(play_end_, now);
  }

  // `turn`'s audio was dropped before any of it was handed to the device: nothing was heard.
  void dropped_unplayed(int64_t turn) { report_(make_report(turn, 0.0, /*interrupted=*/true)); }

  // The device dropped what it was holding (a client that empties its buffer at a flush): the
  // next audio plays from `now`.
  void drop_buffered(Clock::time_point now) { play_end_ = now; }

  // The turn released last, until it is reported done or interrupted (-1: none).
  int64_t playing_turn() const { return playing_; }
  // When the audio handed to the device so far has finished playing.
  Clock::time_point play_end() const { return play_end_; }

 private:
  static nlohmann::json make_report(int64_t turn, double played_ms, bool interrupted) {
    return {{"turn_id", turn},
            {"played_ms", played_ms},
            {"interrupted", interrupted},
            {"done", !interrupted}};
  }
  void report(int64_t turn, double played_ms, bool interrupted) {
    playing_ = -1;
    released_ms_ = 0;
    report_(make_report(turn, played_ms, interrupted));
  }

  Report report_;
  Clock::time_point play_end_{};
  int64_t playing_ = -1;
  double released_ms_ = 0;  // audio of the playing turn handed to the device so far
};

}  // namespace parley
