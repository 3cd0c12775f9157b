// Conversation: the chat history an LLM stage keeps, bounded in length, where an interrupted
// assistant reply is cut to the words the user actually heard (as OpenAI Realtime's truncate does).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/openai_chat.h"

namespace parley::llm {

// Audio produced for one piece of assistant text, used to map playout time back to words.
struct SpokenSegment {
  std::string text;
  double audio_ms = 0;
};

// History of one conversation.
class Conversation {
 public:
  // Keeps at most `max_messages` messages besides the system prompt.
  explicit Conversation(size_t max_messages = 20) : max_messages_(max_messages) {}

  void set_system_prompt(std::string prompt) { system_prompt_ = std::move(prompt); }
  // Appends a user message (`content` is text or an array of parts).
  void add_user(int64_t turn_id, nlohmann::json content);
  // Appends assistant text to the reply of `turn_id` (creating the message when needed).
  void append_assistant(int64_t turn_id, const std::string& text);
  void add_tool_calls(int64_t turn_id, std::vector<ToolCall> calls);
  void add_tool_result(int64_t turn_id, std::string call_id, std::string content);
  // Cuts the assistant reply of `turn_id` to its first `heard` characters (at a word boundary),
  // marking it as interrupted. A reply nobody heard is removed.
  void truncate_assistant(int64_t turn_id, size_t heard);
  // The assistant text of `turn_id` ("" when none).
  std::string assistant_text(int64_t turn_id) const;
  // Messages to send: the system prompt, then the newest messages within the limit (never
  // starting with a tool result whose call was dropped).
  std::vector<ChatMessage> messages() const;
  // For logs and tests.
  nlohmann::json to_json() const;

 private:
  void trim();
  size_t max_messages_;
  std::string system_prompt_;
  std::vector<ChatMessage> history_;
};

// How many characters of `segments` were heard after `played_ms` of their audio: whole segments
// whose audio finished, plus the proportional share of the one playing, ending at a word boundary.
size_t heard_characters(const std::vector<SpokenSegment>& segments, double played_ms);

}  // namespace parley::llm
