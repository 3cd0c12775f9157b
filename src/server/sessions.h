// Session supervision: one agent session per channel, started from a graph of the catalog as a
// worker process or an in-process engine, answered when its agent has joined the channel, stopped
// gracefully (then forcibly), reaped when it crashes, stopped when pings stop. Every state change
// is written to the store. Nothing here blocks an I/O thread: graph loading and spawning run on
// the compute pool, and callers get their answer through a callback.
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph_catalog.h"
#include "hub.h"
#include "metrics.h"
#include "parley/server/store.h"
#include "parley/server/token.h"
#include "worker.h"

namespace parley::server {

// Where sessions run.
enum class Isolation { kProcess, kThread };
// "process" / "thread".
const char* isolation_name(Isolation isolation);

// Settings of the session manager.
struct SessionConfig {
  Isolation isolation = Isolation::kProcess;
  // Sessions alive at once (WORKERS_MAX).
  int workers_max = 100;
  // A session without a ping for this long is stopped; -1 = never (WORKER_QUIT_TIMEOUT_SECONDS).
  int quit_timeout_s = 60;
  // How long a stop waits for the graph to end before SIGKILL to the worker's process group.
  std::chrono::milliseconds stop_grace{3000};
  // How long /start waits for the agent to join by default.
  std::chrono::milliseconds join_timeout{10000};
  // Directory of worker logs (<channel>.log); empty: workers log to the server's stderr.
  std::string log_path;
  // Workers also log to the server's stdout (LOG_STDOUT).
  bool log_stdout = false;
  // The `parley` executable and the global options put before `agent` (e.g. --log-level).
  std::string agent_exe;
  std::vector<std::string> agent_global_args;
  // Validity of the tokens the server issues to its agents.
  int64_t agent_token_ttl_s = 7 * 86400;
};

// A session as the API shows it.
struct SessionInfo {
  std::string id;
  std::string channel;
  std::string graph;
  std::string state;  // starting, running, stopping, stopped, failed
  std::string isolation;
  std::string request_id;
  uint32_t user_uid = 0;
  uint32_t agent_uid = 0;
  int64_t created_at_ms = 0;  // Unix ms of the /start request
  int64_t joined_at_ms = 0;   // Unix ms the agent joined (0 before)
  int64_t stopped_at_ms = 0;  // Unix ms it ended (0 while alive)
  int64_t last_ping_ms = 0;
  int quit_timeout_s = 0;
  int64_t worker_pid = 0;
  double start_ms = 0;  // /start → agent joined
  std::string error;

  nlohmann::json to_json() const;
  SessionRecord to_record() const;
};

// An error the API reports: HTTP status, stable code, message for a person.
struct ApiError {
  int status = 500;
  std::string code;
  std::string message;
};

// What /start asks for.
struct StartRequest {
  std::string request_id;
  std::string channel;
  std::string graph;
  uint32_t user_uid = 0;
  nlohmann::json properties;          // {node: {property: value}}
  std::optional<int> quit_timeout_s;  // TEN's "timeout"
  std::optional<int> join_timeout_ms;
};

// Answer to start/stop: an error, or the session.
using SessionCallback = std::function<void(std::optional<ApiError>, SessionInfo)>;

// The sessions of one server. Thread-safe.
class SessionManager : public std::enable_shared_from_this<SessionManager> {
 public:
  SessionManager(SessionConfig config, std::shared_ptr<Runtime> runtime, std::shared_ptr<Hub> hub,
                 GraphCatalog& catalog, Store* store, ServerMetrics& metrics,
                 const TokenSigner& signer);
  ~SessionManager();

  // Starts the ping-timeout timer and the child reaper. `hub_url` is what worker processes join.
  void start_supervision(std::string hub_url);
  // Starts a session; `done` runs once the agent joined, or with the error.
  void start(StartRequest request, SessionCallback done);
  // Stops the session of `channel`; `done` runs once it ended.
  void stop(const std::string& channel, const std::string& reason, SessionCallback done);
  // Records a ping; error when the channel has no session.
  std::optional<ApiError> ping(const std::string& channel, SessionInfo& out);
  // Live sessions, then (when `recent`) the most recent ended ones.
  std::vector<SessionInfo> list(bool recent) const;
  // Live sessions by state.
  std::map<std::string, int> count_by_state() const;

  // Hub observer entries.
  void on_joined(const std::string& channel, uint32_t uid, rtc::Role role);
  void on_agent_event(const std::string& channel, const nlohmann::json& event);

  // Refuses new sessions, stops every session and waits for them (up to `deadline`). Blocking:
  // call from the main thread, never from an I/O thread.
  void shutdown(std::chrono::milliseconds deadline);

 private:
  struct Session;
  std::optional<ApiError> admit(const StartRequest& r);
  void prepare(std::shared_ptr<Session> s, StartRequest request);
  // Ends a session that never launched: frees its channel and slot, answers its stop callbacks,
  // and its start callback with `error`. `record`: list and store it as a failed session.
  void abandon(const std::shared_ptr<Session>& s, ApiError error, bool record);
  // Adds an ended session to recent_, forgetting the oldest beyond the limit (mu_ held).
  void remember_ended(const SessionInfo& info);
  std::unique_ptr<Worker> make_worker(const std::shared_ptr<Session>& s, GraphSpec graph,
                                      const StartRequest& r, const std::string& token);
  void begin_stop(const std::shared_ptr<Session>& s);
  void on_exit(const std::shared_ptr<Session>& s, WorkerExit exit);
  void on_child_exit(pid_t pid, int status);
  void on_join_timeout(const std::shared_ptr<Session>& s);
  void check_pings();
  void arm_ping_timer();
  void dispose(std::unique_ptr<Worker> worker);
  std::string log_tail(const std::string& channel) const;

  const SessionConfig config_;
  std::shared_ptr<Runtime> runtime_;
  std::shared_ptr<Hub> hub_;
  GraphCatalog& catalog_;
  Store* store_;
  ServerMetrics& metrics_;
  const TokenSigner& signer_;
  std::string hub_url_;
  std::unique_ptr<ChildReaper> reaper_;
  boost::asio::steady_timer ping_timer_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  bool shutting_down_ = false;
  std::map<std::string, std::shared_ptr<Session>> active_;  // by channel
  std::map<pid_t, std::shared_ptr<Session>> by_pid_;
  std::deque<SessionInfo> recent_;
};

}  // namespace parley::server
