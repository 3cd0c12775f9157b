// Logging, addon loading, signal waiting and graph running for the `parley` command.
#include "cli_common.h"

#include <signal.h>

#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <cstdlib>

#include "parley/addon.h"

namespace parley::cli {

bool setup_logging(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_color_mt("parley");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  return true;
}

void load_addons(const std::vector<std::string>& addon_paths) {
  auto& registry = AddonRegistry::global();
  register_builtin_addons(registry);
  std::string path;
  for (const auto& p : addon_paths) path += (path.empty() ? "" : ":") + p;
  if (const char* env = std::getenv("PARLEY_ADDON_PATH"); env && *env)
    path += (path.empty() ? "" : ":") + std::string(env);
  for (const auto& err : registry.load_path(path)) spdlog::error("{}", err.message());
}

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string wait_for_stop(const std::atomic<bool>& stop, std::chrono::milliseconds max) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (!stop.load()) {
    timespec ts{0, 50 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) return sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (max.count() > 0 && std::chrono::steady_clock::now() >= deadline) return "duration elapsed";
  }
  return "graph finished";
}

GraphRunEnd run_graph_to_end(std::string_view command, GraphSpec graph, EngineOptions options,
                             std::chrono::milliseconds max, RuntimeOptions runtime_options,
                             const AddonRegistry& registry) {
  GraphRunEnd end;
  auto runtime = Runtime::create(runtime_options);
  std::atomic<bool> finished{false};
  options.on_stop_requested = [&finished](const std::string& reason) {
    spdlog::info("graph asked to stop: {}", reason);
    finished = true;
  };
  auto engine = Engine::create(std::move(graph), runtime, std::move(options), registry);
  if (!engine.is_ok()) {
    std::cerr << "parley " << command << ": " << engine.status().message() << "\n";
    end.failure = 2;
    return end;
  }
  if (Status s = (*engine)->start_sync(); !s.is_ok()) {
    std::cerr << "parley " << command << ": graph failed to start: " << s.message() << "\n";
    (*engine)->stop_sync();
    end.failure = 1;
    return end;
  }
  spdlog::info("graph '{}' running ({} nodes)", (*engine)->graph().name,
               (*engine)->graph().nodes.size());
  end.why = wait_for_stop(finished, max);
  spdlog::info("stopping: {}", end.why);
  (*engine)->stop_sync();
  end.stats = (*engine)->stats();
  return end;
}

}  // namespace parley::cli
