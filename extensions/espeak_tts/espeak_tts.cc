// espeak_tts: streaming text-to-speech with eSpeak NG, the embedded default TTS.
//
// text_data is cut at sentence boundaries and each sentence is queued on the process-wide eSpeak
// NG synthesis thread (speech::EspeakService: eSpeak keeps global state, so every session of a
// process shares that one thread). Audio comes back chunk by chunk on the synthesis thread, is
// posted to this node's executor, resampled to `sample_rate` and sent as pcm_frame of `frame_ms`
// as soon as a frame is complete — the first frame of a long paragraph leaves long before its
// synthesis ends. Pacing to real time is the transport's job: frames leave as fast as they are
// synthesised.
//
// Turns: each turn's audio is framed by data tts_audio_start / tts_audio_end {turn_id}. flush
// {turn_id} cancels the utterance being synthesised (within one eSpeak chunk) and every queued
// sentence of older turns, and drops their audio not yet sent, so no frame of an older turn leaves
// after the flush is handled. Data text_end (end of all text) makes the node send an is_eof
// pcm_frame after the last queued audio, so a wav_sink closes its file.
//
// History: for every text segment synthesised to the end, data tts_segment {turn_id, text,
// audio_ms} says how much audio that text became, so the LLM stage can map the transport's playout
// position back to the words the user heard (openai_llm: llm::heard_characters). Segments of a turn
// are reported in order; their texts joined by single spaces are the turn's text, as the LLM stage
// joins its pieces. A segment cut short by a flush is not reported: its audio never fully left.
#include <spdlog/logger.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/addon.h"
#include "parley/media/rechunker.h"
#include "parley/media/resampler.h"
#include "parley/turn_metrics.h"
#include "speech/espeak_synthesizer.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "espeak_tts",
  "description": "Speaks text_data with eSpeak NG, streaming pcm_frame audio (with turn_id) at sample_rate as soon as the first chunk is synthesised; tts_audio_start/tts_audio_end frame each turn's audio; tts_segment {turn_id, text, audio_ms} reports each synthesised segment; flush stops older turns at once; text_end ends the audio with an is_eof frame. Also sends a copy of its audio as far_end_frame when that is connected (the echo canceller's reference).",
  "properties": {
    "voice": {"type": "string", "default": "en-us", "description": "eSpeak NG voice or language: en-us, en-gb, de, fr, ... (see `espeak-ng --voices`)"},
    "rate": {"type": "int", "default": 175, "description": "Speaking rate in words per minute (80..450)"},
    "pitch": {"type": "int", "default": 50, "description": "Base pitch 0..100 (50 is the voice's normal pitch)"},
    "sample_rate": {"type": "int", "default": 16000, "description": "Output sample rate in Hz (8000..48000)"},
    "frame_ms": {"type": "int", "default": 20, "description": "Output frame duration in ms (the pcm_frame interface uses 10 or 20)"}
  },
  "in": {"data": ["text_data", "text_end"], "cmd": ["flush"]},
  "out": {"audio_frame": ["pcm_frame", "far_end_frame"], "data": ["tts_audio_start", "tts_audio_end", "tts_segment", "turn_mark"], "cmd": ["flush"]}
})json";

