// Engine internals: Node (one extension instance with its executor, routes and pending commands)
// and EngineImpl (the graph's nodes, lifecycle and in-flight accounting).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/logger.h>
#include "parley/engine.h"
#include "parley/extension.h"

#include "runtime/cmd_reply.h"

namespace parley::detail {

class EngineImpl;
class Node;

// Lifecycle state of one node (DESIGN.md §1).
enum class NodeState {
  kCreated,
  kInitializing,
  kInitialized,
  kStarted,
  kStopping,
  kStopped,
  kDeinitialized
};

// Where one node's messages of one kind go.
struct Route {
  std::unordered_map<std::string, std::vector<Node*>> by_name;
  std::vector<Node*> wildcard;  // connections declared with name "*"
};

// One extension instance. Implements Context for its extension; every callback runs on strand_.
class Node final : public Context, public std::enable_shared_from_this<Node> {
 public:
  Node(std::shared_ptr<EngineImpl> engine, NodeSpec spec, const Addon& addon);
  ~Node() override;

  // Context.
  const std::string& node_name() const override { return spec_.name; }
  const std::string& addon_name() const override { return spec_.addon; }
  const std::string& graph_name() const override;
  const nlohmann::json& properties() const override { return spec_.properties; }
  bool send(std::unique_ptr<Message> msg) override;
  void send_cmd(std::unique_ptr<Cmd> cmd, ResultHandler on_result,
                std::chrono::milliseconds timeout) override;
  void return_result(std::unique_ptr<Cmd> cmd, Status status, nlohmann::json detail) override;
  bool has_destination(MessageKind kind, const std::string& name) const override;
  TimerId set_timer(std::chrono::milliseconds delay, std::function<void()> fn,
                    bool repeat) override;
  void cancel_timer(TimerId id) override;
  Poster poster() override;
  void run_blocking(std::function<void()> work, std::function<void()> done) override;
  spdlog::logger& log() override { return *logger_; }
  void metric(std::string_view name, double value, const nlohmann::json& labels) override;
  void stop_graph(std::string reason) override;
  Runtime& runtime() override;

  // Engine side. enqueue/post_fn are thread-safe; the rest run on strand_.
  Status configure();
  void enqueue(std::unique_ptr<Message> msg);
  void post_fn(std::function<void()> fn);
  void add_route(MessageKind kind, const std::string& name, Node* dest);
  void begin_init(std::function<void(Status)> done);
  void begin_start(std::function<void()> done);
  void begin_stop(std::function<void()> done);
  void begin_deinit(std::function<void()> done);
  // Sends a command whose result goes to `on_result` on an I/O thread (Engine::inject_cmd).
  void deliver_external_cmd(std::unique_ptr<Cmd> cmd, ResultHandler on_result,
                            std::chrono::milliseconds timeout);

 private:
  struct PendingCmd {
    std::string name;
    ResultHandler handler;
    std::vector<std::string> waiting_on;
    Status first_error;
    nlohmann::json detail;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  struct Timer {
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::function<void()> fn;
    std::chrono::milliseconds period{0};
  };

  void handle(std::unique_ptr<Message> msg);
  void dispatch(std::unique_ptr<Message> msg);
  void on_cmd_result(std::unique_ptr<CmdResult> result, const std::string& from);
  void complete_cmd(uint64_t id, Status status);
  void arm_timer(TimerId id);
  template <class F>
  void guarded(const char* what, F&& f);
  template <class Fn>
  void for_each_dest(MessageKind kind, const std::string& name, Fn&& fn) const;

  std::shared_ptr<EngineImpl> engine_;
  NodeSpec spec_;
  const Addon& addon_;
  std::unique_ptr<Extension> ext_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::shared_ptr<spdlog::logger> logger_;
  NodeState state_ = NodeState::kCreated;
  std::deque<std::unique_ptr<Message>> pending_;  // arrived before start
  std::array<Route, 5> routes_;
  std::unordered_map<uint64_t, PendingCmd> pending_cmds_;
  std::unordered_map<TimerId, Timer> timers_;
  TimerId next_timer_ = 1;
  int blocking_inflight_ = 0;          // run_blocking calls not yet completed
  std::function<void()> stop_waiter_;  // finishes stop once blocking work is back
};

// Shared state of one engine. Owned by Engine and (cyclically, until release_nodes) by its nodes,
// so that a late I/O callback holding a node never sees a destroyed engine.
class EngineImpl : public std::enable_shared_from_this<EngineImpl> {
 public:
  EngineImpl(GraphSpec graph, std::shared_ptr<Runtime> runtime, EngineOptions options)
      : graph_(std::move(graph)), runtime_(std::move(runtime)), options_(std::move(options)) {}

  Status build(const AddonRegistry& registry);
  void start(std::function<void(Status)> done);
  void stop(std::function<void()> done);
  void release_nodes();
  void begin_stop();
  void finish_stop();
  Node* find(const std::string& name) const;

  // In-flight accounting: every queued handler holds one unit; stop waits for zero.
  void hold() { inflight_.fetch_add(1, std::memory_order_relaxed); }
  void release();
  void wait_idle();

  const GraphSpec& graph() const { return graph_; }
  Runtime& runtime() { return *runtime_; }
  const EngineOptions& options() const { return options_; }
  uint64_t next_cmd_id() { return next_cmd_id_.fetch_add(1, std::memory_order_relaxed); }
  bool accepting() const { return accepting_.load(std::memory_order_acquire); }

  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> dropped_no_route{0};
  std::atomic<uint64_t> dropped_stopped{0};
  std::atomic<uint64_t> callback_errors{0};

 private:
  GraphSpec graph_;
  std::shared_ptr<Runtime> runtime_;
  EngineOptions options_;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::unordered_map<std::string, Node*> by_name_;
  std::atomic<uint64_t> next_cmd_id_{1};
  std::atomic<int64_t> inflight_{0};
  std::atomic<bool> accepting_{true};
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  std::mutex lifecycle_mu_;
  enum class Phase { kIdle, kStarting, kRunning, kStopping, kStopped } phase_ = Phase::kIdle;
  std::vector<std::function<void()>> stop_waiters_;
  bool stop_requested_ = false;
  std::atomic<bool> deinit_done_{false};
  std::atomic<bool> finished_{false};
};

template <class F>
inline void Node::guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    engine_->callback_errors.fetch_add(1, std::memory_order_relaxed);
    logger_->error("{} threw: {} (node '{}', addon '{}'); the graph keeps running", what, e.what(),
                   spec_.name, spec_.addon);
  } catch (...) {
    engine_->callback_errors.fetch_add(1, std::memory_order_relaxed);
    logger_->error("{} threw a non-standard exception (node '{}', addon '{}')", what, spec_.name,
                   spec_.addon);
  }
}

}  // namespace parley::detail
