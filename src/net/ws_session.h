// Private to src/net/: the WebSocket connection shared by the server (over beast::tcp_stream) and
// the client (over TCP or TLS). One strand per connection; one async_write in flight with a
// bounded queue behind it (Beast's chat-multi shape); our own ping/pong and idle timers; the
// closing handshake is started only after the queue drained, so a final message is never lost.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "beast_common.h"
#include "parley/net/websocket.h"

namespace parley::net::detail {

template <class NextLayer>
class WsSession final : public WsConnection, public Stoppable {
 public:
  using Stream = websocket::stream<NextLayer>;

  // `args` construct the next layer (a tcp_stream or an ssl_stream), already on a strand.
  template <class... Args>
  WsSession(WsOptions options, HttpRequest request, std::shared_ptr<ConnectionRegistry> registry,
            Args&&... args)
      : ws_(std::forward<Args>(args)...),
        options_(std::move(options)),
        request_(std::move(request)),
        registry_(std::move(registry)),
        id_(next_connection_id()),
        ping_timer_(ws_.get_executor()),
        idle_timer_(ws_.get_executor()) {}

  ~WsSession() override {
    if (registry_) registry_->remove(id_);
  }

  Stream& stream() { return ws_; }
  // Keeps `p` (e.g. a TLS context) alive as long as the stream.
  void hold(std::shared_ptr<void> p) { held_ = std::move(p); }

  // Server side: answers `upgrade` with 101 and starts the connection. On the strand.
  void accept(BeastRequest upgrade, std::string subprotocol, std::string server_name,
              WsCallbacks callbacks) {
    callbacks_ = std::move(callbacks);
    subprotocol_ = std::move(subprotocol);
    upgrade_ = std::move(upgrade);
    configure(beast::role_type::server);
    ws_.set_option(websocket::stream_base::decorator(
        [sp = subprotocol_, server_name](websocket::response_type& res) {
          res.set(http::field::server, server_name);
          if (!sp.empty()) res.set(http::field::sec_websocket_protocol, sp);
        }));
    ws_.async_accept(upgrade_, [self = self()](beast::error_code ec) {
      self->upgrade_ = {};
      if (ec) {
        spdlog::debug("websocket {}: handshake with {} failed: {}", self->id_,
                      self->request_.remote, ec.message());
        return;
      }
      self->opened();
    });
  }

  // Client side: the handshake is done; start the connection. On the strand.
  void start_client(std::string subprotocol, WsCallbacks callbacks) {
    callbacks_ = std::move(callbacks);
    subprotocol_ = std::move(subprotocol);
    configure(beast::role_type::client);
    opened();
  }

  // Sets the limits before a client handshake.
  void configure(beast::role_type role) {
    auto t = websocket::stream_base::timeout::suggested(role);
    t.handshake_timeout = options_.handshake_timeout;
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.read_message_max(options_.max_message_bytes);
    ws_.auto_fragment(false);
  }

  // WsConnection
  Status send_text(std::string text) override { return send(std::move(text), true); }
  Status send_binary(std::string data) override { return send(std::move(data), false); }

  void close(uint16_t code, std::string reason) override {
    if (reason.size() > 123) reason.resize(123);  // RFC 6455: the control payload is <= 125 bytes
    asio::dispatch(ws_.get_executor(), [self = self(), code, reason = std::move(reason)]() mutable {
      self->request_close(code, std::move(reason));
    });
  }

  void post(std::function<void()> fn) override { asio::post(ws_.get_executor(), std::move(fn)); }
  asio::any_io_executor executor() override { return ws_.get_executor(); }
  const HttpRequest& request() const override { return request_; }
  const std::string& subprotocol() const override { return subprotocol_; }
  bool is_open() const override { return open_.load(std::memory_order_acquire); }
  uint64_t id() const override { return id_; }
  WsStats stats() const override {
    WsStats s;
    s.messages_in = messages_in_.load(std::memory_order_relaxed);
    s.messages_out = messages_out_.load(std::memory_order_relaxed);
    s.bytes_in = bytes_in_.load(std::memory_order_relaxed);
    s.bytes_out = bytes_out_.load(std::memory_order_relaxed);
    s.queued_bytes = queued_bytes_.load(std::memory_order_relaxed);
    return s;
  }

