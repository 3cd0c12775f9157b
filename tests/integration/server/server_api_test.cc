// Black-box tests of the control API's errors, limits, API key, CORS and TEN aliases.
#include <gtest/gtest.h>

#include "harness.h"

namespace parley::testing {
namespace {

using nlohmann::json;

// Expects an error answer with `status` and stable `code` (v1 shape).
void expect_error(const Answer& a, int status, const std::string& code,
                  const std::string& words = "") {
  EXPECT_EQ(a.status, status) << a.text;
  ASSERT_TRUE(a.body.is_object()) << a.text;
  EXPECT_EQ(a.body["error"]["code"], code) << a.text;
  EXPECT_FALSE(a.body["error"].value("message", "").empty()) << a.text;
  if (!words.empty()) {
    EXPECT_NE(a.body["error"].value("message", "").find(words), std::string::npos) << a.text;
  }
}

class ServerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    srv_ = ServeProcess::start({"--isolation", "thread", "--workers-max", "2", "--max-body-bytes",
                                "4096", "--cors", "https://app.example"})
               .release();
  }
  static void TearDownTestSuite() {
    delete srv_;
    srv_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(srv_); }
  Answer start(const json& body) { return api_.post("/v1/api/start", body); }
  static ServeProcess* srv_;
  Api api_{srv_ ? srv_->base_url() : ""};
};
ServeProcess* ServerApi::srv_ = nullptr;

TEST_F(ServerApi, StartValidatesEverythingUpFront) {
  expect_error(api_.post_raw("/v1/api/start", "{not json"), 400, "invalid_json");
  expect_error(api_.post_raw("/v1/api/start", "[1,2]"), 400, "invalid_json");
  expect_error(start({{"graph_name", "echo_agent"}}), 400, "missing_channel");
  expect_error(start({{"channel_name", "c1"}}), 400, "missing_field", "graph_name");
  expect_error(start({{"channel_name", "a/b"}, {"graph_name", "echo_agent"}}), 400,
               "invalid_channel");
  expect_error(start({{"channel_name", "c1"}, {"graph_name", "echo_agent"}, {"user_uid", -1}}), 400,
               "invalid_field", "user_uid");
  expect_error(start({{"channel_name", "c1"}, {"graph_name", "echo_agent"}, {"timeout", -5}}), 400,
               "invalid_field", "timeout must be an integer from -1 to 86400000, got -5");
  expect_error(
      start({{"channel_name", "c1"}, {"graph_name", "echo_agent"}, {"join_timeout_ms", "soon"}}),
      400, "invalid_field", "join_timeout_ms must be an integer from 0");
  expect_error(start({{"channel_name", "c1"}, {"graph_name", "nope"}}), 404, "unknown_graph",
               "echo_agent");
  expect_error(start({{"channel_name", "c1"}, {"graph_name", "echo"}}), 400, "not_an_agent_graph");
  expect_error(start({{"channel_name", "c1"},
                      {"graph_name", "echo_agent"},
                      {"properties", {{"ghost", {{"x", 1}}}}}}),
               400, "unknown_node", "ghost");
  expect_error(start({{"channel_name", "c1"},
                      {"graph_name", "echo_agent"},
                      {"properties", {{"transport", {{"playout_lead_ms", "soon"}}}}}}),
               400, "invalid_properties", "playout_lead_ms");
  expect_error(start({{"channel_name", "c1"},
                      {"graph_name", "echo_agent"},
                      {"properties", {{"transport", {{"no_such_property", 1}}}}}}),
               400, "invalid_properties", "no_such_property");
  // None of these left a session behind.
  EXPECT_TRUE(api_.get("/v1/api/sessions?active=1").body["sessions"].empty());
}

TEST_F(ServerApi, ChannelInUseAndWorkersLimit) {
  ASSERT_EQ(start({{"channel_name", "w1"}, {"graph_name", "echo_agent"}}).status, 200);
  expect_error(start({{"channel_name", "w1"}, {"graph_name", "echo_agent"}}), 409,
               "channel_in_use");
  ASSERT_EQ(start({{"channel_name", "w2"}, {"graph_name", "echo_agent"}}).status, 200);
  expect_error(start({{"channel_name", "w3"}, {"graph_name", "echo_agent"}}), 429, "workers_limit",
               "WORKERS_MAX");
  EXPECT_EQ(api_.post("/v1/api/stop", {{"channel_name", "w1"}}).status, 200);
  EXPECT_EQ(start({{"channel_name", "w3"}, {"graph_name", "echo_agent"}}).status, 200);
  EXPECT_EQ(api_.post("/v1/api/stop", {{"channel_name", "w2"}}).status, 200);
  EXPECT_EQ(api_.post("/v1/api/stop", {{"channel_name", "w3"}}).status, 200);
}

TEST_F(ServerApi, StopAndPingOfUnknownChannels) {
  expect_error(api_.post("/v1/api/stop", {{"channel_name", "ghost"}}), 404, "channel_not_found");
  expect_error(api_.post("/v1/api/ping", {{"channel_name", "ghost"}}), 404, "channel_not_found");
  expect_error(api_.post("/v1/api/ping", json::object()), 400, "missing_channel");
}

