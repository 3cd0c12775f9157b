// net::Server: acceptor, HTTP/1.1 connections with keep-alive and body limits, routing, and the
// hand-over of upgrade requests to WsSession. The only server translation unit that sees Beast.
#include "parley/net/server.h"

#include <algorithm>
#include <ctime>
#include <future>
#include <map>

#include <spdlog/spdlog.h>

#include "beast_common.h"
#include "ws_session.h"

namespace parley::net {
namespace detail {

using ServerWsSession = WsSession<beast::tcp_stream>;

// Routes and shared state of one server; kept alive by its connections.
class ServerState : public std::enable_shared_from_this<ServerState> {
 public:
  ServerState(asio::io_context& io, ServerOptions options)
      : io(io), options(std::move(options)), acceptor(asio::make_strand(io)) {}

  asio::io_context& io;
  ServerOptions options;
  tcp::acceptor acceptor;
  std::map<std::pair<std::string, std::string>, HttpHandler> routes;  // (method, path)
  std::map<std::string, WsHandler> ws_routes;
  std::shared_ptr<ConnectionRegistry> registry = std::make_shared<ConnectionRegistry>();
  std::atomic<bool> running{false};
  std::atomic<bool> stopped{false};
  std::atomic<uint16_t> port{0};
  std::string local_address;
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> upgrades{0};

  void do_accept();
};

// The current time as an HTTP Date (RFC 7231 IMF-fixdate).
std::string http_date() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// One HTTP connection: reads a request, routes it, writes the response, and repeats while the
// client keeps the connection alive; or hands the socket to a WsSession.
class HttpConnection : public Stoppable, public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(tcp::socket socket, std::shared_ptr<ServerState> server)
      : stream_(std::move(socket)), server_(std::move(server)), id_(next_connection_id()) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? "unknown" : endpoint_string(ep);
  }

  ~HttpConnection() override { server_->registry->remove(id_); }

