// OpenAI-compatible Chat Completions: request bodies and the decoder of the streamed (SSE)
// response — text deltas, tool calls assembled by index across chunks, the usage-only last chunk,
// `[DONE]` and error objects sent mid-stream. Works for OpenAI, Ollama, vLLM and llama.cpp.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/status.h"

namespace parley::llm {

// A function call the model asked for.
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, as the model wrote it
};

// A tool the model may call.
struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::json parameters = nlohmann::json::object();  // JSON schema
};

// One chat message. `content` is a string, or an array of parts (text and image_url) for
// multimodal user messages.
struct ChatMessage {
  std::string role;  // system, user, assistant, tool
  nlohmann::json content = "";
  std::vector<ToolCall> tool_calls;  // assistant messages that called tools
  std::string tool_call_id;          // tool messages
  int64_t turn_id = 0;               // not sent; lets history be cut by turn
  nlohmann::json to_json() const;
};

// Model parameters of a request.
struct ChatOptions {
  std::string model;
  double temperature = 0.7;
  int max_tokens = 512;
};

// The JSON body of a streaming chat completion request (stream_options.include_usage set).
nlohmann::json build_chat_request(const ChatOptions& options,
                                  const std::vector<ChatMessage>& messages,
                                  const std::vector<ToolSpec>& tools);

// What a stream decoder reports.
struct ChatStreamHandlers {
  std::function<void(std::string_view delta)> on_text;
  // The usage object of the last chunk.
  std::function<void(const nlohmann::json& usage)> on_usage;
};

// Decodes the `data:` payloads of one streamed chat completion.
class ChatStreamDecoder {
 public:
  explicit ChatStreamDecoder(ChatStreamHandlers handlers) : handlers_(std::move(handlers)) {}
  // Handles one SSE data payload. Returns an error for an error object or an unparseable chunk.
  Status on_data(std::string_view data);
  // True after `[DONE]` (or a finish_reason followed by the usage chunk).
  bool done() const { return done_; }
  // True once any text or tool-call delta arrived (the first token).
  bool started() const { return started_; }
  // "stop", "length", "tool_calls", ... ("" until the model said).
  const std::string& finish_reason() const { return finish_reason_; }
  // Tool calls assembled from the deltas, in index order.
  std::vector<ToolCall> tool_calls() const;
  // All text received.
  const std::string& text() const { return text_; }

 private:
  ChatStreamHandlers handlers_;
  bool done_ = false;
  bool started_ = false;
  std::string finish_reason_;
  std::string text_;
  std::vector<ToolCall> calls_;  // by index
};

// The message of an OpenAI-style error body ({"error": {"message": ...}}) or the raw text.
std::string describe_error_body(int http_status, std::string_view body);

}  // namespace parley::llm
