// openai_llm against a loopback server speaking OpenAI's exact SSE format: streaming text cut for
// TTS, tool calls split across chunks, the usage chunk, an error mid-stream, a stall, flush closing
// the HTTP stream, and the history after an interruption.
#include <gtest/gtest.h>

#include "fake_openai_server.h"
#include "parley/testing/extension_tester.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using test::FakeOpenAi;

std::unique_ptr<Data> user_text(const std::string& text, int64_t turn) {
  return std::make_unique<Data>(
      "text_data",
      nlohmann::json{
          {"text", text}, {"end_of_segment", true}, {"role", "user"}, {"turn_id", turn}});
}

// Collects assistant text_data until end_of_segment; returns the pieces.
std::vector<std::string> reply_pieces(testing::ExtensionTester& t, bool* ended = nullptr) {
  std::vector<std::string> pieces;
  while (auto d = t.wait_for_data("text_data", 5s)) {
    if (auto text = d->get<std::string>("text", ""); !text.empty()) pieces.push_back(text);
    if (d->get<bool>("end_of_segment", false)) {
      if (ended) *ended = true;
      break;
    }
  }
  return pieces;
}

nlohmann::json props(const FakeOpenAi& server, nlohmann::json extra = nlohmann::json::object()) {
  register_builtin_addons(AddonRegistry::global());
  nlohmann::json p = {{"base_url", server.base_url()},
                      {"api_key", "sk-test"},
                      {"model", "fake-model"},
                      {"system_prompt", "be brief"}};
  p.update(extra);
  return p;
}

TEST(OpenAiLlm, StreamsTextCutAtClausesAndSentences) {
  FakeOpenAi server(
      {{200,
        {test::delta("Hello"), test::delta(" there, my friend."), test::delta(" How are"),
         test::delta(" you?"), test::finish("stop"), test::usage_chunk(), test::done()}}});
  testing::ExtensionTester t("openai_llm", props(server));
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(user_text("hi", 1)).is_ok());
  bool ended = false;
  auto pieces = reply_pieces(t, &ended);
  EXPECT_TRUE(ended);
  ASSERT_EQ(pieces, (std::vector<std::string>{"Hello there,", "my friend.", "How are you?"}));
  auto req = server.requests().at(0);
  EXPECT_EQ(req["model"], "fake-model");
  EXPECT_EQ(req["stream"], true);
  EXPECT_EQ(req["messages"][0]["role"], "system");
  EXPECT_EQ(req["messages"][1]["content"], "hi");
  // The assistant transcript ends final with the whole reply.
  std::unique_ptr<Data> last;
  while (auto tr = t.wait_for_data("transcript", 200ms)) last = std::move(tr);
  ASSERT_NE(last, nullptr);
  EXPECT_TRUE(last->get<bool>("final", false));
  EXPECT_EQ(last->get<std::string>("text", ""), "Hello there, my friend. How are you?");
}

TEST(OpenAiLlm, RunsToolCallsSplitAcrossChunksAndContinues) {
  FakeOpenAi server(
      {{200,
        {test::sse(
             R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_current_time","arguments":""}}]}}]})"),
         test::sse(
             R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"timez"}}]}}]})"),
         test::sse(
             R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"one\":\"UTC\"}"}}]}}]})"),
         test::finish("tool_calls"), test::usage_chunk(), test::done()}},
       {200, {test::delta("It is noon."), test::finish("stop"), test::done()}}});
  testing::ExtensionTester t("openai_llm", props(server));
  t.set_cmd_handler([](const Cmd& c) -> testing::CmdAnswer {
    if (c.name() == "tool_call") return {Status::ok(), {{"content", "12:00 UTC"}}};
    return {};
  });
  ASSERT_TRUE(t.start().is_ok());
  auto reg = t.send_cmd(std::make_unique<Cmd>(
      "tool_register", nlohmann::json{{"tool",
                                       {{"name", "get_current_time"},
                                        {"description", "time"},
                                        {"parameters", {{"type", "object"}}}}}}));
  ASSERT_TRUE(reg->ok()) << reg->status().message();
  ASSERT_TRUE(t.send(user_text("what time is it?", 1)).is_ok());
  auto call = t.wait_for_cmd("tool_call");
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->get<std::string>("name", ""), "get_current_time");
  EXPECT_EQ(call->get<std::string>("arguments", ""), R"({"timezone":"UTC"})");
  auto pieces = reply_pieces(t);
  ASSERT_EQ(pieces, std::vector<std::string>{"It is noon."});
  auto second = server.requests().at(1);
  const auto& msgs = second["messages"];
  EXPECT_EQ(second["tools"][0]["function"]["name"], "get_current_time");
  EXPECT_EQ(msgs[msgs.size() - 2]["tool_calls"][0]["id"], "call_1");
  EXPECT_EQ(msgs.back()["role"], "tool");
  EXPECT_EQ(msgs.back()["tool_call_id"], "call_1");
  EXPECT_EQ(msgs.back()["content"], "12:00 UTC");
}

