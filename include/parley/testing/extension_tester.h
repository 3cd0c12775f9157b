// ExtensionTester: runs one extension alone in a real engine, feeds it messages and collects what
// it sends, so an addon can be tested without the rest of a graph.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "parley/addon.h"
#include "parley/engine.h"

namespace parley::testing {

// Answer the tester gives to a command the extension sends out.
struct CmdAnswer {
  Status status;
  nlohmann::json detail;
};

// Runs `addon` as node "ext" wired both ways to a probe node. Everything the extension sends is
// recorded; commands it sends are answered by `set_cmd_handler` (default: ok).
class ExtensionTester {
 public:
  // `properties` are validated exactly as in a graph (defaults, types, ${env:}).
  explicit ExtensionTester(std::string addon, nlohmann::json properties = nlohmann::json::object(),
                           const AddonRegistry& registry = AddonRegistry::global());
  ~ExtensionTester();

  // Validates, builds and starts the engine; the error names the problem.
  Status start();
  // Stops the engine (drains). Idempotent; also done by the destructor.
  void stop();

  // Delivers a message to the extension as if the probe had sent it.
  Status send(std::unique_ptr<Message> msg);
  // Sends a command to the extension and waits for its final result (or a timeout error result).
  std::unique_ptr<CmdResult> send_cmd(std::unique_ptr<Cmd> cmd,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Waits for the next message of `kind` named `name` ("" = any name) that the extension sent;
  // messages skipped over stay queued. nullptr on timeout.
  std::unique_ptr<Message> wait_for(MessageKind kind, const std::string& name,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Typed conveniences over wait_for.
  std::unique_ptr<Data> wait_for_data(const std::string& name,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::unique_ptr<AudioFrame> wait_for_audio(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::unique_ptr<Cmd> wait_for_cmd(const std::string& name,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Everything received and not yet taken.
  std::deque<std::unique_ptr<Message>> take_all();
  // How commands sent by the extension are answered (called on the probe's executor).
  void set_cmd_handler(std::function<CmdAnswer(const Cmd&)> handler);
  // Whether the extension asked the graph to stop, and why.
  bool stop_requested() const;

  Engine& engine() { return *engine_; }

  // Shared with the probe extension.
  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<Message>> messages;
    std::function<CmdAnswer(const Cmd&)> cmd_handler;
    bool stop_requested = false;
  };

 private:
  std::string addon_;
  nlohmann::json properties_;
  const AddonRegistry& source_registry_;
  AddonRegistry registry_;
  std::shared_ptr<Inbox> inbox_;
  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace parley::testing
