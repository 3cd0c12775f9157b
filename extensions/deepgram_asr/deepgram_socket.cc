// DeepgramSocket: one Deepgram-protocol WebSocket connection, its events on the node's executor.
#include "deepgram_socket.h"

#include <spdlog/logger.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "parley/runtime.h"

namespace parley::deepgram {

Result<std::string> endpoint_url(const std::string& base, std::string_view default_path,
                                 const std::vector<net::QueryParam>& params) {
  auto url = net::parse_url(base);
  if (!url.is_ok()) return url.status();
  if (url->scheme != "ws" && url->scheme != "wss") {
    return invalid_argument("url '" + base +
                            "' is not a WebSocket URL: use wss://api.deepgram.com/v1/... for "
                            "Deepgram or ws://HOST:PORT for a parley model-serve");
  }
  std::string path;
  std::vector<net::QueryParam> query;
  net::split_target(url->target, path, query);
  if (path.empty() || path == "/") {
    path = std::string(default_path);
  } else {
    // Keep the path exactly as written (split_target decoded it).
    path = url->target.substr(0, url->target.find('?'));
  }
  for (const auto& p : params) {
    const bool given = std::any_of(query.begin(), query.end(),
                                   [&](const net::QueryParam& q) { return q.first == p.first; });
    if (!given) query.push_back(p);
  }
  std::string out = url->scheme + "://" + url->host_header() + path;
  if (!query.empty()) out += "?" + net::build_query(query);
  return out;
}

Status SocketConfig::validate() const {
  if (connect_timeout.count() <= 0)
    return invalid_argument("connect_timeout_ms must be > 0, got " +
                            std::to_string(connect_timeout.count()));
  if (reconnect_initial.count() <= 0 || reconnect_max < reconnect_initial)
    return invalid_argument("reconnect_initial_ms must be > 0 and reconnect_max_ms >= it, got " +
                            std::to_string(reconnect_initial.count()) + " and " +
                            std::to_string(reconnect_max.count()));
  return Status::ok();
}

// What the I/O callbacks share with the socket. `owner` is only touched on the node's executor
// (inside posted functions); the rest is guarded by `mu`.
struct DeepgramSocket::Link {
  Poster poster;
  DeepgramSocket* owner = nullptr;
  std::mutex mu;
  bool dead = false;
  std::vector<std::weak_ptr<net::WsConnection>> connections;

