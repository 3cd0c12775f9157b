// Black-box tests of the channel hub (/v1/rtc): token refusals with close reasons, the join
// message, role slots, and a client that stops reading (bounded memory, counted drops).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"
#include "parley/rtc_protocol.h"
#include "parley/server/token.h"

namespace parley::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ServerHub : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { srv_ = ServeProcess::start({"--isolation", "thread"}).release(); }
  static void TearDownTestSuite() {
    delete srv_;
    srv_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(srv_); }

  std::string token(const std::string& channel, int64_t expires_in_s = 600,
                    const std::string& cert = kTestCertificate, uint32_t uid = 7) {
    auto signer = server::TokenSigner::create("parley", cert);
    server::TokenClaims c;
    c.channel = channel;
    c.uid = uid;
    c.expires_at = server::unix_now_s() + expires_in_s;
    return signer->issue(c);
  }
  // Connects with `query` and expects the hub to close with `code` and a reason containing `words`.
  void expect_refused(const std::string& query, uint16_t code, const std::string& words) {
    std::string err;
    auto c = RtcClient::connect(api_.runtime().io(), srv_->rtc_url() + query, &err);
    ASSERT_TRUE(c) << err;
    auto closed = c->wait_closed(5s);
    ASSERT_TRUE(closed) << "not closed: " << query;
    EXPECT_EQ(closed->code, code) << closed->reason;
    EXPECT_NE(closed->reason.find(words), std::string::npos) << closed->reason;
  }
  static ServeProcess* srv_;
  Api api_{srv_ ? srv_->base_url() : ""};
};
ServeProcess* ServerHub::srv_ = nullptr;

TEST_F(ServerHub, BadTokensAreRefusedWithAReason) {
  expect_refused("?channel=t1&token=" + token("t1", 600, "not-the-server-certificate"), 4001,
                 "forged");
  expect_refused("?channel=t1&token=" + token("t1", -5), 4001, "expired");
  expect_refused("?channel=other&token=" + token("t1"), 4001, "another channel");
  expect_refused("?channel=t1&token=v1.garbage", 4001, "malformed");
  auto m = api_.get("/metrics").text;
  for (const char* code :
       {"token_forged", "token_expired", "token_wrong_channel", "token_malformed"})
    EXPECT_NE(m.find(std::string("parley_errors_total{code=\"") + code + "\"} 1"),
              std::string::npos)
        << code << "\n"
        << m;
}

TEST_F(ServerHub, JoinByFirstMessageAndMalformedJoins) {
  std::string err;
  auto c = RtcClient::connect(api_.runtime().io(), srv_->rtc_url(), &err);
  ASSERT_TRUE(c) << err;
  c->send_text({{"type", "join"}, {"token", token("j1")}});
  auto joined = c->wait_type("joined");
  ASSERT_TRUE(joined);
  EXPECT_EQ((*joined)["channel"], "j1");
  EXPECT_EQ((*joined)["uid"], 7);
  c->send_text({{"type", "ping"}, {"id", 3}});
  auto pong = c->wait_type("pong");
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["id"], 3);
  c->send_binary("not a frame");
  auto e = c->wait_type("error");
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], "bad_frame");

  auto bad = RtcClient::connect(api_.runtime().io(), srv_->rtc_url(), &err);
  ASSERT_TRUE(bad) << err;
  bad->send_text({{"hello", "there"}});
  auto closed = bad->wait_closed(5s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4009);
}

TEST_F(ServerHub, OneUserPerChannelAndSameUidReplaces) {
  std::string err;
  auto first =
      RtcClient::connect(api_.runtime().io(),
                         srv_->rtc_url() + "?token=" + token("r1", 600, kTestCertificate, 1), &err);
  ASSERT_TRUE(first && first->wait_type("joined"));
  expect_refused("?token=" + token("r1", 600, kTestCertificate, 2), 4003, "already has a user");
  auto again =
      RtcClient::connect(api_.runtime().io(),
                         srv_->rtc_url() + "?token=" + token("r1", 600, kTestCertificate, 1), &err);
  ASSERT_TRUE(again && again->wait_type("joined"));
  auto closed = first->wait_closed(5s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4004);
}

