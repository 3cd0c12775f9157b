// pocketsphinx_asr: streaming speech recognition with PocketSphinx and the Debian en-US model.
//
// Audio (any rate and channel count, converted to 16 kHz mono) is decoded on the compute pool by
// a decoder borrowed from the process-wide pool (shared_decoder_pool.h) for the node's lifetime.
// Utterances are delimited by vad_event (speech_start / speech_end) or, without a VAD, by
// PocketSphinx's own voice detector; the result is asr_result partials while the user speaks and
// one final per utterance. Decoding never runs on the executor: audio is queued while a batch is
// being decoded and fed as the next batch, so the order of audio and events is kept.
#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "parley/addon.h"
#include "parley/media/audio_converter.h"
#include "shared_decoder_pool.h"
#include "stream_decoder.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "pocketsphinx_asr",
  "description": "Streaming speech recognition (PocketSphinx, Debian en-US model): pcm_frame audio in, asr_result partials and finals out, asr_done at the end of the input. Utterances follow vad_event or PocketSphinx's own voice detector.",
  "properties": {
    "endpointing": {"type": "string", "default": "auto", "description": "vad: utterances follow vad_event; decoder: PocketSphinx's own voice detector; auto: decoder until the first vad_event arrives, then vad"},
    "partial_interval_ms": {"type": "int", "default": 200, "description": "Audio between two partial results (sent only when the text changed); 0 disables partials"},
    "preroll_ms": {"type": "int", "default": 300, "description": "Audio before a vad_event speech_start's timestamp also decoded, so onsets are not clipped (0..2000)"},
    "language": {"type": "string", "default": "en-US", "description": "Language tag put in asr_result (the model decides what is recognised)"},
    "hmm": {"type": "string", "default": "", "description": "Acoustic model directory; empty for the Debian pocketsphinx-en-us model"},
    "lm": {"type": "string", "default": "", "description": "Language model; empty for the Debian pocketsphinx-en-us model"},
    "dict": {"type": "string", "default": "", "description": "Pronunciation dictionary; empty for the Debian pocketsphinx-en-us model"},
    "pool_warm": {"type": "int", "default": 1, "description": "Decoders the process-wide pool loads ahead of time, in the background (first node to use the pool sets it)"},
    "pool_max": {"type": "int", "default": 8, "description": "Most decoders the process-wide pool holds, ~100 MB each; a node that finds them all busy fails to start (first node to use the pool sets it)"},
    "stop_graph_at_eof": {"type": "bool", "default": false, "description": "Ask the graph to stop after the final result of an is_eof input (file transcription)"}
  },
  "in": {"audio_frame": ["pcm_frame"], "data": ["vad_event"], "cmd": ["flush"]},
  "out": {"data": ["asr_result", "asr_done"], "cmd": ["flush"]}
})json";

using parley::Context;
using parley::Status;
using parley::asr::DecodeEvent;
using parley::asr::DecodeOp;
using Clock = std::chrono::steady_clock;

constexpr int kRate = parley::speech::kPocketSphinxSampleRate;
constexpr int64_t kSamplesPerMs = kRate / 1000;
// Audio kept for the lead-in of VAD utterances beyond preroll_ms (speech_start arrives after the
// VAD's min-speech time, and its timestamp points back to the onset).
constexpr int64_t kLeadInSlackMs = 2000;
// Most audio decoded in one blocking call.
constexpr int64_t kMaxBatchAudioMs = 500;
// Undecoded audio still decoded at stop; a longer backlog is dropped.
constexpr int64_t kMaxStopBacklogMs = 2000;
// How often (in stream time) progress is reported as the asr_audio_ms metric.
constexpr int64_t kProgressStepMs = 100;

enum class Endpointing { kAuto, kVad, kDecoder };

// The borrowed decoder and its stream state, shared with the batch in flight so that neither can
// be freed under it (even if the node is deinitialised after a stop timeout).
struct DecodeSession {
  explicit DecodeSession(parley::speech::DecoderPool::Lease l, int partial_interval_ms)
      : lease(std::move(l)), stream(&lease.decoder(), partial_interval_ms) {}
  parley::speech::DecoderPool::Lease lease;
  parley::asr::StreamDecoder stream;
};