TEST_F(ServerApi, BodyLimitRoutesAndMethods) {
  expect_error(api_.post_raw("/v1/api/start", std::string(8000, ' ')), 413, "payload_too_large");
  expect_error(api_.get("/v1/api/nothing"), 404, "not_found");
  expect_error(api_.get("/v1/api/start"), 405, "method_not_allowed");
}

TEST_F(ServerApi, GraphsHealthAndMetrics) {
  auto g = api_.get("/v1/api/graphs");
  ASSERT_EQ(g.status, 200);
  bool found = false;
  for (const auto& e : g.body["graphs"])
    if (e["name"] == "echo_agent") found = e["agent"].get<bool>();
  EXPECT_TRUE(found) << g.text;
  auto h = api_.get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "ok");
  auto m = api_.get("/metrics");
  EXPECT_EQ(m.status, 200);
  for (const char* name :
       {"parley_sessions{state=\"running\"}", "parley_session_start_seconds_bucket",
        "parley_frames_relayed_total{kind=\"audio\"}",
        "parley_frames_dropped_total{kind=\"audio\"}", "parley_errors_total"})
    EXPECT_NE(m.text.find(name), std::string::npos) << name;
}

TEST_F(ServerApi, CorsAllowsTheConfiguredOriginOnly) {
  auto pre = api_.request("OPTIONS", "/v1/api/start", "", {{"Origin", "https://app.example"}});
  EXPECT_EQ(pre.status, 204);
  auto ok = api_.request("GET", "/v1/api/graphs", "", {{"Origin", "https://app.example"}});
  EXPECT_EQ(ok.headers.get("Access-Control-Allow-Origin").value_or(""), "https://app.example");
  auto other = api_.request("GET", "/v1/api/graphs", "", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(other.headers.has("Access-Control-Allow-Origin"));
}

TEST_F(ServerApi, TenAliasesUseTheTenEnvelope) {
  auto tok =
      api_.post("/token/generate", {{"request_id", "r1"}, {"channel_name", "ten"}, {"uid", 5}});
  ASSERT_EQ(tok.status, 200) << tok.text;
  EXPECT_EQ(tok.body["code"], "0");
  EXPECT_FALSE(tok.body["data"].value("token", "").empty());
  EXPECT_EQ(tok.body["data"]["channel_name"], "ten");
  auto st = api_.post("/start", {{"request_id", "r2"},
                                 {"channel_name", "ten"},
                                 {"graph_name", "echo_agent"},
                                 {"user_uid", 5}});
  ASSERT_EQ(st.status, 200) << st.text;
  EXPECT_EQ(st.body["code"], "0");
  auto dup = api_.post("/start", {{"channel_name", "ten"}, {"graph_name", "echo_agent"}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.body["code"], "10003");
  EXPECT_TRUE(dup.body["data"].is_null());
  auto list = api_.get("/list");
  ASSERT_EQ(list.body["code"], "0");
  ASSERT_EQ(list.body["data"].size(), 1u);
  EXPECT_EQ(list.body["data"][0]["channelName"], "ten");
  EXPECT_EQ(list.body["data"][0]["requestId"], "r2");
  EXPECT_EQ(api_.post("/ping", {{"channel_name", "ten"}}).body["code"], "0");
  auto graphs = api_.get("/graphs");
  EXPECT_EQ(graphs.body["code"], "0");
  EXPECT_FALSE(graphs.body["data"].empty());
  EXPECT_EQ(api_.post("/stop", {{"channel_name", "ten"}}).body["code"], "0");
  auto gone = api_.post("/stop", {{"channel_name", "ten"}});
  EXPECT_EQ(gone.body["code"], "10002");
  EXPECT_EQ(api_.post("/start", {{"graph_name", "echo_agent"}}).body["code"], "10004");
}

TEST(ServerApiKey, ControlApiNeedsTheKeyButHealthDoesNot) {
  auto srv = ServeProcess::start({"--isolation", "thread"}, {"PARLEY_API_KEY=sesame"});
  ASSERT_TRUE(srv);
  Api anonymous(srv->base_url());
  expect_error(anonymous.post("/v1/api/generate", json::object()), 401, "unauthorized");
  expect_error(anonymous.get("/v1/api/sessions"), 401, "unauthorized");
  EXPECT_EQ(anonymous.post("/token/generate", {{"channel_name", "x"}}).status, 401);
  EXPECT_EQ(anonymous.get("/health").status, 200);
  Api wrong(srv->base_url(), "sesame2");
  EXPECT_EQ(wrong.get("/v1/api/sessions").status, 401);
  Api bearer(srv->base_url(), "sesame");
  EXPECT_EQ(bearer.post("/v1/api/generate", json::object()).status, 200);
  auto header = anonymous.request("GET", "/v1/api/sessions", "", {{"X-API-Key", "sesame"}});
  EXPECT_EQ(header.status, 200);
}

}  // namespace
}  // namespace parley::testing
