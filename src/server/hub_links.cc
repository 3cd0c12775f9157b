// How participants reach the hub: WebSocket connections on /v1/rtc (join with a token in the
// query or in a first "join" message) and in-process attachments (rtc_local.h).
#include <boost/asio/steady_timer.hpp>

#include <spdlog/spdlog.h>

#include "hub.h"

namespace parley::server {

namespace {

namespace asio = boost::asio;
constexpr std::chrono::milliseconds kRetryDelay{2};

void run_later(const asio::any_io_executor& ex, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(ex, kRetryDelay);
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

// A participant's messages written to its WebSocket connection.
class WsLink final : public Link {
 public:
  explicit WsLink(std::weak_ptr<net::WsConnection> conn) : conn_(std::move(conn)) {}
  size_t backlog_bytes() const override {
    auto c = conn_.lock();
    return c ? c->stats().queued_bytes : 0;
  }
  void write(bool text, std::string data) override {
    if (auto c = conn_.lock()) {
      // A failure closes the connection itself (send queue full or closing): nothing to do.
      (void)(text ? c->send_text(std::move(data)) : c->send_binary(std::move(data)));
    }
  }
  void close(uint16_t code, std::string reason) override {
    if (auto c = conn_.lock()) c->close(code, std::move(reason));
  }
  void retry_later(std::function<void()> fn) override {
    if (auto c = conn_.lock()) run_later(c->executor(), std::move(fn));
  }
  const char* kind() const override { return "websocket"; }

 private:
  std::weak_ptr<net::WsConnection> conn_;
};

// The hub side of one /v1/rtc connection: waits for the join, then feeds the hub. Its callbacks
// run on the connection's strand, one at a time.
class WsClient : public std::enable_shared_from_this<WsClient> {
 public:
  WsClient(std::shared_ptr<Hub> hub, std::string channel, std::string token)
      : hub_(std::move(hub)), channel_(std::move(channel)), token_(std::move(token)) {}

  net::WsCallbacks callbacks() {
    auto self = shared_from_this();
    net::WsCallbacks cb;
    cb.on_open = [self](const std::shared_ptr<net::WsConnection>& c) { self->opened(c); };
    cb.on_text = [self](const std::shared_ptr<net::WsConnection>& c, std::string text) {
      if (self->participant_) return self->hub_->on_text(self->participant_, text);
      self->join_message(c, text);
    };
    cb.on_binary = [self](const std::shared_ptr<net::WsConnection>& c, std::string data) {
      if (self->participant_) return self->hub_->on_binary(self->participant_, std::move(data));
      c->close(rtc::close_code::kBadMessage, "join first: media before the join was refused");
    };
    cb.on_close = [self](const std::shared_ptr<net::WsConnection>&, const net::WsCloseInfo& info) {
      if (self->join_timer_) self->join_timer_->cancel();
      if (!self->participant_) return;
      self->hub_->leave(self->participant_,
                        info.by_peer ? "closed by the client (" + std::to_string(info.code) + ")"
                                     : "connection closed: " + info.reason);
      self->participant_.reset();
    };
    return cb;
  }

 private:
  void opened(const std::shared_ptr<net::WsConnection>& c) {
    if (!token_.empty()) return do_join(c, channel_, token_);
    join_timer_ = std::make_shared<asio::steady_timer>(c->executor(), hub_->options().join_timeout);
    join_timer_->async_wait([weak = std::weak_ptr<net::WsConnection>(c),
                             self = weak_from_this()](const boost::system::error_code& ec) {
      auto conn = weak.lock();
      auto me = self.lock();
      if (ec || !conn || !me || me->participant_) return;
      me->hub_->metrics().error("join_timeout");
      conn->close(rtc::close_code::kJoinTimeout, "no join message within the join timeout");
    });
  }

  void join_message(const std::shared_ptr<net::WsConnection>& c, const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("type", "") != rtc::event::kJoin ||
        !j.contains("token") || !j["token"].is_string()) {
      hub_->metrics().error("bad_join");
      c->close(rtc::close_code::kBadMessage,
               "expected {\"type\":\"join\",\"token\":\"...\"} as the first message");
      return;
    }
    std::string channel = channel_;
    if (j.contains("channel") && j["channel"].is_string()) channel = j["channel"];
    do_join(c, channel, j["token"].get<std::string>());
  }

  void do_join(const std::shared_ptr<net::WsConnection>& c, const std::string& channel,
               const std::string& token) {
    if (join_timer_) join_timer_->cancel();
    uint16_t code = 0;
    std::string reason;
    auto claims = hub_->authorize(channel, token, code, reason);
    if (!claims) {
      spdlog::info("hub: refused a join from {}: {}", c->request().remote, reason);
      return c->close(code, reason);
    }
    auto p = std::make_shared<Participant>(claims->channel, claims->uid, claims->role,
                                           std::make_unique<WsLink>(c), hub_->options().queues,
                                           hub_->metrics());
    if (!hub_->join(p, code, reason)) return c->close(code, reason);
    participant_ = std::move(p);
  }

  std::shared_ptr<Hub> hub_;
  const std::string channel_;
  const std::string token_;
  std::shared_ptr<Participant> participant_;
  std::shared_ptr<asio::steady_timer> join_timer_;
};

// A participant's messages handed to an in-process peer.
class LocalLink final : public Link {
 public:
  LocalLink(std::shared_ptr<rtc::LocalPeer> peer, asio::io_context& io)
      : peer_(std::move(peer)), io_(io) {}
  size_t backlog_bytes() const override { return in_flight_.load(std::memory_order_relaxed); }
  void write(bool text, std::string data) override {
    in_flight_.fetch_add(data.size(), std::memory_order_relaxed);
    text ? peer_->deliver_text(std::move(data)) : peer_->deliver_binary(std::move(data));
  }
  void close(uint16_t code, std::string reason) override {
    if (closed_.exchange(true)) return;
    peer_->closed(code, reason);
    if (on_closed_) on_closed_(reason);
  }
  void retry_later(std::function<void()> fn) override {
    run_later(io_.get_executor(), std::move(fn));
  }
  const char* kind() const override { return "local"; }

