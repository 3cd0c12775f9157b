// Engine behaviour: lifecycle, queueing before start, commands, timeouts, exceptions, flush,
// fan-out.
#include <gtest/gtest.h>

#include <future>

#include "parley/engine.h"
#include "parley/testing/extension_tester.h"
#include "test_addons.h"

namespace parley {
namespace {

using namespace std::chrono_literals;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::register_test_addons(registry_);
    test::reset_recorded();
    runtime_ = Runtime::create({2, 2});
  }
  std::unique_ptr<Engine> make(const std::string& json) {
    std::vector<GraphProblem> problems;
    auto graphs = parse_graph_document(nlohmann::json::parse(json), "t.json", problems);
    EXPECT_TRUE(problems.empty());
    auto more = validate_graph(graphs.at(0), registry_);
    EXPECT_TRUE(more.empty()) << problems_to_status(more).message();
    auto e = Engine::create(graphs.at(0), runtime_, {}, registry_);
    EXPECT_TRUE(e.is_ok()) << e.status().message();
    return std::move(e).value();
  }
  AddonRegistry registry_;
  std::shared_ptr<Runtime> runtime_;
};

TEST_F(EngineTest, MessagesSentBeforeStartAreQueuedInOrder) {
  auto e = make(R"({"nodes": [{"name": "r", "addon": "recorder"}]})");
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(e->inject("r", std::make_unique<Data>("d", nlohmann::json{{"i", i}})).is_ok());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(test::recorded(0).size(), 0u);  // not delivered before start
  ASSERT_TRUE(e->start_sync().is_ok());
  ASSERT_TRUE(test::recorded(0).wait(50));
  std::lock_guard lock(test::recorded(0).mu);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(test::recorded(0).messages[i]->get<int>("i", -1), i);
}

TEST_F(EngineTest, ProducerOutputReachesConnectedRecorder) {
  auto e = make(R"({"nodes": [{"name": "p", "addon": "producer", "property": {"count": 5}},
                              {"name": "r", "addon": "recorder", "property": {"slot": 1}}],
    "connections": [{"extension": "p", "data": [{"name": "tick", "dest": [{"extension": "r"}]}]}]})");
  ASSERT_TRUE(e->start_sync().is_ok());
  ASSERT_TRUE(test::recorded(1).wait(5));
  e->stop_sync();
  std::lock_guard lock(test::recorded(1).mu);
  EXPECT_EQ(test::recorded(1).messages[4]->source(), "p");
}

TEST_F(EngineTest, UnknownNodeInjectIsAnError) {
  auto e = make(R"({"nodes": [{"name": "r", "addon": "recorder"}]})");
  Status s = e->inject("ghost", std::make_unique<Data>("d"));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
}

TEST_F(EngineTest, CommandNobodyAnswersTimesOutNamingTheNode) {
  testing::ExtensionTester t("silent", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto r = t.send_cmd(std::make_unique<Cmd>("hello"), 100ms);
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r->status().message().find("'ext'"), std::string::npos) << r->status().message();
}

