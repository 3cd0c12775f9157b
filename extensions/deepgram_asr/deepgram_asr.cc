// deepgram_asr: streaming speech recognition through Deepgram's live-transcription protocol
// (wss://api.deepgram.com/v1/listen, or a `parley model-serve`), a drop-in for pocketsphinx_asr.
//
// pcm_frame audio is converted to `sample_rate` mono and streamed as binary linear16; KeepAlive
// keeps the stream open while no audio flows. Deepgram's Results are assembled into utterances the
// way Deepgram recommends — is_final segments joined until speech_final (or Finalize, UtteranceEnd,
// the end of the stream) — and sent as asr_result partials while the user speaks and one final per
// utterance, each utterance with its own turn_id. vad_event speech_end sends Finalize (so the
// final does not wait for Deepgram's endpointing); SpeechStarted becomes vad_event speech_start
// when vad_events is on. An is_eof frame or text_end sends CloseStream, and asr_done follows the
// stream's Metadata.
//
// The first connection opens in on_init: a refused upgrade (HTTP 400 for a bad parameter, 401 for
// a bad key) or an unreachable server fails the graph's start with the server's reason. A lost
// connection is logged with the URL and reopened with exponential backoff; audio arriving
// meanwhile is buffered up to buffer_ms (the oldest is dropped beyond it, and counted).
#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "deepgram_socket.h"
#include "parley/addon.h"
#include "parley/media/audio_converter.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "deepgram_asr",
  "description": "Streaming speech recognition with Deepgram's live-transcription protocol (Deepgram, or a parley model-serve): pcm_frame audio in, asr_result partials and finals (one per utterance, with turn_id, start_ms, duration_ms, words) out, asr_done after the stream's Metadata at is_eof or text_end. vad_event speech_end sends Finalize; SpeechStarted becomes vad_event speech_start when vad_events is on. Lost connections reconnect with backoff, buffering audio meanwhile.",
  "properties": {
    "url": {"type": "string", "default": "wss://api.deepgram.com/v1/listen", "description": "ws:// or wss:// URL of the listen endpoint; a URL without a path (ws://127.0.0.1:8080) gets /v1/listen. Query parameters in the URL are kept and win over the properties"},
    "api_key": {"type": "string", "default": "${env:DEEPGRAM_API_KEY|}", "description": "Deepgram API key, sent as 'Authorization: Token KEY'; empty sends none (a parley model-serve needs none)"},
    "model": {"type": "string", "default": "nova-3", "description": "Deepgram model"},
    "language": {"type": "string", "default": "en-US", "description": "Language of the audio (also put in asr_result); empty leaves it to the server"},
    "sample_rate": {"type": "int", "default": 16000, "description": "Rate of the linear16 audio sent (8000..48000); input of another rate or channel count is converted"},
    "interim_results": {"type": "bool", "default": true, "description": "Ask for interim results (sent as asr_result partials)"},
    "endpointing": {"type": "int", "default": 300, "description": "Silence in ms after which Deepgram ends an utterance (speech_final); 0 turns endpointing off"},
    "utterance_end_ms": {"type": "int", "default": 0, "description": "Ask for UtteranceEnd after this gap in ms (>= 1000, needs interim_results); 0 = off"},
    "vad_events": {"type": "bool", "default": false, "description": "Ask for SpeechStarted and send it on as vad_event speech_start"},
    "smart_format": {"type": "bool", "default": false, "description": "Deepgram smart formatting"},
    "punctuate": {"type": "bool", "default": false, "description": "Deepgram punctuation"},
    "finalize_on_speech_end": {"type": "bool", "default": true, "description": "Send Finalize on vad_event speech_end so the utterance's final comes at once"},
    "keepalive_ms": {"type": "int", "default": 3000, "description": "Send KeepAlive after this long without audio (Deepgram closes a stream after 10 s without either); 0 = never"},
    "buffer_ms": {"type": "int", "default": 5000, "description": "Audio held while the connection is not open (opening or reconnecting); older audio beyond it is dropped and counted"},
    "connect_timeout_ms": {"type": "int", "default": 10000, "description": "Limit on opening a connection (TCP, TLS, WebSocket handshake)"},
    "reconnect_initial_ms": {"type": "int", "default": 250, "description": "First delay before reconnecting after a lost connection; doubled after each failure"},
    "reconnect_max_ms": {"type": "int", "default": 8000, "description": "Longest delay between reconnection attempts"},
    "stop_graph_at_eof": {"type": "bool", "default": false, "description": "Ask the graph to stop after the asr_done of an is_eof input (file transcription)"}
  },
  "in": {"audio_frame": ["pcm_frame"], "data": ["vad_event", "text_end"], "cmd": ["flush"]},
  "out": {"data": ["asr_result", "asr_done", "vad_event"], "cmd": ["flush"]}
})json";

