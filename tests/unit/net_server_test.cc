// parley_net black-box over 127.0.0.1 port 0: routing, keep-alive, limits, responders on other
// threads, WebSocket upgrade refusal, echo, close codes, pings, queue limits and graceful stop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <nlohmann/json.hpp>

#include "parley/net/client.h"
#include "parley/net/server.h"
#include "parley/runtime.h"

namespace parley::net {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::tcp;

class NetServerTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_ = Runtime::create({.io_threads = 2, .compute_threads = 1}); }
  void TearDown() override {
    if (server_) server_->stop(1000ms);
    server_.reset();
    runtime_->shutdown();
  }

  Server& start(ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(runtime_->io(), options);
    return *server_;
  }
  void listen() {
    auto st = server_->start();
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    ASSERT_NE(server_->port(), 0);
  }
  std::string base(const char* scheme = "http") {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(server_->port());
  }
  Result<HttpResponse> get(const std::string& path, std::string method = "GET",
                           std::string body = "") {
    HttpClientRequest req;
    req.method = std::move(method);
    req.url = base() + path;
    req.body = std::move(body);
    return http_fetch(runtime_->io(), req);
  }

  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<Server> server_;
};

// Collects what a client connection receives.
struct Inbox : std::enable_shared_from_this<Inbox> {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<bool, std::string>> messages;  // (text, payload)
  std::optional<WsCloseInfo> closed;

  // The callbacks share ownership: a connection may outlive the test body that made it.
  WsCallbacks callbacks() {
    auto self = shared_from_this();
    WsCallbacks cb;
    cb.on_text = [self](const std::shared_ptr<WsConnection>&, std::string t) {
      self->add(true, t);
    };
    cb.on_binary = [self](const std::shared_ptr<WsConnection>&, std::string b) {
      self->add(false, b);
    };
    cb.on_close = [self](const std::shared_ptr<WsConnection>&, const WsCloseInfo& i) {
      std::lock_guard lock(self->mu);
      self->closed = i;
      self->cv.notify_all();
    };
    return cb;
  }
  void add(bool text, std::string data) {
    std::lock_guard lock(mu);
    messages.emplace_back(text, std::move(data));
    cv.notify_all();
  }
  bool wait_messages(size_t n, std::chrono::milliseconds t = 5000ms) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, t, [&] { return messages.size() >= n; });
  }
  std::optional<WsCloseInfo> wait_closed(std::chrono::milliseconds t = 5000ms) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, t, [&] { return closed.has_value(); });
    return closed;
  }
};

WsCallbacks echo() {
  WsCallbacks cb;
  cb.on_text = [](const std::shared_ptr<WsConnection>& c, std::string t) {
    (void)c->send_text(std::move(t));
  };
  cb.on_binary = [](const std::shared_ptr<WsConnection>& c, std::string b) {
    (void)c->send_binary(std::move(b));
  };
  return cb;
}

TEST_F(NetServerTest, RoutesByMethodAndPathWithJsonErrors) {
  auto& s = start();
  s.handle("GET", "/hello", [](const HttpRequest& r, HttpResponder respond) {
    respond.send(HttpResponse::text(200, "hi " + std::string(r.query_param("name").value_or(""))));
  });
  s.handle("POST", "/echo", [](const HttpRequest& r, HttpResponder respond) {
    respond.send(HttpResponse::text(201, r.body, "application/octet-stream"));
  });
  listen();
  auto ok = get("/hello?name=a%20b");
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "hi a b");
  EXPECT_EQ(ok->headers.get("Server"), "parley");
  EXPECT_TRUE(ok->headers.get("Date").value_or("").ends_with(" GMT"));
  auto posted = get("/echo", "POST", std::string(100000, 'x'));
  ASSERT_TRUE(posted.is_ok());
  EXPECT_EQ(posted->status, 201);
  EXPECT_EQ(posted->body.size(), 100000u);
  EXPECT_EQ(get("/nope")->status, 404);
  EXPECT_NE(get("/nope")->body.find("\"not_found\""), std::string::npos);
  EXPECT_EQ(get("/hello", "DELETE")->status, 405);
  // The error quotes the decoded path, which need not be UTF-8: still a JSON 404, and the
  // server keeps serving.
  auto odd = get("/%FF");
  ASSERT_TRUE(odd.is_ok()) << odd.status().to_string();
  EXPECT_EQ(odd->status, 404);
  EXPECT_TRUE(nlohmann::json::parse(odd->body, nullptr, false).is_object()) << odd->body;
  EXPECT_EQ(get("/hello")->status, 200);
}

