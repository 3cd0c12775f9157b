// FakeOpenAi: a loopback HTTP/1.1 server for tests that answers POST /v1/chat/completions with a
// scripted Server-Sent Events stream in OpenAI's exact wire format (chunked transfer encoding,
// `data: {...}\n\n` events, `data: [DONE]`), records each request body, can stall, and notices
// when the client closes the connection (a cancelled stream).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <cstring>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

namespace parley::test {

// One step of a scripted response: wait, then write raw SSE text; `stall` waits for the client
// to hang up instead.
struct SseStep {
  int delay_ms = 0;
  std::string text;
  bool stall = false;
};

// `data: <json>\n\n`.
inline SseStep sse(const std::string& json, int delay_ms = 0) {
  return {delay_ms, "data: " + json + "\n\n", false};
}
// A text delta chunk.
inline SseStep delta(const std::string& text, int delay_ms = 0) {
  nlohmann::json j = {
      {"id", "chatcmpl-1"},
      {"object", "chat.completion.chunk"},
      {"model", "fake"},
      {"choices", {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}}}};
  return sse(j.dump(), delay_ms);
}
inline SseStep finish(const std::string& reason) {
  nlohmann::json j = {
      {"id", "chatcmpl-1"},
      {"object", "chat.completion.chunk"},
      {"choices",
       {{{"index", 0}, {"delta", nlohmann::json::object()}, {"finish_reason", reason}}}}};
  return sse(j.dump());
}
inline SseStep usage_chunk() {
  return sse(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})");
}
inline SseStep done() { return {0, "data: [DONE]\n\n", false}; }
inline SseStep stall() { return {0, "", true}; }

class FakeOpenAi {
 public:
  // Each request gets the next script (the last one repeats). `status` != 200 sends that status
  // with an OpenAI error body instead.
  struct Script {
    int status = 200;
    std::vector<SseStep> steps;
  };

  explicit FakeOpenAi(std::vector<Script> scripts) : scripts_(std::move(scripts)), acceptor_(io_) {
    using boost::asio::ip::tcp;
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeOpenAi() {
    stopping_ = true;
    boost::system::error_code ec;
    {
      // Wake the blocking accept() with a connection of our own, then close the acceptor.
      boost::asio::io_context io;
      boost::asio::ip::tcp::socket wake(io);
      wake.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    }
    if (thread_.joinable()) thread_.join();
    acceptor_.close(ec);
    for (auto& t : handlers_) t.join();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  // Request bodies received so far (parsed JSON).
  std::vector<nlohmann::json> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Waits until `n` requests arrived.
  bool wait_requests(size_t n, std::chrono::milliseconds t = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, t, [&] { return requests_.size() >= n; });
  }
  // Waits until a client hung up during a stalled stream.
  bool wait_client_closed(std::chrono::milliseconds t = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, t, [&] { return client_closed_ > 0; });
  }

 private:
  void serve() {
    while (!stopping_) {
      boost::asio::ip::tcp::socket sock(io_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stopping_) return;
      handlers_.emplace_back([this, s = std::move(sock)]() mutable { handle(std::move(s)); });
    }
  }

  void handle(boost::asio::ip::tcp::socket sock) {
    using namespace boost::asio;
    boost::system::error_code ec;
    std::string buf;
    char tmp[4096];
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      size_t n = sock.read_some(buffer(tmp), ec);
      if (ec) return;
      buf.append(tmp, n);
    }
    size_t length = 0;
    for (const char* key : {"Content-Length: ", "content-length: "}) {
      auto p = buf.find(key);
      if (p != std::string::npos && p < header_end)
        length = std::stoul(buf.substr(p + std::strlen(key)));
    }
    while (buf.size() < header_end + 4 + length) {
      size_t n = sock.read_some(buffer(tmp), ec);
      if (ec) return;
      buf.append(tmp, n);
    }
    Script script;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(
          nlohmann::json::parse(buf.substr(header_end + 4, length), nullptr, false));
      script = scripts_[std::min(requests_.size() - 1, scripts_.size() - 1)];
      cv_.notify_all();
    }
    if (script.status != 200) {
      std::string body = R"({"error":{"message":"fake failure","type":"server_error"}})";
      std::string resp = "HTTP/1.1 " + std::to_string(script.status) +
                         " Error\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      write(sock, buffer(resp), ec);
      return;
    }
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: "
        "chunked\r\nConnection: close\r\n\r\n";
    write(sock, buffer(head), ec);
    for (const auto& step : script.steps) {
      if (step.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(step.delay_ms));
      if (step.stall) {
        // Wait for the client to hang up (read returns EOF/error), as a cancelled stream does.
        size_t n = sock.read_some(buffer(tmp), ec);
        (void)n;
        std::lock_guard lock(mu_);
        ++client_closed_;
        cv_.notify_all();
        return;
      }
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", step.text.size());
      write(sock, buffer(std::string(size) + step.text + "\r\n"), ec);
      if (ec) return;
    }
    write(sock, buffer(std::string("0\r\n\r\n")), ec);
  }

  std::vector<Script> scripts_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::thread> handlers_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> requests_;
  int client_closed_ = 0;
};

}  // namespace parley::test
