// Session supervision (see sessions.h).
#include "sessions.h"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <cctype>
#include <fstream>

#include <spdlog/spdlog.h>

#include "parley/rtc_local.h"

namespace parley::server {

namespace {

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Channel names end up in file names (<channel>.log) and URLs: keep them to a safe alphabet.
bool valid_channel(const std::string& c) {
  if (c.empty() || c.size() > 128 || c == "." || c == "..") return false;
  for (char ch : c)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.'))
      return false;
  return true;
}

// Ended sessions kept for /v1/api/sessions and /metrics.
constexpr size_t kRecentSessions = 256;

}  // namespace

// One session. Guarded by SessionManager::mu_ except the immutable fields.
struct SessionManager::Session {
  SessionInfo info;
  std::chrono::steady_clock::time_point requested_at;
  std::unique_ptr<Worker> worker;
  SessionCallback on_started;
  std::vector<SessionCallback> on_stopped;
  std::shared_ptr<boost::asio::steady_timer> join_timer;
  std::shared_ptr<boost::asio::steady_timer> kill_timer;
  bool stop_requested = false;
  bool ended = false;
  std::string failure;  // set when the session must end as failed whatever the exit
};

const char* isolation_name(Isolation isolation) {
  return isolation == Isolation::kThread ? "thread" : "process";
}

nlohmann::json SessionInfo::to_json() const {
  return {{"session_id", id},
          {"channel", channel},
          {"graph", graph},
          {"state", state},
          {"isolation", isolation},
          {"request_id", request_id},
          {"user_uid", user_uid},
          {"agent_uid", agent_uid},
          {"created_at", created_at_ms},
          {"joined_at", joined_at_ms},
          {"stopped_at", stopped_at_ms},
          {"last_ping_at", last_ping_ms},
          {"quit_timeout_s", quit_timeout_s},
          {"worker_pid", worker_pid},
          {"start_ms", start_ms},
          {"error", error}};
}

SessionRecord SessionInfo::to_record() const {
  return {id, channel, graph, state, isolation, created_at_ms, stopped_at_ms, worker_pid, error};
}

SessionManager::SessionManager(SessionConfig config, std::shared_ptr<Runtime> runtime,
                               std::shared_ptr<Hub> hub, GraphCatalog& catalog, Store* store,
                               ServerMetrics& metrics, const TokenSigner& signer)
    : config_(std::move(config)),
      runtime_(std::move(runtime)),
      hub_(std::move(hub)),
      catalog_(catalog),
      store_(store),
      metrics_(metrics),
      signer_(signer),
      ping_timer_(runtime_->io()) {}

SessionManager::~SessionManager() {
  if (reaper_) reaper_->stop();
}

void SessionManager::start_supervision(std::string hub_url) {
  hub_url_ = std::move(hub_url);
  if (config_.isolation == Isolation::kProcess) {
    reaper_ = std::make_unique<ChildReaper>([weak = weak_from_this()](pid_t pid, int status) {
      if (auto self = weak.lock()) self->on_child_exit(pid, status);
    });
  }
  arm_ping_timer();
}

std::optional<ApiError> SessionManager::admit(const StartRequest& r) {
  if (!valid_channel(r.channel))
    return ApiError{400, "invalid_channel",
                    "channel_name '" + r.channel +
                        "' must be 1-128 characters of letters, digits, '_', '-' or '.'"};
  if (r.graph.empty()) return ApiError{400, "missing_field", "graph_name is required"};
  if (shutting_down_) return ApiError{503, "shutting_down", "the server is shutting down"};
  if (active_.count(r.channel))
    return ApiError{409, "channel_in_use",
                    "channel '" + r.channel + "' already has a session (state " +
                        active_.at(r.channel)->info.state + "): stop it first or use another"};
  if (static_cast<int>(active_.size()) >= config_.workers_max)
    return ApiError{429, "workers_limit",
                    "all " + std::to_string(config_.workers_max) +
                        " session slots are in use (WORKERS_MAX): stop a session or retry later"};
  return std::nullopt;
}

void SessionManager::start(StartRequest request, SessionCallback done) {
  auto s = std::make_shared<Session>();
  {
    std::lock_guard lock(mu_);
    if (auto err = admit(request)) {
      if (err->code == "workers_limit" || err->code == "channel_in_use") metrics_.error(err->code);
      return done(std::move(err), {});
    }
    s->requested_at = std::chrono::steady_clock::now();
    s->info.id = "s_" + random_hex(6);
    s->info.channel = request.channel;
    s->info.graph = request.graph;
    s->info.state = "starting";
    s->info.isolation = isolation_name(config_.isolation);
    s->info.request_id = request.request_id;
    s->info.user_uid = request.user_uid;
    s->info.created_at_ms = s->info.last_ping_ms = unix_now_ms();
    s->info.quit_timeout_s = request.quit_timeout_s.value_or(config_.quit_timeout_s);
    s->on_started = std::move(done);
    active_[request.channel] = s;  // reserves the channel and a slot
  }
  boost::asio::post(runtime_->compute(),
                    [self = shared_from_this(), s, r = std::move(request)]() mutable {
                      self->prepare(std::move(s), std::move(r));
                    });
}

// On the compute pool: resolves the graph, then launches the worker.
void SessionManager::prepare(std::shared_ptr<Session> s, StartRequest r) {
  GraphError gerr;
  auto graph = catalog_.resolve(r.graph, r.properties, AddonRegistry::global(), gerr);
  if (!graph) {
    metrics_.error(gerr.code);
    return abandon(s, {gerr.code == "unknown_graph" ? 404 : 400, gerr.code, gerr.message}, false);
  }
  TokenClaims claims;
  claims.channel = s->info.channel;
  // A fresh uid per session, so nothing aimed at an ended session's agent hits its successor.
  do {
    claims.uid = 0x80000000u | static_cast<uint32_t>(std::stoul(random_hex(4), nullptr, 16));
  } while (claims.uid == r.user_uid);
  claims.role = rtc::Role::kAgent;
  claims.expires_at = unix_now_s() + config_.agent_token_ttl_s;
  s->info.agent_uid = claims.uid;
  const std::string token = signer_.issue(claims);

  std::unique_ptr<Worker> worker = make_worker(s, std::move(*graph), r, token);
  Status launched;
  if (config_.isolation == Isolation::kProcess) {
    // Held across the spawn so the reaper cannot see the pid before it is registered.
    std::lock_guard lock(mu_);
    launched = worker->launch();
    if (launched.is_ok()) {
      s->info.worker_pid = worker->pid();
      by_pid_[static_cast<pid_t>(s->info.worker_pid)] = s;
      s->worker = std::move(worker);
    }
  } else {
    // Not under mu_: the agent may join (and on_joined lock mu_) before launch() returns.
    launched = worker->launch();
    if (launched.is_ok()) {
      std::lock_guard lock(mu_);
      s->worker = std::move(worker);
    }
  }
  if (!launched.is_ok()) {
    if (config_.isolation == Isolation::kThread) rtc::withdraw_local_hub(s->info.channel);
    metrics_.error("worker_start_failed");
    dispose(std::move(worker));
    const bool config_error = launched.code() == StatusCode::kInvalidArgument;
    return abandon(
        s,
        {config_error ? 400 : 500, config_error ? "invalid_properties" : "worker_start_failed",
         launched.message()},
        true);
  }
  if (reaper_ && s->info.worker_pid > 0) reaper_->child_started();
  if (store_) store_->put_session(s->info.to_record());
  const auto wait = std::chrono::milliseconds(
      r.join_timeout_ms.value_or(static_cast<int>(config_.join_timeout.count())));
  auto timer = std::make_shared<boost::asio::steady_timer>(runtime_->io(), wait);
  bool stop_now = false;
  {
    std::lock_guard lock(mu_);
    if (s->ended) return;
    s->join_timer = timer;
    stop_now = s->stop_requested;  // a stop arrived while the worker was being launched
  }
  if (stop_now) begin_stop(s);
  timer->async_wait([weak = weak_from_this(), s](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!ec && self) self->on_join_timeout(s);
  });
}