TEST_F(NetServerTest, HeaderValuesCannotSplitTheResponse) {
  auto& s = start();
  s.handle("GET", "/h", [](const HttpRequest& r, HttpResponder respond) {
    auto res = HttpResponse::text(200, "ok");
    res.headers.set("X-Echo", std::string(r.query_param("v").value_or("")));
    respond.send(std::move(res));
  });
  listen();
  auto r = get("/h?v=a%0D%0AX-Injected:%201");  // a decoded query value quoted in a header
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->headers.has("X-Injected"));
  EXPECT_EQ(r->headers.get("X-Echo"), "a  X-Injected: 1");
  EXPECT_EQ(r->body, "ok");
}

TEST_F(NetServerTest, PathTemplatesCaptureSegmentsAndExactRoutesWin) {
  auto& s = start();
  s.handle("GET", "/s/{id}/t", [](const HttpRequest& r, HttpResponder respond) {
    respond.send(HttpResponse::text(200, "id=" + std::string(r.path_param("id").value_or("?"))));
  });
  s.handle("GET", "/s/all/t", [](const HttpRequest&, HttpResponder respond) {
    respond.send(HttpResponse::text(200, "exact"));
  });
  listen();
  EXPECT_EQ(get("/s/demo%20x/t")->body, "id=demo x");
  EXPECT_EQ(get("/s/all/t")->body, "exact");
  EXPECT_EQ(get("/s//t")->status, 404);
  EXPECT_EQ(get("/s/a/t/u")->status, 404);
  EXPECT_EQ(get("/s/a/t", "POST")->status, 405);
}

TEST(NetPathTemplate, MatchesWholeSegmentsOnly) {
  std::vector<QueryParam> p;
  EXPECT_TRUE(match_path_template("/a/{x}/c/{y}", "/a/b/c/d", &p));
  EXPECT_EQ(p, (std::vector<QueryParam>{{"x", "b"}, {"y", "d"}}));
  EXPECT_FALSE(match_path_template("/a/{x}", "/a/", nullptr));
  EXPECT_FALSE(match_path_template("/a/{x}", "/a/b/", nullptr));
  EXPECT_FALSE(match_path_template("/a/{x}/c", "/a/b", nullptr));
  EXPECT_FALSE(match_path_template("/a/b", "/a/c", nullptr));
  EXPECT_TRUE(match_path_template("/a/b", "/a/b", nullptr));
}

TEST_F(NetServerTest, RespondsFromAnotherThreadAndAnswers500WhenAHandlerForgets) {
  auto& s = start();
  s.handle("GET", "/later", [this](const HttpRequest&, HttpResponder respond) {
    boost::asio::post(runtime_->compute(), [respond] {
      std::this_thread::sleep_for(20ms);
      respond.send(HttpResponse::text(200, "done"));
      respond.send(HttpResponse::text(500, "ignored: the first send wins"));
    });
  });
  s.handle("GET", "/forgot", [](const HttpRequest&, HttpResponder) {});
  listen();
  EXPECT_EQ(get("/later")->body, "done");
  EXPECT_EQ(get("/forgot")->status, 500);
}

