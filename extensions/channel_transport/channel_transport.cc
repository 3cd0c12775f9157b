// channel_transport: the agent's side of a hub channel. It joins the channel (over a WebSocket to
// /v1/rtc, or in-process through rtc_local.h when the agent runs inside the server), turns the
// user's media into pcm_frame / video_frame messages, and sends the graph's audio, transcripts and
// metrics to the user. It owns output pacing: agent audio is queued and released at real time
// (with a small lead), so a flush drops what the user has not heard yet and the transport can
// report the playout position (data `playout` {turn_id, played_ms}).
#include <spdlog/logger.h>

#include <algorithm>
#include <deque>
#include <set>

#include "parley/addon.h"
#include "parley/net/client.h"
#include "parley/playout.h"
#include "parley/rtc_local.h"
#include "parley/rtc_protocol.h"
#include "parley/runtime.h"
#include "parley/turn_metrics.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "channel_transport",
  "description": "Joins a channel of the Parley hub as the agent: user audio/video in as pcm_frame/video_frame, graph audio out at real-time pace (a copy as far_end_frame, the echo canceller's reference, when connected), transcript/metrics data out as events; handles flush and reports playout.",
  "properties": {
    "url": {"type": "string", "default": "", "description": "Hub WebSocket URL, ws://host:port/v1/rtc (unused when local)"},
    "channel": {"type": "string", "default": "", "description": "Channel to join"},
    "token": {"type": "string", "default": "", "description": "Agent token for the channel (from the server)"},
    "uid": {"type": "int", "default": 0, "description": "Agent uid (informative: the token carries it)"},
    "local": {"type": "bool", "default": false, "description": "Attach in-process to the server's hub (thread isolation) instead of a WebSocket"},
    "playout_lead_ms": {"type": "int", "default": 40, "description": "How far ahead of its media time agent audio is sent (the client buffer it assumes)"},
    "max_queue_ms": {"type": "int", "default": 60000, "description": "Agent audio that may wait to be sent; the oldest is dropped beyond it"},
    "join_timeout_ms": {"type": "int", "default": 10000, "description": "Give up (and stop the graph) if not joined by then"},
    "stop_graph_on_disconnect": {"type": "bool", "default": true, "description": "Stop the graph when the channel connection ends"}
  },
  "in": {"audio_frame": ["pcm_frame"], "video_frame": ["*"], "data": ["*"], "cmd": ["flush"]},
  "out": {"audio_frame": ["pcm_frame", "far_end_frame"], "video_frame": ["video_frame"], "data": ["*"],
          "cmd": ["on_user_joined", "on_user_left", "flush"]}
})json";

using parley::Context;
using parley::Status;
using Clock = std::chrono::steady_clock;
namespace rtc = parley::rtc;

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How the transport talks to the hub, whatever the backend.
class ChannelLink {
 public:
  virtual ~ChannelLink() = default;
  virtual void send_text(std::string text) = 0;
  virtual void send_binary(std::string frame) = 0;
  // Called on the node's executor once a delivered message was handled.
  virtual void consumed(size_t) {}
  virtual void close(const std::string& reason) = 0;
};

class WsChannelLink final : public ChannelLink {
 public:
  explicit WsChannelLink(std::shared_ptr<parley::net::WsConnection> conn)
      : conn_(std::move(conn)) {}
  void send_text(std::string text) override { (void)conn_->send_text(std::move(text)); }
  void send_binary(std::string frame) override { (void)conn_->send_binary(std::move(frame)); }
  void close(const std::string& reason) override {
    conn_->close(parley::net::ws_close::kNormal, reason);
  }

 private:
  std::shared_ptr<parley::net::WsConnection> conn_;
};

class LocalChannelLink final : public ChannelLink {
 public:
  explicit LocalChannelLink(std::shared_ptr<rtc::LocalAttachment> a) : a_(std::move(a)) {}
  ~LocalChannelLink() override { a_->leave("agent detached"); }
  void send_text(std::string text) override { a_->send_text(std::move(text)); }
  void send_binary(std::string frame) override { a_->send_binary(std::move(frame)); }
  void consumed(size_t bytes) override { a_->consumed(bytes); }
  void close(const std::string& reason) override { a_->leave(reason); }

 private:
  std::shared_ptr<rtc::LocalAttachment> a_;
};

class ChannelTransport;