TEST_F(EngineTest, DroppedCommandGetsExactlyOneErrorResult) {
  testing::ExtensionTester t("dropper", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto r = t.send_cmd(std::make_unique<Cmd>("hello"));
  ASSERT_FALSE(r->ok());
  EXPECT_NE(r->status().message().find("node 'ext' dropped cmd 'hello'"), std::string::npos)
      << r->status().message();
}

TEST_F(EngineTest, ThrowingExtensionIsContainedAndKeepsWorking) {
  testing::ExtensionTester t("thrower", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(std::make_unique<Data>("bad")).is_ok());
  ASSERT_TRUE(t.send(std::make_unique<Data>("good")).is_ok());
  auto good = t.wait_for_data("good");
  ASSERT_NE(good, nullptr);  // the next message is still handled
  auto r = t.send_cmd(std::make_unique<Cmd>("x"));
  ASSERT_FALSE(r->ok());
  EXPECT_NE(r->status().message().find("threw an exception"), std::string::npos)
      << r->status().message();
  t.stop();  // the error result can arrive before the throwing callback has been counted
  EXPECT_EQ(t.engine().stats().callback_errors, 2u);
}

TEST_F(EngineTest, CommandWithoutDestinationFailsClearly) {
  // A producer sends cmd "ask" to nobody; use the tester's probe as the only peer instead.
  testing::ExtensionTester t("recorder", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  auto r = t.send_cmd(std::make_unique<Cmd>("anything"));
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->detail()["by"], "ext");
}

TEST_F(EngineTest, FlushTravelsThroughThreeNodesAndCancelsStaleTurns) {
  auto e = make(R"({"nodes": [{"name": "a", "addon": "relay"}, {"name": "b", "addon": "relay"},
                              {"name": "c", "addon": "recorder", "property": {"slot": 2}}],
    "connections": [
      {"extension": "a", "cmd": [{"name": "flush", "dest": [{"extension": "b"}]}],
                         "data": [{"name": "text_data", "dest": [{"extension": "b"}]}]},
      {"extension": "b", "cmd": [{"name": "flush", "dest": [{"extension": "c"}]}],
                         "data": [{"name": "text_data", "dest": [{"extension": "c"}]}]}]})");
  ASSERT_TRUE(e->start_sync().is_ok());
  std::promise<std::unique_ptr<CmdResult>> done;
  ASSERT_TRUE(e->inject_cmd("a", make_flush(5), [&](std::unique_ptr<CmdResult> r) {
                 done.set_value(std::move(r));
               }).is_ok());
  auto result = done.get_future().get();
  ASSERT_TRUE(result->ok()) << result->status().to_string();
  // c received the flush (forwarded twice) with the turn id intact.
  ASSERT_TRUE(test::recorded(2).wait(1));
  {
    std::lock_guard lock(test::recorded(2).mu);
    EXPECT_EQ(test::recorded(2).messages[0]->name(), "flush");
    EXPECT_EQ(test::recorded(2).messages[0]->get<int>("turn_id", 0), 5);
  }
  // Work of an older turn is dropped; the current turn flows.
  ASSERT_TRUE(e->inject("a", std::make_unique<Data>(
                                 "text_data", nlohmann::json{{"turn_id", 4}, {"text", "old"}}))
                  .is_ok());
  ASSERT_TRUE(e->inject("a", std::make_unique<Data>(
                                 "text_data", nlohmann::json{{"turn_id", 5}, {"text", "new"}}))
                  .is_ok());
  ASSERT_TRUE(test::recorded(2).wait(2));
  e->stop_sync();
  std::lock_guard lock(test::recorded(2).mu);
  ASSERT_EQ(test::recorded(2).messages.size(), 2u);
  EXPECT_EQ(test::recorded(2).messages[1]->get<std::string>("text", ""), "new");
}

TEST_F(EngineTest, FanOutSharesThePayload) {
  auto e = make(R"({"nodes": [{"name": "src", "addon": "relay"},
      {"name": "r0", "addon": "recorder", "property": {"slot": 3}}, {"name": "r1", "addon": "recorder", "property": {"slot": 4}},
      {"name": "r2", "addon": "recorder", "property": {"slot": 5}}, {"name": "r3", "addon": "recorder", "property": {"slot": 6}}],
    "connections": [{"extension": "src", "audio_frame": [{"name": "pcm_frame",
       "dest": [{"extension": "r0"}, {"extension": "r1"}, {"extension": "r2"}, {"extension": "r3"}]}]}]})");
  ASSERT_TRUE(e->start_sync().is_ok());
  auto frame = std::make_unique<AudioFrame>();
  frame->set_buffer(Buffer(std::vector<uint8_t>(640, 7)));
  const uint8_t* payload = frame->buffer().data();
  const uint64_t before = Buffer::payload_allocations();
  ASSERT_TRUE(e->inject("src", std::move(frame)).is_ok());
  for (int s = 3; s <= 6; ++s) ASSERT_TRUE(test::recorded(s).wait(1));
  EXPECT_EQ(Buffer::payload_allocations(), before);
  for (int s = 3; s <= 6; ++s) {
    std::lock_guard lock(test::recorded(s).mu);
    auto& f = static_cast<AudioFrame&>(*test::recorded(s).messages[0]);
    EXPECT_EQ(f.buffer().data(), payload);
    EXPECT_EQ(f.samples_per_channel, 320);
  }
}