void SessionManager::remember_ended(const SessionInfo& info) {
  recent_.push_back(info);
  while (recent_.size() > kRecentSessions) recent_.pop_front();
}

void SessionManager::abandon(const std::shared_ptr<Session>& s, ApiError error, bool record) {
  SessionCallback done;
  std::vector<SessionCallback> stopped;
  {
    std::lock_guard lock(mu_);
    active_.erase(s->info.channel);
    s->ended = true;
    if (record) {
      s->info.state = "failed";
      s->info.error = error.message;
      s->info.stopped_at_ms = unix_now_ms();
      remember_ended(s->info);
    }
    done = std::move(s->on_started);
    stopped = std::move(s->on_stopped);
    idle_cv_.notify_all();
  }
  if (record && store_) store_->put_session(s->info.to_record());
  for (auto& cb : stopped) cb(std::nullopt, s->info);
  if (done) done(std::move(error), {});
}

std::unique_ptr<Worker> SessionManager::make_worker(const std::shared_ptr<Session>& s,
                                                    GraphSpec graph, const StartRequest& r,
                                                    const std::string& token) {
  const std::string channel = s->info.channel;
  if (config_.isolation == Isolation::kThread) {
    for (auto& node : graph.nodes) {
      if (node.addon != kTransportAddon) continue;
      node.properties["local"] = true;
      node.properties["channel"] = channel;
      node.properties["token"] = token;
      node.properties["uid"] = s->info.agent_uid;
    }
    rtc::publish_local_hub(channel, hub_);
    EngineOptions opts;
    opts.log_tag = channel;
    opts.stop_timeout = config_.stop_grace;
    opts.on_stop_requested = [weak = weak_from_this(), channel](const std::string& reason) {
      if (auto self = weak.lock()) self->stop(channel, "graph asked to stop: " + reason, nullptr);
    };
    return std::make_unique<ThreadWorker>(std::move(graph), runtime_, std::move(opts),
                                          [weak = weak_from_this(), s](WorkerExit exit) {
                                            if (auto self = weak.lock())
                                              self->on_exit(s, std::move(exit));
                                          });
  }
  ProcessSpec spec;
  spec.exe = config_.agent_exe;
  spec.args = config_.agent_global_args;
  for (std::string a : {"agent", "--graph-file", graph.file.c_str(), "--graph", r.graph.c_str(),
                        "--hub", hub_url_.c_str(), "--channel", channel.c_str(), "--uid"})
    spec.args.push_back(std::move(a));
  spec.args.push_back(std::to_string(s->info.agent_uid));
  if (config_.log_stdout) spec.args.push_back("--log-stdout");
  spec.extra_env = {"PARLEY_AGENT_TOKEN=" + token,
                    "PARLEY_AGENT_PROPERTIES=" +
                        (r.properties.is_null() ? std::string("{}") : r.properties.dump()),
                    "PARLEY_PARENT_PID=" + std::to_string(getpid())};
  if (!config_.log_path.empty()) spec.log_file = config_.log_path + "/" + channel + ".log";
  spec.inherit_stdout = config_.log_stdout;
  return std::make_unique<ProcessWorker>(std::move(spec));
}