// Hub → node: every callback hands its message to the node's executor through the poster.
struct Inbound {
  parley::Poster post;
  ChannelTransport* ext;
  void text(std::string t);
  void binary(std::string b);
  void closed(uint16_t code, std::string reason);
};

class LocalPeer final : public rtc::LocalPeer {
 public:
  explicit LocalPeer(Inbound in) : in_(std::move(in)) {}
  void deliver_text(std::string text) override { in_.text(std::move(text)); }
  void deliver_binary(std::string frame) override { in_.binary(std::move(frame)); }
  void closed(uint16_t code, std::string reason) override { in_.closed(code, std::move(reason)); }

 private:
  Inbound in_;
};

class ChannelTransport final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override {
    if (ctx.prop_string("channel").empty())
      return parley::invalid_argument(
          "property 'channel' is empty: the server sets it per session");
    if (ctx.prop_string("token").empty())
      return parley::invalid_argument("property 'token' is empty: the server sets it per session");
    if (!ctx.prop_bool("local") && ctx.prop_string("url").empty())
      return parley::invalid_argument("property 'url' is empty (or set local=true)");
    // Overridable per session through /start: a wrong value is refused, never silently clamped.
    const int64_t lead = ctx.prop_int("playout_lead_ms");
    if (lead < 0 || lead > 1000)
      return parley::invalid_argument("playout_lead_ms is " + std::to_string(lead) +
                                      "; use 0..1000 (the client buffer the pacing assumes)");
    const int64_t max_queue = ctx.prop_int("max_queue_ms");
    if (max_queue < 20)
      return parley::invalid_argument("max_queue_ms is " + std::to_string(max_queue) +
                                      "; use at least 20 (one frame), e.g. 60000");
    if (ctx.prop_int("join_timeout_ms") <= 0)
      return parley::invalid_argument("join_timeout_ms is " +
                                      std::to_string(ctx.prop_int("join_timeout_ms")) +
                                      "; use a positive time in ms, e.g. 10000");
    lead_ = std::chrono::milliseconds(lead);
    max_queue_ms_ = static_cast<double>(max_queue);
    return Status::ok();
  }

  void on_start(Context& ctx) override {
    ctx_ = &ctx;
    Inbound in{ctx.poster(), this};
    join_timer_ = ctx.set_timer(std::chrono::milliseconds(ctx.prop_int("join_timeout_ms")), [this] {
      if (!joined_) disconnected(0, "not joined within join_timeout_ms");
    });
    if (ctx.prop_bool("local")) {
      auto hub = rtc::find_local_hub(ctx.prop_string("channel"));
      if (!hub) return disconnected(0, "no in-process hub serves this channel");
      auto att = hub->attach(ctx.prop_string("channel"), ctx.prop_string("token"),
                             std::make_shared<LocalPeer>(in));
      if (!att.is_ok()) return disconnected(0, att.status().message());
      link_ = std::make_unique<LocalChannelLink>(std::move(att).value());
      return;
    }
    std::string url = ctx.prop_string("url");
    url += (url.find('?') == std::string::npos ? "?" : "&");
    url += parley::net::build_query(
        {{"channel", ctx.prop_string("channel")}, {"token", ctx.prop_string("token")}});
    parley::net::WsCallbacks cb;
    cb.on_text = [in](const auto&, std::string t) mutable { in.text(std::move(t)); };
    cb.on_binary = [in](const auto&, std::string b) mutable { in.binary(std::move(b)); };
    cb.on_close = [in](const auto&, const parley::net::WsCloseInfo& i) mutable {
      in.closed(i.code, i.reason);
    };
    parley::net::WsClientOptions opts;
    opts.connect_timeout = std::chrono::milliseconds(ctx.prop_int("join_timeout_ms"));
    auto post = ctx.poster();
    parley::net::ws_connect(
        ctx.runtime().io(), url, opts, cb,
        [post, this](parley::Result<std::shared_ptr<parley::net::WsConnection>> r) {
          post([this, r = std::move(r)]() mutable {
            if (!r.is_ok()) return disconnected(0, "cannot connect: " + r.status().message());
            if (stopping_) return (*r)->close(parley::net::ws_close::kNormal, "agent stopping");
            link_ = std::make_unique<WsChannelLink>(std::move(r).value());
          });
        });
  }

  void on_stop(Context& ctx, parley::Done done) override {
    stopping_ = true;
    ctx.cancel_timer(join_timer_);
    if (pace_timer_) ctx.cancel_timer(pace_timer_);
    if (link_) link_->close("agent stopping");
    link_.reset();
    done(Status::ok());
  }

  void on_cmd(Context& ctx, std::unique_ptr<parley::Cmd> cmd) override {
    if (cmd->name() != parley::kFlushCmd) return parley::Extension::on_cmd(ctx, std::move(cmd));
    const int64_t turn = gate_.flush(*cmd);
    const auto now = Clock::now();
    // Audio of older turns (and of no turn) that was not sent yet is dropped.
    std::set<int64_t> cut;
    std::erase_if(queue_, [&](const Queued& q) {
      if (q.turn >= turn) return false;
      queued_ms_ -= q.frame->duration_ms();
      if (q.turn >= 0) cut.insert(q.turn);
      return true;
    });
    if (queue_.empty()) queued_ms_ = 0;
    stream_open_ = false;
    std::erase_if(ended_turns_, [turn](int64_t t) { return t < turn; });
    const int64_t playing = playout_.playing_turn();
    if (auto stop = playout_.interrupt(turn, now)) {
      // The interrupted audio stops in the user's ears when what was already sent has played.
      ctx.send(parley::make_stage_mark(
          turn, parley::stage::kLastAudioOut,
          std::chrono::duration<double, std::milli>(stop->time_since_epoch()).count()));
      cut.erase(playing);
    }
    // Turns queued but never sent: the user heard none of them (the LLM drops them from history).
    for (int64_t t : cut) playout_.dropped_unplayed(t);
    playout_.drop_buffered(now);  // the client empties its buffer at the flush event
    send_event({{"type", "flush"}, {"turn_id", turn}});
    ctx.forward_cmd(std::move(cmd));
  }

  void on_audio_frame(Context& ctx, std::unique_ptr<parley::AudioFrame> frame) override {
    const int64_t turn = frame->get<int64_t>("turn_id", -1);
    if (turn >= 0 && gate_.is_stale(turn)) return;
    const auto due = schedule(*frame);
    queued_ms_ += frame->duration_ms();
    queue_.push_back({std::move(frame), due, turn});
    while (queued_ms_ > max_queue_ms_ && queue_.size() > 1) {
      queued_ms_ -= queue_.front().frame->duration_ms();
      queue_.pop_front();
      if (dropped_++ % 500 == 0)
        ctx.log().warn("agent audio queue over {} ms: dropping the oldest ({} so far)",
                       max_queue_ms_, dropped_);
    }
    pump();
  }

  void on_video_frame(Context&, std::unique_ptr<parley::VideoFrame> frame) override {
    auto bytes = rtc::encode_video(*frame, video_seq_++);
    if (bytes.is_ok() && link_) link_->send_binary(std::move(bytes).value());
  }

  void on_data(Context&, std::unique_ptr<parley::Data> data) override {
    if (data->name() == "tts_audio_end") return audio_ended(data->get<int64_t>("turn_id", -1));
    nlohmann::json event =
        data->properties().is_object() ? data->properties() : nlohmann::json::object();
    event["type"] = data->name();
    if (data->name() == rtc::event::kTranscript && !event.contains("ts"))
      event["ts"] = unix_now_ms();
    send_event(event);
  }

  // From the hub, on this node's executor.
  void incoming_text(const std::string& text) {
    if (link_) link_->consumed(text.size());
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return;
    const std::string type = j.value("type", "");
    const bool user = j.value("role", "") == "user";
    if (type == rtc::event::kJoined && j.value("self", false)) {
      joined_ = true;
      ctx_->cancel_timer(join_timer_);
      ctx_->log().info("joined channel {} as uid {}", j.value("channel", ""),
                       j.value("uid", uint32_t{0}));
      for (const auto& p : j.value("participants", nlohmann::json::array()))
        if (p.value("role", "") == "user") user_cmd("on_user_joined", p.value("uid", uint32_t{0}));
      for (auto& e : pending_) link_->send_text(std::move(e));
      pending_.clear();
    } else if ((type == rtc::event::kJoined || type == rtc::event::kLeft) && user) {
      user_cmd(type == rtc::event::kJoined ? "on_user_joined" : "on_user_left",
               j.value("uid", uint32_t{0}));
    } else if (type == rtc::event::kPlayed) {
      emit_data("playout", {{"turn_id", j.value("turn_id", 0)},
                            {"played_ms", j.value("played_ms", 0.0)},
                            {"source", "client"}});
    } else if (type == rtc::event::kError) {
      ctx_->log().warn("hub error {}: {}", j.value("code", ""), j.value("message", ""));
    } else if (!type.empty() && type != rtc::event::kPong && type != rtc::event::kJoined &&
               type != rtc::event::kLeft) {
      j.erase("type");
      emit_data(type, std::move(j));
    }
  }

  void incoming_binary(const std::string& bytes) {
    if (link_) link_->consumed(bytes.size());
    auto frame = rtc::decode_frame(bytes);
    if (!frame.is_ok()) return;
    if (frame->header.kind == rtc::FrameKind::kAudio) {
      if (ctx_->has_destination(parley::MessageKind::kAudioFrame, "pcm_frame"))
        ctx_->send(rtc::to_audio_frame(*frame));
    } else if (ctx_->has_destination(parley::MessageKind::kVideoFrame, "video_frame")) {
      ctx_->send(rtc::to_video_frame(*frame));
    }
  }

  void disconnected(uint16_t code, const std::string& reason) {
    joined_ = false;
    if (stopping_) return;
    ctx_->log().error("channel connection ended ({} {})", code, reason);
    link_.reset();
    if (ctx_->prop_bool("stop_graph_on_disconnect"))
      ctx_->stop_graph("channel connection ended: " + reason);
  }

 private:
  // When a frame is due at the user: its media timestamp on a clock anchored at the first frame
  // of the stream. A frame that arrives late (network or scheduling jitter) is due at once, so
  // jitter never accumulates into delay; frames that arrive early (a synthesizer working faster
  // than real time) wait for their time. A stream starts after a pause, a timestamp going
  // backwards or jumping ahead; frames without timestamps (all equal) follow one another.
  // Live audio that arrives early at real-time rate moves the anchor earlier (see below).
  Clock::time_point schedule(const parley::AudioFrame& frame) {
    const auto now = Clock::now();
    if (stream_open_ && queue_.empty() && now > playout_.play_end() + std::chrono::seconds(1))
      stream_open_ = false;  // a pause: the next audio starts a new stream
    int64_t ts = frame.timestamp_ms;
    if (stream_open_ && ts == last_ts_) ts = last_ts_ + static_cast<int64_t>(last_duration_ms_);
    const auto arrival = now - std::chrono::milliseconds(ts);  // the anchor this frame implies
    if (!stream_open_ || ts < last_ts_ || ts > last_ts_ + 5000) {
      stream_open_ = true;
      anchor_ = arrival;
    } else if (arrival < anchor_ &&
               now - last_arrival_ >=
                   std::chrono::microseconds(static_cast<int64_t>(last_duration_ms_ * 900))) {
      // Early, but arriving at (about) real-time rate: live audio whose first frame was late.
      // Follow it, or that first delay would last the whole stream. Bursts (a synthesizer ahead
      // of real time) arrive faster than that and keep being paced.
      anchor_ = arrival;
    }
    last_arrival_ = now;
    last_ts_ = ts;
    last_duration_ms_ = frame.duration_ms();
    return anchor_ + std::chrono::milliseconds(ts);
  }

  // Sends queued agent audio that is due within `lead_`; re-arms a timer for the rest, so the
  // user's client never holds more than the lead and a flush drops what was not sent.
  void pump() {
    const auto now = Clock::now();
    while (!queue_.empty() && queue_.front().due - lead_ <= now) {
      auto frame = std::move(queue_.front().frame);
      const int64_t turn = queue_.front().turn;
      queue_.pop_front();
      queued_ms_ -= frame->duration_ms();
      // The user's playback clock: what was sent plays from now or after what is still playing.
      // A turn's first frame ends the previous turn and starts this one (synthesis may have
      // ended long ago): the agent is speaking.
      const int64_t previous = playout_.playing_turn();
      if (playout_.release(turn, frame->duration_ms(), now)) {
        ended_turns_.erase(previous);
        ctx_->send(parley::make_stage_mark(turn, parley::stage::kFirstAudioOut));
      }
      auto bytes = rtc::encode_audio(*frame, audio_seq_++);
      if (bytes.is_ok() && link_ && joined_) link_->send_binary(std::move(bytes).value());
      // The echo canceller's reference is what the user is sent, when it is sent: a synthesiser
      // runs ahead of real time, so its own copy would lead the echo by seconds.
      if (ctx_->has_destination(parley::MessageKind::kAudioFrame, "far_end_frame")) {
        auto far = frame->clone();
        far->set_name("far_end_frame");
        ctx_->send(std::move(far));
      }
      const bool turn_over =
          ended_turns_.contains(turn) && (queue_.empty() || queue_.front().turn != turn);
      if ((frame->is_eof || turn_over) && turn >= 0) {
        ended_turns_.erase(turn);
        playout_.finish();
      }
    }
    if (queue_.empty() || pace_timer_) return;
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(queue_.front().due - lead_ - now);
    pace_timer_ = ctx_->set_timer(std::max(wait, std::chrono::milliseconds(1)), [this] {
      pace_timer_ = 0;
      pump();
    });
  }

  // The synthesiser sent the last audio of `turn` (data tts_audio_end): playout is done once
  // that audio has been sent, now if it already has.
  void audio_ended(int64_t turn) {
    if (turn < 0 || gate_.is_stale(turn)) return;
    if (std::any_of(queue_.begin(), queue_.end(),
                    [turn](const Queued& q) { return q.turn == turn; }))
      ended_turns_.insert(turn);
    else if (playout_.playing_turn() == turn)
      playout_.finish();
  }

  // A playout report goes to the graph (the LLM, the turn detector) and to the user.
  void report_playout(nlohmann::json report) {
    emit_data("playout", report);
    report["type"] = rtc::event::kPlayout;
    send_event(report);
  }

  void send_event(const nlohmann::json& event) {
    if (link_ && joined_) return link_->send_text(event.dump());
    if (pending_.size() < 256) pending_.push_back(event.dump());
  }

  void emit_data(const std::string& name, nlohmann::json props) {
    if (!ctx_->has_destination(parley::MessageKind::kData, name)) return;
    ctx_->send(std::make_unique<parley::Data>(name, std::move(props)));
  }

  void user_cmd(const std::string& name, uint32_t uid) {
    if (!ctx_->has_destination(parley::MessageKind::kCmd, name)) return;
    ctx_->send_cmd(std::make_unique<parley::Cmd>(name, nlohmann::json{{"uid", uid}}),
                   [](std::unique_ptr<parley::CmdResult>) {});
  }

  Context* ctx_ = nullptr;
  std::unique_ptr<ChannelLink> link_;
  bool joined_ = false;
  bool stopping_ = false;
  parley::TimerId join_timer_ = 0;
  parley::TimerId pace_timer_ = 0;
  // Turns whose last audio is queued (tts_audio_end came): done when it has been sent.
  std::set<int64_t> ended_turns_;
  std::vector<std::string> pending_;  // events sent before the join completed
  // Output pacing.
  struct Queued {
    std::unique_ptr<parley::AudioFrame> frame;
    Clock::time_point due;
    int64_t turn;  // its turn_id (-1: none)
  };
  std::deque<Queued> queue_;
  bool stream_open_ = false;
  Clock::time_point anchor_{};  // wall time of media timestamp 0 in the current stream
  Clock::time_point last_arrival_{};
  int64_t last_ts_ = 0;
  double last_duration_ms_ = 0;
  double queued_ms_ = 0;
  double max_queue_ms_ = 60000;
  uint64_t dropped_ = 0;
  std::chrono::milliseconds lead_{40};
  parley::PlayoutTracker playout_{
      [this](nlohmann::json report) { report_playout(std::move(report)); }};
  parley::TurnGate gate_;
  uint32_t audio_seq_ = 0;
  uint32_t video_seq_ = 0;
};

void Inbound::text(std::string t) {
  post([ext = ext, t = std::move(t)] { ext->incoming_text(t); });
}
void Inbound::binary(std::string b) {
  post([ext = ext, b = std::move(b)] { ext->incoming_binary(b); });
}
void Inbound::closed(uint16_t code, std::string reason) {
  post([ext = ext, code, r = std::move(reason)] { ext->disconnected(code, r); });
}

}  // namespace

parley::Status parley_register_addon_channel_transport(parley::AddonRegistry& registry) {
  return registry.add<ChannelTransport>(kManifest);
}