// A WebSocket client on a raw socket that completes the handshake and then never reads.
class StalledClient {
 public:
  bool connect(uint16_t port, const std::string& target) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return false;
    const std::string req = "GET " + target +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
                            "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
    if (write(fd_, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return false;
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && read(fd_, &c, 1) == 1) head += c;
    return head.rfind("HTTP/1.1 101", 0) == 0;
  }
  // Sends one masked binary message (client frames must be masked).
  bool send_binary(const std::string& payload) {
    std::string f;
    f += static_cast<char>(0x82);
    const uint64_t n = payload.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      f += static_cast<char>(0x80 | 126);
      for (int shift : {8, 0}) f += static_cast<char>((n >> shift) & 0xff);
    } else {
      f += static_cast<char>(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) f += static_cast<char>((n >> shift) & 0xff);
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    f.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    for (size_t sent = 0; sent < f.size();) {
      const ssize_t w = write(fd_, f.data() + sent, f.size() - sent);
      if (w <= 0) return false;
      sent += static_cast<size_t>(w);
    }
    return true;
  }
  ~StalledClient() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

long metric(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(
          text, m,
          std::regex(std::regex_replace(name, std::regex(R"([{}"])"), R"(\$&)") + R"( (\d+))")))
    return -1;
  return std::stol(m[1]);
}

TEST_F(ServerHub, ClientThatStopsReadingLosesOldestAudioNotServerMemory) {
  auto st = api_.post("/v1/api/start", {{"channel_name", "slow"}, {"graph_name", "echo_agent"}});
  ASSERT_EQ(st.status, 200) << st.text;
  StalledClient client;
  ASSERT_TRUE(client.connect(srv_->port(), "/v1/rtc?token=" + token("slow")));
  const long rss_before = srv_->rss_kib();
  // Real-time 16 kHz audio plus 640x480 RGB24 pictures (900 KiB each, 10 per second) that the echo
  // agent sends back to a client that never reads: far more than the kernel's socket buffers.
  rtc::FrameHeader video;
  video.kind = rtc::FrameKind::kVideo;
  video.pixel_format = rtc::WirePixelFormat::kRgb24;
  video.width = 640;
  video.height = 480;
  const std::string picture = *rtc::encode_frame(video, std::string(640 * 480 * 3, '\x40'));
  for (uint32_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(client.send_binary(audio_frame(i, 20 * i)));
    if (i % 5 == 0) {
      ASSERT_TRUE(client.send_binary(picture));
    }
    std::this_thread::sleep_for(20ms);
  }
  const auto m = api_.get("/metrics").text;
  const long dropped = metric(m, "parley_frames_dropped_total{kind=\"audio\"}");
  EXPECT_GT(dropped, 0) << m;
  EXPECT_GT(metric(m, "parley_frames_dropped_total{kind=\"video\"}"), 0) << m;
  auto sessions = api_.get("/v1/api/sessions?active=1").body["sessions"];
  ASSERT_EQ(sessions.size(), 1u);
  bool saw_user = false;
  for (const auto& p : sessions[0]["participants"]) {
    if (p["role"] != "user") continue;
    saw_user = true;
    EXPECT_GT(p["dropped_frames"].get<long>(), 0);
    // 64 KiB in the socket queue, 8 waiting pictures and 50 waiting audio frames, plus one
    // picture in flight.
    EXPECT_LE(p["queued_bytes"].get<long>(), 64 * 1024 + 9 * (picture.size() + 24) + 50 * 664) << p;
  }
  EXPECT_TRUE(saw_user) << "the stalled client is not listed: " << sessions[0];
  const long rss_after = srv_->rss_kib();
  RecordProperty("audio_frames_dropped", std::to_string(dropped));
  RecordProperty("server_rss_growth_kib", std::to_string(rss_after - rss_before));
  EXPECT_LT(rss_after - rss_before, 64 * 1024)
      << "server memory grew from " << rss_before << " KiB to " << rss_after << " KiB";
  EXPECT_EQ(api_.post("/v1/api/stop", {{"channel_name", "slow"}}).status, 200);
}

}  // namespace
}  // namespace parley::testing
