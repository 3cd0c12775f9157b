// Test harness implementation: spawning `parley serve`, HTTP and WebSocket clients.
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "parley/rtc_protocol.h"

extern char** environ;

namespace parley::testing {

namespace {

// Reads one line from `fd` within `timeout`; false on EOF or timeout.
bool read_line(int fd, std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  line.clear();
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char c;
    if (read(fd, &c, 1) != 1) return false;
    if (c == '\n') return true;
    line += c;
  }
}

}  // namespace

std::unique_ptr<ServeProcess> ServeProcess::start(const std::vector<std::string>& args,
                                                  const std::vector<std::string>& env) {
  auto p = std::unique_ptr<ServeProcess>(new ServeProcess());
  char tmpl[] = "/tmp/parley-serve-XXXXXX";
  if (!mkdtemp(tmpl)) {
    ADD_FAILURE() << "mkdtemp failed";
    return nullptr;
  }
  p->dir_ = tmpl;
  std::vector<std::string> argv_s = {
      PARLEY_BIN,   "serve", "--host",       "127.0.0.1",
      "--port",     "0",     "--graphs-dir", std::string(PARLEY_SOURCE_DIR) + "/graphs",
      "--log-path", p->dir_};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    // The test decides these, whatever the developer's shell says.
    if (kv.rfind("PARLEY_", 0) == 0 || kv.rfind("WORKER", 0) == 0 || kv.rfind("SERVER_", 0) == 0 ||
        kv.rfind("LOG_", 0) == 0)
      continue;
    env_s.push_back(kv);
  }
  env_s.push_back(std::string("PARLEY_APP_CERTIFICATE=") + kTestCertificate);
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return nullptr;
  }
  const std::string log = p->dir_ + "/server.log";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc = posix_spawn(&p->pid_, PARLEY_BIN, &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    ADD_FAILURE() << "cannot run " << PARLEY_BIN;
    return nullptr;
  }
  std::string line;
  const bool got = read_line(out[0], line, std::chrono::seconds(20));
  close(out[0]);  // later stdout writes (worker logs with LOG_STDOUT) get EPIPE, which is fine
  const std::string prefix = "listening on 127.0.0.1:";
  if (!got || line.rfind(prefix, 0) != 0) {
    ADD_FAILURE() << "server did not print '" << prefix << "PORT' (got '" << line
                  << "'); its log:\n"
                  << p->log();
    return nullptr;
  }
  p->port_ = static_cast<uint16_t>(std::stoi(line.substr(prefix.size())));
  return p;
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0 && !exited_) {
    if (terminate(std::chrono::seconds(15)) < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  if (!dir_.empty() && !std::getenv("PARLEY_TEST_KEEP_TMP")) std::filesystem::remove_all(dir_);
}

int ServeProcess::terminate(std::chrono::milliseconds timeout) {
  if (exited_) return -1;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      return status;
    }
    usleep(20000);
  }
  return -1;
}