void SessionManager::on_joined(const std::string& channel, uint32_t uid, rtc::Role role) {
  if (role != rtc::Role::kAgent) return;
  SessionCallback done;
  SessionInfo info;
  double latency_ms = 0;
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(channel);
    if (it == active_.end() || it->second->info.state != "starting") return;
    auto& s = *it->second;
    if (uid != s.info.agent_uid) return;
    latency_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s.requested_at)
            .count();
    s.info.state = "running";
    s.info.joined_at_ms = unix_now_ms();
    s.info.start_ms = latency_ms;
    if (s.join_timer) s.join_timer->cancel();
    done = std::move(s.on_started);
    info = s.info;
  }
  metrics_.start_latency.observe(latency_ms);
  spdlog::info("session {} on channel {}: agent joined after {:.1f} ms", info.id, channel,
               latency_ms);
  if (store_) store_->put_session(info.to_record());
  if (done) done(std::nullopt, info);
}

void SessionManager::on_join_timeout(const std::shared_ptr<Session>& s) {
  SessionCallback done;
  SessionInfo info;
  {
    std::lock_guard lock(mu_);
    if (s->ended || s->info.state != "starting") return;
    s->failure = "the agent did not join channel '" + s->info.channel + "' in time";
    done = std::move(s->on_started);
    info = s->info;
    s->stop_requested = true;
    s->info.state = "stopping";
  }
  metrics_.error("join_timeout");
  begin_stop(s);
  if (done)
    done(ApiError{504, "join_timeout",
                  s->failure + (config_.log_path.empty()
                                    ? std::string()
                                    : "; see " + config_.log_path + "/" + info.channel + ".log")},
         info);
}

