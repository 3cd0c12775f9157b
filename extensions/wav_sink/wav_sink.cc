// wav_sink: writes the audio it receives to a WAV file (in the format of the first frame; later
// frames in another format are converted), closing the file at is_eof.
#include <spdlog/logger.h>

#include "parley/addon.h"
#include "parley/media/audio_converter.h"
#include "parley/media/wav.h"
#include "parley/turn_metrics.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "wav_sink",
  "description": "Writes received pcm_frame audio to a 16-bit WAV file; at an is_eof frame it closes the file and, by default, asks the graph to stop. Marks first_audio_out for each agent turn (frames with turn_id).",
  "properties": {
    "path": {"type": "string", "required": true, "description": "WAV file to write (overwritten)"},
    "stop_graph_on_eof": {"type": "bool", "default": true, "description": "Ask the graph to stop when an is_eof frame arrives"}
  },
  "in": {"audio_frame": ["*"]},
  "out": {"data": ["turn_mark"]}
})json";

using parley::Context;
using parley::Status;

class WavSink final : public parley::Extension {
 public:
  void on_audio_frame(Context& ctx, std::unique_ptr<parley::AudioFrame> frame) override {
    if (failed_) return;
    // The first frame of each agent turn is the turn's "first audio out" (the file is the output).
    const int64_t turn = frame->get<int64_t>("turn_id", -1);
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
  void on_stop(Context& ctx, parley::Done done) override {
    finish(ctx);
    done(Status::ok());
  }

 private:
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
};

}  // namespace

parley::Status parley_register_addon_wav_sink(parley::AddonRegistry& registry) {
  return registry.add<WavSink>(kManifest);
}
