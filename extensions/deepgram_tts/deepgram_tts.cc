// deepgram_tts: text-to-speech through Deepgram's streaming TTS protocol
// (wss://api.deepgram.com/v1/speak, or a `parley model-serve`), a drop-in for espeak_tts.
//
// text_data is cut at sentence boundaries (and at end_of_segment); each piece is sent as Speak
// {text} + Flush, so the first sentence is spoken while the LLM is still writing the next. Deepgram
// answers every Flush with the piece's binary linear16 audio and then Flushed; the audio is
// resampled to `sample_rate` if the server cannot produce it, cut into pcm_frame of `frame_ms`
// carrying the piece's turn_id, and each piece's text and audio length is reported as tts_segment
// (what the LLM needs to keep only heard words). A turn's audio is framed by tts_audio_start /
// tts_audio_end; text_end ends the audio with an is_eof frame once everything was spoken.
//
// flush {turn_id} drops older turns' text, sends Clear when their audio is still coming, drops
// every byte that arrives until Cleared, re-sends the newer turns' text the Clear also wiped, and
// is forwarded downstream. The first connection opens in on_init (a refusal fails the start with
// the server's reason); a lost connection is logged with its URL and reopened with backoff.
// Stopping closes the WebSocket.
#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deepgram_socket.h"
#include "parley/addon.h"
#include "speech/tts_output.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "deepgram_tts",
  "description": "Speaks text_data through Deepgram's streaming TTS protocol (Deepgram, or a parley model-serve): Speak + Flush per sentence, binary linear16 audio out as pcm_frame (with turn_id) at sample_rate, tts_audio_start/tts_audio_end around each turn, tts_segment per spoken piece; flush sends Clear and drops older turns' audio; text_end ends the audio with an is_eof frame. Also sends its audio as far_end_frame when that is connected (the echo canceller's reference).",
  "properties": {
    "url": {"type": "string", "default": "wss://api.deepgram.com/v1/speak", "description": "ws:// or wss:// URL of the speak endpoint; a URL without a path (ws://127.0.0.1:8080) gets /v1/speak. Query parameters in the URL are kept and win over the properties"},
    "api_key": {"type": "string", "default": "${env:DEEPGRAM_API_KEY|}", "description": "Deepgram API key, sent as 'Authorization: Token KEY'; empty sends none (a parley model-serve needs none)"},
    "model": {"type": "string", "default": "aura-2-thalia-en", "description": "Deepgram voice model (a parley model-serve speaks aura-* with eSpeak NG en-us, espeak-<voice> with that voice)"},
    "sample_rate": {"type": "int", "default": 16000, "description": "Output sample rate in Hz (8000..48000); requested from the server when it offers it (8000, 16000, 24000, 32000, 48000), else 24000 resampled"},
    "frame_ms": {"type": "int", "default": 20, "description": "Output frame duration in ms (the pcm_frame interface uses 10 or 20)"},
    "connect_timeout_ms": {"type": "int", "default": 10000, "description": "Limit on opening a connection (TCP, TLS, WebSocket handshake)"},
    "reconnect_initial_ms": {"type": "int", "default": 250, "description": "First delay before reconnecting after a lost connection; doubled after each failure"},
    "reconnect_max_ms": {"type": "int", "default": 8000, "description": "Longest delay between reconnection attempts"}
  },
  "in": {"data": ["text_data", "text_end"], "cmd": ["flush"]},
  "out": {"audio_frame": ["pcm_frame", "far_end_frame"], "data": ["tts_audio_start", "tts_audio_end", "tts_segment", "turn_mark"], "cmd": ["flush"]}
})json";

using nlohmann::json;
using parley::Context;
using parley::Status;
using parley::deepgram::DeepgramSocket;
using parley::speech::TtsOutput;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// linear16 rates Deepgram's /v1/speak produces.
constexpr int kServerRates[] = {8000, 16000, 24000, 32000, 48000};
// What is requested when sample_rate is not among them (then resampled).
constexpr int kFallbackRate = 24000;