TEST_F(NetServerTest, KeepsConnectionsAliveAndEnforcesTheBodyLimit) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  auto& s = start(o);
  s.handle("POST", "/x", [](const HttpRequest& r, HttpResponder respond) {
    respond.send(HttpResponse::text(200, std::to_string(r.body.size())));
  });
  listen();
  boost::asio::io_context io;
  tcp::socket sock(io);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  const std::string one = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
  boost::asio::write(sock, boost::asio::buffer(one + one));  // pipelined on one connection
  boost::asio::streambuf buf;
  std::string all;
  while (all.find("\r\n\r\n3", all.find("\r\n\r\n3") + 1) == std::string::npos) {
    boost::asio::read(sock, buf, boost::asio::transfer_at_least(1));
    all.assign(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
  }
  EXPECT_EQ(all.find("HTTP/1.1 200"), 0u);
  EXPECT_NE(all.find("HTTP/1.1 200", 5), std::string::npos);

  auto big = get("/x", "POST", std::string(5000, 'y'));
  ASSERT_TRUE(big.is_ok()) << big.status().to_string();
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("1000 bytes"), std::string::npos);
}

TEST_F(NetServerTest, RefusesAnUpgradeWithStatusAndReasonBeforeUpgrading) {
  auto& s = start();
  s.handle_websocket("/ws", [](WsUpgrade up) {
    if (up.request().query_param("ok") != "1") {
      up.reject(HttpResponse::json_error(400, "bad_parameter", "ok must be 1"));
      return;
    }
    up.accept(echo());
  });
  listen();
  auto inbox = std::make_shared<Inbox>();
  auto refused = ws_connect_sync(runtime_->io(), base("ws") + "/ws?ok=0", {}, inbox->callbacks());
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("HTTP 400"), std::string::npos);
  EXPECT_NE(refused.status().message().find("ok must be 1"), std::string::npos);
  // A plain GET to a WebSocket path is told to upgrade.
  EXPECT_EQ(get("/ws")->status, 426);
  auto conn = ws_connect_sync(runtime_->io(), base("ws") + "/ws?ok=1", {}, inbox->callbacks());
  ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
  // The server counts the connection once its side of the handshake has completed.
  for (int i = 0; i < 100 && server_->stats().websocket_connections == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server_->stats().websocket_connections, 1u);
}

TEST_F(NetServerTest, EchoesTextBinaryAndLargeMessagesAndEchoesTheCloseCode) {
  auto& s = start();
  std::promise<WsCloseInfo> server_saw;
  s.handle_websocket("/echo", [&](WsUpgrade up) {
    auto cb = echo();
    cb.on_close = [&](const std::shared_ptr<WsConnection>&, const WsCloseInfo& i) {
      server_saw.set_value(i);
    };
    up.accept(cb);
  });
  listen();
  auto inbox = std::make_shared<Inbox>();
  auto conn = ws_connect_sync(runtime_->io(), base("ws") + "/echo", {}, inbox->callbacks());
  ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
  const std::string big(3 << 20, 'z');
  ASSERT_TRUE((*conn)->send_text("hello").is_ok());
  ASSERT_TRUE((*conn)->send_binary(std::string("\0\1\2", 3)).is_ok());
  ASSERT_TRUE((*conn)->send_binary(big).is_ok());
  ASSERT_TRUE(inbox->wait_messages(3));
  EXPECT_EQ(inbox->messages[0], (std::pair<bool, std::string>{true, "hello"}));
  EXPECT_EQ(inbox->messages[1], (std::pair<bool, std::string>{false, std::string("\0\1\2", 3)}));
  EXPECT_EQ(inbox->messages[2].second.size(), big.size());
  (*conn)->close(4000, "bye");
  auto closed = inbox->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4000);
  auto seen = server_saw.get_future();
  ASSERT_EQ(seen.wait_for(5s), std::future_status::ready);
  auto info = seen.get();
  EXPECT_EQ(info.code, 4000);
  EXPECT_EQ(info.reason, "bye");
  EXPECT_TRUE(info.by_peer);
  EXPECT_FALSE((*conn)->send_text("late").is_ok());
}