  // Stoppable
  void shutdown_gracefully() override { close(ws_close::kGoingAway, "server shutting down"); }
  void abort() override {
    asio::dispatch(ws_.get_executor(), [self = self()] {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
  }

 private:
  struct Outgoing {
    std::string data;
    bool text = false;
  };

  std::shared_ptr<WsSession> self() {
    return std::static_pointer_cast<WsSession>(WsConnection::shared_from_this());
  }

  void opened() {
    open_.store(true, std::memory_order_release);
    last_activity_ = std::chrono::steady_clock::now();
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      last_activity_ = std::chrono::steady_clock::now();
      if (kind == websocket::frame_type::pong) {
        awaiting_pong_ = false;
        missed_pongs_ = 0;
      }
    });
    if (registry_) registry_->add(id_, self(), true);
    auto self_ptr = self();
    if (callbacks_.on_open) callbacks_.on_open(self_ptr);
    do_read();
    if (options_.ping_interval.count() > 0) arm_ping();
    if (options_.idle_timeout.count() > 0) arm_idle(options_.idle_timeout);
  }

  Status send(std::string data, bool text) {
    if (!open_.load(std::memory_order_acquire)) {
      return failed_precondition("the WebSocket connection is closing or closed");
    }
    const size_t n = data.size();
    const size_t before = queued_bytes_.fetch_add(n, std::memory_order_relaxed);
    if (before + n > options_.max_queued_bytes) {
      queued_bytes_.fetch_sub(n, std::memory_order_relaxed);
      close(ws_close::kPolicy, "NET-0003: send queue full, the peer reads too slowly");
      return unavailable("WebSocket send queue is over " +
                         std::to_string(options_.max_queued_bytes) + " bytes");
    }
    asio::dispatch(ws_.get_executor(), [self = self(), data = std::move(data), text]() mutable {
      self->enqueue(Outgoing{std::move(data), text});
    });
    return Status::ok();
  }