long ServeProcess::rss_kib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::string ServeProcess::log() const {
  std::ifstream in(dir_ + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Api::Api(std::string base_url, std::string api_key)
    : base_(std::move(base_url)), key_(std::move(api_key)), runtime_(Runtime::create({2, 1})) {}

Answer Api::get(const std::string& path) const { return request("GET", path, ""); }
Answer Api::post(const std::string& path, const nlohmann::json& body) const {
  return request("POST", path, body.dump());
}
Answer Api::post_raw(const std::string& path, const std::string& body) const {
  return request("POST", path, body);
}

Answer Api::request(const std::string& method, const std::string& path, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers) const {
  net::HttpClientRequest req;
  req.method = method;
  req.url = base_ + path;
  req.body = body;
  if (!body.empty()) req.headers.set("Content-Type", "application/json");
  if (!key_.empty()) req.headers.set("Authorization", "Bearer " + key_);
  for (const auto& [k, v] : headers) req.headers.set(k, v);
  req.read_timeout = std::chrono::seconds(30);
  auto r = net::http_fetch(runtime_->io(), std::move(req));
  Answer a;
  if (!r.is_ok()) {
    ADD_FAILURE() << method << " " << path << ": " << r.status().message();
    return a;
  }
  a.status = r->status;
  a.text = r->body;
  a.headers = r->headers;
  a.body = nlohmann::json::parse(r->body, nullptr, false);
  if (a.body.is_discarded()) a.body = nullptr;
  return a;
}

std::unique_ptr<RtcClient> RtcClient::connect(boost::asio::io_context& io, const std::string& url,
                                              std::string* error) {
  auto c = std::unique_ptr<RtcClient>(new RtcClient());
  auto st = c->state_;
  net::WsCallbacks cb;
  cb.on_text = [st](const auto&, std::string text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    std::lock_guard lock(st->mu);
    st->events.push_back(j.is_discarded() ? nlohmann::json{{"type", "<not json>"}} : j);
    st->cv.notify_all();
  };
  cb.on_binary = [st](const auto&, std::string data) {
    std::lock_guard lock(st->mu);
    st->binary.push_back(std::move(data));
    st->cv.notify_all();
  };
  cb.on_close = [st](const auto&, const net::WsCloseInfo& info) {
    std::lock_guard lock(st->mu);
    st->closed = info;
    st->cv.notify_all();
  };
  net::WsClientOptions opts;
  opts.connect_timeout = std::chrono::seconds(5);
  auto conn = net::ws_connect_sync(io, url, opts, cb);
  if (!conn.is_ok()) {
    if (error) *error = conn.status().message();
    return nullptr;
  }
  c->conn_ = std::move(conn).value();
  return c;
}

RtcClient::~RtcClient() { close(); }

void RtcClient::send_text(const nlohmann::json& event) { (void)conn_->send_text(event.dump()); }
void RtcClient::send_binary(std::string frame) { (void)conn_->send_binary(std::move(frame)); }

std::optional<nlohmann::json> RtcClient::wait_event(
    const std::function<bool(const nlohmann::json&)>& pred, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (auto it = state_->events.begin(); it != state_->events.end(); ++it) {
      if (pred(*it)) {
        auto j = *it;
        state_->events.erase(it);
        return j;
      }
    }
    if (state_->cv.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

std::optional<nlohmann::json> RtcClient::wait_type(const std::string& type, const std::string& role,
                                                   std::chrono::milliseconds timeout) {
  return wait_event(
      [&](const nlohmann::json& j) {
        return j.value("type", "") == type && (role.empty() || j.value("role", "") == role);
      },
      timeout);
}

std::vector<std::string> RtcClient::take_binary() {
  std::lock_guard lock(state_->mu);
  return std::move(state_->binary);
}

size_t RtcClient::binary_count() {
  std::lock_guard lock(state_->mu);
  return state_->binary.size();
}

bool RtcClient::wait_binary(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->binary.size() >= n; });
}

std::optional<net::WsCloseInfo> RtcClient::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return state_->closed.has_value(); });
  return state_->closed;
}

void RtcClient::close() {
  if (conn_) conn_->close(net::ws_close::kNormal, "test done");
}

std::string audio_frame(uint32_t seq, uint64_t timestamp_ms, int sample_rate, int channels,
                        int frame_ms) {
  rtc::FrameHeader h;
  h.kind = rtc::FrameKind::kAudio;
  h.sequence = seq;
  h.timestamp_ms = timestamp_ms;
  h.sample_rate = static_cast<uint32_t>(sample_rate);
  h.channels = static_cast<uint8_t>(channels);
  const size_t samples = static_cast<size_t>(sample_rate / 1000 * frame_ms * channels);
  std::string pcm(samples * 2, '\0');
  for (size_t i = 0; i < samples; ++i) {
    const auto v = static_cast<int16_t>((seq * 31 + i) & 0x3fff);
    pcm[2 * i] = static_cast<char>(v & 0xff);
    pcm[2 * i + 1] = static_cast<char>(v >> 8);
  }
  return *rtc::encode_frame(h, pcm);
}

}  // namespace parley::testing