  void start() {
    server_->registry->add(id_, shared_from_this(), false);
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  // Called on the strand by a responder.
  void respond(HttpResponse response) {
    if (!awaiting_response_) return;
    awaiting_response_ = false;
    server_->requests.fetch_add(1, std::memory_order_relaxed);
    write(std::move(response), keep_alive_);
  }

  // Called on the strand by a WsUpgrade.
  void upgrade(WsCallbacks callbacks, std::string subprotocol) {
    if (!awaiting_response_) return;
    awaiting_response_ = false;
    server_->upgrades.fetch_add(1, std::memory_order_relaxed);
    server_->registry->remove(id_);
    upgraded_ = true;
    stream_.expires_never();
    auto session = std::make_shared<ServerWsSession>(server_->options.websocket, request_,
                                                     server_->registry, std::move(stream_));
    session->accept(parser_->release(), std::move(subprotocol), server_->options.server_name,
                    std::move(callbacks));
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }
  const HttpRequest& request() const { return request_; }

  void shutdown_gracefully() override {
    // Idle between requests: drop it. Busy: finish the current response, then close.
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      if (self->reading_) self->stream_.socket().cancel();
    });
  }
  void abort() override {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->stream_.socket().close(ignored);
    });
  }

 private:
  void do_read() {
    if (server_->stopped.load()) return close();
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    stream_.expires_after(first_request_ ? server_->options.request_timeout
                                         : server_->options.keep_alive_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->reading_ = false;
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    first_request_ = false;
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write(
          HttpResponse::json_error(
              413, "payload_too_large",
              "request body is over " + std::to_string(server_->options.max_body_bytes) + " bytes"),
          false);
    }
    if (ec == http::error::header_limit) {
      return write(HttpResponse::json_error(431, "headers_too_large",
                                            "request headers are over " +
                                                std::to_string(server_->options.max_header_bytes) +
                                                " bytes"),
                   false);
    }
    if (ec) {
      const bool malformed =
          ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message;
      if (malformed) {
        spdlog::debug("http {}: malformed request from {}: {}", id_, remote_, ec.message());
        return write(
            HttpResponse::json_error(400, "bad_request", "malformed HTTP request: " + ec.message()),
            false);
      }
      return close();
    }
    const BeastRequest& req = parser_->get();
    keep_alive_ = req.keep_alive() && !server_->stopped.load();
    request_ = to_http_request(req, remote_);
    awaiting_response_ = true;
    stream_.expires_after(server_->options.request_timeout);

    if (websocket::is_upgrade(req)) {
      auto it = server_->ws_routes.find(request_.path);
      if (it != server_->ws_routes.end()) {
        auto state = make_upgrade_state();
        it->second(WsUpgrade(std::move(state)));
        return;
      }
    }
    route();
  }

  std::shared_ptr<UpgradeState> make_upgrade_state();
  std::shared_ptr<ResponderState> make_responder_state();

  void route() {
    auto& routes = server_->routes;
    auto it = routes.find({request_.method, request_.path});
    if (it == routes.end()) it = routes.find({"*", request_.path});
    if (it == routes.end()) it = find_template_route(request_.method);
    if (it == routes.end()) it = find_template_route("*");
    if (it != routes.end()) {
      it->second(request_, HttpResponder(make_responder_state()));
      return;
    }
    if (server_->ws_routes.count(request_.path)) {
      auto r = HttpResponse::json_error(426, "upgrade_required",
                                        request_.path +
                                            " is a WebSocket endpoint: connect with "
                                            "ws:// (Upgrade: websocket)");
      r.headers.set("Upgrade", "websocket");
      return respond(std::move(r));
    }
    bool path_known = false;
    for (const auto& [key, handler] : routes)
      path_known |=
          key.second == request_.path || match_path_template(key.second, request_.path, nullptr);
    if (path_known) {
      return respond(HttpResponse::json_error(
          405, "method_not_allowed", request_.method + " is not allowed on " + request_.path));
    }
    respond(HttpResponse::json_error(404, "not_found", "no route for " + request_.path));
  }

  // The first route of `method` whose path template (one with `{name}` segments) matches the
  // request's path; its parameters go into request_.path_params.
  std::map<std::pair<std::string, std::string>, HttpHandler>::iterator find_template_route(
      const std::string& method) {
    auto& routes = server_->routes;
    for (auto it = routes.begin(); it != routes.end(); ++it) {
      if (it->first.first != method || it->first.second.find('{') == std::string::npos) continue;
      request_.path_params.clear();
      if (match_path_template(it->first.second, request_.path, &request_.path_params)) return it;
    }
    request_.path_params.clear();
    return routes.end();
  }

  void write(HttpResponse response, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(response.status));
    const std::string_view reason = http_status_reason(response.status);
    res->reason(beast::string_view(reason.data(), reason.size()));
    for (auto [name, value] : response.headers.fields()) {
      // A CR or LF would end the field early, and the rest of a value quoted from the request
      // (a decoded query parameter, say) would become forged headers or body: spaces instead.
      std::replace_if(
          value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
      res->insert(name, value);
    }
    if (!response.headers.has("Server"))
      res->set(http::field::server, server_->options.server_name);
    if (!response.headers.has("Date")) res->set(http::field::date, http_date());
    res->body() = std::move(response.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(server_->options.request_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive || !self->keep_alive_) return self->close();
                        self->do_read();
                      });
  }

  void close() {
    if (closed_ || upgraded_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
    server_->registry->remove(id_);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerState> server_;
  const uint64_t id_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  bool first_request_ = true;
  bool keep_alive_ = false;
  bool awaiting_response_ = false;
  bool reading_ = false;
  bool upgraded_ = false;
  bool closed_ = false;
};

// Shared by the copies of one HttpResponder.
class ResponderState {
 public:
  explicit ResponderState(std::shared_ptr<HttpConnection> conn) : conn_(std::move(conn)) {}
  ~ResponderState() {
    if (!sent_.exchange(true)) {
      deliver(HttpResponse::json_error(500, "internal", "the handler did not respond"));
    }
  }
  void send(HttpResponse response) {
    if (sent_.exchange(true)) return;
    deliver(std::move(response));
  }
  bool sent() const { return sent_.load(); }

 private:
  void deliver(HttpResponse response) {
    auto conn = conn_;
    asio::dispatch(conn->executor(),
                   [conn, r = std::move(response)]() mutable { conn->respond(std::move(r)); });
  }
  std::shared_ptr<HttpConnection> conn_;
  std::atomic<bool> sent_{false};
};

// Shared by the copies of one WsUpgrade.
class UpgradeState {
 public:
  explicit UpgradeState(std::shared_ptr<HttpConnection> conn) : conn_(std::move(conn)) {}
  ~UpgradeState() {
    if (!decided_.exchange(true)) {
      reject_now(HttpResponse::json_error(500, "internal", "the upgrade handler did not decide"));
    }
  }
  const HttpRequest& request() const { return conn_->request(); }
  void accept(WsCallbacks callbacks, std::string subprotocol) {
    if (decided_.exchange(true)) return;
    auto conn = conn_;
    asio::dispatch(conn->executor(),
                   [conn, cb = std::move(callbacks), sp = std::move(subprotocol)]() mutable {
                     conn->upgrade(std::move(cb), std::move(sp));
                   });
  }
  void reject(HttpResponse response) {
    if (decided_.exchange(true)) return;
    reject_now(std::move(response));
  }

 private:
  void reject_now(HttpResponse response) {
    auto conn = conn_;
    asio::dispatch(conn->executor(),
                   [conn, r = std::move(response)]() mutable { conn->respond(std::move(r)); });
  }
  std::shared_ptr<HttpConnection> conn_;
  std::atomic<bool> decided_{false};
};

std::shared_ptr<UpgradeState> HttpConnection::make_upgrade_state() {
  return std::make_shared<UpgradeState>(shared_from_this());
}
std::shared_ptr<ResponderState> HttpConnection::make_responder_state() {
  return std::make_shared<ResponderState>(shared_from_this());
}

void ServerState::do_accept() {
  acceptor.async_accept(asio::make_strand(io),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (!self->running.load()) return;
                          if (ec) {
                            // Out of descriptors or a reset before accept: keep serving the others.
                            spdlog::warn("server: accept failed: {}", ec.message());
                          } else {
                            socket.set_option(tcp::no_delay(true), ec);
                            std::make_shared<HttpConnection>(std::move(socket), self)->start();
                          }
                          self->do_accept();
                        });
}

}  // namespace detail