class DeepgramTts final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override;
  void on_init(Context& ctx, parley::Done done) override;
  void on_stop(Context& ctx, parley::Done done) override;
  void on_deinit(Context& ctx) override;
  void on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) override;
  void on_data(Context& ctx, std::unique_ptr<parley::Data> data) override;

 private:
  // Text sent (or to be sent) as one Speak + Flush; its audio arrives before its Flushed.
  struct Segment {
    int64_t turn_id = 0;
    std::string text;
    bool sent = false;
    int64_t samples = 0;  // audio received, at the requested rate
  };
  // Text state of one turn, oldest turn first in turns_.
  struct Turn {
    int64_t id = 0;
    std::string pending;  // text not yet submitted (an unfinished sentence)
    bool text_ended = false;
    std::optional<Clock::time_point> first_submit;
  };

  // Connection events.
  void on_open();
  void on_failed(const Status& why);
  void on_closed(const parley::net::WsCloseInfo& info);
  void on_text(const std::string& text);
  void on_audio(const std::string& bytes);

  Turn& turn_for(int64_t id);
  void end_text(Turn& turn);
  void submit(Turn& turn, std::string text);
  void send_unsent();
  void on_flushed();
  void finish_ended_turns();
  std::optional<Clock::time_point> first_submit(int64_t id) const;
  void end_audio(bool interrupted);
  void maybe_send_eof();
  void reset_decoding();

  Context* ctx_ = nullptr;
  parley::deepgram::SocketConfig config_;
  int sample_rate_ = 16000;
  int request_rate_ = 16000;
  std::unique_ptr<DeepgramSocket> socket_;
  std::optional<TtsOutput> out_;  // request_rate_ → pcm_frame at sample_rate_
  std::string carry_;             // odd byte of a split sample
  std::vector<int16_t> pcm_;
  parley::TurnGate gate_;
  std::deque<Turn> turns_;
  std::deque<Segment> segments_;
  int clearing_ = 0;  // Clears sent whose Cleared has not come back
  bool eof_requested_ = false;
  bool stopping_ = false;
};

Status DeepgramTts::on_configure(Context& ctx) {
  sample_rate_ = static_cast<int>(ctx.prop_int("sample_rate"));
  if (sample_rate_ < 8000 || sample_rate_ > 48000)
    return parley::invalid_argument("sample_rate is " + std::to_string(sample_rate_) +
                                    " Hz; use 8000..48000 (16000 is the pcm_frame default)");
  const bool offered = std::find(std::begin(kServerRates), std::end(kServerRates), sample_rate_) !=
                       std::end(kServerRates);
  request_rate_ = offered ? sample_rate_ : kFallbackRate;
  PARLEY_ASSIGN_OR_RETURN(
      auto out, TtsOutput::create(sample_rate_, static_cast<int>(ctx.prop_int("frame_ms"))));
  out_.emplace(std::move(out));
  auto url = parley::deepgram::endpoint_url(ctx.prop_string("url"), "/v1/speak",
                                            {{"model", ctx.prop_string("model")},
                                             {"encoding", "linear16"},
                                             {"sample_rate", std::to_string(request_rate_)},
                                             {"container", "none"}});
  if (!url.is_ok()) return url.status();
  config_.url = *url;
  config_.api_key = ctx.prop_string("api_key");
  config_.connect_timeout = milliseconds(ctx.prop_int("connect_timeout_ms"));
  config_.reconnect_initial = milliseconds(ctx.prop_int("reconnect_initial_ms"));
  config_.reconnect_max = milliseconds(ctx.prop_int("reconnect_max_ms"));
  return config_.validate();
}

void DeepgramTts::on_init(Context& ctx, parley::Done done) {
  ctx_ = &ctx;
  if (Status s = out_->set_input_rate(request_rate_); !s.is_ok()) {
    done(s);
    return;
  }
  socket_ = std::make_unique<DeepgramSocket>(
      ctx, config_,
      parley::deepgram::SocketHandlers{
          .on_open = [this] { on_open(); },
          .on_text = [this](std::string text) { on_text(text); },
          .on_binary = [this](std::string data) { on_audio(data); },
          .on_closed = [this](const parley::net::WsCloseInfo& info) { on_closed(info); },
          .on_failed = [this](const Status& why) { on_failed(why); }});
  socket_->connect_first(std::move(done));
}

void DeepgramTts::on_stop(Context&, parley::Done done) {
  stopping_ = true;
  // The WebSocket closes at once (1000), which also stops the server's synthesis. Deepgram's Close
  // message would have it speak the flushed text first, which a stopping graph no longer wants,
  // and the server's Close crossing ours leaves both sides waiting for each other's close frame.
  if (socket_) socket_->close();
  turns_.clear();
  segments_.clear();
  end_audio(/*interrupted=*/true);
  done(Status::ok());
}

void DeepgramTts::on_deinit(Context&) {
  socket_.reset();  // closes the connection
}