TEST_F(NetServerTest, ServerCloseDeliversQueuedMessagesFirst) {
  auto& s = start();
  s.handle_websocket("/burst", [](WsUpgrade up) {
    WsCallbacks cb;
    cb.on_open = [](const std::shared_ptr<WsConnection>& c) {
      for (int i = 0; i < 100; ++i) (void)c->send_text(std::to_string(i));
      c->close(1011, "NET-0001: done");
    };
    up.accept(cb);
  });
  listen();
  auto inbox = std::make_shared<Inbox>();
  auto conn = ws_connect_sync(runtime_->io(), base("ws") + "/burst", {}, inbox->callbacks());
  ASSERT_TRUE(conn.is_ok());
  auto closed = inbox->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1011);
  EXPECT_EQ(closed->reason, "NET-0001: done");
  ASSERT_EQ(inbox->messages.size(), 100u);
  EXPECT_EQ(inbox->messages[99].second, "99");
}

// A WebSocket client that completes the handshake by hand and then never reads or answers pings.
struct SilentClient {
  boost::asio::io_context io;
  tcp::socket sock{io};
  explicit SilentClient(uint16_t port, const std::string& path) {
    sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    const std::string req = "GET " + path +
                            " HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
    boost::asio::write(sock, boost::asio::buffer(req));
    buf.consume(boost::asio::read_until(sock, buf, "\r\n\r\n"));  // the 101 response
  }
  // Reads frames until a Close frame; returns its code and reason ({0, ""} on EOF first).
  std::pair<int, std::string> read_until_close(int* pings = nullptr) {
    for (;;) {
      auto need = [&](size_t n) {
        if (buf.size() < n)
          boost::asio::read(sock, buf, boost::asio::transfer_at_least(n - buf.size()));
      };
      try {
        need(2);
        auto* p = static_cast<const unsigned char*>(buf.data().data());
        const int opcode = p[0] & 0x0F;
        size_t len = p[1] & 0x7F, head = 2;
        if (len == 126) {
          need(4);
          p = static_cast<const unsigned char*>(buf.data().data());
          len = (p[2] << 8) | p[3];
          head = 4;
        } else if (len == 127) {
          need(10);
          p = static_cast<const unsigned char*>(buf.data().data());
          len = 0;
          for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
          head = 10;
        }
        need(head + len);
        p = static_cast<const unsigned char*>(buf.data().data());
        if (opcode == 0x9 && pings) ++*pings;
        if (opcode == 0x8) {
          const int code = len >= 2 ? (p[head] << 8) | p[head + 1] : 0;
          std::string reason(reinterpret_cast<const char*>(p + head + 2), len >= 2 ? len - 2 : 0);
          return {code, reason};
        }
        buf.consume(head + len);
      } catch (const std::exception&) {
        return {0, ""};
      }
    }
  }
  boost::asio::streambuf buf;
};

TEST_F(NetServerTest, ClosesAfterTheConfiguredNumberOfUnansweredPings) {
  ServerOptions o;
  o.websocket.ping_interval = 40ms;
  o.websocket.max_missed_pongs = 3;
  o.websocket.handshake_timeout = 500ms;
  auto& s = start(o);
  s.handle_websocket("/ws", [](WsUpgrade up) { up.accept(echo()); });
  listen();
  // A well-behaved client (Beast answers pings) stays connected well past the limit.
  auto inbox = std::make_shared<Inbox>();
  auto good = ws_connect_sync(runtime_->io(), base("ws") + "/ws", {}, inbox->callbacks());
  ASSERT_TRUE(good.is_ok());
  // A client that never answers is closed with 1001 and NET-0002.
  SilentClient silent(server_->port(), "/ws");
  int pings = 0;
  auto [code, reason] = silent.read_until_close(&pings);
  EXPECT_EQ(code, 1001);
  EXPECT_NE(reason.find("NET-0002"), std::string::npos) << reason;
  EXPECT_GE(pings, 3);
  EXPECT_TRUE((*good)->is_open());
  ASSERT_TRUE((*good)->send_text("still here").is_ok());
  ASSERT_TRUE(inbox->wait_messages(1));
}

