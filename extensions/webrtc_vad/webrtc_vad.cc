// webrtc_vad: the audio front end. Voice activity detection on WebRTC audio processing turns the
// microphone's pcm_frame stream into vad_event speech_start / speech_end, with optional echo
// cancellation (the agent's own voice, fed back as far_end_frame, is removed from the microphone)
// and noise suppression. See README.md in this folder for the defaults and how to wire AEC.
//
// Audio path: every pcm_frame is converted to 16 kHz mono (AudioConverter) and cut into the 10 ms
// blocks WebRTC works on (Rechunker). With neither echo cancellation nor noise suppression the
// original frames are forwarded untouched (zero copy, any format); with either one on, the
// cleaned 16 kHz mono audio is forwarded instead, as 10 ms frames, since that is what downstream
// recognisers should hear.
#include <spdlog/logger.h>

#include <optional>
#include <string>
#include <vector>

#include "parley/addon.h"
#include "parley/media/audio_converter.h"
#include "parley/media/pcm.h"
#include "parley/media/rechunker.h"
#include "speech/audio_processor.h"
#include "speech/speech_segmenter.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "webrtc_vad",
  "description": "Voice activity detection (WebRTC): emits vad_event speech_start/speech_end (and, with onset_ms, an early speech_onset) with stream timestamps and passes the audio through; optional echo cancellation against the agent's own voice (far_end_frame input) and noise suppression.",
  "properties": {
    "min_speech_ms": {"type": "int", "default": 200, "description": "Voiced audio needed before speech_start (filters clicks and coughs)"},
    "onset_ms": {"type": "int", "default": 0, "description": "When > 0 (and below min_speech_ms): a vad_event speech_onset after this much voiced audio, an early barge-in cue before speech_start is certain; 0 = off"},
    "min_silence_ms": {"type": "int", "default": 500, "description": "Unvoiced audio needed before speech_end (hangover bridging pauses)"},
    "min_level_dbfs": {"type": "number", "default": -50, "description": "A 10 ms block quieter than this (after echo cancellation and noise suppression) never counts as speech; -120 disables the floor"},
    "vad_likelihood": {"type": "string", "default": "low", "description": "How readily a 10 ms frame is called speech: very_low (rejects most noise), low, moderate or high (clips least speech)"},
    "noise_suppression": {"type": "bool", "default": false, "description": "Suppress stationary noise in the forwarded audio"},
    "echo_cancellation": {"type": "bool", "default": false, "description": "Remove the agent's own voice (received as far_end_frame) from the microphone"},
    "echo_delay_ms": {"type": "int", "default": 0, "description": "With echo_cancellation: expected delay (0..500 ms) from a far_end_frame being received to its echo reaching this node; a hint when delay_agnostic is on"},
    "delay_agnostic": {"type": "bool", "default": true, "description": "With echo_cancellation: let the canceller track the echo delay itself (needed when playout latency is unknown)"}
  },
  "in": {"audio_frame": ["pcm_frame", "far_end_frame"], "cmd": ["flush"]},
  "out": {"audio_frame": ["pcm_frame"], "data": ["vad_event"], "cmd": ["flush"]}
})json";

using parley::AudioFrame;
using parley::Context;
using parley::Status;
using parley::media::PcmFrame;
namespace speech = parley::speech;

constexpr int kRate = 16000;  // WebRTC runs at 16 kHz here: the rate of the pcm_frame contract
constexpr int kBlockMs = 10;  // WebRTC audio processing works on 10 ms blocks
constexpr int kMaxFarEndMs = 60'000;  // backlog of agent audio not yet "played" that we keep

// Parses the vad_likelihood property.
parley::Result<speech::VadLikelihood> parse_likelihood(const std::string& s) {
  if (s == "very_low") return speech::VadLikelihood::kVeryLow;
  if (s == "low") return speech::VadLikelihood::kLow;
  if (s == "moderate") return speech::VadLikelihood::kModerate;
  if (s == "high") return speech::VadLikelihood::kHigh;
  return parley::invalid_argument("vad_likelihood is '" + s +
                                  "'; use very_low, low, moderate or high");
}

class WebrtcVad final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override {
    speech::SpeechSegmenterConfig seg;
    seg.frame_ms = kBlockMs;
    seg.min_speech_ms = static_cast<int>(ctx.prop_int("min_speech_ms"));
    seg.min_silence_ms = static_cast<int>(ctx.prop_int("min_silence_ms"));
    seg.onset_ms = static_cast<int>(ctx.prop_int("onset_ms"));
    PARLEY_RETURN_IF_ERROR(seg.validate());
    segmenter_.emplace(seg);

