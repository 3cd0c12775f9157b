// wav_sink: writes the audio it receives to a WAV file (in the format of the first frame; later
// frames in another format are converted), closing the file at is_eof.
//
// With `realtime` it behaves like the user's loudspeaker instead of a file writer: frames are
// queued and released (written) at real time, a flush drops the audio not yet played, and it
// reports what the user heard as data playout {turn_id, played_ms, interrupted, done} (what the
// LLM stage cuts its history to; a first report with started: true says the turn began playing) and
// the moment the interrupted agent audio stops as the last_audio_out mark of the flushing turn (the
// barge-in timeline's end).
#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <set>

#include "parley/addon.h"
#include "parley/media/audio_converter.h"
#include "parley/media/wav.h"
#include "parley/playout.h"
#include "parley/turn_metrics.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "wav_sink",
  "description": "Writes received pcm_frame audio to a 16-bit WAV file; at an is_eof frame it closes the file and, by default, asks the graph to stop. Marks first_audio_out for each agent turn (frames with turn_id). With realtime it plays out at real time like a loudspeaker: flush drops unplayed audio, playout reports what was heard, last_audio_out marks when interrupted audio stopped.",
  "properties": {
    "path": {"type": "string", "required": true, "description": "WAV file to write (overwritten)"},
    "stop_graph_on_eof": {"type": "bool", "default": true, "description": "Ask the graph to stop when an is_eof frame arrives"},
    "realtime": {"type": "bool", "default": false, "description": "Play out at real time: write each frame when it is due, drop unplayed audio of flushed turns, report playout"},
    "playout_lead_ms": {"type": "int", "default": 20, "description": "With realtime: audio handed to the (simulated) device ahead of its time, which a flush cannot recall (0..200)"}
  },
  "in": {"audio_frame": ["*"], "data": ["tts_audio_end"], "cmd": ["flush"]},
  "out": {"data": ["turn_mark", "playout"], "cmd": ["flush"]}
})json";

using parley::Context;
using parley::Status;
using Clock = std::chrono::steady_clock;

// `t` on the clock of parley::monotonic_ms().
double to_monotonic_ms(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t.time_since_epoch()).count();
}

