// Worker processes (posix_spawn in their own process group, reaped by one thread) and in-process
// engine workers (see worker.h).
#include "worker.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

extern char** environ;

namespace parley::server {

ChildReaper::ChildReaper(std::function<void(pid_t, int)> on_exit)
    : on_exit_(std::move(on_exit)), thread_([this] { run(); }) {}

ChildReaper::~ChildReaper() { stop(); }

void ChildReaper::child_started() {
  {
    std::lock_guard lock(mu_);
    ++live_;
  }
  cv_.notify_one();
}

void ChildReaper::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// Polls with WNOHANG (every 5 ms while children live) rather than blocking in waitpid, so stop()
// never waits for a child that refuses to die.
void ChildReaper::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || live_ > 0; });
    if (stop_) return;
    lock.unlock();
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      on_exit_(pid, status);
      lock.lock();
      if (live_ > 0) --live_;
      continue;
    }
    lock.lock();
    if (pid < 0 && errno == ECHILD) {
      live_ = 0;
      continue;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(5), [&] { return stop_; });
  }
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

Result<pid_t> spawn_process(const ProcessSpec& spec) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  for (const auto& e : spec.extra_env) env_store.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_store{spec.exe};
  argv_store.insert(argv_store.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!spec.inherit_stdout) posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  if (!spec.log_file.empty())
    posix_spawn_file_actions_addopen(&actions, 2, spec.log_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, spec.exe.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return unavailable("cannot start worker '" + spec.exe + "': " + strerror(rc) +
                       (spec.log_file.empty() ? "" : " (log file " + spec.log_file + ")"));
  return pid;
}

Status ProcessWorker::launch() {
  PARLEY_ASSIGN_OR_RETURN(pid_t pid, spawn_process(spec_));
  pid_ = pid;
  return Status::ok();
}

void ProcessWorker::terminate() {
  const pid_t pid = pid_.load();
  if (pid > 0 && !exited_.load()) ::kill(-pid, SIGTERM);
}

void ProcessWorker::kill() {
  const pid_t pid = pid_.load();
  if (pid > 0 && !exited_.load()) ::kill(-pid, SIGKILL);
}

ThreadWorker::ThreadWorker(GraphSpec graph, std::shared_ptr<Runtime> runtime, EngineOptions options,
                           WorkerExitHandler on_exit)
    : graph_(std::move(graph)),
      runtime_(std::move(runtime)),
      options_(std::move(options)),
      on_exit_(std::move(on_exit)) {}

ThreadWorker::~ThreadWorker() {
  if (engine_) engine_->stop_sync();
}

Status ThreadWorker::launch() {
  auto engine = Engine::create(graph_, runtime_, options_);
  if (!engine.is_ok()) return engine.status();
  engine_ = std::move(engine).value();
  engine_->start([this](Status s) {
    if (!s.is_ok()) report({false, "graph failed to start: " + s.message()});
  });
  return Status::ok();
}

void ThreadWorker::terminate() {
  if (!engine_ || stopping_.exchange(true)) return;
  engine_->stop([this] { report({true, "engine stopped"}); });
}

void ThreadWorker::report(WorkerExit exit) {
  if (reported_.exchange(true)) return;
  if (on_exit_) on_exit_(std::move(exit));
}

}  // namespace parley::server