using parley::AudioFrame;
using parley::Context;
using parley::Status;
using parley::media::PcmFrame;
using Clock = std::chrono::steady_clock;
namespace speech = parley::speech;

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Length of the prefix of `text` that ends at its last sentence boundary (. ! ? ; followed by
// white space, or a newline; or ending `text`, which ends a text_data piece: LLM stages cut their
// pieces at sentence and clause boundaries); 0 when there is none yet. Text after it waits for
// more text or for end_of_segment, so a streamed sentence is spoken whole, with its natural
// intonation.
size_t complete_sentences_length(const std::string& text) {
  for (size_t i = text.size(); i-- > 0;) {
    const char c = text[i];
    if (c == '\n') return i + 1;
    if ((c == '.' || c == '!' || c == '?' || c == ';') &&
        (i + 1 == text.size() || is_space(text[i + 1]))) {
      return i + 1;
    }
  }
  return 0;
}

// Appends the text_data piece `piece` to `pending`. Pieces are whole words (LLM stages send
// trimmed clauses and sentences), so two pieces that do not already meet at white space are
// joined with one space, as the LLM stage joins them in its history and transcript.
void append_piece(std::string& pending, const std::string& piece) {
  if (!pending.empty() && !piece.empty() && !is_space(pending.back()) && !is_space(piece.front()))
    pending += ' ';
  pending += piece;
}

// `text` without leading and trailing white space.
std::string trimmed(const std::string& text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  return text.substr(b, e - b);
}

bool is_blank(const std::string& text) {
  for (char c : text)
    if (!is_space(c)) return false;
  return true;
}

class EspeakTts final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override {
    voice_ = ctx.prop_string("voice");
    rate_ = static_cast<int>(ctx.prop_int("rate"));
    pitch_ = static_cast<int>(ctx.prop_int("pitch"));
    sample_rate_ = static_cast<int>(ctx.prop_int("sample_rate"));
    const int frame_ms = static_cast<int>(ctx.prop_int("frame_ms"));
    if (voice_.empty()) return parley::invalid_argument("voice must not be empty (e.g. \"en-us\")");
    if (rate_ < 80 || rate_ > 450)
      return parley::invalid_argument("rate is " + std::to_string(rate_) +
                                      " words per minute; eSpeak NG accepts 80..450");
    if (pitch_ < 0 || pitch_ > 100)
      return parley::invalid_argument("pitch is " + std::to_string(pitch_) +
                                      "; use 0..100 (50 is the voice's normal pitch)");
    if (sample_rate_ < 8000 || sample_rate_ > 48000)
      return parley::invalid_argument("sample_rate is " + std::to_string(sample_rate_) +
                                      " Hz; use 8000..48000 (16000 is the pcm_frame default)");
    PARLEY_ASSIGN_OR_RETURN(auto chunker,
                            parley::media::Rechunker::create(sample_rate_, 1, frame_ms));
    chunker_.emplace(std::move(chunker));
    return Status::ok();
  }

  // Starts eSpeak NG (first use in the process) and checks the voice, off the I/O threads.
  void on_init(Context& ctx, parley::Done done) override {
    const std::string voice = voice_;
    ctx.run_blocking_result<int>(
        [voice]() -> parley::Result<int> {
          auto& service = speech::EspeakService::instance();
          PARLEY_RETURN_IF_ERROR(service.start());
          PARLEY_RETURN_IF_ERROR(service.check_voice(voice));
          return service.sample_rate();
        },
        [this, &ctx, done](parley::Result<int> native_rate) {
          if (!native_rate.is_ok()) {
            done(native_rate.status());
            return;
          }
          auto resampler = parley::media::Resampler::create(*native_rate, sample_rate_, 1);
          if (!resampler.is_ok()) {
            done(resampler.status());
            return;
          }
          resampler_ = std::move(resampler).value();
          native_rate_ = *native_rate;
          poster_ = ctx.poster();
          ctx.log().info("eSpeak NG voice '{}', {} wpm, pitch {}: {} Hz → {} Hz, {} ms frames",
                         voice_, rate_, pitch_, *native_rate, sample_rate_, chunker_->frame_ms());
          done(Status::ok());
        });
  }

  void on_data(Context& ctx, std::unique_ptr<parley::Data> data) override {
    if (data->name() == "text_end") {
      eof_requested_ = true;
      for (Turn& turn : turns_) end_text(ctx, turn);
      finish_ended_turns(ctx);
      return;
    }
    if (data->name() != "text_data") return;
    const auto turn_id = data->get<int64_t>("turn_id", 0);
    if (gate_.is_stale(turn_id)) {
      ctx.log().debug("dropping text of flushed turn {}", turn_id);
      return;
    }
    Turn& turn = turn_for(ctx, turn_id);
    append_piece(turn.pending, data->get<std::string>("text", ""));
    if (data->get<bool>("end_of_segment", true)) {
      end_text(ctx, turn);
    } else if (const size_t n = complete_sentences_length(turn.pending); n > 0) {
      submit(ctx, turn, turn.pending.substr(0, n));
      turn.pending.erase(0, n);
    }
    finish_ended_turns(ctx);
  }

  void on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) override {
    if (cmd->name() != parley::kFlushCmd) {
      Extension::on_cmd(ctx, std::move(cmd));
      return;
    }
    const int64_t before = gate_.flush(*cmd);
    size_t cancelled = 0;
    for (auto it = turns_.begin(); it != turns_.end();) {
      if (it->id < before) {
        it->cancelled->store(true, std::memory_order_relaxed);
        it = turns_.erase(it);
        ++cancelled;
      } else {
        ++it;
      }
    }
    std::erase_if(segments_, [before](const auto& s) { return s.second.turn_id < before; });
    if (speaking_ && *speaking_ < before) end_audio(ctx, /*interrupted=*/true);
    ctx.log().debug("flush before turn {}: cancelled {} turn(s)", before, cancelled);
    ctx.forward_cmd(std::move(cmd));
    maybe_send_eof(ctx);
  }

  void on_stop(Context& ctx, parley::Done done) override {
    // Queued and running syntheses are cancelled; their late callbacks are dropped by the
    // runtime once this node is gone (they only hold the poster), so nothing needs draining.
    stopping_ = true;
    for (Turn& turn : turns_) turn.cancelled->store(true, std::memory_order_relaxed);
    turns_.clear();
    segments_.clear();
    if (speaking_) end_audio(ctx, /*interrupted=*/true);
    done(Status::ok());
  }

 private:
  // Text and synthesis state of one turn, oldest turn first in turns_.
  struct Turn {
    int64_t id = 0;
    // Shared by every request of the turn: one store cancels them all.
    std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
    std::string pending;  // text not yet submitted (an unfinished sentence)
    int outstanding = 0;  // submitted requests whose on_done has not come back
    bool text_ended = false;
    std::optional<Clock::time_point> first_submit;
  };

  // One submitted synthesis request: its text and the audio it produced so far.
  struct Segment {
    int64_t turn_id = 0;
    std::string text;  // trimmed
    int64_t native_samples = 0;
  };

  // The turn `id`, created if new. A newer turn ends the text of older ones: whatever they still
  // hold is queued first, so speech stays in order.
  Turn& turn_for(Context& ctx, int64_t id) {
    for (Turn& turn : turns_)
      if (turn.id == id) return turn;
    for (Turn& turn : turns_)
      if (turn.id < id) end_text(ctx, turn);
    turns_.push_back(Turn{});
    turns_.back().id = id;
    return turns_.back();
  }

  // No more text will come for `turn`: queue what it still holds.
  void end_text(Context& ctx, Turn& turn) {
    if (turn.text_ended) return;
    if (!is_blank(turn.pending)) submit(ctx, turn, std::move(turn.pending));
    turn.pending.clear();
    turn.text_ended = true;
  }

  // Queues `text` on the eSpeak NG thread. Its audio and completion come back through poster_.
  void submit(Context& ctx, Turn& turn, std::string text) {
    speech::SynthRequest request;
    request.text = std::move(text);
    request.voice = voice_;
    request.rate_wpm = rate_;
    request.pitch = pitch_;
    request.cancelled = turn.cancelled;
    const int64_t id = turn.id;
    const uint64_t seq = ++last_segment_;
    std::string segment_text = trimmed(request.text);
    // Runs on the synthesis thread: copy the chunk and hand it to this node's executor. `this`
    // is only touched inside the posted functions, which the runtime runs only while the node
    // lives.
    request.on_audio = [this, &ctx, poster = poster_, id, seq](std::span<const int16_t> pcm, bool) {
      if (pcm.empty()) return;
      poster([this, &ctx, id, seq, chunk = std::vector<int16_t>(pcm.begin(), pcm.end())] {
        on_chunk(ctx, id, seq, chunk);
      });
    };
    request.on_done = [this, &ctx, poster = poster_, id, seq](const Status& status) {
      poster([this, &ctx, id, seq, status] { on_request_done(ctx, id, seq, status); });
    };
    auto handle = speech::EspeakService::instance().submit(std::move(request));
    if (!handle.is_ok()) {
      ctx.log().error("cannot synthesise text of turn {}: {}", id, handle.status().message());
      return;
    }
    segments_.emplace(seq, Segment{id, std::move(segment_text), 0});
    ++turn.outstanding;
    if (!turn.first_submit) turn.first_submit = Clock::now();
  }

  // A chunk of eSpeak audio (native rate) of segment `seq` of turn `id`, on this node's executor.
  void on_chunk(Context& ctx, int64_t id, uint64_t seq, const std::vector<int16_t>& chunk) {
    if (stopping_ || gate_.is_stale(id)) return;  // flushed: never sent
    if (auto it = segments_.find(seq); it != segments_.end())
      it->second.native_samples += static_cast<int64_t>(chunk.size());
    if (speaking_ != id) {
      if (speaking_) end_audio(ctx, /*interrupted=*/false);
      start_audio(ctx, id);
    }
    scratch_.clear();
    if (Status s = resampler_->process(chunk, scratch_); !s.is_ok()) {
      ctx.log().error("resampling eSpeak audio: {}", s.message());
      return;
    }
    (void)chunker_->push(scratch_);  // mono: any sample count is whole frames
    send_ready_frames(ctx, id);
  }

  // Request `seq` of turn `id` finished (ok, cancelled or failed).
  void on_request_done(Context& ctx, int64_t id, uint64_t seq, const Status& status) {
    if (!status.is_ok() && status.code() != parley::StatusCode::kCancelled)
      ctx.log().error("eSpeak NG failed on turn {}: {}", id, status.message());
    if (auto it = segments_.find(seq); it != segments_.end()) {
      if (status.is_ok() && !stopping_ && !gate_.is_stale(id)) report_segment(ctx, it->second);
      segments_.erase(it);
    }
    for (Turn& turn : turns_) {
      if (turn.id == id) {
        --turn.outstanding;
        break;
      }
    }
    finish_ended_turns(ctx);
  }

  // Closes the audio of every turn whose text ended and whose synthesis is complete.
  void finish_ended_turns(Context& ctx) {
    for (auto it = turns_.begin(); it != turns_.end();) {
      if (it->text_ended && it->outstanding <= 0) {
        if (speaking_ == it->id) end_audio(ctx, /*interrupted=*/false);
        it = turns_.erase(it);
      } else {
        ++it;
      }
    }
    maybe_send_eof(ctx);
  }

  // Tells the LLM stage how much audio `segment` became (its whole text was synthesised).
  void report_segment(Context& ctx, const Segment& segment) {
    if (segment.text.empty() || native_rate_ <= 0) return;
    const double audio_ms = static_cast<double>(segment.native_samples) * 1000.0 / native_rate_;
    ctx.send(std::make_unique<parley::Data>(
        "tts_segment",
        nlohmann::json{
            {"turn_id", segment.turn_id}, {"text", segment.text}, {"audio_ms", audio_ms}}));
  }

  void start_audio(Context& ctx, int64_t id) {
    speaking_ = id;
    ctx.send(std::make_unique<parley::Data>(
        "tts_audio_start",
        nlohmann::json{{"turn_id", id}, {"timestamp_ms", chunker_->next_timestamp_ms()}}));
    ctx.send(parley::make_stage_mark(id, parley::stage::kTtsFirstAudio));
    for (const Turn& turn : turns_) {
      if (turn.id == id && turn.first_submit) {
        const std::chrono::duration<double, std::milli> waited = Clock::now() - *turn.first_submit;
        ctx.metric("tts_first_audio_ms", waited.count(), {{"turn_id", id}});
      }
    }
  }

  // Ends the current turn's audio: sends what the resampler and framer hold (zero-padding the
  // last frame) or, when interrupted, drops it; then tts_audio_end.
  void end_audio(Context& ctx, bool interrupted) {
    if (!speaking_) return;
    const int64_t id = *speaking_;
    if (interrupted) {
      (void)resampler_->reset();
      chunker_->reset(chunker_->next_timestamp_ms());
    } else {
      scratch_.clear();
      if (resampler_->flush(scratch_).is_ok()) (void)chunker_->push(scratch_);
      send_ready_frames(ctx, id);
      PcmFrame last;
      if (chunker_->flush(last, /*zero_pad=*/true)) send_frame(ctx, last, id);
    }
    ctx.send(std::make_unique<parley::Data>(
        "tts_audio_end", nlohmann::json{{"turn_id", id},
                                        {"timestamp_ms", chunker_->next_timestamp_ms()},
                                        {"interrupted", interrupted}}));
    speaking_.reset();
  }

  void send_ready_frames(Context& ctx, int64_t id) {
    while (chunker_->pop(frame_)) send_frame(ctx, frame_, id);
  }

  void send_frame(Context& ctx, const PcmFrame& pcm, int64_t id) {
    auto frame = parley::media::to_audio_frame(pcm);
    frame->set("turn_id", id);
    send_audio(ctx, std::move(frame));
  }

  // Sends `frame` as pcm_frame, and a copy (sharing the payload) as far_end_frame if connected.
  void send_audio(Context& ctx, std::unique_ptr<AudioFrame> frame) {
    if (ctx.has_destination(parley::MessageKind::kAudioFrame, "far_end_frame")) {
      auto copy = frame->clone();
      copy->set_name("far_end_frame");
      ctx.send(std::move(copy));
    }
    ctx.send(std::move(frame));
  }

  // After text_end, once every turn is spoken: the is_eof frame that ends the audio stream.
  void maybe_send_eof(Context& ctx) {
    if (!eof_requested_ || stopping_ || !turns_.empty() || speaking_) return;
    eof_requested_ = false;
    auto eof = std::make_unique<AudioFrame>();
    eof->sample_rate = sample_rate_;
    eof->timestamp_ms = chunker_->next_timestamp_ms();
    eof->is_eof = true;
    ctx.log().debug("all text spoken: end of audio at {} ms", eof->timestamp_ms);
    send_audio(ctx, std::move(eof));
  }

  std::string voice_;
  int rate_ = 175;
  int pitch_ = 50;
  int sample_rate_ = 16000;
  parley::Poster poster_;
  std::unique_ptr<parley::media::Resampler> resampler_;  // eSpeak's rate → sample_rate_
  std::optional<parley::media::Rechunker> chunker_;      // frames of frame_ms, timestamps
  std::vector<int16_t> scratch_;
  PcmFrame frame_;
  parley::TurnGate gate_;
  std::deque<Turn> turns_;
  std::map<uint64_t, Segment> segments_;  // requests in flight, by submission number
  uint64_t last_segment_ = 0;
  int native_rate_ = 0;              // eSpeak NG's output rate
  std::optional<int64_t> speaking_;  // turn whose audio is being sent (tts_audio_start sent)
  bool eof_requested_ = false;
  bool stopping_ = false;
};

}  // namespace

parley::Status parley_register_addon_espeak_tts(parley::AddonRegistry& registry) {
  return registry.add<EspeakTts>(kManifest);
}