void DeepgramTts::on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) {
  if (cmd->name() != parley::kFlushCmd) {
    Extension::on_cmd(ctx, std::move(cmd));
    return;
  }
  const int64_t before = gate_.flush(*cmd);
  bool audio_coming = false;  // an older turn's text was sent and its Flushed has not come
  std::erase_if(segments_, [&](const Segment& s) {
    if (s.turn_id >= before) return false;
    audio_coming = audio_coming || s.sent;
    return true;
  });
  const size_t cancelled = std::erase_if(turns_, [&](const Turn& t) { return t.id < before; });
  if (const auto& speaking = out_->speaking(); speaking && *speaking < before)
    end_audio(/*interrupted=*/true);
  if (audio_coming && socket_ && socket_->is_open()) {
    (void)socket_->send_text(R"({"type":"Clear"})");
    ++clearing_;
    reset_decoding();
    // The Clear also wipes newer turns' text the server holds: send it again after the Clear.
    for (Segment& s : segments_) {
      s.sent = false;
      s.samples = 0;
    }
    send_unsent();
  }
  ctx.log().debug("flush before turn {}: cancelled {} turn(s){}", before, cancelled,
                  audio_coming ? ", Clear sent" : "");
  ctx.forward_cmd(std::move(cmd));
  maybe_send_eof();
}

void DeepgramTts::on_data(Context& ctx, std::unique_ptr<parley::Data> data) {
  if (stopping_) return;
  if (data->name() == "text_end") {
    eof_requested_ = true;
    for (Turn& turn : turns_) end_text(turn);
    finish_ended_turns();
    return;
  }
  if (data->name() != "text_data") return;
  const auto turn_id = data->get<int64_t>("turn_id", 0);
  if (gate_.is_stale(turn_id)) {
    ctx.log().debug("dropping text of flushed turn {}", turn_id);
    return;
  }
  Turn& turn = turn_for(turn_id);
  parley::speech::append_piece(turn.pending, data->get<std::string>("text", ""));
  if (data->get<bool>("end_of_segment", true)) {
    end_text(turn);
  } else if (const size_t n = parley::speech::complete_sentences_length(turn.pending); n > 0) {
    std::string sentence = parley::speech::trimmed(std::string_view(turn.pending).substr(0, n));
    turn.pending.erase(0, n);
    if (!sentence.empty()) submit(turn, std::move(sentence));
  }
  finish_ended_turns();
}

void DeepgramTts::on_open() {
  if (stopping_) {
    socket_->close();
    return;
  }
  send_unsent();
}

void DeepgramTts::on_failed(const Status& why) {
  if (stopping_) return;
  const auto delay = socket_->reconnect_later();
  ctx_->log().error("cannot connect: {}; retrying in {} ms", why.message(), delay.count());
}

void DeepgramTts::on_closed(const parley::net::WsCloseInfo& info) {
  if (stopping_) return;
  // Text the server held is lost with the connection; text not yet sent goes on the next one.
  size_t lost = 0;
  std::erase_if(segments_, [&](const Segment& s) {
    lost += s.sent ? 1 : 0;
    return s.sent;
  });
  clearing_ = 0;
  end_audio(/*interrupted=*/true);
  reset_decoding();
  const auto delay = socket_->reconnect_later();
  ctx_->log().error(
      "connection to {} lost ({} {}{}); {} piece(s) of text not spoken; "
      "reconnecting in {} ms",
      config_.url, info.code, info.reason, info.by_peer ? ", closed by the server" : "", lost,
      delay.count());
  finish_ended_turns();
}

void DeepgramTts::on_text(const std::string& text) {
  json m;
  const std::string type = parley::deepgram::message_type(text, m);
  if (type == "Flushed") {
    if (clearing_ == 0) on_flushed();  // else: a piece the Clear already dropped
  } else if (type == "Cleared") {
    if (clearing_ > 0) --clearing_;
  } else if (type == "Metadata") {
    ctx_->log().debug("speaking with model {} (request {})", m.value("model_name", "?"),
                      m.value("request_id", "?"));
  } else if (type == "Warning" || type == "Error") {
    ctx_->log().warn("{} from {}: {}", type, config_.url, text);
  } else {
    ctx_->log().debug("ignoring message from {}: {}", config_.url, text.substr(0, 200));
  }
}

