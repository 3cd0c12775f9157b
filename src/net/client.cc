// HTTP (streamed body) and WebSocket clients over TCP or TLS. The only client translation unit
// that sees Beast and OpenSSL.
#include "parley/net/client.h"

#include <array>
#include <future>
#include <limits>
#include <type_traits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "beast_common.h"
#include "ws_session.h"

namespace parley::net {
namespace detail {
namespace ssl = boost::asio::ssl;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The process-wide TLS context trusting the system store, or a private one for custom options.
std::shared_ptr<ssl::context> tls_context(const TlsOptions& options) {
  auto make = [](const TlsOptions& o) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (o.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(o.ca_file, ec);
    }
    if (ec) spdlog::warn("tls: cannot load trusted CAs ({}): {}", o.ca_file, ec.message());
    ctx->set_verify_mode(o.verify_peer ? ssl::verify_peer : ssl::verify_none);
    return ctx;
  };
  if (options.verify_peer && options.ca_file.empty()) {
    static const std::shared_ptr<ssl::context> shared = make(options);
    return shared;
  }
  return make(options);
}

template <class S>
constexpr bool kIsTls = std::is_same_v<S, TlsStream>;

// Sets SNI and host-name verification on a TLS stream before its handshake.
Status prepare_tls(TlsStream& stream, const Url& url, const TlsOptions& tls) {
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
    return unavailable("TLS: cannot set the server name " + url.host);
  }
  if (tls.verify_peer) stream.set_verify_callback(ssl::host_name_verification(url.host));
  return Status::ok();
}

Status net_error(const Url& url, std::string_view step, const beast::error_code& ec) {
  if (ec == asio::error::operation_aborted)
    return cancelled("request to " + url.to_string() + " cancelled");
  if (ec == beast::error::timeout) {
    return deadline_exceeded(fmt::format("{} {}: timed out", url.to_string(), step));
  }
  return unavailable(fmt::format("{} {}: {}", url.to_string(), step, ec.message()));
}

// Over TLS: sets SNI and host-name checks and runs the client handshake; then calls `done` with
// the outcome (at once over plain TCP).
template <class Stream, class Done>
void start_tls(Stream& stream, const Url& url, const TlsOptions& tls, Done done) {
  if constexpr (kIsTls<Stream>) {
    if (auto st = prepare_tls(stream, url, tls); !st.is_ok()) return done(std::move(st));
    stream.async_handshake(ssl::stream_base::client,
                           [&url, done = std::move(done)](beast::error_code ec) mutable {
                             done(ec ? net_error(url, "TLS", ec) : Status::ok());
                           });
  } else {
    done(Status::ok());
  }
}

// Resolves `url`, connects the TCP layer of `stream` (the timer limits this and what follows
// until the caller changes it), then start_tls(); `done` gets the outcome. Call it on the
// resolver's strand; `done` must keep the resolver, the stream, `url` and `tls` alive.
template <class Stream, class Done>
void open_transport(tcp::resolver& resolver, Stream& stream, const Url& url, const TlsOptions& tls,
                    std::chrono::milliseconds timeout, Done done) {
  auto on_resolved = [&stream, &url, &tls, timeout, done = std::move(done)](
                         beast::error_code ec, tcp::resolver::results_type results) mutable {
    if (ec) return done(net_error(url, "resolve", ec));
    auto& socket = beast::get_lowest_layer(stream);
    socket.expires_after(timeout);
    socket.async_connect(results, [&stream, &url, &tls, done = std::move(done)](
                                      beast::error_code ec, const tcp::endpoint&) mutable {
      if (ec) return done(net_error(url, "connect", ec));
      start_tls(stream, url, tls, std::move(done));
    });
  };
  resolver.async_resolve(url.host, std::to_string(url.port), std::move(on_resolved));
}

// Shared base of a request in flight, so HttpCall can cancel it without knowing its stream.
class HttpCallState {
 public:
  virtual ~HttpCallState() = default;
  virtual void cancel() = 0;
};