class PocketSphinxAsr final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override;
  void on_init(Context& ctx, parley::Done done) override;
  void on_stop(Context& ctx, parley::Done done) override;
  void on_deinit(Context& ctx) override;
  void on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) override;
  void on_data(Context& ctx, std::unique_ptr<parley::Data> data) override;
  void on_audio_frame(Context& ctx, std::unique_ptr<parley::AudioFrame> frame) override;

 private:
  // Endpointing by PocketSphinx's voice detector now (decoder mode, or auto before any vad_event).
  bool decoder_endpointing() const {
    return mode_ == Endpointing::kDecoder || (mode_ == Endpointing::kAuto && !vad_seen_);
  }
  // Stream time of the next sample, in ms.
  int64_t now_ms() const { return origin_ms_ + samples_ / kSamplesPerMs; }
  void refuse(Context& ctx, const Status& why);
  void remember(const std::vector<int16_t>& pcm);
  void open_utterance(int64_t speech_start_ms, bool lead_in);
  void enqueue(DecodeOp op);
  void end_of_stream();
  void dispatch();
  void on_decoded(std::vector<DecodeEvent> events, Clock::time_point oldest);
  void publish(const DecodeEvent& e);
  void report_progress(int64_t position_ms, bool force);
  void maybe_finish_stop();

  Context* ctx_ = nullptr;
  // Settings.
  Endpointing mode_ = Endpointing::kAuto;
  int partial_interval_ms_ = 200;
  int64_t preroll_ms_ = 300;
  std::string language_;
  parley::speech::PocketSphinxConfig model_;
  // Decoding.
  std::unique_ptr<parley::media::AudioConverter> converter_;
  std::shared_ptr<DecodeSession> session_;
  // Ops waiting for the batch in flight, with the time each was queued (for the lag metric).
  std::deque<std::pair<DecodeOp, Clock::time_point>> queue_;
  bool in_flight_ = false;
  uint64_t epoch_ = 0;  // flushes so far
  // Stream clock: timestamp of the first frame plus the 16 kHz samples received since.
  bool have_origin_ = false;
  int64_t origin_ms_ = 0;
  int64_t samples_ = 0;
  std::vector<int16_t> recent_;  // the last audio, for lead-ins
  int64_t recent_first_ = 0;     // sample index of recent_[0]
  std::vector<int16_t> scratch_;
  // Endpointing state seen from the executor.
  bool vad_seen_ = false;
  bool vad_in_speech_ = false;
  bool utt_open_ = false;  // a VAD utterance was begun and not finished
  // Turns: utterances that produced output get consecutive turn ids.
  uint64_t current_utterance_ = 0;
  int64_t current_turn_ = 0;
  int64_t next_turn_ = 1;
  bool partial_sent_ = false;
  // Progress, errors and stopping.
  int64_t reported_ms_ = -1;
  uint64_t refused_ = 0;
  bool stopping_ = false;
  parley::Done stop_done_;
};

Status PocketSphinxAsr::on_configure(Context& ctx) {
  const std::string endpointing = ctx.prop_string("endpointing");
  if (endpointing == "auto") {
    mode_ = Endpointing::kAuto;
  } else if (endpointing == "vad") {
    mode_ = Endpointing::kVad;
  } else if (endpointing == "decoder") {
    mode_ = Endpointing::kDecoder;
  } else {
    return parley::invalid_argument("endpointing must be \"auto\", \"vad\" or \"decoder\", got \"" +
                                    endpointing + "\"");
  }
  if (ctx.prop_int("partial_interval_ms") < 0)
    return parley::invalid_argument("partial_interval_ms must be >= 0 (0 disables partials)");
  partial_interval_ms_ = static_cast<int>(ctx.prop_int("partial_interval_ms"));
  preroll_ms_ = ctx.prop_int("preroll_ms");
  if (preroll_ms_ < 0 || preroll_ms_ > 2000)
    return parley::invalid_argument("preroll_ms must be between 0 and 2000, got " +
                                    std::to_string(preroll_ms_));
  if (ctx.prop_int("pool_warm") < 0 || ctx.prop_int("pool_max") < 1)
    return parley::invalid_argument("pool_warm must be >= 0 and pool_max >= 1");
  language_ = ctx.prop_string("language");
  PARLEY_ASSIGN_OR_RETURN(converter_, parley::media::AudioConverter::create({kRate, 1}));
  if (!ctx.prop_string("hmm").empty()) model_.hmm = ctx.prop_string("hmm");
  if (!ctx.prop_string("lm").empty()) model_.lm = ctx.prop_string("lm");
  if (!ctx.prop_string("dict").empty()) model_.dict = ctx.prop_string("dict");
  // A missing model fails here, naming the Debian package, instead of at the first utterance.
  return model_.validate();
}