HttpResponder::HttpResponder(std::shared_ptr<detail::ResponderState> state)
    : state_(std::move(state)) {}
void HttpResponder::send(HttpResponse response) const { state_->send(std::move(response)); }
bool HttpResponder::sent() const { return state_->sent(); }

WsUpgrade::WsUpgrade(std::shared_ptr<detail::UpgradeState> state) : state_(std::move(state)) {}
const HttpRequest& WsUpgrade::request() const { return state_->request(); }
std::vector<std::string> WsUpgrade::offered_subprotocols() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : request().headers.fields()) {
    if (!detail::beast::iequals(name, "Sec-WebSocket-Protocol")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) out.emplace_back(item);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return out;
}
void WsUpgrade::accept(WsCallbacks callbacks, std::string subprotocol) const {
  state_->accept(std::move(callbacks), std::move(subprotocol));
}
void WsUpgrade::reject(HttpResponse response) const { state_->reject(std::move(response)); }

Server::Server(boost::asio::io_context& io, ServerOptions options)
    : state_(std::make_shared<detail::ServerState>(io, std::move(options))) {}

Server::~Server() { stop(std::chrono::milliseconds(1000)); }

void Server::handle(std::string method, std::string path, HttpHandler handler) {
  state_->routes[{std::move(method), std::move(path)}] = std::move(handler);
}

void Server::handle_websocket(std::string path, WsHandler handler) {
  state_->ws_routes[std::move(path)] = std::move(handler);
}

Status Server::start() {
  namespace asio = detail::asio;
  using detail::tcp;
  PARLEY_RETURN_IF_ERROR(state_->options.validate());
  if (state_->running.load()) return failed_precondition("server already started");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(state_->options.host, ec);
  if (ec) {
    return invalid_argument("server host '" + state_->options.host +
                            "' is not an IP address (use e.g. 0.0.0.0 or 127.0.0.1)");
  }
  const tcp::endpoint endpoint(address, state_->options.port);
  const std::string where = detail::endpoint_string(endpoint);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return unavailable("cannot listen on " + where + ": " + ec.message() +
                       (ec == asio::error::address_in_use ? " (choose another --port)" : ""));
  }
  const auto bound = acceptor.local_endpoint(ec);
  state_->port = bound.port();
  state_->local_address = detail::endpoint_string(bound);
  state_->running = true;
  asio::dispatch(acceptor.get_executor(), [state = state_] { state->do_accept(); });
  return Status::ok();
}

uint16_t Server::port() const { return state_->port.load(); }
std::string Server::local_address() const { return state_->local_address; }

void Server::stop(std::chrono::milliseconds grace) {
  if (!state_->running.exchange(false)) return;
  state_->stopped = true;
  // Close the acceptor on its strand; if the io_context is not running, close it from here.
  auto closed = std::make_shared<std::promise<void>>();
  detail::asio::post(state_->acceptor.get_executor(), [state = state_, closed] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    closed->set_value();
  });
  if (closed->get_future().wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& c : state_->registry->snapshot()) c->shutdown_gracefully();
  if (!state_->registry->wait_empty(deadline)) {
    for (auto& c : state_->registry->snapshot()) c->abort();
    state_->registry->wait_empty(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  }
}

ServerStats Server::stats() const {
  ServerStats s;
  s.http_connections = state_->registry->http_count();
  s.websocket_connections = state_->registry->ws_count();
  s.requests = state_->requests.load();
  s.upgrades = state_->upgrades.load();
  return s;
}

}  // namespace parley::net