    speech::AudioProcessorConfig apm;
    apm.sample_rate_hz = kRate;
    apm.voice_detection = true;
    PARLEY_ASSIGN_OR_RETURN(apm.vad_likelihood,
                            parse_likelihood(ctx.prop_string("vad_likelihood")));
    apm.noise_suppression = ctx.prop_bool("noise_suppression");
    aec_ = ctx.prop_bool("echo_cancellation");
    apm.echo_canceller = aec_ ? speech::EchoCanceller::kFull : speech::EchoCanceller::kNone;
    apm.delay_agnostic = ctx.prop_bool("delay_agnostic");
    min_level_dbfs_ = ctx.prop_number("min_level_dbfs");
    const int64_t delay = ctx.prop_int("echo_delay_ms");
    if (delay < 0 || delay > 500)
      return parley::invalid_argument("echo_delay_ms must be within 0..500, got " +
                                      std::to_string(delay));
    apm.stream_delay_ms = static_cast<int>(delay);
    PARLEY_ASSIGN_OR_RETURN(processor_, speech::AudioProcessor::create(apm));
    forward_cleaned_ = aec_ || apm.noise_suppression;

    PARLEY_ASSIGN_OR_RETURN(near_converter_, parley::media::AudioConverter::create({kRate, 1}));
    PARLEY_ASSIGN_OR_RETURN(far_converter_, parley::media::AudioConverter::create({kRate, 1}));
    PARLEY_ASSIGN_OR_RETURN(auto far, parley::media::Rechunker::create(kRate, 1, kBlockMs));
    far_end_.emplace(std::move(far));
    ctx.log().debug("{}; {}; forwarding {} audio", apm.to_string(), seg.to_string(),
                    forward_cleaned_ ? "cleaned 16 kHz mono" : "the original");
    return Status::ok();
  }

  void on_audio_frame(Context& ctx, std::unique_ptr<AudioFrame> frame) override {
    if (frame->name() == "far_end_frame") {
      on_far_end(ctx, *frame);
      return;
    }
    const bool eof = frame->is_eof;
    if (frame->bytes_per_sample != 2) {
      // Refused, not forwarded: reinterpreting other sample widths would only produce noise.
      if (!warned_width_) {
        ctx.log().error(
            "refusing pcm_frame with {}-byte samples: webrtc_vad takes signed 16-bit PCM "
            "(bytes_per_sample 2); convert the audio upstream. Further such frames are dropped.",
            frame->bytes_per_sample);
        warned_width_ = true;
      }
      if (eof) end_stream(ctx, nullptr);
      return;
    }
    if (frame->samples_per_channel > 0) {
      if (!in_stream_) begin_stream(ctx, frame->timestamp_ms);
      scratch_.clear();
      if (Status s = near_converter_->convert(*frame, scratch_); !s.is_ok()) {
        ctx.log().error("cannot convert pcm_frame ({} Hz, {} ch) to 16 kHz mono: {}",
                        frame->sample_rate, frame->channels, s.message());
        if (eof) end_stream(ctx, nullptr);
        return;
      }
      // Audio first, then the events it caused, so a consumer has the audio an event refers to.
      if (!forward_cleaned_ && !eof) ctx.send(std::move(frame));
      feed(ctx, scratch_);
    }
    if (eof) end_stream(ctx, std::move(frame));
  }

  void on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) override {
    if (cmd->name() == parley::kFlushCmd) {
      // The agent's audio that was queued but not yet played is dropped downstream, so it will
      // never reach the loudspeaker: stop expecting its echo.
      far_end_->reset();
      far_converter_->reset();
    }
    Extension::on_cmd(ctx, std::move(cmd));
  }

 private:
  // Starts a new input stream whose stream time begins at `timestamp_ms`.
  void begin_stream(Context& ctx, int64_t timestamp_ms) {
    near_blocks_ = parley::media::Rechunker::create(kRate, 1, kBlockMs, timestamp_ms).value();
    segmenter_->reset(timestamp_ms);
    in_stream_ = true;
    ctx.log().debug("audio stream starts at {} ms", timestamp_ms);
  }

  // Processes the 16 kHz mono samples in whole 10 ms blocks.
  void feed(Context& ctx, std::span<const int16_t> samples) {
    if (Status s = near_blocks_->push(samples); !s.is_ok()) {
      ctx.log().error("{}", s.message());
      return;
    }
    PcmFrame block;
    while (near_blocks_->pop(block)) process_block(ctx, block, block.samples.size());
  }

  // Runs one 10 ms block through WebRTC; forwards the first `real` cleaned samples if cleaning.
  void process_block(Context& ctx, PcmFrame& block, size_t real) {
    if (aec_) {
      // The far end advances with the microphone's clock: one 10 ms block of the agent's audio is
      // considered played per 10 ms of microphone audio, silence when none is queued.
      if (!far_end_->pop(far_block_)) {
        far_block_.samples.assign(block.samples.size(), 0);
      }
      if (Status s = processor_->analyze_reverse(far_block_.samples); !s.is_ok())
        ctx.log().warn("far end: {}", s.message());
    }
    auto voiced = processor_->process(block.samples, block.samples);
    if (!voiced.is_ok()) {
      ctx.log().error("{}", voiced.status().message());
      return;
    }
    // WebRTC's detector judges spectral shape, not level: it flags even faint residual echo or
    // distant chatter as voice. Speech meant for the agent is louder than the floor.
    const bool speech = *voiced && parley::media::dbfs(block.samples) > min_level_dbfs_;
    if (forward_cleaned_ && real > 0) {
      block.samples.resize(real);
      ctx.send(parley::media::to_audio_frame(block));
    }
    if (auto event = segmenter_->push(speech)) send_event(ctx, *event);
  }

  // End of the input: drains held audio, closes an open utterance and forwards the eof frame
  // (the original one when passing audio through, else a 16 kHz one ending the cleaned stream).
  void end_stream(Context& ctx, std::unique_ptr<AudioFrame> eof) {
    if (in_stream_) {
      scratch_.clear();
      if (near_converter_->flush(scratch_).is_ok()) feed(ctx, scratch_);
      const size_t left = near_blocks_->buffered_frames();
      const int64_t end_ms =
          near_blocks_->next_timestamp_ms() + static_cast<int64_t>(left) * 1000 / kRate;
      PcmFrame block;
      if (near_blocks_->flush(block, /*zero_pad=*/true)) process_block(ctx, block, left);
      if (auto event = segmenter_->flush()) send_event(ctx, *event);
      if (forward_cleaned_ || !eof) {
        eof = std::make_unique<AudioFrame>();
        eof->sample_rate = kRate;
        eof->timestamp_ms = end_ms;
        eof->is_eof = true;
      }
    }
    near_converter_->reset();
    in_stream_ = false;
    if (!eof) {
      eof = std::make_unique<AudioFrame>();
      eof->is_eof = true;
    }
    ctx.send(std::move(eof));
  }

  // Queues the agent's outgoing audio as the echo canceller's reference.
  void on_far_end(Context& ctx, const AudioFrame& frame) {
    if (!aec_) return;
    if (frame.bytes_per_sample != 2 && !frame.is_eof) {
      if (!warned_far_width_)
        ctx.log().error("refusing far_end_frame with {}-byte samples (16-bit PCM only)",
                        frame.bytes_per_sample);
      warned_far_width_ = true;
      return;
    }
    far_scratch_.clear();
    if (Status s = far_converter_->convert(frame, far_scratch_); !s.is_ok()) {
      ctx.log().error("cannot convert far_end_frame to 16 kHz mono: {}", s.message());
      return;
    }
    if (frame.is_eof) far_converter_->reset();
    if (far_end_->buffered_frames() + far_scratch_.size() >
        static_cast<size_t>(kMaxFarEndMs) * kRate / 1000) {
      ctx.log().warn(
          "far-end backlog exceeds {} s (is the microphone stream running?); dropping it",
          kMaxFarEndMs / 1000);
      far_end_->reset();
    }
    (void)far_end_->push(far_scratch_);
  }

  void send_event(Context& ctx, const speech::SpeechEvent& e) {
    ctx.log().debug("{} at {} ms (decided at {} ms)", speech::speech_event_name(e.type),
                    e.timestamp_ms, e.detected_at_ms);
    ctx.send(std::make_unique<parley::Data>(
        "vad_event", nlohmann::json{{"event", speech::speech_event_name(e.type)},
                                    {"timestamp_ms", e.timestamp_ms},
                                    {"detected_at_ms", e.detected_at_ms}}));
  }

  bool aec_ = false;
  double min_level_dbfs_ = -50.0;
  bool forward_cleaned_ = false;
  std::unique_ptr<speech::AudioProcessor> processor_;
  std::optional<speech::SpeechSegmenter> segmenter_;
  std::unique_ptr<parley::media::AudioConverter> near_converter_;
  std::unique_ptr<parley::media::AudioConverter> far_converter_;
  std::optional<parley::media::Rechunker> near_blocks_;  // microphone, 10 ms blocks
  std::optional<parley::media::Rechunker> far_end_;      // agent audio waiting to be "played"
  bool in_stream_ = false;
  std::vector<int16_t> scratch_;
  std::vector<int16_t> far_scratch_;
  PcmFrame far_block_;
  bool warned_width_ = false;
  bool warned_far_width_ = false;
};

}  // namespace

parley::Status parley_register_addon_webrtc_vad(parley::AddonRegistry& registry) {
  return registry.add<WebrtcVad>(kManifest);
}