  void consumed(size_t bytes) {
    size_t cur = in_flight_.load(std::memory_order_relaxed);
    while (!in_flight_.compare_exchange_weak(cur, cur - std::min(cur, bytes))) {
    }
  }
  // The participant left by itself: do not call the peer back.
  void mute() { closed_ = true; }
  // Called once when the hub closes the link (so the hub can remove the participant).
  void set_on_closed(std::function<void(const std::string&)> fn) { on_closed_ = std::move(fn); }

 private:
  std::shared_ptr<rtc::LocalPeer> peer_;
  asio::io_context& io_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<bool> closed_{false};
  std::function<void(const std::string&)> on_closed_;
};

class LocalAttachmentImpl final : public rtc::LocalAttachment {
 public:
  LocalAttachmentImpl(std::weak_ptr<Hub> hub, std::shared_ptr<Participant> p, LocalLink* link)
      : hub_(std::move(hub)), p_(std::move(p)), link_(link) {}
  ~LocalAttachmentImpl() override { leave("detached"); }
  void send_text(std::string text) override {
    if (auto h = hub_.lock()) h->on_text(p_, text);
  }
  void send_binary(std::string frame) override {
    if (auto h = hub_.lock()) h->on_binary(p_, std::move(frame));
  }
  void consumed(size_t bytes) override { link_->consumed(bytes); }
  void leave(std::string reason) override {
    link_->mute();
    if (auto h = hub_.lock()) h->leave(p_, reason);
  }

 private:
  std::weak_ptr<Hub> hub_;
  std::shared_ptr<Participant> p_;
  LocalLink* link_;  // owned by p_
};

}  // namespace

void Hub::accept(net::WsUpgrade upgrade) {
  const auto& req = upgrade.request();
  auto client = std::make_shared<WsClient>(shared_from_this(),
                                           std::string(req.query_param("channel").value_or("")),
                                           std::string(req.query_param("token").value_or("")));
  upgrade.accept(client->callbacks());
}

Result<std::shared_ptr<rtc::LocalAttachment>> Hub::attach(const std::string& channel,
                                                          const std::string& token,
                                                          std::shared_ptr<rtc::LocalPeer> peer) {
  uint16_t code = 0;
  std::string reason;
  auto claims = authorize(channel, token, code, reason);
  if (!claims) return failed_precondition(reason);
  auto link = std::make_unique<LocalLink>(std::move(peer), io_);
  LocalLink* raw = link.get();
  auto p = std::make_shared<Participant>(claims->channel, claims->uid, claims->role,
                                         std::move(link), options_.queues, metrics_);
  raw->set_on_closed(
      [hub = weak_from_this(), weak = std::weak_ptr<Participant>(p)](const std::string& why) {
        auto h = hub.lock();
        auto participant = weak.lock();
        if (h && participant) h->leave(participant, why);
      });
  if (!join(p, code, reason)) return failed_precondition(reason);
  return std::shared_ptr<rtc::LocalAttachment>(
      std::make_shared<LocalAttachmentImpl>(weak_from_this(), std::move(p), raw));
}

}  // namespace parley::server