  void enqueue(Outgoing msg) {
    if (close_started_ || notified_) {
      queued_bytes_.fetch_sub(msg.data.size(), std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(msg));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    Outgoing& front = queue_.front();
    ws_.text(front.text);
    ws_.async_write(asio::buffer(front.data),
                    [self = self()](beast::error_code ec, size_t n) { self->on_write(ec, n); });
  }

  void on_write(beast::error_code ec, size_t n) {
    writing_ = false;
    queued_bytes_.fetch_sub(queue_.front().data.size(), std::memory_order_relaxed);
    queue_.pop_front();
    if (ec) {
      drain_queue();
      finish({ws_close::kAbnormal, "write failed: " + ec.message(), false});
      return;
    }
    messages_out_.fetch_add(1, std::memory_order_relaxed);
    bytes_out_.fetch_add(n, std::memory_order_relaxed);
    if (!queue_.empty()) {
      do_write();
    } else if (close_requested_ && !close_started_ && !notified_) {
      start_close();
    }
  }

  void drain_queue() {
    for (auto& m : queue_) queued_bytes_.fetch_sub(m.data.size(), std::memory_order_relaxed);
    queue_.clear();
  }

  void request_close(uint16_t code, std::string reason) {
    if (close_requested_ || notified_) return;
    close_requested_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    open_.store(false, std::memory_order_release);
    ping_timer_.cancel();
    // Pongs no longer matter, and Beast 1.74 must not see a control callback while closing: with
    // one set, an async_read started after our Close went out (e.g. right after the on_text that
    // called close()) defers a Close frame it finds already buffered to a post() while holding
    // the read lock. If our Close finishes writing before that post runs, async_close keeps the
    // write lock and waits for the read lock while the read waits for the write lock to answer
    // the Close: both ends then sit out the close timeout and the io_context never runs dry.
    // Without the callback the read takes the buffered Close at once and the handshake completes.
    ws_.control_callback();
    // A peer that stopped reading would keep the last write (and so the Close) waiting forever:
    // give the queue and the closing handshake one handshake_timeout, then drop the connection.
    idle_timer_.expires_after(options_.handshake_timeout);
    idle_timer_.async_wait([self = self()](beast::error_code ec) {
      if (ec || self->notified_) return;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
      self->finish({self->close_code_, self->close_reason_ + " (peer unresponsive)", false});
    });
    if (!writing_) start_close();
  }

  void start_close() {
    close_started_ = true;
    ws_.async_close(
        websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
        [self = self()](beast::error_code) {
          // Whatever the outcome (answered, timed out, peer gone), we are done.
          self->finish({self->close_code_, self->close_reason_, false});
          beast::error_code ignored;
          beast::get_lowest_layer(self->ws_).socket().close(ignored);
        });
  }

  void do_read() {
    ws_.async_read(read_buf_,
                   [self = self()](beast::error_code ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, size_t n) {
    if (ec) {
      if (close_requested_) {
        finish({close_code_, close_reason_, false});
      } else if (ec == websocket::error::closed) {
        // Beast has already echoed the peer's Close frame with the same code.
        const auto& cr = ws_.reason();
        const uint16_t code =
            cr.code == websocket::close_code::none ? ws_close::kNoStatus : cr.code;
        finish({code, std::string(cr.reason.c_str()), true});
      } else if (ec == websocket::error::message_too_big) {
        finish({ws_close::kTooBig,
                "message over " + std::to_string(options_.max_message_bytes) + " bytes", false});
      } else {
        finish({ws_close::kAbnormal, ec.message(), false});
      }
      return;
    }
    last_activity_ = std::chrono::steady_clock::now();
    messages_in_.fetch_add(1, std::memory_order_relaxed);
    bytes_in_.fetch_add(n, std::memory_order_relaxed);
    const auto data = read_buf_.data();
    std::string msg(static_cast<const char*>(data.data()), data.size());
    read_buf_.consume(read_buf_.size());
    if (read_buf_.capacity() > (64u << 10)) read_buf_.shrink_to_fit();
    const bool text = ws_.got_text();
    if (!notified_) {
      auto self_ptr = self();
      if (text && callbacks_.on_text) {
        callbacks_.on_text(self_ptr, std::move(msg));
      } else if (!text && callbacks_.on_binary) {
        callbacks_.on_binary(self_ptr, std::move(msg));
      }
    }
    if (!notified_) do_read();
  }

  // Reports the end once, then lets go of timers, the registry entry and the callbacks.
  void finish(WsCloseInfo info) {
    open_.store(false, std::memory_order_release);
    if (notified_) return;
    notified_ = true;
    ping_timer_.cancel();
    idle_timer_.cancel();
    if (registry_) registry_->remove(id_);
    WsCallbacks callbacks = std::move(callbacks_);
    callbacks_ = {};
    spdlog::debug("websocket {}: closed {} '{}' ({})", id_, info.code, info.reason,
                  info.by_peer ? "by peer" : "by us");
    if (callbacks.on_close) callbacks.on_close(self(), info);
  }

  void arm_ping() {
    ping_timer_.expires_after(options_.ping_interval);
    ping_timer_.async_wait([self = self()](beast::error_code ec) {
      if (ec || !self->open_.load(std::memory_order_acquire)) return;
      if (self->awaiting_pong_ && ++self->missed_pongs_ >= self->options_.max_missed_pongs) {
        self->request_close(
            ws_close::kGoingAway,
            "NET-0002: no pong after " + std::to_string(self->missed_pongs_) + " pings");
        return;
      }
      if (!self->ping_in_flight_) {
        self->ping_in_flight_ = true;
        self->awaiting_pong_ = true;
        self->ws_.async_ping({}, [self](beast::error_code) { self->ping_in_flight_ = false; });
      }
      self->arm_ping();
    });
  }

  void arm_idle(std::chrono::steady_clock::duration after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait([self = self()](beast::error_code ec) {
      if (ec || !self->open_.load(std::memory_order_acquire)) return;
      const auto idle = std::chrono::steady_clock::now() - self->last_activity_;
      if (idle >= self->options_.idle_timeout) {
        self->request_close(ws_close::kGoingAway,
                            "idle timeout: nothing received for " +
                                std::to_string(self->options_.idle_timeout.count()) + " ms");
        return;
      }
      self->arm_idle(self->options_.idle_timeout - idle);
    });
  }

  std::shared_ptr<void> held_;  // declared first: destroyed after the stream
  Stream ws_;
  WsOptions options_;
  HttpRequest request_;
  std::shared_ptr<ConnectionRegistry> registry_;
  const uint64_t id_;
  std::string subprotocol_;
  WsCallbacks callbacks_;
  BeastRequest upgrade_;
  beast::flat_buffer read_buf_;
  std::deque<Outgoing> queue_;
  asio::steady_timer ping_timer_;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  // Strand-only state.
  bool writing_ = false;
  bool close_requested_ = false;
  bool close_started_ = false;
  bool notified_ = false;
  bool ping_in_flight_ = false;
  bool awaiting_pong_ = false;
  int missed_pongs_ = 0;
  uint16_t close_code_ = ws_close::kNormal;
  std::string close_reason_;
  // Read from any thread.
  std::atomic<bool> open_{false};
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<uint64_t> messages_in_{0}, messages_out_{0}, bytes_in_{0}, bytes_out_{0};
};

}  // namespace parley::net::detail
