// `parley loadgen`: N simulated users against a loopback `parley serve` (see
// include/parley/server/loadgen.h); prints start latency, relay delay and errors.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"
#include "parley/server/loadgen.h"

namespace parley::cli {

namespace {

int loadgen(const server::LoadgenConfig& config, bool as_json) {
  auto report = server::run_loadgen(config);
  if (!report.is_ok()) {
    std::cerr << "parley loadgen: " << report.status().message() << "\n";
    return 2;
  }
  if (as_json) {
    std::cout << report->to_json().dump(2) << "\n";
  } else {
    std::cout << report->to_text();
  }
  return report->errors.empty() ? 0 : 1;
}

}  // namespace

void add_loadgen_command(CLI::App& app, CommonOptions& common, SetAction set_action) {
  auto* cmd = app.add_subcommand(
      "loadgen", "Simulate users against a local `parley serve`: start latency, relay delay");
  auto cfg = std::make_shared<server::LoadgenConfig>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--server", cfg->server, "Server URL, http://127.0.0.1:PORT (loopback only)")
      ->required();
  cmd->add_option("--users", cfg->users, "Concurrent users (1..5000)")->capture_default_str();
  cmd->add_option("--graph", cfg->graph, "Graph each session runs")->capture_default_str();
  cmd->add_option("--wav", cfg->wav, "16-bit PCM WAV each user streams (looped)")->required();
  cmd->add_option("--duration", cfg->duration_s, "Seconds each user streams")
      ->capture_default_str();
  cmd->add_option("--frame-ms", cfg->frame_ms, "Audio frame length")->capture_default_str();
  cmd->add_option("--pause-ms", cfg->pause_ms,
                  "Silence after each pass of the WAV, so a voice agent's turns end (e.g. 3000)")
      ->capture_default_str()
      ->check(CLI::Range(0, 600000));
  cmd->add_option("--ramp-ms", cfg->ramp_ms, "Spread the starts over this many ms")
      ->capture_default_str();
  cmd->add_option("--api-key", cfg->api_key, "The server's API key")->envname("PARLEY_API_KEY");
  cmd->add_option("--server-pid", cfg->server_pid,
                  "Sample this server's memory (with its workers) during the run");
  cmd->add_option("--io-threads", cfg->io_threads, "Network threads of the generator")
      ->capture_default_str();
  cmd->add_flag("--json", *as_json, "Print the report as JSON");
  cmd->callback([cfg, as_json, set_action] {
    set_action([cfg, as_json] { return loadgen(*cfg, *as_json); });
  });
  (void)common;
}

}  // namespace parley::cli
