// HTTP and WebSocket clients over plain TCP or TLS (OpenSSL, peer and host name verified),
// without Boost.Beast in this header.
//
// http_stream() delivers a response body chunk by chunk as it arrives (Server-Sent Events from an
// LLM, for example: feed the chunks to an SseParser); http_fetch() is the blocking convenience.
// ws_connect() opens a WsConnection (websocket.h) with the same callbacks, queueing and
// keep-alive as the server side.
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/net/http.h"
#include "parley/net/websocket.h"
#include "parley/status.h"

namespace parley::net {

// How TLS connections check the server.
struct TlsOptions {
  // Verify the certificate chain and the host name (leave on outside tests).
  bool verify_peer = true;
  // PEM file of trusted CAs; empty uses the system store (Debian's ca-certificates).
  std::string ca_file;
};

// One HTTP request to send.
struct HttpClientRequest {
  std::string method = "GET";
  // Absolute http:// or https:// URL.
  std::string url;
  HttpHeaders headers;
  std::string body;
  // Limit on resolving, connecting, the TLS handshake and receiving the response headers.
  std::chrono::milliseconds connect_timeout{10000};
  // Longest silence allowed between body chunks once the headers arrived (streams may be long).
  std::chrono::milliseconds read_timeout{60000};
  TlsOptions tls;
};

// Receives a streamed response. Every callback runs on an I/O thread and must not block.
struct HttpStreamHandlers {
  // The status line and headers arrived.
  std::function<void(int status, const HttpHeaders& headers)> on_headers;
  // A piece of the (de-chunked) body arrived.
  std::function<void(std::string_view chunk)> on_body;
  // Called exactly once: ok after the whole body, or the error (kCancelled after cancel()).
  std::function<void(const Status& status)> on_done;
};

namespace detail {
class HttpCallState;
}

// Handle of a request in flight.
class HttpCall {
 public:
  HttpCall() = default;
  explicit HttpCall(std::shared_ptr<detail::HttpCallState> state) : state_(std::move(state)) {}
  // Aborts the request; on_done then reports kCancelled (unless it already finished). Thread-safe.
  void cancel() const;

 private:
  std::shared_ptr<detail::HttpCallState> state_;
};

// Sends `request` and streams the response to `handlers`. Content-Length is set from the body;
// Host and User-Agent are added when missing.
HttpCall http_stream(boost::asio::io_context& io, HttpClientRequest request,
                     HttpStreamHandlers handlers);

// Sends `request` and waits for the whole response. Blocks: `io` must be run by other threads.
Result<HttpResponse> http_fetch(boost::asio::io_context& io, HttpClientRequest request);

// Options of a WebSocket client connection.
struct WsClientOptions {
  // Extra handshake headers, e.g. Authorization.
  HttpHeaders headers;
  // Subprotocols to offer in Sec-WebSocket-Protocol.
  std::vector<std::string> subprotocols;
  // Limit on resolving, connecting, TLS and the opening handshake.
  std::chrono::milliseconds connect_timeout{10000};
  // Keep-alive and limits once open (clients do not ping by default).
  WsOptions websocket{.ping_interval = std::chrono::milliseconds(0)};
  TlsOptions tls;
};

// Called once with the open connection, or with why it could not be opened (for a refused
// handshake: the HTTP status and the response body, e.g. a JSON error).
using WsConnectHandler = std::function<void(Result<std::shared_ptr<WsConnection>> connection)>;

// Opens a WebSocket connection to a ws:// or wss:// `url`. `callbacks.on_open` runs before
// `on_connected` receives the connection.
void ws_connect(boost::asio::io_context& io, std::string url, WsClientOptions options,
                WsCallbacks callbacks, WsConnectHandler on_connected);

// ws_connect() that waits for the outcome. Blocks: `io` must be run by other threads.
Result<std::shared_ptr<WsConnection>> ws_connect_sync(boost::asio::io_context& io, std::string url,
                                                      WsClientOptions options,
                                                      WsCallbacks callbacks);

}  // namespace parley::net
