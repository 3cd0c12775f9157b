// LLM protocol pieces: text segmentation, the streamed chat decoder, history truncation.
#include <gtest/gtest.h>

#include "llm/conversation.h"
#include "llm/openai_chat.h"
#include "llm/text_segmenter.h"

namespace parley::llm {
namespace {

std::vector<std::string> feed(TextSegmenter& s, std::initializer_list<const char*> deltas) {
  std::vector<std::string> out;
  for (const char* d : deltas)
    for (auto& p : s.push(d)) out.push_back(p);
  if (auto rest = s.finish(); !rest.empty()) out.push_back(rest);
  return out;
}

TEST(TextSegmenter, FirstClauseEarlyThenSentences) {
  TextSegmenter s;
  auto pieces = feed(s, {"Well, the weather in Paris", " today is sunny, with a",
                         " high of 21.5 degrees. Dr. ", "Smith agrees! Anything else?"});
  ASSERT_EQ(pieces.size(), 4u) << testing::PrintToString(pieces);
  EXPECT_EQ(pieces[0], "Well, the weather in Paris today is sunny,");  // first clause, >= 12 chars
  EXPECT_EQ(pieces[1], "with a high of 21.5 degrees.");                // "21.5" not cut
  EXPECT_EQ(pieces[2], "Dr. Smith agrees!");                           // abbreviation kept
  EXPECT_EQ(pieces[3], "Anything else?");
}

TEST(TextSegmenter, NoClauseCutAfterFirstPieceAndLongRunsAreCut) {
  TextSegmenterConfig cfg;
  cfg.max_chars = 40;
  TextSegmenter s(cfg);
  auto pieces = feed(s, {"one two three four five six seven eight nine ten eleven twelve"});
  ASSERT_GE(pieces.size(), 2u);
  for (const auto& p : pieces) EXPECT_LE(p.size(), 40u);
}

TEST(ChatStreamDecoder, AssemblesTextToolCallsAndUsage) {
  std::string text;
  nlohmann::json usage;
  ChatStreamDecoder d(
      {[&](std::string_view t) { text += t; }, [&](const nlohmann::json& u) { usage = u; }});
  ASSERT_TRUE(
      d.on_data(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})").is_ok());
  EXPECT_FALSE(d.started());
  ASSERT_TRUE(d.on_data(R"({"choices":[{"delta":{"content":"Let me check."}}]})").is_ok());
  ASSERT_TRUE(
      d.on_data(
           R"({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]})")
          .is_ok());
  ASSERT_TRUE(
      d.on_data(
           R"({"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"get_current_time","arguments":"{}"}}]}}]})")
          .is_ok());
  ASSERT_TRUE(
      d.on_data(
           R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"loca"}}]}}]})")
          .is_ok());
  ASSERT_TRUE(
      d.on_data(
           R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"tion\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}]})")
          .is_ok());
  ASSERT_TRUE(
      d.on_data(
           R"({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}})")
          .is_ok());
  ASSERT_TRUE(d.on_data(R"({"choices":null,"usage":null})").is_ok());
  ASSERT_TRUE(d.on_data("[DONE]").is_ok());
  EXPECT_TRUE(d.done());
  EXPECT_EQ(text, "Let me check.");
  EXPECT_EQ(d.finish_reason(), "tool_calls");
  EXPECT_EQ(usage["total_tokens"], 21);
  auto calls = d.tool_calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].id, "call_a");
  EXPECT_EQ(calls[0].name, "get_weather");
  EXPECT_EQ(calls[0].arguments, R"({"location":"Paris"})");
  EXPECT_EQ(calls[1].name, "get_current_time");
}

TEST(ChatStreamDecoder, ErrorObjectMidStreamAndGarbage) {
  ChatStreamDecoder d({});
  ASSERT_TRUE(d.on_data(R"({"choices":[{"delta":{"content":"Hi"}}]})").is_ok());
  Status s = d.on_data(R"({"error":{"message":"model overloaded","type":"server_error"}})");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("model overloaded"), std::string::npos);
  EXPECT_FALSE(d.on_data("{not json").is_ok());
}

TEST(ChatRequest, CarriesToolsImagesAndStreamOptions) {
  ChatMessage user;
  user.role = "user";
  user.content = nlohmann::json::array(
      {{{"type", "text"}, {"text", "what is this?"}},
       {{"type", "image_url"}, {"image_url", {{"url", "data:image/jpeg;base64,AA=="}}}}});
  auto body = build_chat_request({"m", 0.2, 64}, {user},
                                 {{"get_weather", "weather", {{"type", "object"}}}});
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["tools"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(body["messages"][0]["content"][1]["image_url"]["url"], "data:image/jpeg;base64,AA==");
  EXPECT_EQ(describe_error_body(401, R"({"error":{"message":"Incorrect API key"}})"),
            "HTTP 401: Incorrect API key");
}

TEST(Conversation, InterruptedReplyKeepsOnlyHeardWords) {
  Conversation c(10);
  c.set_system_prompt("sys");
  c.add_user(1, "tell me a story");
  c.append_assistant(1, "Once upon a time there was a fox.");
  c.append_assistant(1, "It lived in a forest.");
  std::vector<SpokenSegment> spoken = {{"Once upon a time there was a fox.", 2000},
                                       {"It lived in a forest.", 1500}};
  // 2.75 s heard: the first sentence and half of the second.
  const size_t heard = heard_characters(spoken, 2750);
  c.truncate_assistant(1, heard);
  EXPECT_EQ(c.assistant_text(1), "Once upon a time there was a fox. It lived —");
  auto msgs = c.messages();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].role, "system");
  // Nothing heard: the reply disappears from the history.
  c.add_user(2, "stop");
  c.append_assistant(2, "Sure, stopping now.");
  c.truncate_assistant(2, heard_characters({{"Sure, stopping now.", 1000}}, 0));
  EXPECT_EQ(c.assistant_text(2), "");
}

TEST(Conversation, HistoryLimitNeverStartsWithOrphanToolResult) {
  Conversation c(3);
  c.add_user(1, "time?");
  c.add_tool_calls(1, {{"c1", "get_current_time", "{}"}});
  c.add_tool_result(1, "c1", "12:00");
  c.append_assistant(1, "It is noon.");
  auto msgs = c.messages();
  ASSERT_FALSE(msgs.empty());
  EXPECT_NE(msgs.front().role, "tool");
  EXPECT_TRUE(msgs.front().tool_calls.empty());
}

}  // namespace
}  // namespace parley::llm
