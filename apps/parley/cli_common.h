// Shared pieces of the `parley` subcommands: logging setup, addon loading, waiting for signals,
// running a graph to its end.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "parley/addon.h"
#include "parley/engine.h"
#include "parley/runtime.h"
#include "parley/status.h"

namespace parley::cli {

// Options every graph-running subcommand accepts.
struct CommonOptions {
  std::string log_level = "info";
  std::vector<std::string> addon_paths;
};

// Sends logs to stderr at `level` (trace/debug/info/warn/error/off); false for an unknown level.
bool setup_logging(const std::string& level);
// Registers built-in addons and loads plugins from --addon-path and PARLEY_ADDON_PATH.
// Plugin failures are printed (each names the file and the cause) and do not stop the others.
void load_addons(const std::vector<std::string>& addon_paths);
// Blocks SIGINT and SIGTERM in every thread created after this call (call first in main).
void block_stop_signals();
// Waits until SIGINT/SIGTERM arrives, `stop` becomes true, or `max` elapses (0 = no limit).
// Returns a word saying which happened.
std::string wait_for_stop(const std::atomic<bool>& stop, std::chrono::milliseconds max);

// How a graph run by run_graph_to_end() went.
struct GraphRunEnd {
  // 0 when the graph ran; otherwise the exit status to return (2: the engine could not be built,
  // 1: the graph failed to start), and the error has been printed.
  int failure = 0;
  // Why it ended: "graph finished", "SIGINT", "SIGTERM" or "duration elapsed".
  std::string why;
  EngineStats stats;
};

// Builds an engine for `graph`, starts it, waits until the graph asks to stop, SIGINT/SIGTERM
// arrives or `max` elapses (0 = no limit), and stops it. Errors go to stderr prefixed with
// "parley <command>: ". `options.on_stop_requested` is replaced (the run watches it).
GraphRunEnd run_graph_to_end(std::string_view command, GraphSpec graph, EngineOptions options,
                             std::chrono::milliseconds max, RuntimeOptions runtime_options = {},
                             const AddonRegistry& registry = AddonRegistry::global());

}  // namespace parley::cli