// One HTTP request over Stream (tcp_stream or TlsStream): resolve, connect, handshake, write,
// read the headers, then stream the body.
template <class Stream>
class HttpCallOp final : public HttpCallState,
                         public std::enable_shared_from_this<HttpCallOp<Stream>> {
 public:
  template <class... Args>
  HttpCallOp(asio::io_context& io, Url url, HttpClientRequest request, HttpStreamHandlers handlers,
             Args&&... stream_args)
      : resolver_(asio::make_strand(io)),
        stream_(resolver_.get_executor(), std::forward<Args>(stream_args)...),
        url_(std::move(url)),
        request_(std::move(request)),
        handlers_(std::move(handlers)) {}

  void run() {
    asio::dispatch(resolver_.get_executor(), [self = this->shared_from_this()] {
      open_transport(self->resolver_, self->stream_, self->url_, self->request_.tls,
                     self->request_.connect_timeout, [self](Status st) {
                       if (!st.is_ok()) return self->finish(std::move(st));
                       self->write();
                     });
    });
  }

  // Keeps `p` (the TLS context) alive as long as the stream.
  void hold(std::shared_ptr<void> p) { held_ = std::move(p); }

  void cancel() override {
    asio::dispatch(resolver_.get_executor(), [self = this->shared_from_this()] {
      self->cancelled_ = true;
      self->resolver_.cancel();
      self->lowest().cancel();
    });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void write() {
    req_.method_string(request_.method);
    req_.target(url_.target);
    req_.version(11);
    for (const auto& [name, value] : request_.headers.fields()) req_.insert(name, value);
    if (!request_.headers.has("Host")) req_.set(http::field::host, url_.host_header());
    if (!request_.headers.has("User-Agent")) req_.set(http::field::user_agent, "parley");
    req_.body() = std::move(request_.body);
    req_.keep_alive(false);
    req_.prepare_payload();
    http::async_write(
        stream_, req_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->finish(net_error(self->url_, "send", ec));
          // Not boost::none: Beast 1.74 compares `length > none` as true (body_limit error).
          self->parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
          http::async_read_header(self->stream_, self->buffer_, self->parser_,
                                  [self](beast::error_code ec, size_t) { self->got_headers(ec); });
        });
  }

  void got_headers(beast::error_code ec) {
    if (ec) return finish(net_error(url_, "read headers", ec));
    if (handlers_.on_headers) {
      HttpHeaders headers;
      for (const auto& f : parser_.get()) {
        headers.add(std::string(f.name_string()), std::string(f.value()));
      }
      handlers_.on_headers(static_cast<int>(parser_.get().result_int()), headers);
    }
    read_body();
  }

  void read_body() {
    if (parser_.is_done()) return finish(Status::ok());
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    lowest().expires_after(request_.read_timeout);
    http::async_read_some(stream_, buffer_, parser_,
                          [self = this->shared_from_this()](beast::error_code ec, size_t) {
                            if (ec == http::error::need_buffer) ec = {};
                            const size_t n = self->chunk_.size() - self->parser_.get().body().size;
                            if (n > 0 && self->handlers_.on_body) {
                              self->handlers_.on_body(std::string_view(self->chunk_.data(), n));
                            }
                            if (ec) return self->finish(net_error(self->url_, "read body", ec));
                            self->read_body();
                          });
  }

  void finish(Status status) {
    if (done_) return;
    done_ = true;
    if (cancelled_ && !status.is_ok())
      status = cancelled("request to " + url_.to_string() + " cancelled");
    beast::error_code ignored;
    lowest().socket().close(ignored);
    if (handlers_.on_done) handlers_.on_done(status);
    handlers_ = {};
  }

  std::shared_ptr<void> held_;  // declared first: destroyed after the stream
  tcp::resolver resolver_;
  Stream stream_;
  Url url_;
  HttpClientRequest request_;
  HttpStreamHandlers handlers_;
  http::request<http::string_body> req_;
  http::response_parser<http::buffer_body> parser_;
  beast::flat_buffer buffer_;
  std::array<char, 16384> chunk_{};
  bool cancelled_ = false;
  bool done_ = false;
};

// Opens one WebSocket connection over NextLayer (tcp_stream or TlsStream).
template <class NextLayer>
class WsConnectOp final : public std::enable_shared_from_this<WsConnectOp<NextLayer>> {
 public:
  using Session = WsSession<NextLayer>;

  template <class... Args>
  WsConnectOp(asio::io_context& io, Url url, WsClientOptions options, WsCallbacks callbacks,
              WsConnectHandler on_connected, Args&&... stream_args)
      : resolver_(asio::make_strand(io)),
        url_(std::move(url)),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        on_connected_(std::move(on_connected)) {
    HttpRequest sent;
    sent.method = "GET";
    sent.target = url_.target;
    split_target(sent.target, sent.path, sent.query);
    sent.headers = options_.headers;
    session_ =
        std::make_shared<Session>(options_.websocket, std::move(sent), nullptr,
                                  resolver_.get_executor(), std::forward<Args>(stream_args)...);
  }

  // Keeps `p` (the TLS context) alive as long as the connection.
  void hold(std::shared_ptr<void> p) { session_->hold(std::move(p)); }

  void run() {
    asio::dispatch(resolver_.get_executor(), [self = this->shared_from_this()] {
      open_transport(self->resolver_, self->session_->stream().next_layer(), self->url_,
                     self->options_.tls, self->options_.connect_timeout, [self](Status st) {
                       if (!st.is_ok()) return self->fail(std::move(st));
                       self->handshake();
                     });
    });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(session_->stream()); }