TEST_F(EngineTest, StopIsIdempotentAndRefusesNewInput) {
  auto e = make(R"({"nodes": [{"name": "r", "addon": "recorder"}]})");
  ASSERT_TRUE(e->start_sync().is_ok());
  e->stop_sync();
  e->stop_sync();
  EXPECT_EQ(e->inject("r", std::make_unique<Data>("d")).code(), StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, BlockingWorkCompletesOnTheNodeExecutorAndReportsMetrics) {
  std::mutex mu;
  std::vector<std::pair<std::string, nlohmann::json>> metrics;
  std::vector<GraphProblem> problems;
  auto graphs =
      parse_graph_document(nlohmann::json::parse(R"({"nodes": [{"name": "w", "addon": "worker"},
        {"name": "r", "addon": "recorder", "property": {"slot": 7}}],
        "connections": [{"extension": "w", "data": [{"name": "done", "dest": [{"extension": "r"}]}]}]})"),
                           "t.json", problems);
  ASSERT_TRUE(validate_graph(graphs[0], registry_).empty());
  EngineOptions opts;
  opts.metrics = [&](std::string_view name, double v, const nlohmann::json& labels) {
    std::lock_guard lock(mu);
    metrics.emplace_back(std::string(name), nlohmann::json{{"v", v}, {"labels", labels}});
  };
  auto e = Engine::create(graphs[0], runtime_, opts, registry_);
  ASSERT_TRUE(e.is_ok());
  ASSERT_TRUE((*e)->start_sync().is_ok());
  ASSERT_TRUE(
      (*e)->inject("w", std::make_unique<Data>("work", nlohmann::json{{"ms", 20}})).is_ok());
  ASSERT_TRUE(test::recorded(7).wait(1));
  {
    std::lock_guard lock(test::recorded(7).mu);
    EXPECT_EQ(test::recorded(7).messages[0]->get<bool>("same_thread_as_work", true), false);
    EXPECT_EQ(test::recorded(7).messages[0]->get<int>("ms", 0), 20);
  }
  (*e)->stop_sync();
  std::lock_guard lock(mu);
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].first, "work_ms");
  EXPECT_EQ(metrics[0].second["labels"]["node"], "w");
  EXPECT_EQ(metrics[0].second["labels"]["kind"], "sleep");
}

TEST_F(EngineTest, StopDrainsBlockingWorkInFlight) {
  auto e = make(R"({"nodes": [{"name": "w", "addon": "worker"},
        {"name": "r", "addon": "recorder", "property": {"slot": 7}}],
        "connections": [{"extension": "w", "data": [{"name": "done", "dest": [{"extension": "r"}]}]}]})");
  ASSERT_TRUE(e->start_sync().is_ok());
  ASSERT_TRUE(e->inject("w", std::make_unique<Data>("work", nlohmann::json{{"ms", 200}})).is_ok());
  std::this_thread::sleep_for(20ms);  // the work is now running on the compute pool
  e->stop_sync();
  // The result of the work that was in flight still reached the recorder before stop returned.
  EXPECT_EQ(test::recorded(7).size(), 1u);
}

TEST_F(EngineTest, RepeatingTimerFiresAndCancels) {
  auto e =
      make(R"({"nodes": [{"name": "t", "addon": "ticker", "property": {"period_ms": 5, "count": 4}},
        {"name": "r", "addon": "recorder", "property": {"slot": 1}}],
        "connections": [{"extension": "t", "data": [{"name": "tick", "dest": [{"extension": "r"}]}]}]})");
  ASSERT_TRUE(e->start_sync().is_ok());
  ASSERT_TRUE(test::recorded(1).wait(4));
  std::this_thread::sleep_for(50ms);  // cancelled: no fifth tick
  e->stop_sync();
  std::lock_guard lock(test::recorded(1).mu);
  ASSERT_EQ(test::recorded(1).messages.size(), 4u);
  EXPECT_EQ(test::recorded(1).messages[3]->get<int>("n", 0), 4);
}

}  // namespace
}  // namespace parley
