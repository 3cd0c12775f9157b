// Black-box tests of `parley serve` sessions: the whole API cycle with the echo agent in both
// isolations, a worker killed mid-session, the ping timeout, and SIGTERM to the server.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"
#include "parley/rtc_protocol.h"
#include "parley/server/store.h"

namespace parley::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Generates a user token and joins the channel with it.
std::unique_ptr<RtcClient> join_user(Api& api, const ServeProcess& srv, const std::string& channel,
                                     uint32_t uid = 1001) {
  auto gen = api.post("/v1/api/generate", {{"channel_name", channel}, {"uid", uid}});
  EXPECT_EQ(gen.status, 200) << gen.text;
  std::string err;
  auto c = RtcClient::connect(
      api.runtime().io(),
      srv.rtc_url() + "?channel=" + channel + "&token=" + gen.body.value("token", ""), &err);
  EXPECT_TRUE(c) << err;
  if (!c) return nullptr;
  auto joined = c->wait_type("joined");
  EXPECT_TRUE(joined && joined->value("self", false)) << "no joined event for the user";
  return c;
}

json start(Api& api, const std::string& channel, json extra = json::object()) {
  json body = {{"channel_name", channel}, {"graph_name", "echo_agent"}, {"user_uid", 1001}};
  body.update(extra);
  auto a = api.post("/v1/api/start", body);
  EXPECT_EQ(a.status, 200) << a.text;
  return a.body;
}

// Waits until the session of `channel` is in `state` (as /v1/api/sessions shows it).
json wait_session_state(Api& api, const std::string& channel, const std::string& state,
                        std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  json last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto a = api.get("/v1/api/sessions");
    for (const auto& s : a.body["sessions"]) {
      if (s["channel"] == channel) {
        last = s;
        if (s["state"] == state) return s;
        break;  // newest first: the live session, or the latest ended one
      }
    }
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "session of " << channel << " never reached " << state << "; last: " << last;
  return last;
}

class ServerSession : public ::testing::TestWithParam<std::string> {};

TEST_P(ServerSession, GenerateJoinStartStreamTranscriptStop) {
  auto srv = ServeProcess::start({"--isolation", GetParam()});
  ASSERT_TRUE(srv);
  Api api(srv->base_url());
  auto user = join_user(api, *srv, "cycle");
  ASSERT_TRUE(user);

  auto session = start(api, "cycle");
  EXPECT_EQ(session["state"], "running");
  EXPECT_EQ(session["isolation"], GetParam());
  EXPECT_GT(session["start_ms"].get<double>(), 0.0);
  if (GetParam() == "process") {
    EXPECT_GT(session["worker_pid"].get<int64_t>(), 0);
  }
  auto agent = user->wait_type("joined", "agent");
  ASSERT_TRUE(agent) << "the user never saw the agent join";

  // Stream 50 frames (1 s) at real-time pace; the echo agent returns each with its timestamp.
  for (uint32_t i = 0; i < 50; ++i) {
    user->send_binary(audio_frame(i, 1000 + 20 * i));
    std::this_thread::sleep_for(20ms);
  }
  user->send_text({{"type", "transcript"},
                   {"role", "user"},
                   {"text", "hello parley"},
                   {"final", true},
                   {"turn_id", 1},
                   {"message_id", "m1"}});
  auto echoed = user->wait_type("transcript", "", 5s);
  ASSERT_TRUE(echoed) << "no transcript came back";
  EXPECT_EQ((*echoed)["text"], "hello parley");
  // Every frame comes back, in order, with its timestamp and payload.
  EXPECT_TRUE(user->wait_binary(50, 5s)) << "only " << user->binary_count() << " of 50 echoed";
  auto frames = user->take_binary();
  EXPECT_EQ(frames.size(), 50u) << "echoed frames";
  for (size_t i = 0; i < frames.size(); ++i) {
    auto f = rtc::decode_frame(frames[i]);
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    EXPECT_EQ(f->header.timestamp_ms, 1000 + 20 * i);
    EXPECT_EQ(f->payload, rtc::decode_frame(audio_frame(i, 0))->payload) << "frame " << i;
  }

  auto stopped = api.post("/v1/api/stop", {{"channel_name", "cycle"}});
  ASSERT_EQ(stopped.status, 200) << stopped.text;
  EXPECT_EQ(stopped.body["state"], "stopped");
  EXPECT_TRUE(user->wait_type("left", "agent")) << "no left event for the agent";

  auto t = api.get("/v1/api/transcript?channel=cycle");
  ASSERT_EQ(t.status, 200) << t.text;
  ASSERT_EQ(t.body["entries"].size(), 1u) << t.text;
  EXPECT_EQ(t.body["entries"][0]["text"], "hello parley");
  EXPECT_EQ(t.body["entries"][0]["role"], "user");
  EXPECT_EQ(t.body["entries"][0]["session_id"], session["session_id"]);
  auto by_path = api.get("/v1/api/sessions/cycle/transcript");
  ASSERT_EQ(by_path.status, 200) << by_path.text;
  EXPECT_EQ(by_path.body, t.body);

  // The channel is free again.
  auto again = start(api, "cycle");
  EXPECT_EQ(again["state"], "running");
  EXPECT_EQ(api.post("/v1/api/stop", {{"channel_name", "cycle"}}).status, 200);
  if (GetParam() == "process") {
    std::ifstream log(srv->dir() + "/cycle.log");
    std::string line;
    ASSERT_TRUE(std::getline(log, line)) << "no worker log in LOG_PATH";
    EXPECT_NE(line.find("[cycle]"), std::string::npos) << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Isolation, ServerSession, ::testing::Values("process", "thread"));

TEST(ServerCrash, KilledWorkerFailsItsSessionAndTheServerKeepsServing) {
  auto srv = ServeProcess::start({"--isolation", "process"});
  ASSERT_TRUE(srv);
  Api api(srv->base_url());
  auto user = join_user(api, *srv, "crash");
  ASSERT_TRUE(user);
  auto session = start(api, "crash");
  const pid_t worker = static_cast<pid_t>(session["worker_pid"].get<int64_t>());
  ASSERT_GT(worker, 0);
  user->send_binary(audio_frame(0, 0));
  ASSERT_EQ(kill(worker, SIGKILL), 0);

  auto left = user->wait_type("left", "agent");
  ASSERT_TRUE(left) << "the user was not told the agent left";
  auto ended = user->wait_type("session");
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["state"], "failed");
  auto s = wait_session_state(api, "crash", "failed");
  EXPECT_NE(s.value("error", "").find("killed by signal 9"), std::string::npos) << s;

  // The server keeps serving: a new session on another channel, and on the same one.
  auto user2 = join_user(api, *srv, "after-crash", 2001);
  ASSERT_TRUE(user2);
  EXPECT_EQ(start(api, "after-crash", {{"user_uid", 2001}})["state"], "running");
  user2->send_binary(audio_frame(1, 20));
  EXPECT_TRUE(user2->wait_type("joined", "agent"));
  EXPECT_EQ(start(api, "crash")["state"], "running");
  EXPECT_TRUE(user->wait_type("joined", "agent"));
  auto m = api.get("/metrics");
  EXPECT_NE(m.text.find("parley_errors_total{code=\"session_failed\"} 1"), std::string::npos)
      << m.text;
}