TEST_F(NetServerTest, IdleTimeoutClosesSilentConnections) {
  ServerOptions o;
  o.websocket.ping_interval = 0ms;
  o.websocket.idle_timeout = 100ms;
  auto& s = start(o);
  s.handle_websocket("/ws", [](WsUpgrade up) { up.accept(echo()); });
  listen();
  SilentClient silent(server_->port(), "/ws");
  auto [code, reason] = silent.read_until_close();
  EXPECT_EQ(code, 1001);
  EXPECT_NE(reason.find("idle"), std::string::npos) << reason;
}

TEST_F(NetServerTest, SendQueueLimitClosesSlowReaders) {
  ServerOptions o;
  o.websocket.max_queued_bytes = 1 << 20;
  auto& s = start(o);
  std::promise<Status> overflow;
  s.handle_websocket("/flood", [&](WsUpgrade up) {
    WsCallbacks cb;
    cb.on_open = [&](const std::shared_ptr<WsConnection>& c) {
      const std::string chunk(256 << 10, 'f');
      for (int i = 0; i < 400; ++i) {
        if (Status st = c->send_binary(chunk); !st.is_ok()) {
          overflow.set_value(st);
          return;
        }
      }
      overflow.set_value(Status::ok());
    };
    up.accept(cb);
  });
  listen();
  SilentClient silent(server_->port(), "/flood");
  auto f = overflow.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kUnavailable);
}

TEST_F(NetServerTest, NegotiatesSubprotocolsAndStopsGracefully) {
  auto& s = start();
  s.handle_websocket("/ws", [](WsUpgrade up) {
    const auto offered = up.offered_subprotocols();
    up.accept(echo(), offered.empty() ? "" : offered.back());
  });
  listen();
  auto inbox = std::make_shared<Inbox>();
  WsClientOptions co;
  co.subprotocols = {"token", "secret-key"};
  auto conn = ws_connect_sync(runtime_->io(), base("ws") + "/ws", co, inbox->callbacks());
  ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
  EXPECT_EQ((*conn)->subprotocol(), "secret-key");
  server_->stop(2000ms);
  auto closed = inbox->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1001);
  EXPECT_FALSE(get("/anything").is_ok());  // no longer listening
}

// Shuts `runtime` down; false when its threads have not finished within `limit` (the runtime is
// then left running, so that a hung connection fails the test instead of hanging it).
bool shut_down_within(std::shared_ptr<Runtime> runtime, std::chrono::milliseconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread([runtime = std::move(runtime), done] {
    runtime->shutdown();
    done->set_value();
  }).detach();
  return finished.wait_for(limit) == std::future_status::ready;
}

// Both ends of a connection start the closing handshake at the same moment, so the two Close
// frames cross on the wire. Each side must take the peer's Close as the answer to its own (RFC 6455
// §7.1.2) and finish at once, not wait for the 10 s close timeout. The server and every client get
// their own runtime so that a connection stuck in its handshake fails the test instead of hanging
// it.
class NetCrossingCloseTest : public ::testing::Test {
 protected:
  static constexpr int kRounds = 50;
  // A loopback handshake takes milliseconds; the close timeout is 10 s.
  static constexpr auto kCloseBound = 2000ms;