  void handshake() {
    auto& ws = session_->stream();
    lowest().expires_never();  // the websocket stream runs its own handshake timer from here
    session_->configure(beast::role_type::client);
    std::string protocols;
    for (const auto& p : options_.subprotocols) protocols += (protocols.empty() ? "" : ", ") + p;
    ws.set_option(websocket::stream_base::decorator(
        [headers = options_.headers, protocols](websocket::request_type& req) {
          req.set(http::field::user_agent, "parley");
          if (!protocols.empty()) req.set(http::field::sec_websocket_protocol, protocols);
          for (const auto& [name, value] : headers.fields()) req.set(name, value);
        }));
    ws.async_handshake(
        res_, url_.host_header(), url_.target,
        [self = this->shared_from_this()](beast::error_code ec) { self->handshaken(ec); });
  }

  void handshaken(beast::error_code ec) {
    if (ec == websocket::error::upgrade_declined) {
      std::string body = res_.body();
      if (body.size() > 1000) body.resize(1000);
      return fail(unavailable(fmt::format("{} refused the WebSocket upgrade: HTTP {} {}",
                                          url_.to_string(), res_.result_int(), body)));
    }
    if (ec) return fail(net_error(url_, "WebSocket handshake", ec));
    const auto sp = res_[http::field::sec_websocket_protocol];
    session_->start_client(std::string(sp), std::move(callbacks_));
    auto handler = std::move(on_connected_);
    handler(std::shared_ptr<WsConnection>(session_));
  }

  void fail(Status status) {
    auto handler = std::move(on_connected_);
    if (handler) handler(std::move(status));
  }

  tcp::resolver resolver_;
  Url url_;
  WsClientOptions options_;
  WsCallbacks callbacks_;
  WsConnectHandler on_connected_;
  std::shared_ptr<Session> session_;
  websocket::response_type res_;
};

}  // namespace detail

void HttpCall::cancel() const {
  if (state_) state_->cancel();
}

HttpCall http_stream(boost::asio::io_context& io, HttpClientRequest request,
                     HttpStreamHandlers handlers) {
  using namespace detail;
  auto url = parse_url(request.url);
  if (!url.is_ok() || (url->scheme != "http" && url->scheme != "https")) {
    Status st = url.is_ok() ? invalid_argument("'" + request.url + "' is not an http(s) URL")
                            : url.status();
    asio::post(io, [h = std::move(handlers.on_done), st] {
      if (h) h(st);
    });
    return HttpCall();
  }
  if (url->secure()) {
    auto ctx = tls_context(request.tls);
    auto op = std::make_shared<HttpCallOp<TlsStream>>(io, *url, std::move(request),
                                                      std::move(handlers), *ctx);
    op->hold(std::move(ctx));
    op->run();
    return HttpCall(op);
  }
  auto op = std::make_shared<HttpCallOp<beast::tcp_stream>>(io, *url, std::move(request),
                                                            std::move(handlers));
  op->run();
  return HttpCall(op);
}

Result<HttpResponse> http_fetch(boost::asio::io_context& io, HttpClientRequest request) {
  auto response = std::make_shared<HttpResponse>();
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  HttpStreamHandlers handlers;
  handlers.on_headers = [response](int status, const HttpHeaders& headers) {
    response->status = status;
    response->headers = headers;
  };
  handlers.on_body = [response](std::string_view chunk) { response->body.append(chunk); };
  handlers.on_done = [done](const Status& st) { done->set_value(st); };
  http_stream(io, std::move(request), std::move(handlers));
  Status st = future.get();
  if (!st.is_ok()) return st;
  return std::move(*response);
}

void ws_connect(boost::asio::io_context& io, std::string url_text, WsClientOptions options,
                WsCallbacks callbacks, WsConnectHandler on_connected) {
  using namespace detail;
  auto url = parse_url(url_text);
  Status bad;
  if (!url.is_ok()) {
    bad = url.status();
  } else if (url->scheme != "ws" && url->scheme != "wss") {
    bad = invalid_argument("'" + url_text + "' is not a ws:// or wss:// URL");
  } else if (auto st = options.websocket.validate(); !st.is_ok()) {
    bad = st;
  }
  if (!bad.is_ok()) {
    asio::post(io, [h = std::move(on_connected), bad] { h(bad); });
    return;
  }
  if (url->secure()) {
    auto ctx = tls_context(options.tls);
    auto op = std::make_shared<WsConnectOp<TlsStream>>(
        io, *url, std::move(options), std::move(callbacks), std::move(on_connected), *ctx);
    op->hold(std::move(ctx));
    op->run();
    return;
  }
  std::make_shared<WsConnectOp<beast::tcp_stream>>(io, *url, std::move(options),
                                                   std::move(callbacks), std::move(on_connected))
      ->run();
}

Result<std::shared_ptr<WsConnection>> ws_connect_sync(boost::asio::io_context& io, std::string url,
                                                      WsClientOptions options,
                                                      WsCallbacks callbacks) {
  auto done = std::make_shared<std::promise<Result<std::shared_ptr<WsConnection>>>>();
  auto future = done->get_future();
  ws_connect(io, std::move(url), std::move(options), std::move(callbacks),
             [done](Result<std::shared_ptr<WsConnection>> r) { done->set_value(std::move(r)); });
  return future.get();
}

}  // namespace parley::net