void PocketSphinxAsr::on_init(Context& ctx, parley::Done done) {
  ctx_ = &ctx;
  const auto shared =
      parley::asr::shared_decoder_pool(model_, static_cast<size_t>(ctx.prop_int("pool_warm")),
                                       static_cast<size_t>(ctx.prop_int("pool_max")));
  if (!shared.created && (shared.warm != static_cast<size_t>(ctx.prop_int("pool_warm")) ||
                          shared.max != static_cast<size_t>(ctx.prop_int("pool_max")))) {
    ctx.log().info("decoder pool already exists with pool_warm={} pool_max={} (first use wins)",
                   shared.warm, shared.max);
  }
  parley::speech::DecoderPool* pool = shared.pool;
  const auto start = Clock::now();
  ctx.run_blocking_result<parley::speech::DecoderPool::Lease>(
      [pool] { return pool->try_acquire(); },
      [this, &ctx, pool, start, created = shared.created,
       done](parley::Result<parley::speech::DecoderPool::Lease> lease) {
        if (!lease.is_ok()) {
          done(lease.status().with_context("pocketsphinx_asr: no decoder"));
          return;
        }
        session_ = std::make_shared<DecodeSession>(std::move(lease).value(), partial_interval_ms_);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        ctx.metric("asr_decoder_checkout_ms", ms);
        ctx.log().debug("decoder ready in {:.1f} ms; {}", ms, pool->stats().to_string());
        // The first node loads the rest of the pool's warm decoders in the background, after
        // its own, so that it never waits for decoders it will not use.
        if (created) {
          ctx.run_blocking([pool] { (void)pool->prewarm(); }, [] {});
        }
        done(Status::ok());
      });
}

void PocketSphinxAsr::on_stop(Context& ctx, parley::Done done) {
  stopping_ = true;
  // A decoder that fell far behind would keep the stop waiting for audio nobody will use:
  // beyond kMaxStopBacklogMs of undecoded audio, the backlog is dropped.
  int64_t backlog_samples = 0;
  for (const auto& q : queue_) backlog_samples += static_cast<int64_t>(q.first.pcm.size());
  if (backlog_samples > kMaxStopBacklogMs * kSamplesPerMs) {
    ctx.log().warn("stopping {} ms behind real time: dropping the audio not yet decoded",
                   backlog_samples / kSamplesPerMs);
    std::erase_if(queue_, [](const auto& q) { return q.first.type != DecodeOp::Type::kEof; });
  }
  // What was heard so far becomes final; then the queue drains and the node stops.
  if (session_ != nullptr) enqueue(DecodeOp::of(DecodeOp::Type::kFinish));
  utt_open_ = false;
  stop_done_ = std::move(done);
  dispatch();
  maybe_finish_stop();
}

void PocketSphinxAsr::on_deinit(Context&) {
  session_.reset();  // the decoder goes back to the pool (after the batch in flight, if any)
}

void PocketSphinxAsr::on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) {
  if (cmd->name() != parley::kFlushCmd) {
    Extension::on_cmd(ctx, std::move(cmd));
    return;
  }
  // Finalize-and-drop: the utterance in progress is abandoned without a result. Queued audio of
  // the flushed turn is dropped; end-of-stream markers are kept so asr_done is still sent.
  ++epoch_;
  std::erase_if(queue_, [](const auto& q) { return q.first.type != DecodeOp::Type::kEof; });
  enqueue(DecodeOp::of(DecodeOp::Type::kAbort));
  current_utterance_ = 0;
  next_turn_ = std::max(next_turn_, cmd->get<int64_t>("turn_id", 0));
  utt_open_ = false;
  // Speech still going on after the flush is recognised as a new turn.
  if (!decoder_endpointing() && vad_in_speech_ && !stopping_) open_utterance(now_ms(), false);
  dispatch();
  ctx.forward_cmd(std::move(cmd));
}

void PocketSphinxAsr::on_data(Context& ctx, std::unique_ptr<parley::Data> data) {
  if (data->name() != "vad_event" || stopping_) return;
  if (mode_ == Endpointing::kDecoder) return;  // endpointing by the decoder, as configured
  const std::string event = data->get<std::string>("event", "");
  const int64_t timestamp_ms = data->get<int64_t>("timestamp_ms", now_ms());
  if (!vad_seen_) {
    vad_seen_ = true;
    ctx.log().debug("utterances now follow vad_event (endpointing={})",
                    mode_ == Endpointing::kAuto ? "auto" : "vad");
  }
  if (event == "speech_onset") return;  // a barge-in cue; utterances open at speech_start
  if (event == "speech_start") {
    vad_in_speech_ = true;
    if (!utt_open_) open_utterance(timestamp_ms, true);
  } else if (event == "speech_end") {
    vad_in_speech_ = false;
    if (utt_open_) enqueue(DecodeOp::of(DecodeOp::Type::kFinish));
    utt_open_ = false;
  } else {
    ctx.log().warn("ignoring vad_event with event '{}' (expected speech_start or speech_end)",
                   event);
    return;
  }
  dispatch();
}

