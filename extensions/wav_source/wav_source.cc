// wav_source: plays a WAV file into the graph as pcm_frame audio, at real-time pace (like a
// microphone) or as fast as the graph takes it, converted to the graph's rate and channel count.
#include <spdlog/logger.h>

#include "parley/addon.h"
#include "parley/media/audio_converter.h"
#include "parley/media/rechunker.h"
#include "parley/media/wav.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "wav_source",
  "description": "Reads a 16-bit PCM WAV file and sends it as pcm_frame audio (resampled and remixed to sample_rate/channels), in real time or as fast as possible, ending with an is_eof frame.",
  "properties": {
    "path": {"type": "string", "required": true, "description": "WAV file to play"},
    "realtime": {"type": "bool", "default": true, "description": "Pace frames at real time (false: as fast as possible)"},
    "frame_ms": {"type": "int", "default": 20, "description": "Frame duration in ms (10 or 20 recommended)"},
    "sample_rate": {"type": "int", "default": 16000, "description": "Output rate in Hz; 0 keeps the file's rate"},
    "channels": {"type": "int", "default": 1, "description": "Output channels; 0 keeps the file's"},
    "start_delay_ms": {"type": "int", "default": 0, "description": "Wait this long after start before the first frame"},
    "loop": {"type": "bool", "default": false, "description": "Start over at the end instead of sending is_eof"},
    "stop_graph_at_end": {"type": "bool", "default": false, "description": "Ask the graph to stop after the last frame"}
  },
  "in": {},
  "out": {"audio_frame": ["pcm_frame"]}
})json";

using parley::AudioFrame;
using parley::Context;
using parley::Status;
using parley::media::PcmFrame;

class WavSource final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override {
    frame_ms_ = static_cast<int>(ctx.prop_int("frame_ms"));
    if (frame_ms_ < 1 || frame_ms_ > 1000)
      return parley::invalid_argument("frame_ms must be between 1 and 1000, got " +
                                      std::to_string(frame_ms_));
    if (ctx.prop_int("sample_rate") < 0 || ctx.prop_int("channels") < 0)
      return parley::invalid_argument("sample_rate and channels must be >= 0");
    return Status::ok();
  }

  // Reads and converts the whole file off the I/O threads; a bad file fails the graph's start.
  void on_init(Context& ctx, parley::Done done) override {
    const std::string path = ctx.prop_string("path");
    const int rate = static_cast<int>(ctx.prop_int("sample_rate"));
    const int channels = static_cast<int>(ctx.prop_int("channels"));
    const int frame_ms = frame_ms_;
    ctx.run_blocking_result<std::vector<PcmFrame>>(
        [path, rate, channels, frame_ms]() -> parley::Result<std::vector<PcmFrame>> {
          PARLEY_ASSIGN_OR_RETURN(parley::media::PcmAudio audio, parley::media::read_wav(path));
          parley::media::AudioFormat target{rate > 0 ? rate : audio.sample_rate,
                                            channels > 0 ? channels : audio.channels};
          std::vector<int16_t> samples;
          if (target.sample_rate == audio.sample_rate && target.channels == audio.channels) {
            samples = std::move(audio.samples);
          } else {
            PARLEY_ASSIGN_OR_RETURN(auto conv, parley::media::AudioConverter::create(target));
            PARLEY_RETURN_IF_ERROR(
                conv->convert(audio.samples, {audio.sample_rate, audio.channels}, samples));
            PARLEY_RETURN_IF_ERROR(conv->flush(samples));
          }
          PARLEY_ASSIGN_OR_RETURN(auto chunker, parley::media::Rechunker::create(
                                                    target.sample_rate, target.channels, frame_ms));
          PARLEY_RETURN_IF_ERROR(chunker.push(samples));
          std::vector<PcmFrame> frames;
          PcmFrame f;
          while (chunker.pop(f)) frames.push_back(std::move(f));
          if (chunker.flush(f, /*zero_pad=*/true)) frames.push_back(std::move(f));
          return frames;
        },
        [this, done, path](parley::Result<std::vector<PcmFrame>> r) {
          if (!r.is_ok()) {
            done(r.status().with_context(path));
            return;
          }
          frames_ = std::move(r).value();
          done(Status::ok());
        });
  }

  void on_start(Context& ctx) override {
    ctx.log().info("playing {} ({} frames of {} ms{})", ctx.prop_string("path"), frames_.size(),
                   frame_ms_, ctx.prop_bool("realtime") ? ", real time" : ", as fast as possible");
    const auto delay =
        std::chrono::milliseconds(std::max<int64_t>(0, ctx.prop_int("start_delay_ms")));
    if (ctx.prop_bool("realtime")) {
      timer_ = ctx.set_timer(
          std::chrono::milliseconds(frame_ms_), [this, &ctx] { tick(ctx); }, true);
    } else if (delay.count() > 0) {
      ctx.set_timer(delay, [this, &ctx] { send_all(ctx); });
    } else {
      send_all(ctx);
    }
    if (ctx.prop_bool("realtime") && delay.count() > 0) {
      ctx.cancel_timer(timer_);
      ctx.set_timer(delay, [this, &ctx] {
        timer_ = ctx.set_timer(
            std::chrono::milliseconds(frame_ms_), [this, &ctx] { tick(ctx); }, true);
      });
    }
  }

  void on_stop(Context& ctx, parley::Done done) override {
    ctx.cancel_timer(timer_);
    finished_ = true;
    done(Status::ok());
  }

 private:
  void tick(Context& ctx) {
    if (finished_) return;
    if (next_ < frames_.size()) {
      send_frame(ctx, frames_[next_++]);
      return;
    }
    end(ctx);
  }

  void send_all(Context& ctx) {
    while (!finished_ && next_ < frames_.size()) send_frame(ctx, frames_[next_++]);
    if (!finished_) end(ctx);
  }

  void send_frame(Context& ctx, const PcmFrame& f) {
    auto frame = parley::media::to_audio_frame(f);
    frame->timestamp_ms += offset_ms_;
    ctx.send(std::move(frame));
  }

  void end(Context& ctx) {
    if (ctx.prop_bool("loop") && !frames_.empty()) {
      offset_ms_ += static_cast<int64_t>(frames_.size()) * frame_ms_;
      next_ = 0;
      if (!ctx.prop_bool("realtime"))
        ctx.set_timer(std::chrono::milliseconds(1), [this, &ctx] { send_all(ctx); });
      return;
    }
    finished_ = true;
    ctx.cancel_timer(timer_);
    auto eof = std::make_unique<AudioFrame>();
    if (!frames_.empty()) {
      eof->sample_rate = frames_.back().sample_rate;
      eof->channels = frames_.back().channels;
      eof->timestamp_ms = offset_ms_ + static_cast<int64_t>(frames_.size()) * frame_ms_;
    }
    eof->is_eof = true;
    ctx.send(std::move(eof));
    ctx.log().info("end of {}", ctx.prop_string("path"));
    if (ctx.prop_bool("stop_graph_at_end")) ctx.stop_graph("end of " + ctx.prop_string("path"));
  }

  int frame_ms_ = 20;
  std::vector<PcmFrame> frames_;
  size_t next_ = 0;
  int64_t offset_ms_ = 0;
  parley::TimerId timer_ = 0;
  bool finished_ = false;
};

}  // namespace

parley::Status parley_register_addon_wav_source(parley::AddonRegistry& registry) {
  return registry.add<WavSource>(kManifest);
}
