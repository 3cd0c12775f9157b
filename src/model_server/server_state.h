// Private to src/model_server/: the state a ModelServer shares with its request handlers, and the
// handlers that live in their own files.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "model_server/model_server.h"
#include "parley/net/http.h"
#include "parley/net/server.h"
#include "speech/decoder_pool.h"

namespace parley::model_server {

struct ModelServer::State {
  State(std::shared_ptr<Runtime> rt, ModelServerConfig cfg)
      : runtime(std::move(rt)),
        config(std::move(cfg)),
        pool(config.pocketsphinx, config.warm_decoders, config.decoders) {}

  void set_readiness(Readiness r, std::string why) {
    std::lock_guard lock(mu);
    readiness = r;
    reason = std::move(why);
  }
  Readiness get_readiness(std::string* why) const {
    std::lock_guard lock(mu);
    if (why) *why = reason;
    return readiness;
  }

  std::shared_ptr<Runtime> runtime;
  ModelServerConfig config;
  speech::DecoderPool pool;
  std::unique_ptr<net::Server> server;
  mutable std::mutex mu;
  Readiness readiness = Readiness::kLoading;  // guarded by mu
  std::string reason = "starting";            // guarded by mu
};

// POST /invocations (invocations.cc).
void handle_invocations(const std::shared_ptr<ModelServer::State>& state,
                        const net::HttpRequest& request, net::HttpResponder respond);

// Opens a /v1/listen stream (or the bidirectional route's listen) with `query` (model_server.cc).
void upgrade_listen(const std::shared_ptr<ModelServer::State>& state, const net::WsUpgrade& up,
                    const std::vector<net::QueryParam>& query);
// Opens a /v1/speak stream with `query` (model_server.cc).
void upgrade_speak(const std::shared_ptr<ModelServer::State>& state, const net::WsUpgrade& up,
                   const std::vector<net::QueryParam>& query);

}  // namespace parley::model_server