void DeepgramTts::on_audio(const std::string& bytes) {
  if (clearing_ > 0 || stopping_) return;  // audio of cleared text
  if (segments_.empty() || !segments_.front().sent) {
    ctx_->log().debug("dropping {} bytes of audio that belong to no text sent", bytes.size());
    return;
  }
  Segment& segment = segments_.front();
  const int64_t id = segment.turn_id;
  if (out_->speaking() != id) {
    end_audio(/*interrupted=*/false);
    out_->start(*ctx_, id, first_submit(id));
  }
  carry_ += bytes;
  const size_t n = carry_.size() / 2;
  pcm_.resize(n);
  std::memcpy(pcm_.data(), carry_.data(), n * 2);  // little-endian host
  carry_.erase(0, n * 2);
  segment.samples += static_cast<int64_t>(n);
  if (Status s = out_->push(*ctx_, pcm_); !s.is_ok())
    ctx_->log().error("resampling audio from {}: {}", config_.url, s.message());
}

DeepgramTts::Turn& DeepgramTts::turn_for(int64_t id) {
  for (Turn& turn : turns_)
    if (turn.id == id) return turn;
  // A newer turn ends the text of older ones: what they still hold is spoken first.
  for (Turn& turn : turns_)
    if (turn.id < id) end_text(turn);
  turns_.push_back(Turn{});
  turns_.back().id = id;
  return turns_.back();
}

void DeepgramTts::end_text(Turn& turn) {
  if (turn.text_ended) return;
  if (std::string text = parley::speech::trimmed(turn.pending); !text.empty())
    submit(turn, std::move(text));
  turn.pending.clear();
  turn.text_ended = true;
}

void DeepgramTts::submit(Turn& turn, std::string text) {
  if (!turn.first_submit) turn.first_submit = Clock::now();
  segments_.push_back(Segment{.turn_id = turn.id, .text = std::move(text)});
  if (socket_->is_open()) {
    send_unsent();
  } else if (!socket_->is_connecting() && !socket_->reconnect_pending()) {
    socket_->connect();
  }
}

void DeepgramTts::send_unsent() {
  if (!socket_ || !socket_->is_open()) return;
  for (Segment& s : segments_) {
    if (s.sent) continue;
    Status st = socket_->send_text(json{{"type", "Speak"}, {"text", s.text}}.dump());
    if (st.is_ok()) st = socket_->send_text(R"({"type":"Flush"})");
    if (!st.is_ok()) {
      ctx_->log().error("text of turn {} not sent to {}: {}", s.turn_id, config_.url, st.message());
      return;  // the connection is failing; on_closed sends it again on the next one
    }
    s.sent = true;
  }
}

void DeepgramTts::on_flushed() {
  if (segments_.empty() || !segments_.front().sent) {
    ctx_->log().debug("Flushed for no text sent");
    return;
  }
  Segment done = std::move(segments_.front());
  segments_.pop_front();
  if (!gate_.is_stale(done.turn_id)) {
    ctx_->send(std::make_unique<parley::Data>(
        "tts_segment",
        json{{"turn_id", done.turn_id},
             {"text", done.text},
             {"audio_ms", static_cast<double>(done.samples) * 1000.0 / request_rate_}}));
  }
  finish_ended_turns();
}

void DeepgramTts::finish_ended_turns() {
  for (auto it = turns_.begin(); it != turns_.end();) {
    const int64_t id = it->id;
    const bool outstanding = std::any_of(segments_.begin(), segments_.end(),
                                         [id](const Segment& s) { return s.turn_id == id; });
    if (it->text_ended && !outstanding) {
      if (out_->speaking() == id) end_audio(/*interrupted=*/false);
      it = turns_.erase(it);
    } else {
      ++it;
    }
  }
  maybe_send_eof();
}

std::optional<Clock::time_point> DeepgramTts::first_submit(int64_t id) const {
  for (const Turn& turn : turns_)
    if (turn.id == id) return turn.first_submit;
  return std::nullopt;
}

// Ends the current turn's audio (what is held is sent, or dropped when interrupted), and with it
// the odd byte of a sample split across messages, which belongs to no later audio.
void DeepgramTts::end_audio(bool interrupted) {
  carry_.clear();
  out_->end(*ctx_, interrupted);
}

void DeepgramTts::reset_decoding() {
  carry_.clear();
  out_->drop_held();
}

// After text_end, once every turn is spoken: the is_eof frame that ends the audio stream.
void DeepgramTts::maybe_send_eof() {
  if (!eof_requested_ || stopping_ || !turns_.empty() || out_->speaking()) return;
  eof_requested_ = false;
  ctx_->log().debug("all text spoken: end of the audio stream");
  out_->send_eof(*ctx_);
}

}  // namespace

parley::Status parley_register_addon_deepgram_tts(parley::AddonRegistry& registry) {
  return registry.add<DeepgramTts>(kManifest);
}
