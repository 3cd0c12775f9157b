// Where a session's graph runs: a `parley agent` worker process (process isolation: a crash takes
// down only that session) or an Engine inside the server (thread isolation: density). Both report
// their end exactly once through the `on_exit` callback given at construction.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parley/engine.h"
#include "parley/runtime.h"

namespace parley::server {

// How a worker ended.
struct WorkerExit {
  // True when it ended on its own terms (exit status 0 or a completed engine stop).
  bool clean = false;
  // "exited with status 0", "killed by signal 9 (Killed)", "graph failed to start: ...".
  std::string description;
};

// Called once per worker, from any thread.
using WorkerExitHandler = std::function<void(WorkerExit)>;

// A running session graph.
class Worker {
 public:
  virtual ~Worker() = default;
  // Starts it; failures are returned here and on_exit is then never called.
  virtual Status launch() = 0;
  // Asks it to stop gracefully (SIGTERM to the process group / Engine::stop).
  virtual void terminate() = 0;
  // Forces it to end (SIGKILL to the process group); a no-op for in-process engines.
  virtual void kill() = 0;
  // The worker's process id, or 0 in-process.
  virtual int64_t pid() const = 0;
};

// What to run as a worker process.
struct ProcessSpec {
  std::string exe;
  std::vector<std::string> args;       // argv[1..]
  std::vector<std::string> extra_env;  // "NAME=value" added to the server's environment
  std::string log_file;                // stderr goes here (appended); empty: inherited
  bool inherit_stdout = false;         // otherwise stdout goes to /dev/null
};

// Reaps exited children on a thread of its own and hands each (pid, wait status) to `on_exit`.
// Only one reaper may exist per process (it reaps every child).
class ChildReaper {
 public:
  explicit ChildReaper(std::function<void(pid_t pid, int status)> on_exit);
  ~ChildReaper();
  // Counts one more child to wait for (call after spawning).
  void child_started();
  // Stops the thread (after the children were reaped or killed). Idempotent.
  void stop();

 private:
  void run();
  std::function<void(pid_t, int)> on_exit_;
  std::mutex mu_;
  std::condition_variable cv_;
  int live_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// Spawns `spec` in a new process group (its pid is the group id) with default signal handling.
Result<pid_t> spawn_process(const ProcessSpec& spec);
// Text for a wait status: "exited with status 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

// A `parley agent` process. Its exit is reported by the ChildReaper: the session manager maps the
// pid back to the session.
class ProcessWorker final : public Worker {
 public:
  explicit ProcessWorker(ProcessSpec spec) : spec_(std::move(spec)) {}
  Status launch() override;
  void terminate() override;
  void kill() override;
  int64_t pid() const override { return pid_.load(); }

 private:
  ProcessSpec spec_;
  std::atomic<pid_t> pid_{0};
  std::atomic<bool> exited_{false};
  friend class SessionManager;
};

// An Engine inside the server process.
class ThreadWorker final : public Worker {
 public:
  ThreadWorker(GraphSpec graph, std::shared_ptr<Runtime> runtime, EngineOptions options,
               WorkerExitHandler on_exit);
  // Destroy off the I/O threads: the engine's destructor may wait for in-flight work.
  ~ThreadWorker() override;
  Status launch() override;
  void terminate() override;
  void kill() override {}
  int64_t pid() const override { return 0; }

 private:
  void report(WorkerExit exit);

  GraphSpec graph_;
  std::shared_ptr<Runtime> runtime_;
  EngineOptions options_;
  WorkerExitHandler on_exit_;
  std::unique_ptr<Engine> engine_;
  std::atomic<bool> reported_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace parley::server
