// Shared pieces of the `parley` subcommands: logging setup, addon loading, waiting for signals.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

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

}  // namespace parley::cli
