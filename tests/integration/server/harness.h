// Test harness for black-box tests of `parley serve`: runs the real server on 127.0.0.1 port 0
// (reading the bound port from its "listening on" line), and talks to it over HTTP and WebSocket
// with the net library's clients.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/net/client.h"
#include "parley/runtime.h"

namespace parley::testing {

// The certificate the test servers sign with, so tests can forge and expire tokens.
inline constexpr const char* kTestCertificate = "integration-test-certificate";

// A `parley serve` child process.
class ServeProcess {
 public:
  // Starts the server with `args` after `serve --host 127.0.0.1 --port 0 --graphs-dir ...
  // --log-path <tmp>`, and waits for its port. Fails the test (and returns nullptr) on error.
  static std::unique_ptr<ServeProcess> start(const std::vector<std::string>& args,
                                             const std::vector<std::string>& env = {});
  ~ServeProcess();

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The temporary LOG_PATH (worker logs, parley.db, server.log).
  const std::string& dir() const { return dir_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string rtc_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/v1/rtc"; }
  // Sends SIGTERM and waits up to `timeout` for the exit; returns the wait status (-1: timeout).
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Resident memory of the server in KiB (from /proc).
  long rss_kib() const;
  // The server's stderr so far.
  std::string log() const;

 private:
  pid_t pid_ = 0;
  uint16_t port_ = 0;
  std::string dir_;
  bool exited_ = false;
};

// An HTTP answer: status and parsed JSON body (null when not JSON).
struct Answer {
  int status = 0;
  nlohmann::json body;
  std::string text;
  net::HttpHeaders headers;
};

// Blocking HTTP calls against a server (the io_context runs on its own threads).
class Api {
 public:
  explicit Api(std::string base_url, std::string api_key = "");
  Answer get(const std::string& path) const;
  Answer post(const std::string& path, const nlohmann::json& body) const;
  Answer post_raw(const std::string& path, const std::string& body) const;
  Answer request(const std::string& method, const std::string& path, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  Runtime& runtime() { return *runtime_; }

 private:
  std::string base_;
  std::string key_;
  std::shared_ptr<Runtime> runtime_;
};

// A WebSocket participant that records everything it receives.
class RtcClient {
 public:
  // Connects to `url` (query included); nullptr (with the failure message in `error`) if it fails.
  static std::unique_ptr<RtcClient> connect(boost::asio::io_context& io, const std::string& url,
                                            std::string* error = nullptr);
  ~RtcClient();

  void send_text(const nlohmann::json& event);
  void send_binary(std::string frame);
  // Waits for a text event for which `pred` holds (earlier ones stay queued).
  std::optional<nlohmann::json> wait_event(
      const std::function<bool(const nlohmann::json&)>& pred,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for an event of `type` (and, when given, `role`).
  std::optional<nlohmann::json> wait_type(
      const std::string& type, const std::string& role = "",
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Binary frames received so far (moved out).
  std::vector<std::string> take_binary();
  size_t binary_count();
  // Waits until at least `n` binary frames were received (and not taken); false on timeout.
  bool wait_binary(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for the close; nullopt on timeout.
  std::optional<net::WsCloseInfo> wait_closed(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void close();

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<nlohmann::json> events;
    std::vector<std::string> binary;
    std::optional<net::WsCloseInfo> closed;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::shared_ptr<net::WsConnection> conn_;
};

// A 20 ms 16 kHz mono audio frame whose samples encode `seq`.
std::string audio_frame(uint32_t seq, uint64_t timestamp_ms, int sample_rate = 16000,
                        int channels = 1, int frame_ms = 20);

}  // namespace parley::testing
