// The session server behind `parley serve`: control API, channel hub, session supervision and
// store on one port. Create, start (binds; port() then tells the bound port), and shut down.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parley/status.h"

namespace parley::server {

// Everything `parley serve` can configure (flags and environment variables, see cmd_serve.cc).
struct ServerConfig {
  // Bind address and port (SERVER_PORT); port 0 lets the kernel choose.
  std::string host = "0.0.0.0";
  uint16_t port = 8080;
  // Directory of graph files sessions may run.
  std::string graphs_dir = "graphs";
  // "process" (a `parley agent` worker per session) or "thread" (engines in the server).
  std::string isolation = "process";
  // WORKERS_MAX: sessions alive at once.
  int workers_max = 100;
  // WORKER_QUIT_TIMEOUT_SECONDS: stop a session without a ping for this long; -1 = never.
  int worker_quit_timeout_s = 60;
  // A stopping session gets this long before SIGKILL.
  int stop_grace_ms = 3000;
  // How long /start waits for the agent to join.
  int join_timeout_ms = 10000;
  // LOG_PATH: worker logs (<channel>.log) and the default database go here ("" = none / cwd).
  std::string log_path;
  // LOG_STDOUT: workers also log to stdout.
  bool log_stdout = false;
  // SQLite file; default LOG_PATH/parley.db, or ./parley.db without LOG_PATH.
  std::string db_path;
  // PARLEY_API_KEY: required on the control API when set.
  std::string api_key;
  // Allowed CORS origins: "*", a comma-separated list, or "" for none.
  std::string cors_origins = "*";
  // Largest request body accepted (413 beyond).
  size_t max_body_bytes = 1u << 20;
  // Validity of tokens from /generate.
  int64_t token_ttl_s = 86400;
  // I/O threads (0 = one per core).
  int io_threads = 0;
  // The `parley` executable for workers (default: this executable) and options put before
  // `agent` (e.g. "--log-level", "debug").
  std::string agent_exe;
  std::vector<std::string> agent_global_args;

  // Ok when the values are usable; the message names the bad setting.
  Status validate() const;
  // One line for the start-up log (no secrets).
  std::string to_string() const;
};

// A running session server.
class SessionServer {
 public:
  // Opens the store and builds the server (nothing listens yet).
  static Result<std::unique_ptr<SessionServer>> create(ServerConfig config);
  // Shuts down if still running.
  ~SessionServer();

  // Binds and starts serving.
  Status start();
  // The bound port and "host:port" (after start()).
  uint16_t port() const;
  std::string local_address() const;
  // SIGTERM path: stops accepting sessions and joins, stops every session (graceful, then
  // SIGKILL), closes connections, flushes the store. Blocking; call from the main thread.
  void shutdown();

  class Impl;

 private:
  explicit SessionServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::server
