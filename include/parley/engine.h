// Engine: one running graph — its extension instances, their executors and the message routes.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "parley/addon.h"
#include "parley/graph.h"
#include "parley/message.h"
#include "parley/runtime.h"
#include "parley/status.h"

namespace parley {

namespace detail {
class EngineImpl;
}

// Receives every metric an extension reports (name, value, labels incl. node and graph).
using MetricsHook =
    std::function<void(std::string_view name, double value, const nlohmann::json& labels)>;

// Optional behaviour of an engine.
struct EngineOptions {
  // Called (from any thread) when an extension asks the graph to stop.
  std::function<void(const std::string& reason)> on_stop_requested;
  MetricsHook metrics;
  // Extra text put in every log line of this engine (for example the session's channel).
  std::string log_tag;
  // How long stop waits for extensions to call their on_stop done before deinit anyway.
  std::chrono::milliseconds stop_timeout{5000};
};

// Counters kept by an engine, readable at any time.
struct EngineStats {
  uint64_t delivered = 0;         // messages handed to an extension callback
  uint64_t dropped_no_route = 0;  // sends with no destination
  uint64_t dropped_stopped = 0;   // messages for nodes already deinitialised
  uint64_t callback_errors = 0;   // exceptions caught from extension callbacks
};

// A graph instance. Create from a validated GraphSpec, start, feed or let run, stop.
class Engine {
 public:
  // Instantiates every node (configure stage). Fails with the node name if an addon is missing
  // or an extension rejects its properties.
  static Result<std::unique_ptr<Engine>> create(
      GraphSpec graph, std::shared_ptr<Runtime> runtime, EngineOptions options = {},
      const AddonRegistry& registry = AddonRegistry::global());
  ~Engine();  // stops the graph if still running (blocking)

  // init every node, then start every node; `done` gets the first failure, if any.
  void start(std::function<void(Status)> done);
  // Blocking start (not from an I/O thread).
  Status start_sync();
  // stop every node (they drain), then deinit; `done` runs when nothing is left in flight.
  void stop(std::function<void()> done);
  // Blocking stop (not from an I/O thread). Idempotent.
  void stop_sync();

  // Delivers a message to `node` as if a connected node had sent it (transports, tests).
  // Thread-safe. Fails when the node does not exist.
  Status inject(const std::string& node, std::unique_ptr<Message> msg);
  // Sends a command into `node`; `on_result` runs on an I/O thread with its final result.
  Status inject_cmd(const std::string& node, std::unique_ptr<Cmd> cmd, ResultHandler on_result,
                    std::chrono::milliseconds timeout = kDefaultCmdTimeout);

  const GraphSpec& graph() const;
  EngineStats stats() const;
  Runtime& runtime();

 private:
  explicit Engine(std::shared_ptr<detail::EngineImpl> impl);
  std::shared_ptr<detail::EngineImpl> impl_;
};

}  // namespace parley