void PocketSphinxAsr::on_audio_frame(Context& ctx, std::unique_ptr<parley::AudioFrame> frame) {
  if (stopping_ || session_ == nullptr) return;
  scratch_.clear();
  // The converter refuses what it cannot take (not 16-bit, a bad rate, a torn buffer), saying why.
  if (Status s = converter_->convert(*frame, scratch_); !s.is_ok()) {
    refuse(ctx, s);
    scratch_.clear();
  }
  if (!have_origin_) {
    have_origin_ = true;
    origin_ms_ = frame->timestamp_ms;
  }
  if (!scratch_.empty()) {
    const int64_t start_ms = now_ms();
    samples_ += static_cast<int64_t>(scratch_.size());
    if (mode_ != Endpointing::kDecoder) remember(scratch_);
    if (decoder_endpointing() || utt_open_) {
      DecodeOp op = DecodeOp::of(DecodeOp::Type::kAudio, start_ms);
      op.pcm = scratch_;
      op.auto_endpoint = decoder_endpointing();
      enqueue(std::move(op));
    } else if (queue_.empty() && !in_flight_) {
      report_progress(now_ms(), false);  // silence between utterances: nothing to decode
    }
  }
  if (frame->is_eof) end_of_stream();
  dispatch();
}

void PocketSphinxAsr::refuse(Context& ctx, const Status& why) {
  // One line for the first refusal and then every 500th (10 s of 20 ms frames), not 50 a second.
  if (refused_++ % 500 == 0) {
    ctx.log().error("{} ({} frame{} refused so far)", why.message(), refused_,
                    refused_ == 1 ? "" : "s");
  }
  ctx.metric("asr_refused_frames", 1);
}

void PocketSphinxAsr::remember(const std::vector<int16_t>& pcm) {
  recent_.insert(recent_.end(), pcm.begin(), pcm.end());
  const auto keep = static_cast<size_t>((preroll_ms_ + kLeadInSlackMs) * kSamplesPerMs);
  if (recent_.size() > 2 * keep) {
    const size_t drop = recent_.size() - keep;
    recent_.erase(recent_.begin(), recent_.begin() + static_cast<std::ptrdiff_t>(drop));
    recent_first_ += static_cast<int64_t>(drop);
  }
}

void PocketSphinxAsr::open_utterance(int64_t speech_start_ms, bool lead_in) {
  DecodeOp op = DecodeOp::of(DecodeOp::Type::kBegin, now_ms());
  if (lead_in) {
    // Start preroll_ms before the onset, within the audio still remembered.
    const int64_t want = (speech_start_ms - preroll_ms_ - origin_ms_) * kSamplesPerMs;
    const int64_t first = std::clamp(want, recent_first_, samples_);
    op.pcm.assign(recent_.begin() + (first - recent_first_), recent_.end());
    op.start_ms = origin_ms_ + first / kSamplesPerMs;
  }
  enqueue(std::move(op));
  utt_open_ = true;
}

void PocketSphinxAsr::enqueue(DecodeOp op) {
  op.epoch = epoch_;
  queue_.emplace_back(std::move(op), Clock::now());
}

void PocketSphinxAsr::end_of_stream() {
  enqueue(DecodeOp::of(DecodeOp::Type::kEof));
  // The next frame starts a new stream with its own clock.
  utt_open_ = false;
  vad_in_speech_ = false;
  have_origin_ = false;
  samples_ = 0;
  recent_.clear();
  recent_first_ = 0;
  converter_->reset();
}

