// `parley`: the one command for running graphs, the session server and the model server.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"

int main(int argc, char** argv) {
  parley::cli::block_stop_signals();
  CLI::App app{"Parley: real-time voice and video AI agents"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("parley ") + PARLEY_VERSION);
  parley::cli::CommonOptions common;
  app.add_option("--log-level", common.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--addon-path", common.addon_paths,
                 "Directory of addon plugins (*.so); repeatable; PARLEY_ADDON_PATH adds more");
  app.fallthrough();

  std::function<int()> action;
  auto set_action = [&action](std::function<int()> a) { action = std::move(a); };
  parley::cli::add_graph_commands(app, common, set_action);
  parley::cli::add_model_server_commands(app, common, set_action);
  parley::cli::add_server_commands(app, common, set_action);
  parley::cli::add_say_command(app, common, set_action);
  parley::cli::add_transcribe_command(app, common, set_action);

  CLI11_PARSE(app, argc, argv);
  if (!parley::cli::setup_logging(common.log_level)) {
    std::cerr << "parley: unknown --log-level '" << common.log_level
              << "' (use trace, debug, info, warn, error or off)\n";
    return 2;
  }
  parley::cli::load_addons(common.addon_paths);
  return action ? action() : 0;
}