using nlohmann::json;
using parley::Context;
using parley::Status;
using parley::deepgram::DeepgramSocket;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Longest wait for the Metadata and Close that answer CloseStream.
constexpr milliseconds kCloseStreamTimeout{5000};
// Longest wait for them when the graph stops (its stop timeout is 5 s).
constexpr milliseconds kStopTimeout{3000};
// A dropped-audio warning is logged for the first drop and then every this many drops.
constexpr uint64_t kDropLogEvery = 250;
// A refused-frame error is logged for the first refusal and then every this many.
constexpr uint64_t kRefuseLogEvery = 500;

// Audio (linear16 at sample_rate) or the end of a stream, waiting to be sent in order.
struct Outgoing {
  std::string bytes;
  int64_t start_ms = 0;  // stream time of the first sample
  bool end_of_stream = false;
};

// The utterance assembled from Results: is_final segments until speech_final.
struct Utterance {
  bool open = false;
  int64_t turn_id = 0;
  std::string text;  // the finalized segments so far
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  json words = json::array();
  double confidence_sum = 0;
  int segments = 0;
  bool partial_sent = false;
};

std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + " " + b;
}

class DeepgramAsr final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override;
  void on_init(Context& ctx, parley::Done done) override;
  void on_start(Context& ctx) override;
  void on_stop(Context& ctx, parley::Done done) override;
  void on_deinit(Context& ctx) override;
  void on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) override;
  void on_data(Context& ctx, std::unique_ptr<parley::Data> data) override;
  void on_audio_frame(Context& ctx, std::unique_ptr<parley::AudioFrame> frame) override;

 private:
  // Connection events.
  void on_open();
  void on_failed(const Status& why);
  void on_closed(const parley::net::WsCloseInfo& info);
  void on_text(const std::string& text);
  void on_results(const json& m);

  // Stream time of the next sample, in ms.
  int64_t now_ms() const { return origin_ms_ + samples_ * 1000 / rate_; }
  bool streaming() const { return socket_ && socket_->is_open() && !closing_; }
  void refuse(Context& ctx, const Status& why);
  void enqueue(Outgoing item);
  void end_of_input();
  void pump();
  void ensure_connection();
  void send_close_stream();
  void close_stream_timed_out();
  void finish_stream();
  void open_utterance(int64_t start_ms);
  void send_partial(const std::string& text, int64_t end_ms);
  void finish_utterance();
  void maybe_finish_stop();

  Context* ctx_ = nullptr;
  parley::deepgram::SocketConfig config_;
  std::string language_;
  int rate_ = 16000;
  size_t buffer_cap_bytes_ = 0;
  milliseconds keepalive_{3000};
  std::unique_ptr<parley::media::AudioConverter> converter_;
  std::unique_ptr<DeepgramSocket> socket_;
  // Stream clock: timestamp of the stream's first frame plus the samples converted since.
  bool have_origin_ = false;
  bool input_ended_ = false;  // the last stream ended (is_eof / text_end) and no audio came since
  int64_t origin_ms_ = 0;
  int64_t samples_ = 0;
  std::vector<int16_t> scratch_;
  // Sending.
  std::deque<Outgoing> queue_;
  size_t queued_bytes_ = 0;
  bool stream_sent_ = false;    // audio was sent on the current connection's stream
  int64_t conn_origin_ms_ = 0;  // stream time of the connection's first sample (Deepgram's 0)
  int64_t sent_ms_ = 0;         // stream time just after the last sample sent
  Clock::time_point last_send_ = Clock::now();
  bool closing_ = false;  // CloseStream sent; waiting for Metadata and the Close
  bool metadata_seen_ = false;
  parley::TimerId close_timer_ = 0;
  parley::TimerId keepalive_timer_ = 0;
  uint64_t dropped_ = 0;
  int64_t dropped_ms_ = 0;
  uint64_t refused_ = 0;
  // Results.
  Utterance utt_;
  int64_t next_turn_ = 1;
  int64_t discard_until_ms_ =
      std::numeric_limits<int64_t>::min();  // results of flushed audio end before this
  // Stopping.
  bool stopping_ = false;
  parley::Done stop_done_;
};