  void SetUp() override {
    server_rt_ = Runtime::create({.io_threads = 2, .compute_threads = 1});
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    server_ = std::make_unique<Server>(server_rt_->io(), o);
  }
  void TearDown() override {
    server_->stop(500ms);
    server_.reset();
    opened_.clear();
    EXPECT_TRUE(shut_down_within(std::move(server_rt_), 5000ms)) << "server runtime hung";
  }
  void listen() {
    auto st = server_->start();
    ASSERT_TRUE(st.is_ok()) << st.to_string();
  }
  std::string url(const char* path) {
    return "ws://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  // Records how each server-side connection ended, and the connections as they open.
  void record(WsCallbacks& cb) {
    cb.on_open = [this](const std::shared_ptr<WsConnection>& c) {
      std::lock_guard lock(mu_);
      opened_.push_back(c);
      cv_.notify_all();
    };
    cb.on_close = [this](const std::shared_ptr<WsConnection>&, const WsCloseInfo& i) {
      std::lock_guard lock(mu_);
      server_closes_.push_back(i);
      cv_.notify_all();
    };
  }
  std::shared_ptr<WsConnection> wait_server_connection(size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, 5000ms, [&] { return opened_.size() >= n; })) return nullptr;
    return opened_[n - 1];
  }
  std::optional<WsCloseInfo> wait_server_close(size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kCloseBound, [&] { return server_closes_.size() >= n; })) return {};
    return server_closes_[n - 1];
  }
  // Runs kRounds connections through `round` (open, then close from both ends) and checks that
  // both ends saw the close promptly and that each client runtime shut down.
  void run_rounds(const char* path,
                  const std::function<void(const std::shared_ptr<WsConnection>&, size_t)>& round) {
    for (size_t i = 1; i <= kRounds; ++i) {
      SCOPED_TRACE("round " + std::to_string(i));
      // Shuts the client runtime down when the round ends, however it ends.
      struct ClientRuntime {
        std::shared_ptr<Runtime> rt = Runtime::create({.io_threads = 2, .compute_threads = 1});
        ~ClientRuntime() { EXPECT_TRUE(shut_down_within(std::move(rt), kCloseBound)) << "hung"; }
      } client;
      auto inbox = std::make_shared<Inbox>();
      auto cb = inbox->callbacks();
      cb.on_text = [inbox](const std::shared_ptr<WsConnection>& c, std::string t) {
        if (t.starts_with("Close")) c->close(1000, "client done");
        inbox->add(true, std::move(t));
      };
      auto conn = ws_connect_sync(client.rt->io(), url(path), {}, cb);
      ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
      round(*conn, i);
      auto client_saw = inbox->wait_closed(kCloseBound);
      ASSERT_TRUE(client_saw) << "the client's close did not complete";
      EXPECT_EQ(client_saw->code, 1000) << client_saw->reason;
      auto server_saw = wait_server_close(i);
      ASSERT_TRUE(server_saw) << "the server's close did not complete";
      EXPECT_EQ(server_saw->code, 1000) << server_saw->reason;
      EXPECT_FALSE((*conn)->is_open());
    }
  }

  std::shared_ptr<Runtime> server_rt_;
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<WsConnection>> opened_;
  std::vector<WsCloseInfo> server_closes_;
};

TEST_F(NetCrossingCloseTest, ServerClosesOnAMessageWhileTheClientCloses) {
  // The colleague's case: the client sends a protocol "Close" message and closes at once; the
  // server closes in reply to the message, so its Close crosses the client's.
  server_->handle_websocket("/ws", [this](WsUpgrade up) {
    WsCallbacks cb;
    record(cb);
    auto on_open = cb.on_open;
    cb.on_open = [on_open](const std::shared_ptr<WsConnection>& c) {
      on_open(c);
      // Test only: once the first read is waiting, hold the strand for a moment so that the
      // message and the client's Close complete that read together (the Close is then already
      // buffered when the server closes).
      c->post([] { std::this_thread::sleep_for(20ms); });
    };
    cb.on_text = [](const std::shared_ptr<WsConnection>& c, std::string) {
      c->close(1000, "server done");
    };
    up.accept(cb);
  });
  listen();
  run_rounds("/ws", [](const std::shared_ptr<WsConnection>& c, size_t) {
    ASSERT_TRUE(c->send_text("Close").is_ok());
    c->close(1000, "client done");
  });
}

TEST_F(NetCrossingCloseTest, ClientClosesOnAMessageWhileTheServerCloses) {
  // The mirror image: the server says "Close" and closes; the client closes in reply.
  server_->handle_websocket("/ws", [this](WsUpgrade up) {
    WsCallbacks cb;
    record(cb);
    auto on_open = cb.on_open;
    cb.on_open = [on_open](const std::shared_ptr<WsConnection>& c) {
      on_open(c);
      (void)c->send_text("Close");
      c->close(1000, "server done");
    };
    up.accept(cb);
  });
  listen();
  run_rounds("/ws", [](const std::shared_ptr<WsConnection>&, size_t) {});
}