TEST(ServerPing, SessionWithoutPingsIsStopped) {
  // The seed's spelling of the variable; -1 per request means never.
  auto srv = ServeProcess::start({"--isolation", "thread"}, {"WORKER_QUIT_TIMEOUT_SECONDES=1"});
  ASSERT_TRUE(srv);
  Api api(srv->base_url());
  auto user = join_user(api, *srv, "quiet");
  ASSERT_TRUE(user);
  EXPECT_EQ(start(api, "quiet")["quit_timeout_s"], 1);
  start(api, "chatty", {{"timeout", 1}});
  EXPECT_EQ(start(api, "forever", {{"timeout", -1}})["quit_timeout_s"], -1);
  // Keep "chatty" alive with pings while "quiet" times out.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(api.post("/v1/api/ping", {{"channel_name", "chatty"}}).status, 200);
    std::this_thread::sleep_for(250ms);
  }
  auto s = wait_session_state(api, "quiet", "stopped", 3s);
  EXPECT_EQ(s["state"], "stopped");
  auto ended = user->wait_type("session");
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["state"], "stopped");
  EXPECT_EQ(api.post("/v1/api/ping", {{"channel_name", "chatty"}}).status, 200);
  EXPECT_EQ(api.post("/v1/api/ping", {{"channel_name", "forever"}}).status, 200);
  EXPECT_EQ(api.post("/v1/api/ping", {{"channel_name", "quiet"}}).status, 404);
  EXPECT_NE(api.get("/metrics").text.find("parley_errors_total{code=\"ping_timeout\"} 1"),
            std::string::npos);
}

TEST(ServerJoinTimeout, AgentThatDoesNotJoinInTimeFailsTheStart) {
  auto srv = ServeProcess::start({"--isolation", "process"});
  ASSERT_TRUE(srv);
  Api api(srv->base_url());
  // A worker process cannot start and join within 1 ms.
  auto a =
      api.post("/v1/api/start",
               {{"channel_name", "late"}, {"graph_name", "echo_agent"}, {"join_timeout_ms", 1}});
  EXPECT_EQ(a.status, 504) << a.text;
  EXPECT_EQ(a.body["error"]["code"], "join_timeout") << a.text;
  auto s = wait_session_state(api, "late", "failed");
  EXPECT_NE(s.value("error", "").find("did not join"), std::string::npos) << s;
  EXPECT_EQ(start(api, "late")["state"], "running");
}

TEST(ServerShutdown, SigtermStopsSessionsFlushesTheStoreAndExitsZero) {
  auto srv = ServeProcess::start({"--isolation", "process"});
  ASSERT_TRUE(srv);
  pid_t worker = 0;
  {
    Api api(srv->base_url());
    auto user = join_user(api, *srv, "bye");
    ASSERT_TRUE(user);
    worker = static_cast<pid_t>(start(api, "bye")["worker_pid"].get<int64_t>());
    user->send_text({{"type", "transcript"}, {"text", "last words"}, {"final", true}});
    ASSERT_TRUE(user->wait_type("transcript"));
  }
  const int status = srv->terminate();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << srv->log();
  EXPECT_EQ(WEXITSTATUS(status), 0) << srv->log();
  EXPECT_NE(kill(worker, 0), 0) << "the worker outlived the server";
  auto store = server::Store::open({srv->dir() + "/parley.db"});
  ASSERT_TRUE(store.is_ok());
  auto sessions = (*store)->sessions();
  ASSERT_TRUE(sessions.is_ok());
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ((*sessions)[0].state, "stopped");
  auto t = (*store)->transcript("bye");
  ASSERT_TRUE(t.is_ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].text, "last words");
}

}  // namespace
}  // namespace parley::testing