Status DeepgramAsr::on_configure(Context& ctx) {
  rate_ = static_cast<int>(ctx.prop_int("sample_rate"));
  if (rate_ < 8000 || rate_ > 48000)
    return parley::invalid_argument("sample_rate is " + std::to_string(rate_) +
                                    " Hz; use 8000..48000 (16000 is the pcm_frame default)");
  PARLEY_ASSIGN_OR_RETURN(converter_, parley::media::AudioConverter::create({rate_, 1}));
  const int64_t endpointing = ctx.prop_int("endpointing");
  const int64_t utterance_end = ctx.prop_int("utterance_end_ms");
  if (endpointing < 0)
    return parley::invalid_argument("endpointing must be >= 0 ms (0 turns it off)");
  if (utterance_end != 0 && (utterance_end < 1000 || !ctx.prop_bool("interim_results")))
    return parley::invalid_argument(
        "utterance_end_ms must be 0 (off) or >= 1000 with interim_results true, got " +
        std::to_string(utterance_end));
  if (ctx.prop_int("keepalive_ms") < 0 || ctx.prop_int("buffer_ms") < 0)
    return parley::invalid_argument("keepalive_ms and buffer_ms must be >= 0");
  language_ = ctx.prop_string("language");
  keepalive_ = milliseconds(ctx.prop_int("keepalive_ms"));
  buffer_cap_bytes_ = static_cast<size_t>(ctx.prop_int("buffer_ms") * rate_ / 1000 * 2);

  std::vector<parley::net::QueryParam> params = {{"model", ctx.prop_string("model")}};
  if (!language_.empty()) params.emplace_back("language", language_);
  params.emplace_back("encoding", "linear16");
  params.emplace_back("sample_rate", std::to_string(rate_));
  params.emplace_back("channels", "1");
  params.emplace_back("interim_results", ctx.prop_bool("interim_results") ? "true" : "false");
  params.emplace_back("endpointing", endpointing == 0 ? "false" : std::to_string(endpointing));
  if (utterance_end > 0) params.emplace_back("utterance_end_ms", std::to_string(utterance_end));
  if (ctx.prop_bool("vad_events")) params.emplace_back("vad_events", "true");
  if (ctx.prop_bool("smart_format")) params.emplace_back("smart_format", "true");
  if (ctx.prop_bool("punctuate")) params.emplace_back("punctuate", "true");
  auto url = parley::deepgram::endpoint_url(ctx.prop_string("url"), "/v1/listen", params);
  if (!url.is_ok()) return url.status();
  config_.url = *url;
  config_.api_key = ctx.prop_string("api_key");
  config_.connect_timeout = milliseconds(ctx.prop_int("connect_timeout_ms"));
  config_.reconnect_initial = milliseconds(ctx.prop_int("reconnect_initial_ms"));
  config_.reconnect_max = milliseconds(ctx.prop_int("reconnect_max_ms"));
  return config_.validate();
}