void SessionManager::stop(const std::string& channel, const std::string& reason,
                          SessionCallback done) {
  std::shared_ptr<Session> s;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(channel);
    if (it == active_.end()) {
      if (done)
        done(ApiError{404, "channel_not_found", "channel '" + channel + "' has no session"}, {});
      return;
    }
    s = it->second;
    if (done) s->on_stopped.push_back(std::move(done));
    if (!s->stop_requested) {
      first = true;
      s->stop_requested = true;
      s->info.state = "stopping";
    }
  }
  if (!first) return;
  spdlog::info("session {} on channel {}: stopping ({})", s->info.id, channel, reason);
  if (store_) store_->put_session(s->info.to_record());
  begin_stop(s);
}

// Graceful stop now, SIGKILL to the process group after the grace period.
void SessionManager::begin_stop(const std::shared_ptr<Session>& s) {
  std::lock_guard lock(mu_);
  if (s->ended) return;
  if (!s->worker) return;  // still being prepared: prepare() sees stop_requested via ended/state
  s->worker->terminate();
  s->kill_timer = std::make_shared<boost::asio::steady_timer>(runtime_->io(), config_.stop_grace);
  s->kill_timer->async_wait([weak = weak_from_this(), s](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    bool thread_worker = false;
    {
      std::lock_guard relock(self->mu_);
      if (s->ended || !s->worker) return;
      spdlog::warn("session {} on channel {}: did not stop within {} ms, killing it", s->info.id,
                   s->info.channel, self->config_.stop_grace.count());
      s->worker->kill();
      thread_worker = s->worker->pid() == 0;
    }
    // An engine cannot be killed: give up waiting and let dispose() finish it off-thread.
    if (thread_worker) self->on_exit(s, {false, "engine did not stop within the grace period"});
  });
}

void SessionManager::on_child_exit(pid_t pid, int status) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) return;
    s = it->second;
    by_pid_.erase(it);
    if (auto* pw = dynamic_cast<ProcessWorker*>(s->worker.get())) pw->exited_ = true;
  }
  on_exit(s, {WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "worker " + std::to_string(pid) + " " + describe_wait_status(status)});
}

void SessionManager::on_exit(const std::shared_ptr<Session>& s, WorkerExit exit) {
  SessionCallback started;
  std::vector<SessionCallback> stopped;
  std::unique_ptr<Worker> worker;
  SessionInfo info;
  {
    std::lock_guard lock(mu_);
    if (s->ended) return;
    s->ended = true;
    if (!s->failure.empty()) {
      s->info.state = "failed";
      s->info.error = s->failure;
    } else if (s->stop_requested || exit.clean) {
      s->info.state = "stopped";
    } else {
      s->info.state = "failed";
      s->info.error = exit.description;
    }
    s->info.stopped_at_ms = unix_now_ms();
    if (s->join_timer) s->join_timer->cancel();
    if (s->kill_timer) s->kill_timer->cancel();
    auto it = active_.find(s->info.channel);
    if (it != active_.end() && it->second == s) active_.erase(it);
    remember_ended(s->info);
    started = std::move(s->on_started);
    stopped = std::move(s->on_stopped);
    worker = std::move(s->worker);
    info = s->info;
    idle_cv_.notify_all();
  }
  if (info.isolation == "thread") rtc::withdraw_local_hub(info.channel);
  if (info.state == "failed") {
    metrics_.error("session_failed");
    spdlog::error("session {} on channel {} failed: {}", info.id, info.channel, info.error);
  } else {
    spdlog::info("session {} on channel {} stopped ({})", info.id, info.channel, exit.description);
  }
  hub_->kick(info.channel, rtc::Role::kAgent, info.agent_uid, rtc::close_code::kSessionEnded,
             "session ended");
  hub_->send_event_to(info.channel, rtc::Role::kUser,
                      {{"type", "session"},
                       {"channel", info.channel},
                       {"state", info.state},
                       {"error", info.error}});
  if (store_) store_->put_session(info.to_record());
  dispose(std::move(worker));
  if (started) {
    const std::string tail = log_tail(info.channel);
    started(ApiError{500, "worker_exited",
                     "the agent ended before joining the channel: " + exit.description +
                         (tail.empty() ? "" : "; last log lines: " + tail)},
            info);
  }
  for (auto& cb : stopped) cb(std::nullopt, info);
}

std::string SessionManager::log_tail(const std::string& channel) const {
  if (config_.log_path.empty() || config_.isolation != Isolation::kProcess) return {};
  std::ifstream in(config_.log_path + "/" + channel + ".log");
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > 3) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : " | ") + l;
  return out;
}

