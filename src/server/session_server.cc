// Wiring of the session server: runtime, store, hub, sessions and control API on one net::Server.
#include "parley/server/session_server.h"

#include <unistd.h>

#include <climits>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control_api.h"

namespace parley::server {

Status ServerConfig::validate() const {
  if (isolation != "process" && isolation != "thread")
    return invalid_argument("--isolation must be 'process' or 'thread', got '" + isolation + "'");
  if (workers_max < 1) return invalid_argument("WORKERS_MAX must be >= 1");
  if (worker_quit_timeout_s < -1 || worker_quit_timeout_s == 0)
    return invalid_argument(
        "WORKER_QUIT_TIMEOUT_SECONDS must be a positive number of seconds, or -1 for never");
  if (stop_grace_ms < 1) return invalid_argument("--stop-grace-ms must be >= 1");
  if (join_timeout_ms < 1) return invalid_argument("--join-timeout-ms must be >= 1");
  if (max_body_bytes < 1024) return invalid_argument("--max-body-bytes must be >= 1024");
  if (token_ttl_s < 1) return invalid_argument("--token-ttl must be >= 1 s");
  std::error_code ec;
  if (!std::filesystem::is_directory(graphs_dir, ec))
    return invalid_argument("--graphs-dir '" + graphs_dir + "' is not a directory");
  if (!log_path.empty() && std::filesystem::exists(log_path, ec) &&
      !std::filesystem::is_directory(log_path, ec))
    return invalid_argument("LOG_PATH '" + log_path + "' exists and is not a directory");
  return Status::ok();
}

std::string ServerConfig::to_string() const {
  return fmt::format(
      "{}:{} isolation={} graphs={} workers_max={} quit_timeout={}s log_path='{}' db='{}' "
      "api_key={} cors='{}' max_body={}",
      host, port, isolation, graphs_dir, workers_max, worker_quit_timeout_s, log_path, db_path,
      api_key.empty() ? "off" : "on", cors_origins, max_body_bytes);
}

class SessionServer::Impl {
 public:
  explicit Impl(ServerConfig config) : config_(std::move(config)) {}