TEST(OpenAiLlm, ErrorMidStreamIsReportedAndTheReplyEnds) {
  FakeOpenAi server(
      {{200,
        {test::delta("Sure"),
         test::sse(R"({"error":{"message":"model overloaded","type":"server_error"}})")}}});
  testing::ExtensionTester t("openai_llm", props(server));
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(user_text("hi", 1)).is_ok());
  auto err = t.wait_for_data("error");
  ASSERT_NE(err, nullptr);
  EXPECT_NE(err->get<std::string>("message", "").find("model overloaded"), std::string::npos);
  bool ended = false;
  reply_pieces(t, &ended);
  EXPECT_TRUE(ended);
  EXPECT_EQ(server.requests().size(), 1u);  // no retry after the first token
}

TEST(OpenAiLlm, StallBeforeFirstTokenTimesOutAndRetries) {
  FakeOpenAi server({{200, {test::stall()}}, {200, {test::delta("Back again."), test::done()}}});
  testing::ExtensionTester t("openai_llm",
                             props(server, {{"first_token_timeout_ms", 300}, {"max_retries", 1}}));
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(user_text("hi", 1)).is_ok());
  EXPECT_TRUE(server.wait_client_closed());  // the stalled stream was closed, not abandoned
  auto pieces = reply_pieces(t);
  EXPECT_EQ(pieces, std::vector<std::string>{"Back again."});
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(OpenAiLlm, HttpErrorsRetryOnlyWhenRetryable) {
  FakeOpenAi server({{500, {}}, {401, {}}});
  testing::ExtensionTester t("openai_llm", props(server, {{"max_retries", 3}}));
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(user_text("hi", 1)).is_ok());
  auto err = t.wait_for_data("error");
  ASSERT_NE(err, nullptr);
  EXPECT_NE(err->get<std::string>("message", "").find("HTTP 401: fake failure"), std::string::npos)
      << err->get<std::string>("message", "");
  EXPECT_EQ(server.requests().size(), 2u);  // 500 retried once, 401 not
}

TEST(OpenAiLlm, FlushClosesTheHttpStreamAndIsForwarded) {
  FakeOpenAi server({{200, {test::delta("One sentence here. "), test::stall()}}});
  testing::ExtensionTester t("openai_llm", props(server));
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(user_text("talk", 1)).is_ok());
  auto first = t.wait_for_data("text_data");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->get<std::string>("text", ""), "One sentence here.");
  auto r = t.send_cmd(make_flush(2));
  EXPECT_TRUE(r->ok());
  EXPECT_NE(t.wait_for_cmd("flush"), nullptr);              // forwarded downstream
  EXPECT_TRUE(server.wait_client_closed(2s));               // the HTTP stream was really closed
  EXPECT_EQ(t.wait_for_data("text_data", 300ms), nullptr);  // nothing more for the old turn
}

TEST(OpenAiLlm, TextEndHeldBackByAFlushedReplyIsPassedOn) {
  FakeOpenAi server({{200, {test::delta("A long answer. "), test::stall()}}});
  testing::ExtensionTester t("openai_llm", props(server));
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(user_text("talk", 1)).is_ok());
  ASSERT_NE(t.wait_for_data("text_data"), nullptr);
  // The input ends while the reply streams: text_end waits for the reply to finish.
  ASSERT_TRUE(t.send(std::make_unique<Data>("text_end", nlohmann::json::object())).is_ok());
  EXPECT_EQ(t.wait_for_data("text_end", 200ms), nullptr);
  // The user barges in but no further turn comes (noise): the audio must still end.
  EXPECT_TRUE(t.send_cmd(make_flush(2))->ok());
  EXPECT_NE(t.wait_for_data("text_end", 2s), nullptr) << "text_end swallowed by the flush";
}

TEST(OpenAiLlm, HistoryKeepsOnlyWhatTheUserHeard) {
  FakeOpenAi server(
      {{200,
        {test::delta("Once upon a time there was a fox. It lived in a forest."), test::done()}},
       {200, {test::delta("Then it slept."), test::done()}}});
  testing::ExtensionTester t("openai_llm", props(server));
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(user_text("tell me a story", 1)).is_ok());
  reply_pieces(t);
  // TTS reported how long each piece's audio is; the transport then reports 2.75 s were played.
  ASSERT_TRUE(
      t.send(std::make_unique<Data>("tts_segment",
                                    nlohmann::json{{"turn_id", 1},
                                                   {"text", "Once upon a time there was a fox."},
                                                   {"audio_ms", 2000}}))
          .is_ok());
  ASSERT_TRUE(
      t.send(std::make_unique<Data>("tts_segment", nlohmann::json{{"turn_id", 1},
                                                                  {"text", "It lived in a forest."},
                                                                  {"audio_ms", 1500}}))
          .is_ok());
  ASSERT_TRUE(t.send(std::make_unique<Data>("playout", nlohmann::json{{"turn_id", 1},
                                                                      {"played_ms", 2750},
                                                                      {"interrupted", true}}))
                  .is_ok());
  ASSERT_TRUE(t.send(user_text("and then?", 2)).is_ok());
  reply_pieces(t);
  auto msgs = server.requests().at(1)["messages"];
  ASSERT_GE(msgs.size(), 4u);
  EXPECT_EQ(msgs[2]["role"], "assistant");
  EXPECT_EQ(msgs[2]["content"], "Once upon a time there was a fox. It lived —");
  EXPECT_EQ(msgs[3]["content"], "and then?");
}

}  // namespace
}  // namespace parley