  // Runs `fn` with the socket on the node's executor, if both still exist.
  static bool post(const std::shared_ptr<Link>& link, std::function<void(DeepgramSocket&)> fn) {
    return link->poster([link, fn = std::move(fn)] {
      if (link->owner != nullptr) fn(*link->owner);
    });
  }
  // Remembers an opened connection so the socket's end can close it; false once the socket is
  // gone (the caller then closes it).
  bool track(const std::shared_ptr<net::WsConnection>& conn) {
    std::lock_guard lock(mu);
    if (dead) return false;
    std::erase_if(connections, [](const auto& w) { return w.expired(); });
    connections.push_back(conn);
    return true;
  }
};

DeepgramSocket::DeepgramSocket(Context& ctx, SocketConfig config, SocketHandlers handlers)
    : ctx_(ctx),
      config_(std::move(config)),
      handlers_(std::move(handlers)),
      link_(std::make_shared<Link>()),
      backoff_(config_.reconnect_initial) {
  link_->poster = ctx.poster();
  link_->owner = this;
}

DeepgramSocket::~DeepgramSocket() {
  if (reconnect_timer_ != 0) ctx_.cancel_timer(reconnect_timer_);
  link_->owner = nullptr;
  std::vector<std::weak_ptr<net::WsConnection>> open;
  {
    std::lock_guard lock(link_->mu);
    link_->dead = true;
    open.swap(link_->connections);
  }
  for (auto& weak : open) {
    if (auto conn = weak.lock()) conn->close(net::ws_close::kNormal, "");
  }
}

void DeepgramSocket::connect_first(Done done) {
  first_done_ = std::move(done);
  ctx_.log().info("connecting to {}", config_.url);
  connect();
}

void DeepgramSocket::connect() {
  if (reconnect_timer_ != 0) {
    ctx_.cancel_timer(reconnect_timer_);
    reconnect_timer_ = 0;
  }
  if (conn_ || connecting_) return;
  connecting_ = true;
  const uint64_t generation = ++generation_;
  net::WsClientOptions options;
  if (!config_.api_key.empty()) options.headers.set("Authorization", "Token " + config_.api_key);
  options.connect_timeout = config_.connect_timeout;
  options.websocket.handshake_timeout = config_.connect_timeout;

  auto link = link_;
  net::WsCallbacks cb;
  cb.on_text = [link, generation](const std::shared_ptr<net::WsConnection>&, std::string text) {
    Link::post(link, [generation, text = std::move(text)](DeepgramSocket& s) mutable {
      if (s.generation_ == generation && s.handlers_.on_text) s.handlers_.on_text(std::move(text));
    });
  };
  cb.on_binary = [link, generation](const std::shared_ptr<net::WsConnection>&, std::string data) {
    Link::post(link, [generation, data = std::move(data)](DeepgramSocket& s) mutable {
      if (s.generation_ == generation && s.handlers_.on_binary)
        s.handlers_.on_binary(std::move(data));
    });
  };
  cb.on_close = [link, generation](const std::shared_ptr<net::WsConnection>&,
                                   const net::WsCloseInfo& info) {
    Link::post(link, [generation, info](DeepgramSocket& s) { s.ended(generation, info); });
  };
  net::ws_connect(ctx_.runtime().io(), config_.url, std::move(options), std::move(cb),
                  [link, generation](Result<std::shared_ptr<net::WsConnection>> result) {
                    if (!result.is_ok()) {
                      Link::post(link, [generation, why = result.status()](DeepgramSocket& s) {
                        s.failed(generation, why);
                      });
                      return;
                    }
                    auto conn = std::move(result).value();
                    const bool posted = link->track(conn) &&
                                        Link::post(link, [generation, conn](DeepgramSocket& s) {
                                          s.opened(generation, conn);
                                        });
                    // Nobody will ever use it (the node is gone): do not leave it open.
                    if (!posted) conn->close(net::ws_close::kNormal, "");
                  });
}

std::chrono::milliseconds DeepgramSocket::reconnect_later() {
  const auto delay = backoff_;
  backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
  if (reconnect_timer_ != 0) ctx_.cancel_timer(reconnect_timer_);
  reconnect_timer_ = ctx_.set_timer(delay, [this] {
    reconnect_timer_ = 0;
    connect();
  });
  return delay;
}

void DeepgramSocket::close(uint16_t code, std::string reason) {
  if (reconnect_timer_ != 0) {
    ctx_.cancel_timer(reconnect_timer_);
    reconnect_timer_ = 0;
  }
  ++generation_;
  connecting_ = false;
  if (conn_) {
    conn_->close(code, std::move(reason));
    conn_.reset();
  }
}

Status DeepgramSocket::send_text(std::string text) {
  if (!conn_) return failed_precondition("no open connection to " + config_.url);
  return conn_->send_text(std::move(text));
}

Status DeepgramSocket::send_binary(std::string data) {
  if (!conn_) return failed_precondition("no open connection to " + config_.url);
  return conn_->send_binary(std::move(data));
}

void DeepgramSocket::opened(uint64_t generation, std::shared_ptr<net::WsConnection> conn) {
  if (generation != generation_) {  // given up meanwhile (close() or a newer connect())
    conn->close(net::ws_close::kNormal, "");
    return;
  }
  connecting_ = false;
  conn_ = std::move(conn);
  backoff_ = config_.reconnect_initial;
  if (first_done_) {
    ctx_.log().info("connected to {}", config_.url);
    std::exchange(first_done_, nullptr)(Status::ok());
  } else {
    ctx_.log().info("connected again to {}", config_.url);
  }
  if (handlers_.on_open) handlers_.on_open();
}

void DeepgramSocket::failed(uint64_t generation, const Status& why) {
  if (generation != generation_) return;
  connecting_ = false;
  if (first_done_) {
    std::exchange(first_done_, nullptr)(why.with_context(ctx_.addon_name() + " cannot connect"));
  } else if (handlers_.on_failed) {
    handlers_.on_failed(why);
  }
}

void DeepgramSocket::ended(uint64_t generation, const net::WsCloseInfo& info) {
  if (generation != generation_) return;
  conn_.reset();
  connecting_ = false;
  if (handlers_.on_closed) handlers_.on_closed(info);
}

std::string message_type(const std::string& text, nlohmann::json& out) {
  out = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!out.is_object()) return "";
  auto it = out.find("type");
  return it != out.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace parley::deepgram