void DeepgramAsr::on_init(Context& ctx, parley::Done done) {
  ctx_ = &ctx;
  socket_ = std::make_unique<DeepgramSocket>(
      ctx, config_,
      parley::deepgram::SocketHandlers{
          .on_open = [this] { on_open(); },
          .on_text = [this](std::string text) { on_text(text); },
          .on_binary = [](std::string) {},
          .on_closed = [this](const parley::net::WsCloseInfo& info) { on_closed(info); },
          .on_failed = [this](const Status& why) { on_failed(why); }});
  socket_->connect_first(std::move(done));
}

void DeepgramAsr::on_start(Context& ctx) {
  if (keepalive_.count() <= 0) return;
  const auto period = std::max(milliseconds(100), keepalive_ / 2);
  keepalive_timer_ = ctx.set_timer(
      period,
      [this] {
        if (!streaming() || Clock::now() - last_send_ < keepalive_) return;
        if (socket_->send_text(R"({"type":"KeepAlive"})").is_ok()) last_send_ = Clock::now();
      },
      /*repeat=*/true);
}

void DeepgramAsr::on_stop(Context& ctx, parley::Done done) {
  stopping_ = true;
  ctx.cancel_timer(keepalive_timer_);
  // The stream in progress ends here: its last results come back before the node stops.
  if (have_origin_) end_of_input();
  pump();
  if (closing_) {
    stop_done_ = std::move(done);
    ctx.cancel_timer(close_timer_);
    close_timer_ = ctx.set_timer(kStopTimeout, [this] { close_stream_timed_out(); });
    return;
  }
  queue_.clear();
  finish_utterance();
  done(Status::ok());
}

void DeepgramAsr::on_deinit(Context&) {
  socket_.reset();  // closes the connection
}

void DeepgramAsr::on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) {
  if (cmd->name() != parley::kFlushCmd) {
    Extension::on_cmd(ctx, std::move(cmd));
    return;
  }
  // Finalize-and-drop, as pocketsphinx_asr: the utterance in progress ends without a result, and
  // results of audio already sent are discarded when they come back.
  next_turn_ = std::max(next_turn_, cmd->get<int64_t>("turn_id", 0));
  utt_ = Utterance{};
  discard_until_ms_ = sent_ms_;
  if (streaming() && stream_sent_) (void)socket_->send_text(R"({"type":"Finalize"})");
  ctx.forward_cmd(std::move(cmd));
}

void DeepgramAsr::on_data(Context& ctx, std::unique_ptr<parley::Data> data) {
  if (stopping_) return;
  if (data->name() == "text_end") {
    // The end of the input, unless an is_eof frame already ended it and no audio came since.
    if (have_origin_ || !input_ended_) end_of_input();
    pump();
    return;
  }
  if (data->name() != "vad_event") return;
  const std::string event = data->get<std::string>("event", "");
  if (event == "speech_end" && ctx.prop_bool("finalize_on_speech_end") && streaming() &&
      stream_sent_) {
    // The final of the utterance comes now instead of after Deepgram's own endpointing.
    (void)socket_->send_text(R"({"type":"Finalize"})");
  }
}

void DeepgramAsr::on_audio_frame(Context& ctx, std::unique_ptr<parley::AudioFrame> frame) {
  if (stopping_) return;
  scratch_.clear();
  if (Status s = converter_->convert(*frame, scratch_); !s.is_ok()) {
    refuse(ctx, s);
    scratch_.clear();
  }
  if (!have_origin_) {
    have_origin_ = true;
    origin_ms_ = frame->timestamp_ms;
  }
  if (!scratch_.empty()) {
    Outgoing item;
    item.start_ms = now_ms();
    item.bytes.resize(scratch_.size() * 2);
    std::memcpy(item.bytes.data(), scratch_.data(), item.bytes.size());  // little-endian host
    samples_ += static_cast<int64_t>(scratch_.size());
    enqueue(std::move(item));
    input_ended_ = false;
  }
  if (frame->is_eof) end_of_input();
  pump();
}