class WavSink final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override {
    ctx_ = &ctx;
    realtime_ = ctx.prop_bool("realtime");
    const int64_t lead = ctx.prop_int("playout_lead_ms");
    if (lead < 0 || lead > 200)
      return parley::invalid_argument("playout_lead_ms is " + std::to_string(lead) +
                                      "; use 0..200 (the device buffer a flush cannot recall)");
    lead_ = std::chrono::milliseconds(lead);
    return Status::ok();
  }

  void on_audio_frame(Context& ctx, std::unique_ptr<parley::AudioFrame> frame) override {
    if (failed_) return;
    const int64_t turn = frame->get<int64_t>("turn_id", -1);
    if (turn >= 0 && gate_.is_stale(turn)) return;  // audio of a flushed turn: never played
    if (!realtime_) {
      play(ctx, std::move(frame), turn);
      return;
    }
    queue_.push_back({std::move(frame), turn});
    pump(ctx);
  }

  void on_data(Context& ctx, std::unique_ptr<parley::Data> data) override {
    // The turn's audio is complete: once it has played, playout reports it done.
    if (!realtime_ || data->name() != "tts_audio_end" || data->get<bool>("interrupted", false))
      return;
    const int64_t turn = data->get<int64_t>("turn_id", -1);
    if (turn >= 0 && !gate_.is_stale(turn)) ended_.insert(turn);
    pump(ctx);
  }

  void on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) override {
    if (cmd->name() != parley::kFlushCmd) {
      Extension::on_cmd(ctx, std::move(cmd));
      return;
    }
    const int64_t before = gate_.flush(*cmd);
    if (realtime_) interrupt(ctx, before);
    ctx.forward_cmd(std::move(cmd));
  }

  void on_stop(Context& ctx, parley::Done done) override {
    if (pace_timer_ != 0) ctx.cancel_timer(pace_timer_);
    pace_timer_ = 0;
    queue_.clear();
    finish(ctx);
    done(Status::ok());
  }

 private:
  struct Queued {
    std::unique_ptr<parley::AudioFrame> frame;
    int64_t turn;  // its turn_id (-1: none)
  };

  // The frame reaches the user now: written to the file, first_audio_out marked, eof handled.
  void play(Context& ctx, std::unique_ptr<parley::AudioFrame> frame, int64_t turn) {
    // The first frame of each agent turn is the turn's "first audio out" (the file is the output).
    if (turn >= 0 && turn != last_turn_ && frame->samples_per_channel > 0) {
      last_turn_ = turn;
      ctx.send(parley::make_stage_mark(turn, parley::stage::kFirstAudioOut));
    }
    if (frame->samples_per_channel > 0) write(ctx, *frame);
    if (frame->is_eof) {
      finish(ctx);
      if (ctx.prop_bool("stop_graph_on_eof"))
        ctx.stop_graph("end of audio written to " + ctx.prop_string("path"));
    }
  }

  // Releases the queued frames that are due (the previous one has played, up to the lead) and
  // re-arms the pacing timer; reports turns whose audio has finished playing.
  void pump(Context& ctx) {
    const auto now = Clock::now();
    while (!queue_.empty() && playout_.play_end() - lead_ <= now) {
      Queued q = std::move(queue_.front());
      queue_.pop_front();
      // Without tts_audio_end, the next turn's first frame is the sign the previous one ended.
      const int64_t previous = playout_.playing_turn();
      if (playout_.release(q.turn, q.frame->samples_per_channel > 0 ? q.frame->duration_ms() : 0,
                           now))
        ended_.erase(previous);
      if (q.frame->is_eof) turn_over(playout_.playing_turn());
      play(ctx, std::move(q.frame), q.turn);
    }
    const int64_t playing = playout_.playing_turn();
    if (ended_.contains(playing) && now >= playout_.play_end() &&
        std::none_of(queue_.begin(), queue_.end(),
                     [playing](const Queued& q) { return q.turn == playing; }))
      turn_over(playing);
    if (pace_timer_ != 0) return;
    Clock::time_point wake;
    if (!queue_.empty()) {
      wake = playout_.play_end() - lead_;
    } else if (ended_.contains(playout_.playing_turn())) {
      wake = playout_.play_end();
    } else {
      return;
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
    pace_timer_ = ctx.set_timer(std::max(wait, std::chrono::milliseconds(1)), [this, &ctx] {
      pace_timer_ = 0;
      pump(ctx);
    });
  }

  // `turn` (the playing one) has played to its end.
  void turn_over(int64_t turn) {
    if (turn < 0) return;
    playout_.finish();
    ended_.erase(turn);
  }

  // A flush before turn `before`: queued audio of older turns is dropped; what was handed to the
  // device still plays out (up to the lead), then the agent is silent.
  void interrupt(Context& ctx, int64_t before) {
    std::set<int64_t> cut;
    std::erase_if(queue_, [&](const Queued& q) {
      if (q.turn < 0 || q.turn >= before) return false;
      cut.insert(q.turn);
      return true;
    });
    const int64_t playing = playout_.playing_turn();
    if (auto stop = playout_.interrupt(before, Clock::now())) {
      ctx.send(
          parley::make_stage_mark(before, parley::stage::kLastAudioOut, to_monotonic_ms(*stop)));
      cut.erase(playing);
    }
    // Turns whose audio was queued but never started: nothing of them was heard.
    for (int64_t turn : cut) playout_.dropped_unplayed(turn);
    std::erase_if(ended_, [before](int64_t turn) { return turn < before; });
  }

  void write(Context& ctx, const parley::AudioFrame& frame) {
    Status s;
    if (!writer_) {
      writer_ = std::make_unique<parley::media::WavWriter>();
      format_ = {frame.sample_rate, frame.channels};
      s = writer_->open(ctx.prop_string("path"), frame.sample_rate, frame.channels);
    }
    if (s.is_ok()) {
      if (frame.sample_rate == format_.sample_rate && frame.channels == format_.channels &&
          frame.bytes_per_sample == 2) {
        s = writer_->write(frame.buffer().samples());
      } else {
        if (!converter_) {
          auto c = parley::media::AudioConverter::create(format_);
          if (c.is_ok())
            converter_ = std::move(c).value();
          else
            s = c.status();
        }
        if (converter_) {
          scratch_.clear();
          s = converter_->convert(frame, scratch_);
          if (s.is_ok()) s = writer_->write(scratch_);
        }
      }
    }
    if (!s.is_ok()) {
      failed_ = true;
      ctx.log().error("cannot write {}: {}", ctx.prop_string("path"), s.message());
    }
  }

  void finish(Context& ctx) {
    if (!writer_) return;
    if (Status s = writer_->close(); !s.is_ok())
      ctx.log().error("closing {}: {}", ctx.prop_string("path"), s.message());
    else
      ctx.log().info("wrote {}", ctx.prop_string("path"));
    writer_.reset();
  }

  std::unique_ptr<parley::media::WavWriter> writer_;
  std::unique_ptr<parley::media::AudioConverter> converter_;
  parley::media::AudioFormat format_;
  std::vector<int16_t> scratch_;
  bool failed_ = false;
  int64_t last_turn_ = -1;
  // Real-time playout (realtime = true).
  bool realtime_ = false;
  std::chrono::milliseconds lead_{20};
  std::deque<Queued> queue_;  // received, not yet played
  parley::TimerId pace_timer_ = 0;
  std::set<int64_t> ended_;  // turns whose tts_audio_end arrived
  Context* ctx_ = nullptr;
  parley::PlayoutTracker playout_{[this](nlohmann::json report) {
    if (!report.value("started", false))
      ctx_->log().debug("turn {}: {:.0f} ms of audio played{}", report.value("turn_id", 0),
                        report.value("played_ms", 0.0),
                        report.value("interrupted", false) ? " (interrupted)" : "");
    ctx_->send(std::make_unique<parley::Data>("playout", std::move(report)));
  }};
  parley::TurnGate gate_;
};

}  // namespace

parley::Status parley_register_addon_wav_sink(parley::AddonRegistry& registry) {
  return registry.add<WavSink>(kManifest);
}
