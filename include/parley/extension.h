// Extension SDK: the base class every addon implements and the Context it talks to the graph with.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "parley/message.h"
#include "parley/status.h"

namespace spdlog {
class logger;
}

namespace parley {

class Context;
class Runtime;

// Completion callback for asynchronous lifecycle stages (init, stop).
using Done = std::function<void(Status)>;
// Receives the single final result of a command sent with Context::send_cmd.
using ResultHandler = std::function<void(std::unique_ptr<CmdResult>)>;
// Identifies a timer set with Context::set_timer.
using TimerId = uint64_t;
// Thread-safe way to run code on a node's executor from another thread; returns false (and drops
// the function) when the node no longer exists.
using Poster = std::function<bool(std::function<void()>)>;

// Default time a sender waits for a command result before it gets a timeout error.
inline constexpr std::chrono::milliseconds kDefaultCmdTimeout{5000};
// Name of the interruption command every stage understands (DESIGN.md §1).
inline constexpr const char* kFlushCmd = "flush";

// One instance of an addon in one graph. All callbacks of an instance run one at a time on its
// own executor, so an extension needs no locks. Callbacks must not block: use run_blocking.
// An exception escaping a callback is caught, logged with the node name and, for on_cmd, turned
// into an error result; it never takes the process down.
class Extension {
 public:
  virtual ~Extension() = default;

  // Properties are validated against the manifest; check what the manifest cannot express.
  // A non-ok status fails the graph's start with this node's name in the message.
  virtual Status on_configure(Context& ctx);
  // Acquire resources; call `done` (possibly later, from this node's executor) when ready.
  virtual void on_init(Context& ctx, Done done);
  // The graph is running; messages sent before this point were queued and arrive after it.
  virtual void on_start(Context& ctx);
  // Finish or cancel in-flight work; call `done` when drained. Messages still arrive meanwhile.
  virtual void on_stop(Context& ctx, Done done);
  // Release resources. No message arrives after this.
  virtual void on_deinit(Context& ctx);

  // A command for this node. Answer it exactly once with ctx.return_result (or forward it).
  // Default: forwards `flush` downstream, answers any other command with an "unhandled" error.
  virtual void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd);
  virtual void on_data(Context& ctx, std::unique_ptr<Data> data);
  virtual void on_audio_frame(Context& ctx, std::unique_ptr<AudioFrame> frame);
  virtual void on_video_frame(Context& ctx, std::unique_ptr<VideoFrame> frame);
};

// The graph as seen by one extension instance. Methods are called from the extension's own
// callbacks (its executor) unless marked thread-safe.
class Context {
 public:
  virtual ~Context() = default;

  // This node's name in the graph, its addon's name, and the graph's name.
  virtual const std::string& node_name() const = 0;
  virtual const std::string& addon_name() const = 0;
  virtual const std::string& graph_name() const = 0;

  // Validated properties: every manifest property present (defaults applied, ${env:} expanded).
  virtual const nlohmann::json& properties() const = 0;
  // Typed property readers; the manifest guarantees presence and type for declared properties.
  const nlohmann::json& prop(const std::string& key) const;
  std::string prop_string(const std::string& key) const;
  int64_t prop_int(const std::string& key) const;
  double prop_number(const std::string& key) const;
  bool prop_bool(const std::string& key) const;

  // Sends a Data/AudioFrame/VideoFrame to the destinations the graph connects for its kind and
  // name. Returns false when there is none (the message is dropped). Use send_cmd for commands.
  virtual bool send(std::unique_ptr<Message> msg) = 0;
  // Sends a command; `on_result` runs once on this node's executor with the final result: the
  // aggregate of every destination's answer, an error if there is no destination, or a timeout
  // error naming the silent destinations.
  virtual void send_cmd(std::unique_ptr<Cmd> cmd, ResultHandler on_result,
                        std::chrono::milliseconds timeout = kDefaultCmdTimeout) = 0;
  // Answers a command received in on_cmd. Consumes it, so it can be answered only once.
  virtual void return_result(std::unique_ptr<Cmd> cmd, Status status,
                             nlohmann::json detail = {}) = 0;
  void return_ok(std::unique_ptr<Cmd> cmd, nlohmann::json detail = {});
  // Sends a copy of `cmd` downstream and answers `cmd` with the downstream result (ok when there
  // is no downstream node). This is how flush travels through a chain.
  void forward_cmd(std::unique_ptr<Cmd> cmd);
  // True when the graph connects this node's output of that kind and name to someone.
  virtual bool has_destination(MessageKind kind, const std::string& name) const = 0;

  // Runs `fn` on this node's executor after `delay`; repeats every `delay` when `repeat`.
  virtual TimerId set_timer(std::chrono::milliseconds delay, std::function<void()> fn,
                            bool repeat = false) = 0;
  virtual void cancel_timer(TimerId id) = 0;
  // A thread-safe handle that runs functions on this node's executor (for I/O callbacks).
  virtual Poster poster() = 0;
  // Runs `work` on the compute pool (it may block), then `done` on this node's executor.
  // An exception from `work` is logged and `done` still runs.
  virtual void run_blocking(std::function<void()> work, std::function<void()> done) = 0;
  // Like run_blocking, passing work's Result (exceptions become an internal error Status).
  template <class T>
  void run_blocking_result(std::function<Result<T>()> work, std::function<void(Result<T>)> done);

  // Logger whose every line carries the node name.
  virtual spdlog::logger& log() = 0;
  // Reports a metric sample (for example a stage latency) to the engine's metrics hook.
  virtual void metric(std::string_view name, double value, const nlohmann::json& labels = {}) = 0;
  // Asks the engine to stop the whole graph (for example at the end of a finite input).
  virtual void stop_graph(std::string reason) = 0;
  // The process-wide runtime (I/O context for network extensions, pools).
  virtual Runtime& runtime() = 0;
};

// Tracks interruption: work tagged with a turn older than the newest flush is stale.
// Typical use in on_cmd: `if (cmd->name() == kFlushCmd) { gate.flush(*cmd); cancel();
// ctx.forward_cmd(...); }`
class TurnGate {
 public:
  // Records a flush; turns before its `turn_id` become stale. Returns that turn id.
  int64_t flush(const Cmd& flush_cmd);
  void flush_before(int64_t turn_id) {
    if (turn_id > min_live_turn_) min_live_turn_ = turn_id;
  }
  // True when work for `turn_id` must be dropped.
  bool is_stale(int64_t turn_id) const { return turn_id < min_live_turn_; }
  // The oldest turn still allowed.
  int64_t min_live_turn() const { return min_live_turn_; }

 private:
  int64_t min_live_turn_ = 0;
};

// Builds a flush command for `turn_id` (turns before it are cancelled).
std::unique_ptr<Cmd> make_flush(int64_t turn_id);

template <class T>
void Context::run_blocking_result(std::function<Result<T>()> work,
                                  std::function<void(Result<T>)> done) {
  auto slot = std::make_shared<std::optional<Result<T>>>();
  run_blocking(
      [slot, work = std::move(work)] {
        try {
          slot->emplace(work());
        } catch (const std::exception& e) {
          slot->emplace(internal_error(std::string("blocking work threw: ") + e.what()));
        }
      },
      [slot, done = std::move(done)] {
        if (!slot->has_value()) slot->emplace(internal_error("blocking work produced no result"));
        done(std::move(**slot));
      });
}

}  // namespace parley