// A frame the converter cannot take (not 16-bit, a bad rate or a torn buffer): one line for the
// first and then every kRefuseLogEvery-th (10 s of 20 ms frames), not 50 a second.
void DeepgramAsr::refuse(Context& ctx, const Status& why) {
  if (refused_++ % kRefuseLogEvery == 0)
    ctx.log().error("{} ({} frame(s) refused so far)", why.message(), refused_);
  ctx.metric("asr_refused_frames", 1);
}

void DeepgramAsr::enqueue(Outgoing item) {
  queued_bytes_ += item.bytes.size();
  queue_.push_back(std::move(item));
  if (streaming()) return;  // pump() sends it now
  // Not connected: keep at most buffer_ms, dropping the oldest audio.
  while (queued_bytes_ > buffer_cap_bytes_) {
    auto it = std::find_if(queue_.begin(), queue_.end(),
                           [](const Outgoing& o) { return !o.end_of_stream; });
    if (it == queue_.end()) break;
    queued_bytes_ -= it->bytes.size();
    dropped_ms_ += static_cast<int64_t>(it->bytes.size() / 2) * 1000 / rate_;
    ctx_->metric("asr_dropped_audio_ms",
                 static_cast<double>(it->bytes.size() / 2) * 1000.0 / rate_);
    queue_.erase(it);
    if (dropped_++ % kDropLogEvery == 0) {
      ctx_->log().warn("dropped {} ms of audio so far: no open connection to {} (buffer_ms is {})",
                       dropped_ms_, config_.url, ctx_->prop_int("buffer_ms"));
    }
  }
}

void DeepgramAsr::end_of_input() {
  scratch_.clear();
  if (converter_->flush(scratch_).is_ok() && !scratch_.empty()) {
    Outgoing tail;
    tail.start_ms = now_ms();
    tail.bytes.resize(scratch_.size() * 2);
    std::memcpy(tail.bytes.data(), scratch_.data(), tail.bytes.size());
    samples_ += static_cast<int64_t>(scratch_.size());
    enqueue(std::move(tail));
  }
  Outgoing end;
  end.end_of_stream = true;
  queue_.push_back(std::move(end));
  input_ended_ = true;
  // The next frame starts a new stream with its own clock.
  have_origin_ = false;
  samples_ = 0;
  converter_->reset();
}

void DeepgramAsr::pump() {
  while (!queue_.empty()) {
    Outgoing& item = queue_.front();
    if (streaming()) {
      if (item.end_of_stream) {
        queue_.pop_front();
        send_close_stream();
        return;
      }
      if (!stream_sent_) {
        stream_sent_ = true;
        conn_origin_ms_ = item.start_ms;
      }
      const size_t bytes = item.bytes.size();
      sent_ms_ = item.start_ms + static_cast<int64_t>(bytes / 2) * 1000 / rate_;
      if (Status s = socket_->send_binary(std::move(item.bytes)); !s.is_ok())
        ctx_->log().warn("audio not sent to {}: {}", config_.url, s.message());
      queued_bytes_ -= bytes;
      last_send_ = Clock::now();
      queue_.pop_front();
    } else if (item.end_of_stream && !(socket_ && socket_->is_open())) {
      // Everything of this stream before its end was sent (and its connection is gone) or
      // dropped: there is nothing to wait for.
      queue_.pop_front();
      finish_stream();
    } else {
      break;
    }
  }
  ensure_connection();
}

void DeepgramAsr::ensure_connection() {
  if (stopping_ || !socket_ || queue_.empty()) return;
  if (socket_->is_open() || socket_->is_connecting() || socket_->reconnect_pending()) return;
  ctx_->log().info("opening a new stream to {}", config_.url);
  socket_->connect();
}

