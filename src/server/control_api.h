// The control API of `parley serve`: JSON over HTTP under /v1/api/ (generate, start, stop, ping,
// graphs, sessions, transcript), /health and /metrics, and the TEN server's routes (/start, /stop,
// /ping, /token/generate, /graphs, /list) with TEN's {code,msg,data} envelope. Handlers never block
// an I/O thread: session starts and stops answer from callbacks, file and database reads run on
// the compute pool. docs/protocol.md documents every route.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "graph_catalog.h"
#include "hub.h"
#include "metrics.h"
#include "parley/net/server.h"
#include "parley/runtime.h"
#include "parley/server/store.h"
#include "parley/server/token.h"
#include "sessions.h"

namespace parley::server {

// Settings of the control API.
struct ControlApiOptions {
  // Required on /v1/api/* and the TEN routes when not empty (Authorization: Bearer / X-API-Key).
  std::string api_key;
  // Allowed CORS origins: "*", a comma-separated list, or "" for no CORS headers.
  std::string cors_origins = "*";
  // Validity of the tokens /generate issues when the request does not say.
  int64_t token_ttl_s = 86400;
};

// Everything the routes use; owned by the SessionServer, which outlives the routes.
struct ControlApiContext {
  ControlApiOptions options;
  Runtime* runtime = nullptr;
  SessionManager* sessions = nullptr;
  Hub* hub = nullptr;
  GraphCatalog* catalog = nullptr;
  Store* store = nullptr;
  ServerMetrics* metrics = nullptr;
  const TokenSigner* signer = nullptr;
  const net::Server* server = nullptr;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  // True once the server is shutting down (/health says so).
  std::function<bool()> draining;
};

// Registers every route (and the /v1/rtc WebSocket endpoint) on `server`.
void register_control_api(net::Server& server, std::shared_ptr<ControlApiContext> context,
                          std::shared_ptr<Hub> hub);

}  // namespace parley::server
