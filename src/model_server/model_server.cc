// ModelServer: routes, readiness, model loading, decoder admission and the echo route.
#include "model_server/model_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "model_server/deepgram_messages.h"
#include "model_server/server_state.h"
#include "model_server/speak_session.h"
#include "speech/espeak_synthesizer.h"

namespace parley::model_server {
namespace {

namespace asio = boost::asio;
using StatePtr = std::shared_ptr<ModelServer::State>;

// The subprotocol to answer: browsers pass Deepgram keys as ["token", KEY]; a client that offers
// subprotocols fails the handshake unless one is chosen.
std::string pick_subprotocol(const net::WsUpgrade& up) {
  const auto offered = up.offered_subprotocols();
  for (const auto& p : offered) {
    if (p == "token" || p == "bearer") return p;
  }
  return offered.empty() ? std::string() : offered.front();
}

void ping(const StatePtr& state, net::HttpResponder respond) {
  std::string reason;
  switch (state->get_readiness(&reason)) {
    case Readiness::kReady: {
      const auto stats = state->pool.stats();
      respond.send(net::HttpResponse::json(
          200, {{"status", "ok"},
                {"decoders", {{"idle", stats.idle}, {"in_use", stats.in_use}, {"max", stats.max}}},
                {"streams", state->server->stats().websocket_connections}}));
      return;
    }
    case Readiness::kLoading:
      respond.send(net::HttpResponse::json(503, {{"status", "loading"}, {"reason", reason}}));
      return;
    case Readiness::kFailed:
      respond.send(net::HttpResponse::json(503, {{"status", "error"}, {"reason", reason}}));
      return;
  }
}

// Callbacks of the echo route: text back as text, binary back as binary; a JSON CloseStream or
// Close (in either frame type) ends the stream with 1000.
net::WsCallbacks echo_callbacks() {
  auto handle = [](const std::shared_ptr<net::WsConnection>& c, std::string data, bool text) {
    if (const auto type = control_type(data);
        type && (*type == "CloseStream" || *type == "Close")) {
      c->close(net::ws_close::kNormal, "");
      return;
    }
    (void)(text ? c->send_text(std::move(data)) : c->send_binary(std::move(data)));
  };
  net::WsCallbacks cb;
  cb.on_text = [handle](const std::shared_ptr<net::WsConnection>& c, std::string d) {
    handle(c, std::move(d), true);
  };
  cb.on_binary = [handle](const std::shared_ptr<net::WsConnection>& c, std::string d) {
    handle(c, std::move(d), false);
  };
  return cb;
}

// Tries to lend a decoder to a new listen stream, retrying every 50 ms until `deadline` when
// the server queues; runs on the compute pool because a cold decoder loads for ~0.4 s.
void admit_listen(StatePtr state, net::WsUpgrade up, ListenParams params, std::string request_id,
                  std::chrono::steady_clock::time_point deadline) {
  auto lease = state->pool.try_acquire();
  if (lease.is_ok()) {
    auto session = ListenSession::create(state->runtime->compute(), std::move(*lease),
                                         std::move(params), state->config.listen, request_id);
    up.accept(session->callbacks(), pick_subprotocol(up));
    return;
  }
  const bool busy = lease.status().code() == StatusCode::kUnavailable;
  if (busy && state->config.queue_when_busy && std::chrono::steady_clock::now() < deadline) {
    auto timer = std::make_shared<asio::steady_timer>(state->runtime->io());
    timer->expires_after(std::chrono::milliseconds(50));
    timer->async_wait([state, up, params = std::move(params), request_id, deadline,
                       timer](boost::system::error_code) mutable {
      asio::post(state->runtime->compute(),
                 [state, up, params = std::move(params), request_id, deadline]() mutable {
                   admit_listen(state, up, std::move(params), request_id, deadline);
                 });
    });
    return;
  }
  if (busy) {
    up.reject(deepgram_error(
        503, "BUSY",
        fmt::format("all {} speech decoders are in use; retry later, or start the server with "
                    "more --decoders or --when-busy queue",
                    state->config.decoders),
        request_id));
  } else {
    up.reject(deepgram_error(503, "MODEL_UNAVAILABLE", lease.status().message(), request_id));
  }
}

// Refuses `up` when its parameters are bad (400, the parse error) or the models are still
// loading (503); true when the stream may open.
bool may_open_stream(const StatePtr& state, const net::WsUpgrade& up, const Status& params,
                     const std::string& request_id) {
  if (!params.is_ok()) {
    up.reject(deepgram_error(400, "INVALID_QUERY_PARAMETER", params.message(), request_id));
    return false;
  }
  std::string reason;
  if (state->get_readiness(&reason) != Readiness::kReady) {
    up.reject(deepgram_error(503, "MODEL_LOADING", "the speech models are not ready: " + reason,
                             request_id));
    return false;
  }
  return true;
}

}  // namespace

void upgrade_listen(const StatePtr& state, const net::WsUpgrade& up,
                    const std::vector<net::QueryParam>& query) {
  std::string request_id = new_request_id();
  auto params = ListenParams::parse(query);
  if (!may_open_stream(state, up, params.status(), request_id)) return;
  const auto deadline = std::chrono::steady_clock::now() + state->config.queue_timeout;
  asio::post(state->runtime->compute(),
             [state, up, p = std::move(*params), request_id, deadline]() mutable {
               admit_listen(state, up, std::move(p), request_id, deadline);
             });
}

void upgrade_speak(const StatePtr& state, const net::WsUpgrade& up,
                   const std::vector<net::QueryParam>& query) {
  std::string request_id = new_request_id();
  auto params = SpeakParams::parse(query);
  if (!may_open_stream(state, up, params.status(), request_id)) return;
  auto session = SpeakSession::create(std::move(*params), request_id);
  up.accept(session->callbacks(), pick_subprotocol(up));
}

Status ModelServerConfig::validate() const {
  if (decoders < 1) return invalid_argument("--decoders must be at least 1");
  if (warm_decoders > decoders) {
    return invalid_argument(
        fmt::format("--warm-decoders ({}) is more than --decoders ({})", warm_decoders, decoders));
  }
  if (listen.audio_timeout.count() <= 0) return invalid_argument("the audio timeout must be > 0");
  PARLEY_RETURN_IF_ERROR(websocket.validate());
  return pocketsphinx.validate();
}

std::string ModelServerConfig::to_string() const {
  return fmt::format(
      "{}:{}, bidirectional route {}, {} decoders ({} warm), when busy: {}, audio timeout {} "
      "ms; websocket: {}",
      host, port, bidi_route_name(bidi_route), decoders, warm_decoders,
      queue_when_busy ? fmt::format("queue up to {} ms", queue_timeout.count()) : "refuse (503)",
      listen.audio_timeout.count(), websocket.to_string());
}

ModelServer::ModelServer(std::shared_ptr<Runtime> runtime, ModelServerConfig config)
    : state_(std::make_shared<State>(std::move(runtime), std::move(config))) {}

ModelServer::~ModelServer() { stop(std::chrono::milliseconds(1000)); }

Status ModelServer::start() {
  PARLEY_RETURN_IF_ERROR(state_->config.validate());
  net::ServerOptions options;
  options.host = state_->config.host;
  options.port = state_->config.port;
  options.max_body_bytes = state_->config.max_body_bytes;
  options.websocket = state_->config.websocket;
  options.server_name = "parley-model-server";
  state_->server = std::make_unique<net::Server>(state_->runtime->io(), options);
  auto& server = *state_->server;
  // Handlers hold the state weakly: the server (inside the state) must not keep it alive.
  std::weak_ptr<State> weak = state_;
  for (const char* method : {"GET", "POST"}) {
    server.handle(method, "/ping", [weak](const net::HttpRequest&, net::HttpResponder r) {
      if (auto s = weak.lock()) ping(s, std::move(r));
    });
  }
  server.handle("POST", "/invocations", [weak](const net::HttpRequest& req, net::HttpResponder r) {
    if (auto s = weak.lock()) handle_invocations(s, req, std::move(r));
  });
  server.handle_websocket("/invocations-bidirectional-stream", [weak](net::WsUpgrade up) {
    auto s = weak.lock();
    if (!s) return;
    BidiRoute route = s->config.bidi_route;
    std::vector<net::QueryParam> query;
    for (const auto& [k, v] : up.request().query) {
      if (k != "route") {
        query.emplace_back(k, v);
        continue;
      }
      auto r = parse_bidi_route(v);
      if (!r.is_ok()) {
        up.reject(net::HttpResponse::json_error(400, "invalid_route", r.status().message()));
        return;
      }
      route = *r;
    }
    if (route == BidiRoute::kListen) return upgrade_listen(s, up, query);
    if (route == BidiRoute::kSpeak) return upgrade_speak(s, up, query);
    if (!query.empty()) {
      up.reject(net::HttpResponse::json_error(
          400, "invalid_parameter",
          "the echo route takes no parameters (got '" + query.front().first + "')"));
      return;
    }
    up.accept(echo_callbacks(), pick_subprotocol(up));
  });
  server.handle_websocket("/v1/listen", [weak](net::WsUpgrade up) {
    if (auto s = weak.lock()) upgrade_listen(s, up, up.request().query);
  });
  server.handle_websocket("/v1/speak", [weak](net::WsUpgrade up) {
    if (auto s = weak.lock()) upgrade_speak(s, up, up.request().query);
  });
  PARLEY_RETURN_IF_ERROR(server.start());

  state_->set_readiness(Readiness::kLoading,
                        fmt::format("loading {} PocketSphinx decoder(s) and eSpeak NG",
                                    state_->config.warm_decoders));
  asio::post(state_->runtime->compute(), [weak] {
    auto s = weak.lock();
    if (!s) return;
    const auto t0 = std::chrono::steady_clock::now();
    Status st = s->pool.prewarm();
    if (st.is_ok()) st = speech::EspeakService::instance().start();
    if (!st.is_ok()) {
      spdlog::error("model-serve: models failed to load: {}", st.to_string());
      s->set_readiness(Readiness::kFailed, st.message());
      return;
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    spdlog::info("model-serve: models ready in {} ms ({})", ms, s->pool.stats().to_string());
    s->set_readiness(Readiness::kReady, "");
  });
  return Status::ok();
}

uint16_t ModelServer::port() const { return state_->server ? state_->server->port() : 0; }

std::string ModelServer::local_address() const {
  return state_->server ? state_->server->local_address() : std::string();
}

Readiness ModelServer::readiness(std::string* reason) const {
  return state_->get_readiness(reason);
}

void ModelServer::stop(std::chrono::milliseconds grace) {
  if (state_->server) state_->server->stop(grace);
}

net::ServerStats ModelServer::stats() const {
  return state_->server ? state_->server->stats() : net::ServerStats{};
}

}  // namespace parley::model_server