  Status init() {
    if (!config_.log_path.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(config_.log_path, ec);
      if (ec)
        return invalid_argument("cannot create LOG_PATH '" + config_.log_path +
                                "': " + ec.message());
    }
    if (config_.db_path.empty())
      config_.db_path = config_.log_path.empty() ? "parley.db" : config_.log_path + "/parley.db";
    if (config_.agent_exe.empty()) {
      char buf[PATH_MAX];
      const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
      if (n <= 0) return internal_error("cannot find this executable (/proc/self/exe)");
      config_.agent_exe.assign(buf, static_cast<size_t>(n));
    }
    bool generated = false;
    auto signer = TokenSigner::from_environment(generated);
    if (!signer.is_ok()) return signer.status();
    signer_ = std::make_unique<TokenSigner>(std::move(signer).value());
    if (generated)
      spdlog::warn(
          "PARLEY_APP_CERTIFICATE is not set: generated a random app certificate; tokens "
          "issued by this server stop working when it restarts");
    auto store = Store::open({config_.db_path});
    if (!store.is_ok()) return store.status();
    store_ = std::move(store).value();
    runtime_ = Runtime::create({config_.io_threads, 2});
    catalog_ = std::make_unique<GraphCatalog>(config_.graphs_dir);
    hub_ = std::make_shared<Hub>(runtime_->io(), *signer_, HubOptions{}, metrics_);

    SessionConfig sc;
    sc.isolation = config_.isolation == "thread" ? Isolation::kThread : Isolation::kProcess;
    sc.workers_max = config_.workers_max;
    sc.quit_timeout_s = config_.worker_quit_timeout_s;
    sc.stop_grace = std::chrono::milliseconds(config_.stop_grace_ms);
    sc.join_timeout = std::chrono::milliseconds(config_.join_timeout_ms);
    sc.log_path = config_.log_path;
    sc.log_stdout = config_.log_stdout;
    sc.agent_exe = config_.agent_exe;
    sc.agent_global_args = config_.agent_global_args;
    sessions_ = std::make_shared<SessionManager>(sc, runtime_, hub_, *catalog_, store_.get(),
                                                 metrics_, *signer_);
    std::weak_ptr<SessionManager> weak = sessions_;
    hub_->set_observer({[weak](const std::string& channel, uint32_t uid, rtc::Role role) {
                          if (auto s = weak.lock()) s->on_joined(channel, uid, role);
                        },
                        nullptr,
                        [weak](const std::string& channel, const nlohmann::json& event) {
                          if (auto s = weak.lock()) s->on_agent_event(channel, event);
                        }});

    net::ServerOptions so;
    so.host = config_.host;
    so.port = config_.port;
    so.max_body_bytes = config_.max_body_bytes;
    so.websocket.ping_interval = std::chrono::seconds(20);
    so.websocket.max_message_bytes = rtc::kFrameHeaderBytes + rtc::kMaxFramePayloadBytes;
    server_ = std::make_unique<net::Server>(runtime_->io(), so);
    auto ctx = std::make_shared<ControlApiContext>();
    ctx->options = {config_.api_key, config_.cors_origins, config_.token_ttl_s};
    ctx->runtime = runtime_.get();
    ctx->sessions = sessions_.get();
    ctx->hub = hub_.get();
    ctx->catalog = catalog_.get();
    ctx->store = store_.get();
    ctx->metrics = &metrics_;
    ctx->signer = signer_.get();
    ctx->server = server_.get();
    ctx->draining = [this] { return draining_.load(); };
    register_control_api(*server_, ctx, hub_);
    return Status::ok();
  }

  Status start() {
    PARLEY_RETURN_IF_ERROR(server_->start());
    std::string host = config_.host;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    sessions_->start_supervision("ws://" + host + ":" + std::to_string(server_->port()) +
                                 "/v1/rtc");
    spdlog::info("session server on {}: {}", server_->local_address(), config_.to_string());
    return Status::ok();
  }

  void shutdown() {
    if (shut_down_.exchange(true)) return;
    draining_ = true;
    hub_->set_draining();
    spdlog::info("shutdown: stopping sessions");
    sessions_->shutdown(std::chrono::milliseconds(config_.stop_grace_ms + 2000));
    spdlog::info("shutdown: closing connections");
    server_->stop(std::chrono::milliseconds(2000));
    store_->flush();
    store_->close();
    spdlog::info("shutdown: store flushed to {}", config_.db_path);
    runtime_->shutdown();
  }

  uint16_t port() const { return server_->port(); }
  std::string local_address() const { return server_->local_address(); }

 private:
  ServerConfig config_;
  ServerMetrics metrics_;
  std::unique_ptr<TokenSigner> signer_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<GraphCatalog> catalog_;
  std::shared_ptr<Hub> hub_;
  std::shared_ptr<SessionManager> sessions_;
  std::unique_ptr<net::Server> server_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> shut_down_{false};
};

Result<std::unique_ptr<SessionServer>> SessionServer::create(ServerConfig config) {
  PARLEY_RETURN_IF_ERROR(config.validate());
  auto impl = std::make_unique<Impl>(std::move(config));
  PARLEY_RETURN_IF_ERROR(impl->init());
  return std::unique_ptr<SessionServer>(new SessionServer(std::move(impl)));
}

SessionServer::SessionServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SessionServer::~SessionServer() { impl_->shutdown(); }
Status SessionServer::start() { return impl_->start(); }
uint16_t SessionServer::port() const { return impl_->port(); }
std::string SessionServer::local_address() const { return impl_->local_address(); }
void SessionServer::shutdown() { impl_->shutdown(); }

}  // namespace parley::server