void PocketSphinxAsr::dispatch() {
  if (in_flight_ || queue_.empty() || session_ == nullptr) return;
  in_flight_ = true;
  // Batches of at most kMaxBatchAudioMs: a flush waits for at most one batch, and progress and
  // partials keep flowing when a whole file arrives at once.
  auto ops = std::make_shared<std::vector<DecodeOp>>();
  const Clock::time_point oldest = queue_.front().second;
  int64_t batch_samples = 0;
  while (!queue_.empty() && batch_samples < kMaxBatchAudioMs * kSamplesPerMs) {
    batch_samples += static_cast<int64_t>(queue_.front().first.pcm.size());
    ops->push_back(std::move(queue_.front().first));
    queue_.pop_front();
  }
  auto events = std::make_shared<std::vector<DecodeEvent>>();
  auto compute_ms = std::make_shared<double>(0);
  ctx_->run_blocking(
      [session = session_, ops, events, compute_ms]() mutable {
        const auto start = Clock::now();
        *events = session->stream.run(std::move(*ops));
        *compute_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        // Let go here, not whenever the pool destroys this closure: after deinit the decoder
        // must be back in the pool as soon as the last batch is done.
        session.reset();
      },
      [this, events, oldest, compute_ms] {
        // Time spent inside the decoder for this batch (engine compute, not runtime overhead).
        ctx_->metric("asr_decode_ms", *compute_ms);
        on_decoded(std::move(*events), oldest);
      });
}

void PocketSphinxAsr::on_decoded(std::vector<DecodeEvent> events, Clock::time_point oldest) {
  in_flight_ = false;
  if (session_ == nullptr) return;  // deinitialised meanwhile
  ctx_->metric("asr_decode_lag_ms",
               std::chrono::duration<double, std::milli>(Clock::now() - oldest).count());
  report_progress(queue_.empty() && have_origin_ ? now_ms() : session_->stream.position_ms(),
                  false);
  for (const DecodeEvent& e : events) publish(e);
  dispatch();
  maybe_finish_stop();
}

void PocketSphinxAsr::publish(const DecodeEvent& e) {
  if (e.type == DecodeEvent::Type::kError) {
    ctx_->log().error("utterance {} dropped: {}", e.utterance, e.error.message());
    return;
  }
  if (e.type == DecodeEvent::Type::kEof) {
    report_progress(session_->stream.position_ms(), true);
    reported_ms_ = -1;  // the next stream starts again from its own beginning
    ctx_->send(std::make_unique<parley::Data>("asr_done", nlohmann::json::object()));
    if (ctx_->prop_bool("stop_graph_at_eof")) ctx_->stop_graph("end of the ASR input");
    return;
  }
  if (e.epoch != epoch_) return;  // decoded from audio of a flushed turn
  const bool is_final = e.type == DecodeEvent::Type::kFinal;
  const bool new_utterance = e.utterance != current_utterance_;
  // An utterance in which nothing was recognised ends silently unless partials announced it.
  if (is_final && e.text.empty() && (new_utterance || !partial_sent_)) return;
  if (new_utterance) {
    current_utterance_ = e.utterance;
    current_turn_ = next_turn_++;
    partial_sent_ = false;
  }
  int64_t start_ms = e.origin_ms;
  int64_t duration_ms = e.audio_ms;
  nlohmann::json result = {
      {"text", e.text}, {"final", is_final}, {"language", language_}, {"turn_id", current_turn_}};
  if (is_final) {
    const auto& words = e.transcript.words;
    if (!words.empty()) {
      start_ms = e.origin_ms + words.front().start_ms;
      duration_ms = words.back().end_ms - words.front().start_ms;
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& w : words) {
      list.push_back({{"word", w.word},
                      {"start_ms", e.origin_ms + w.start_ms},
                      {"end_ms", e.origin_ms + w.end_ms},
                      {"confidence", w.confidence}});
    }
    result["words"] = std::move(list);
    result["confidence"] = e.transcript.confidence;
  } else {
    partial_sent_ = true;
  }
  result["start_ms"] = start_ms;
  result["duration_ms"] = duration_ms;
  ctx_->send(std::make_unique<parley::Data>("asr_result", std::move(result)));
  if (is_final) current_utterance_ = 0;
}

void PocketSphinxAsr::report_progress(int64_t position_ms, bool force) {
  if (position_ms < reported_ms_ + (force ? 1 : kProgressStepMs)) return;
  reported_ms_ = position_ms;
  ctx_->metric("asr_audio_ms", static_cast<double>(position_ms));
}

void PocketSphinxAsr::maybe_finish_stop() {
  if (!stopping_ || in_flight_ || !queue_.empty() || !stop_done_) return;
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  done(Status::ok());
}

}  // namespace

parley::Status parley_register_addon_pocketsphinx_asr(parley::AddonRegistry& registry) {
  return registry.add<PocketSphinxAsr>(kManifest);
}