void SessionManager::dispose(std::unique_ptr<Worker> worker) {
  if (!worker) return;
  // An engine's destructor may wait for its in-flight work: never on an I/O thread.
  boost::asio::post(runtime_->compute(),
                    [w = std::shared_ptr<Worker>(std::move(worker))]() mutable { w.reset(); });
}

std::optional<ApiError> SessionManager::ping(const std::string& channel, SessionInfo& out) {
  std::lock_guard lock(mu_);
  auto it = active_.find(channel);
  if (it == active_.end())
    return ApiError{404, "channel_not_found", "channel '" + channel + "' has no session"};
  it->second->info.last_ping_ms = unix_now_ms();
  out = it->second->info;
  return std::nullopt;
}

void SessionManager::arm_ping_timer() {
  ping_timer_.expires_after(std::chrono::milliseconds(250));
  ping_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->check_pings();
    self->arm_ping_timer();
  });
}

void SessionManager::check_pings() {
  std::vector<std::pair<std::string, int>> expired;
  const int64_t now = unix_now_ms();
  {
    std::lock_guard lock(mu_);
    for (const auto& [channel, s] : active_) {
      const int t = s->info.quit_timeout_s;
      if (t < 0 || s->stop_requested || s->info.state != "running") continue;
      if (now - s->info.last_ping_ms > int64_t{t} * 1000) expired.emplace_back(channel, t);
    }
  }
  for (const auto& [channel, t] : expired) {
    metrics_.error("ping_timeout");
    stop(channel, "no ping for " + std::to_string(t) + " s (WORKER_QUIT_TIMEOUT_SECONDS)", nullptr);
  }
}

std::vector<SessionInfo> SessionManager::list(bool recent) const {
  std::lock_guard lock(mu_);
  std::vector<SessionInfo> out;
  for (const auto& [channel, s] : active_) out.push_back(s->info);
  if (recent) out.insert(out.end(), recent_.rbegin(), recent_.rend());
  return out;
}

std::map<std::string, int> SessionManager::count_by_state() const {
  std::map<std::string, int> out{{"starting", 0}, {"running", 0}, {"stopping", 0}};
  std::lock_guard lock(mu_);
  for (const auto& [channel, s] : active_) ++out[s->info.state];
  for (const auto& info : recent_) ++out[info.state];
  return out;
}

void SessionManager::on_agent_event(const std::string& channel, const nlohmann::json& event) {
  if (!store_) return;
  std::string session_id;
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(channel);
    if (it != active_.end()) session_id = it->second->info.id;
  }
  const std::string type = event.value("type", "");
  const int64_t turn = event.contains("turn_id") && event["turn_id"].is_number_integer()
                           ? event["turn_id"].get<int64_t>()
                           : 0;
  const int64_t ts =
      event.contains("ts") && event["ts"].is_number() ? event["ts"].get<int64_t>() : unix_now_ms();
  if (type == rtc::event::kTranscript) {
    TranscriptRecord r;
    r.session_id = session_id;
    r.channel = channel;
    r.role = event.contains("role") && event["role"].is_string() ? event["role"].get<std::string>()
                                                                 : std::string("assistant");
    r.text = event.contains("text") && event["text"].is_string() ? event["text"].get<std::string>()
                                                                 : std::string();
    r.final =
        event.contains("final") && event["final"].is_boolean() ? event["final"].get<bool>() : true;
    r.turn_id = turn;
    if (event.contains("message_id"))
      r.message_id = event["message_id"].is_string() ? event["message_id"].get<std::string>()
                                                     : event["message_id"].dump();
    r.ts_ms = ts;
    store_->put_transcript(std::move(r));
  } else if (type == rtc::event::kMetrics) {
    nlohmann::json m = event;
    m.erase("type");
    store_->put_metrics({session_id, channel, turn, std::move(m), ts});
  }
}

void SessionManager::shutdown(std::chrono::milliseconds deadline) {
  std::vector<std::string> channels;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    for (const auto& [channel, s] : active_) channels.push_back(channel);
  }
  for (const auto& c : channels) stop(c, "server shutting down", nullptr);
  std::unique_lock lock(mu_);
  if (!idle_cv_.wait_for(lock, deadline, [&] { return active_.empty(); }))
    spdlog::warn("shutdown: {} session(s) still alive after {} ms", active_.size(),
                 deadline.count());
  lock.unlock();
  ping_timer_.cancel();
  if (reaper_) reaper_->stop();
}

}  // namespace parley::server