void DeepgramAsr::send_close_stream() {
  closing_ = true;
  metadata_seen_ = false;
  if (Status s = socket_->send_text(R"({"type":"CloseStream"})"); !s.is_ok()) {
    ctx_->log().warn("CloseStream not sent to {}: {}", config_.url, s.message());
  }
  ctx_->cancel_timer(close_timer_);
  close_timer_ = ctx_->set_timer(stopping_ ? kStopTimeout : kCloseStreamTimeout,
                                 [this] { close_stream_timed_out(); });
}

void DeepgramAsr::close_stream_timed_out() {
  close_timer_ = 0;
  if (!closing_) return;
  ctx_->log().warn("{} sent no Metadata and Close within {} ms of CloseStream; closing",
                   config_.url, (stopping_ ? kStopTimeout : kCloseStreamTimeout).count());
  socket_->close(parley::net::ws_close::kNormal, "");
  closing_ = false;
  stream_sent_ = false;
  if (!metadata_seen_) finish_stream();
  if (stopping_) return maybe_finish_stop();
  pump();
}

void DeepgramAsr::finish_stream() {
  finish_utterance();
  ctx_->send(std::make_unique<parley::Data>("asr_done", json::object()));
  if (!stopping_ && ctx_->prop_bool("stop_graph_at_eof")) ctx_->stop_graph("end of the ASR input");
}

void DeepgramAsr::on_open() {
  closing_ = false;
  stream_sent_ = false;
  last_send_ = Clock::now();
  if (stopping_) {
    socket_->close();
    return;
  }
  pump();
}

void DeepgramAsr::on_failed(const Status& why) {
  if (stopping_) return;
  const auto delay = socket_->reconnect_later();
  ctx_->log().error("cannot open a stream: {}; retrying in {} ms", why.message(), delay.count());
}

void DeepgramAsr::on_closed(const parley::net::WsCloseInfo& info) {
  ctx_->cancel_timer(close_timer_);
  close_timer_ = 0;
  const bool expected = closing_;
  closing_ = false;
  stream_sent_ = false;
  if (expected) {
    if (!metadata_seen_) {
      ctx_->log().warn("{} closed the stream ({} {}) without sending its Metadata", config_.url,
                       info.code, info.reason);
      finish_stream();
    }
  } else {
    finish_utterance();  // what was finalized before the loss is not lost with it
    if (stopping_) return maybe_finish_stop();
    const auto delay = socket_->reconnect_later();
    ctx_->log().error("connection to {} lost ({} {}{}); reconnecting in {} ms", config_.url,
                      info.code, info.reason, info.by_peer ? ", closed by the server" : "",
                      delay.count());
    return;
  }
  if (stopping_) return maybe_finish_stop();
  pump();
}

void DeepgramAsr::on_text(const std::string& text) {
  json m;
  const std::string type = parley::deepgram::message_type(text, m);
  if (type == "Results") {
    on_results(m);
  } else if (type == "SpeechStarted") {
    if (!ctx_->prop_bool("vad_events")) return;
    const double at = m.value("timestamp", 0.0);
    ctx_->send(std::make_unique<parley::Data>(
        "vad_event", json{{"event", "speech_start"},
                          {"timestamp_ms", conn_origin_ms_ + std::llround(at * 1000)}}));
  } else if (type == "UtteranceEnd") {
    finish_utterance();
  } else if (type == "Metadata") {
    metadata_seen_ = true;
    ctx_->log().debug("stream {} ended: {:.2f} s of audio", m.value("request_id", ""),
                      m.value("duration", 0.0));
    finish_stream();
  } else if (type == "Warning" || type == "Error") {
    ctx_->log().warn("{} from {}: {}", type, config_.url, text);
  } else {
    ctx_->log().debug("ignoring message from {}: {}", config_.url, text.substr(0, 200));
  }
}

