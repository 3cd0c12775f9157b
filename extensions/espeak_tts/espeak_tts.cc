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
#include "speech/espeak_synthesizer.h"
#include "speech/tts_output.h"

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

using parley::Context;
using parley::Status;
using Clock = std::chrono::steady_clock;
namespace speech = parley::speech;

bool is_blank(const std::string& text) {
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c)) == 0) return false;
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
    PARLEY_ASSIGN_OR_RETURN(auto out, speech::TtsOutput::create(sample_rate_, frame_ms));
    out_.emplace(std::move(out));
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
          if (Status s = out_->set_input_rate(*native_rate); !s.is_ok()) {
            done(s);
            return;
          }
          native_rate_ = *native_rate;
          poster_ = ctx.poster();
          ctx.log().info("eSpeak NG voice '{}', {} wpm, pitch {}: {} Hz → {} Hz, {} ms frames",
                         voice_, rate_, pitch_, *native_rate, sample_rate_, out_->frame_ms());
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
    speech::append_piece(turn.pending, data->get<std::string>("text", ""));
    if (data->get<bool>("end_of_segment", true)) {
      end_text(ctx, turn);
    } else if (const size_t n = speech::complete_sentences_length(turn.pending); n > 0) {
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
    if (const auto& speaking = out_->speaking(); speaking && *speaking < before)
      out_->end(ctx, /*interrupted=*/true);
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
    out_->end(ctx, /*interrupted=*/true);
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
    std::string segment_text = speech::trimmed(request.text);
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
    if (out_->speaking() != id) out_->start(ctx, id, first_submit(id));
    if (Status s = out_->push(ctx, chunk); !s.is_ok())
      ctx.log().error("resampling eSpeak audio: {}", s.message());
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
        if (out_->speaking() == it->id) out_->end(ctx, /*interrupted=*/false);
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

  // When the first text of turn `id` went to eSpeak NG, if the turn is still known.
  std::optional<Clock::time_point> first_submit(int64_t id) const {
    for (const Turn& turn : turns_)
      if (turn.id == id) return turn.first_submit;
    return std::nullopt;
  }

  // After text_end, once every turn is spoken: the is_eof frame that ends the audio stream.
  void maybe_send_eof(Context& ctx) {
    if (!eof_requested_ || stopping_ || !turns_.empty() || out_->speaking()) return;
    eof_requested_ = false;
    ctx.log().debug("all text spoken: end of the audio stream");
    out_->send_eof(ctx);
  }

  std::string voice_;
  int rate_ = 175;
  int pitch_ = 50;
  int sample_rate_ = 16000;
  parley::Poster poster_;
  std::optional<speech::TtsOutput> out_;  // eSpeak's rate → pcm_frame at sample_rate_
  parley::TurnGate gate_;
  std::deque<Turn> turns_;
  std::map<uint64_t, Segment> segments_;  // requests in flight, by submission number
  uint64_t last_segment_ = 0;
  int native_rate_ = 0;  // eSpeak NG's output rate
  bool eof_requested_ = false;
  bool stopping_ = false;
};

}  // namespace

parley::Status parley_register_addon_espeak_tts(parley::AddonRegistry& registry) {
  return registry.add<EspeakTts>(kManifest);
}