TEST_F(NetCrossingCloseTest, BothEndsCloseAtTheSameInstant) {
  server_->handle_websocket("/ws", [this](WsUpgrade up) {
    WsCallbacks cb;
    record(cb);
    up.accept(cb);
  });
  listen();
  run_rounds("/ws", [this](const std::shared_ptr<WsConnection>& c, size_t i) {
    auto server_side = wait_server_connection(i);
    ASSERT_TRUE(server_side);
    std::atomic<bool> go{false};
    std::thread other([&] {
      while (!go.load()) std::this_thread::yield();
      server_side->close(1000, "server done");
    });
    go.store(true);
    c->close(1000, "client done");
    other.join();
  });
}

TEST_F(NetServerTest, HttpClientStreamsAChunkedBodyAsItArrives) {
  // A hand-written server that sends a chunked SSE response in three pieces, 50 ms apart.
  boost::asio::io_context io;
  tcp::acceptor acc(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = acc.local_endpoint().port();
  std::thread peer([&] {
    tcp::socket sock(io);
    acc.accept(sock);
    boost::asio::streambuf req;
    boost::asio::read_until(sock, req, "\r\n\r\n");
    auto send = [&](const std::string& s) { boost::asio::write(sock, boost::asio::buffer(s)); };
    send(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (const char* piece : {"data: one\n\n", "data: two\n\n", "data: [DONE]\n\n"}) {
      char head[32];
      std::snprintf(head, sizeof head, "%zx\r\n", std::strlen(piece));
      send(std::string(head) + piece + "\r\n");
      std::this_thread::sleep_for(50ms);
    }
    send("0\r\n\r\n");
  });
  std::mutex mu;
  std::vector<std::string> chunks;
  int status = 0;
  std::promise<Status> done;
  HttpClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/chat";
  req.method = "POST";
  req.body = "{}";
  HttpStreamHandlers h;
  h.on_headers = [&](int s, const HttpHeaders&) { status = s; };
  h.on_body = [&](std::string_view c) {
    std::lock_guard lock(mu);
    chunks.emplace_back(c);
  };
  h.on_done = [&](const Status& st) { done.set_value(st); };
  http_stream(runtime_->io(), req, h);
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f.get().is_ok());
  peer.join();
  EXPECT_EQ(status, 200);
  EXPECT_GE(chunks.size(), 3u);  // delivered piece by piece, not at the end
  std::string all;
  for (auto& c : chunks) all += c;
  EXPECT_EQ(all, "data: one\n\ndata: two\n\ndata: [DONE]\n\n");
}

TEST_F(NetServerTest, ClientErrorsNameTheUrlAndCancelWorks) {
  HttpClientRequest req;
  req.url = "http://127.0.0.1:1/x";  // nothing listens on port 1
  auto r = http_fetch(runtime_->io(), req);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("127.0.0.1:1"), std::string::npos);
  auto bad = ws_connect_sync(runtime_->io(), "http://x/", {}, {});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);

  auto& s = start();
  std::mutex mu;
  std::vector<HttpResponder> parked;  // not answered until the client gave up
  s.handle("GET", "/never", [&](const HttpRequest&, HttpResponder respond) {
    std::lock_guard lock(mu);
    parked.push_back(respond);
  });
  listen();
  std::promise<Status> done;
  HttpClientRequest slow;
  slow.url = base() + "/never";
  HttpStreamHandlers h;
  h.on_done = [&](const Status& st) { done.set_value(st); };
  auto call = http_stream(runtime_->io(), slow, h);
  std::this_thread::sleep_for(50ms);
  call.cancel();
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kCancelled);
  std::lock_guard lock(mu);
  parked.clear();  // the last copy of the responder answers 500 to the closed connection
}

}  // namespace
}  // namespace parley::net