void DeepgramAsr::on_results(const json& m) {
  const json* alt = nullptr;
  if (auto ch = m.find("channel"); ch != m.end() && ch->is_object()) {
    if (auto alts = ch->find("alternatives");
        alts != ch->end() && alts->is_array() && !alts->empty() && (*alts)[0].is_object())
      alt = &(*alts)[0];
  }
  if (alt == nullptr) {
    ctx_->log().warn("Results without channel.alternatives from {}", config_.url);
    return;
  }
  const std::string text = alt->value("transcript", "");
  const int64_t start_ms = conn_origin_ms_ + std::llround(m.value("start", 0.0) * 1000);
  const int64_t end_ms = start_ms + std::llround(m.value("duration", 0.0) * 1000);
  if (end_ms <= discard_until_ms_) return;  // audio of a flushed turn
  if (!m.value("is_final", false)) {
    if (text.empty()) return;
    open_utterance(start_ms);
    send_partial(join(utt_.text, text), end_ms);
    return;
  }
  if (!text.empty()) {
    open_utterance(start_ms);
    utt_.text = join(utt_.text, text);
    utt_.end_ms = end_ms;
    if (auto words = alt->find("words"); words != alt->end() && words->is_array()) {
      for (const auto& w : *words) {
        if (!w.is_object()) continue;
        const int64_t ws = conn_origin_ms_ + std::llround(w.value("start", 0.0) * 1000);
        const int64_t we = conn_origin_ms_ + std::llround(w.value("end", 0.0) * 1000);
        if (utt_.words.empty()) utt_.start_ms = ws;
        utt_.end_ms = we;
        utt_.words.push_back({{"word", w.value("word", "")},
                              {"start_ms", ws},
                              {"end_ms", we},
                              {"confidence", w.value("confidence", 0.0)}});
      }
    }
    utt_.confidence_sum += alt->value("confidence", 0.0);
    ++utt_.segments;
  }
  if (m.value("speech_final", false) || m.value("from_finalize", false)) {
    finish_utterance();
  } else if (!text.empty()) {
    send_partial(utt_.text, utt_.end_ms);  // progress: the utterance so far
  }
}

void DeepgramAsr::open_utterance(int64_t start_ms) {
  if (utt_.open) return;
  utt_.open = true;
  utt_.turn_id = next_turn_++;
  utt_.start_ms = start_ms;
  utt_.end_ms = start_ms;
}

void DeepgramAsr::send_partial(const std::string& text, int64_t end_ms) {
  utt_.partial_sent = true;
  ctx_->send(std::make_unique<parley::Data>(
      "asr_result", json{{"text", text},
                         {"final", false},
                         {"start_ms", utt_.start_ms},
                         {"duration_ms", std::max<int64_t>(0, end_ms - utt_.start_ms)},
                         {"language", language_},
                         {"turn_id", utt_.turn_id}}));
}

void DeepgramAsr::finish_utterance() {
  Utterance u = std::move(utt_);
  utt_ = Utterance{};
  // An utterance in which nothing was recognised ends silently unless partials announced it.
  if (!u.open || (u.text.empty() && !u.partial_sent)) return;
  ctx_->send(std::make_unique<parley::Data>(
      "asr_result", json{{"text", u.text},
                         {"final", true},
                         {"start_ms", u.start_ms},
                         {"duration_ms", std::max<int64_t>(0, u.end_ms - u.start_ms)},
                         {"language", language_},
                         {"turn_id", u.turn_id},
                         {"words", std::move(u.words)},
                         {"confidence", u.segments > 0 ? u.confidence_sum / u.segments : 0.0}}));
}

void DeepgramAsr::maybe_finish_stop() {
  if (!stopping_ || closing_ || !stop_done_) return;
  ctx_->cancel_timer(close_timer_);
  close_timer_ = 0;
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  done(Status::ok());
}

}  // namespace

parley::Status parley_register_addon_deepgram_asr(parley::AddonRegistry& registry) {
  return registry.add<DeepgramAsr>(kManifest);
}
