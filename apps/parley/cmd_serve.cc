// `parley serve`: the session server (control API, channel hub, sessions, store) — and the
// registration of `parley agent` and `parley loadgen`, its worker and its load generator.
#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"
#include "parley/server/session_server.h"

namespace parley::cli {

void add_agent_command(CLI::App& app, CommonOptions& common, SetAction set_action);
void add_loadgen_command(CLI::App& app, CommonOptions& common, SetAction set_action);

namespace {

int serve(server::ServerConfig config, const CommonOptions& common) {
  // The seed's deployment files spell it WORKER_QUIT_TIMEOUT_SECONDES; accept both.
  if (!std::getenv("WORKER_QUIT_TIMEOUT_SECONDS")) {
    if (const char* v = std::getenv("WORKER_QUIT_TIMEOUT_SECONDES"); v && *v) {
      try {
        config.worker_quit_timeout_s = std::stoi(v);
      } catch (const std::exception&) {
        std::cerr << "parley serve: WORKER_QUIT_TIMEOUT_SECONDES='" << v
                  << "' is not a number of seconds\n";
        return 2;
      }
    }
  }
  config.agent_global_args = {"--log-level", common.log_level};
  for (const auto& p : common.addon_paths) {
    config.agent_global_args.push_back("--addon-path");
    config.agent_global_args.push_back(p);
  }
  auto srv = server::SessionServer::create(config);
  if (!srv.is_ok()) {
    std::cerr << "parley serve: " << srv.status().message() << "\n";
    return 2;
  }
  if (Status s = (*srv)->start(); !s.is_ok()) {
    std::cerr << "parley serve: " << s.message() << "\n";
    return 2;
  }
  // Tests and scripts read the bound port from this line.
  std::cout << "listening on " << (*srv)->local_address() << std::endl;
  std::atomic<bool> never{false};
  const auto why = wait_for_stop(never, std::chrono::milliseconds(0));
  spdlog::info("{}: shutting down", why);
  (*srv)->shutdown();
  spdlog::info("bye");
  return 0;
}

}  // namespace

void add_server_commands(CLI::App& app, CommonOptions& common, SetAction set_action) {
  auto* cmd = app.add_subcommand(
      "serve", "Run the session server: control API, channel hub (/v1/rtc), agent sessions");
  auto cfg = std::make_shared<server::ServerConfig>();
  cmd->add_option("--host", cfg->host, "Address to bind (0.0.0.0: every interface)")
      ->envname("SERVER_HOST")
      ->capture_default_str();
  cmd->add_option("--port", cfg->port, "Port to bind; 0 picks a free one (SERVER_PORT)")
      ->envname("SERVER_PORT")
      ->capture_default_str();
  cmd->add_option("--graphs-dir", cfg->graphs_dir, "Directory of the graphs sessions may run")
      ->capture_default_str();
  cmd->add_option("--isolation", cfg->isolation,
                  "process: one `parley agent` worker per session; thread: engines in-process")
      ->envname("PARLEY_ISOLATION")
      ->check(CLI::IsMember({"process", "thread"}))
      ->capture_default_str();
  cmd->add_option("--workers-max", cfg->workers_max, "Sessions alive at once (WORKERS_MAX)")
      ->envname("WORKERS_MAX")
      ->capture_default_str();
  cmd->add_option("--worker-quit-timeout", cfg->worker_quit_timeout_s,
                  "Stop a session after this many seconds without a ping; -1 = never "
                  "(WORKER_QUIT_TIMEOUT_SECONDS, or the seed's WORKER_QUIT_TIMEOUT_SECONDES)")
      ->envname("WORKER_QUIT_TIMEOUT_SECONDS")
      ->capture_default_str();
  cmd->add_option("--stop-grace-ms", cfg->stop_grace_ms,
                  "Time a stopping session gets before SIGKILL to its process group")
      ->capture_default_str();
  cmd->add_option("--join-timeout-ms", cfg->join_timeout_ms,
                  "How long /start waits for the agent to join its channel")
      ->capture_default_str();
  cmd->add_option("--log-path", cfg->log_path,
                  "Directory for worker logs (<channel>.log) and the default database (LOG_PATH)")
      ->envname("LOG_PATH");
  cmd->add_option("--log-stdout", cfg->log_stdout, "Workers also log to stdout (LOG_STDOUT)")
      ->envname("LOG_STDOUT")
      ->capture_default_str();
  cmd->add_option("--db", cfg->db_path, "SQLite store (default LOG_PATH/parley.db or ./parley.db)")
      ->envname("PARLEY_DB");
  cmd->add_option("--api-key", cfg->api_key,
                  "Require this key on the control API (PARLEY_API_KEY; prefer the variable)")
      ->envname("PARLEY_API_KEY");
  cmd->add_option("--cors", cfg->cors_origins,
                  "Allowed CORS origins: '*', a comma-separated list, or '' for none")
      ->envname("PARLEY_CORS_ORIGINS")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", cfg->max_body_bytes, "Largest request body (413 beyond)")
      ->capture_default_str();
  cmd->add_option("--token-ttl", cfg->token_ttl_s, "Validity of /generate tokens, in seconds")
      ->capture_default_str();
  cmd->add_option("--io-threads", cfg->io_threads, "I/O threads (0 = one per core)")
      ->capture_default_str();
  cmd->footer(
      "Tokens are signed with PARLEY_APP_CERTIFICATE (random per run when unset) for "
      "PARLEY_APP_ID. "
      "API: docs/protocol.md.");
  cmd->callback(
      [cfg, &common, set_action] { set_action([cfg, &common] { return serve(*cfg, common); }); });
  add_agent_command(app, common, set_action);
  add_loadgen_command(app, common, set_action);
}

}  // namespace parley::cli
