// An HTTP/1.1 + WebSocket server on an io_context (Boost.Beast inside src/net/, not here).
//
// Routes are exact method + path matches. Handlers run on the connection's strand (an I/O
// thread) and answer through an HttpResponder, which may be called later from any thread, so a
// handler can hand blocking work to a compute pool and respond when it is done. A WebSocket route
// receives a WsUpgrade before anything is sent back: it may inspect the request and refuse with
// any HTTP status (e.g. 400 for a bad parameter, 503 when busy), or accept with its callbacks.
//
//   net::Server server(runtime->io(), {.host = "127.0.0.1", .port = 0});
//   server.handle("GET", "/ping", [](const net::HttpRequest&, net::HttpResponder r) {
//     r.send(net::HttpResponse::text(200, "ok"));
//   });
//   server.handle_websocket("/echo", [](net::WsUpgrade up) { up.accept(echo_callbacks()); });
//   if (auto st = server.start(); !st.is_ok()) ...;   // server.port() is the bound port
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parley/net/http.h"
#include "parley/net/websocket.h"
#include "parley/status.h"

namespace parley::net {

namespace detail {
class ResponderState;
class UpgradeState;
class ServerState;
}  // namespace detail

// Sends the one response to one request. Copyable; the first send() wins and later ones are
// ignored. Thread-safe. If every copy is destroyed without a send(), the client gets a 500.
class HttpResponder {
 public:
  explicit HttpResponder(std::shared_ptr<detail::ResponderState> state);
  // Sends `response` (Content-Length, Date and Server are added).
  void send(HttpResponse response) const;
  // True once a response was sent.
  bool sent() const;

 private:
  std::shared_ptr<detail::ResponderState> state_;
};

// Answers one HTTP request; runs on the connection's strand and must not block.
using HttpHandler = std::function<void(const HttpRequest& request, HttpResponder respond)>;

// A WebSocket upgrade request waiting for the application's decision. Copyable; the first
// accept() or reject() wins. Thread-safe. Destroying every copy undecided rejects with 500.
class WsUpgrade {
 public:
  explicit WsUpgrade(std::shared_ptr<detail::UpgradeState> state);
  // The upgrade request (path, query, headers).
  const HttpRequest& request() const;
  // Subprotocols the client offered in Sec-WebSocket-Protocol, in order.
  std::vector<std::string> offered_subprotocols() const;
  // Completes the handshake (101) and starts the connection with `callbacks`. `subprotocol`, when
  // not empty, is returned in Sec-WebSocket-Protocol (it should be one the client offered).
  void accept(WsCallbacks callbacks, std::string subprotocol = "") const;
  // Refuses the upgrade with an HTTP response, e.g. 400 with a JSON reason; nothing is upgraded.
  void reject(HttpResponse response) const;

 private:
  std::shared_ptr<detail::UpgradeState> state_;
};

// Decides on a WebSocket upgrade; runs on the connection's strand and must not block.
using WsHandler = std::function<void(WsUpgrade upgrade)>;

// Listening address, limits and timeouts of a server.
struct ServerOptions {
  // Address to bind; "0.0.0.0" for every IPv4 interface, "::" for IPv6.
  std::string host = "0.0.0.0";
  // Port to bind; 0 lets the kernel choose (read it back with Server::port()).
  uint16_t port = 8080;
  // Largest request body accepted; bigger ones get 413.
  size_t max_body_bytes = 16u << 20;
  // Largest request header block accepted; bigger ones get 431.
  size_t max_header_bytes = 16u << 10;
  // Time allowed to receive one request (headers and body) and to send its response.
  std::chrono::milliseconds request_timeout{30000};
  // How long an idle keep-alive connection is kept open between requests.
  std::chrono::milliseconds keep_alive_timeout{60000};
  // Value of the Server header.
  std::string server_name = "parley";
  // Defaults of every accepted WebSocket connection.
  WsOptions websocket;

  // Ok when the values are usable; the message names the bad field.
  Status validate() const;
  // One-line description, for logs.
  std::string to_string() const;
};

// Live counts of a server.
struct ServerStats {
  // HTTP connections open now (not counting those upgraded to WebSocket).
  size_t http_connections = 0;
  // WebSocket connections open now.
  size_t websocket_connections = 0;
  // Requests answered since start.
  uint64_t requests = 0;
  // WebSocket upgrades accepted since start.
  uint64_t upgrades = 0;
};

// HTTP + WebSocket server. Register routes before start(); all other methods are thread-safe.
class Server {
 public:
  // A server whose sockets run on `io` (which must outlive it and be run by some threads).
  Server(boost::asio::io_context& io, ServerOptions options);
  // Stops the server (see stop()) if it is still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes `method` ("GET", "POST", ...; "*" for any) requests for exactly `path` to `handler`.
  // `path` may be a template with `{name}` segments ("/v1/api/sessions/{channel}/transcript"),
  // each matching one non-empty segment, read back with HttpRequest::path_param; exact routes
  // win over templates. A later registration of the same method and path replaces the earlier
  // one.
  void handle(std::string method, std::string path, HttpHandler handler);
  // Routes WebSocket upgrade requests for exactly `path` to `handler`; a plain request to that
  // path gets 426 Upgrade Required unless an HTTP route matches it too.
  void handle_websocket(std::string path, WsHandler handler);

  // Binds and starts accepting. Fails with kUnavailable (address in use, permission) or
  // kInvalidArgument (bad host or options), naming the address.
  Status start();
  // The bound port (the chosen one when the options said 0); 0 before start().
  uint16_t port() const;
  // "host:port" actually bound.
  std::string local_address() const;

  // Graceful stop: stops accepting, closes idle HTTP connections, sends Close 1001 to every
  // WebSocket connection and waits up to `grace` for them to finish, then drops what is left.
  // Blocks; never call it from one of the io_context's threads. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  // Current counts.
  ServerStats stats() const;

 private:
  std::shared_ptr<detail::ServerState> state_;
};

}  // namespace parley::net
