// Private to src/net/: the Beast includes and the small pieces shared by the server and client
// translation units (request conversion, connection ids, the registry of live connections).
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "parley/net/http.h"

namespace parley::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using BeastRequest = http::request<http::string_body>;

// Process-unique ids for connections, for logs.
inline uint64_t next_connection_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// Copies a Beast request into the Beast-free HttpRequest handlers see.
inline HttpRequest to_http_request(const BeastRequest& req, std::string remote) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  split_target(out.target, out.path, out.query);
  for (const auto& field : req) {
    out.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = req.body();
  out.remote = std::move(remote);
  return out;
}

// "address:port" of an endpoint.
inline std::string endpoint_string(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

// Something the registry can shut down: an HTTP connection or a WebSocket session.
class Stoppable {
 public:
  virtual ~Stoppable() = default;
  // Starts a graceful shutdown (Close 1001 for WebSocket, dropping an idle HTTP connection).
  virtual void shutdown_gracefully() = 0;
  // Drops the connection now.
  virtual void abort() = 0;
};

// Thread-safe set of a server's live connections, so stop() can reach and wait for them.
class ConnectionRegistry {
 public:
  void add(uint64_t id, const std::shared_ptr<Stoppable>& c, bool websocket) {
    std::lock_guard lock(mu_);
    live_[id] = Entry{c, websocket};
    if (websocket) ++ws_count_;
  }
  void remove(uint64_t id) {
    std::lock_guard lock(mu_);
    auto it = live_.find(id);
    if (it == live_.end()) return;
    if (it->second.websocket) --ws_count_;
    live_.erase(it);
    if (live_.empty()) empty_.notify_all();
  }
  // Live connections (weak references locked).
  std::vector<std::shared_ptr<Stoppable>> snapshot() {
    std::vector<std::shared_ptr<Stoppable>> out;
    std::lock_guard lock(mu_);
    for (auto& [id, e] : live_) {
      if (auto c = e.conn.lock()) out.push_back(std::move(c));
    }
    return out;
  }
  // Waits until every connection is gone or `deadline` passes; true when empty.
  bool wait_empty(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return empty_.wait_until(lock, deadline, [&] { return live_.empty(); });
  }
  size_t http_count() const {
    std::lock_guard lock(mu_);
    return live_.size() - ws_count_;
  }
  size_t ws_count() const {
    std::lock_guard lock(mu_);
    return ws_count_;
  }

 private:
  struct Entry {
    std::weak_ptr<Stoppable> conn;
    bool websocket = false;
  };
  mutable std::mutex mu_;
  std::condition_variable empty_;
  std::unordered_map<uint64_t, Entry> live_;
  size_t ws_count_ = 0;
};

}  // namespace parley::net::detail
