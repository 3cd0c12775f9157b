// OpenAI-compatible chat requests and streamed-response decoding.
#include "llm/openai_chat.h"

namespace parley::llm {

nlohmann::json ChatMessage::to_json() const {
  nlohmann::json j = {{"role", role}};
  if (!tool_calls.empty()) {
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& c : tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    j["tool_calls"] = calls;
    j["content"] =
        content.is_string() && content.get<std::string>().empty() ? nlohmann::json() : content;
  } else {
    j["content"] = content;
  }
  if (!tool_call_id.empty()) j["tool_call_id"] = tool_call_id;
  return j;
}

nlohmann::json build_chat_request(const ChatOptions& options,
                                  const std::vector<ChatMessage>& messages,
                                  const std::vector<ToolSpec>& tools) {
  nlohmann::json body = {{"model", options.model},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}},
                         {"temperature", options.temperature},
                         {"max_tokens", options.max_tokens}};
  nlohmann::json msgs = nlohmann::json::array();
  for (const auto& m : messages) msgs.push_back(m.to_json());
  body["messages"] = std::move(msgs);
  if (!tools.empty()) {
    nlohmann::json ts = nlohmann::json::array();
    for (const auto& t : tools) {
      ts.push_back(
          {{"type", "function"},
           {"function",
            {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}}}});
    }
    body["tools"] = std::move(ts);
  }
  return body;
}

Status ChatStreamDecoder::on_data(std::string_view data) {
  if (data == "[DONE]") {
    done_ = true;
    return Status::ok();
  }
  nlohmann::json chunk = nlohmann::json::parse(data, nullptr, false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    return data_loss("unparseable chunk in the chat stream: " + std::string(data.substr(0, 120)));
  }
  if (chunk.contains("error")) {
    const auto& e = chunk["error"];
    std::string msg = e.is_object() ? e.value("message", e.dump()) : e.dump();
    return unavailable("the model reported an error mid-stream: " + msg);
  }
  if (chunk.contains("usage") && chunk["usage"].is_object() && handlers_.on_usage) {
    handlers_.on_usage(chunk["usage"]);
  }
  // The usage-only last chunk has "choices": [] (OpenAI) or null (some servers).
  if (!chunk.contains("choices") || !chunk["choices"].is_array()) return Status::ok();
  for (const auto& choice : chunk["choices"]) {
    if (!choice.is_object()) continue;
    if (choice.contains("delta") && choice["delta"].is_object()) {
      const auto& delta = choice["delta"];
      if (delta.contains("content") && delta["content"].is_string()) {
        const auto& t = delta["content"].get_ref<const std::string&>();
        if (!t.empty()) {
          started_ = true;
          text_ += t;
          if (handlers_.on_text) handlers_.on_text(t);
        }
      }
      if (delta.contains("tool_calls") && delta["tool_calls"].is_array()) {
        for (const auto& tc : delta["tool_calls"]) {
          started_ = true;
          const size_t index = tc.value("index", calls_.size());
          if (index >= calls_.size()) calls_.resize(index + 1);
          auto& call = calls_[index];
          if (tc.contains("id") && tc["id"].is_string()) call.id = tc["id"].get<std::string>();
          if (tc.contains("function") && tc["function"].is_object()) {
            const auto& fn = tc["function"];
            if (fn.contains("name") && fn["name"].is_string())
              call.name += fn["name"].get<std::string>();
            if (fn.contains("arguments") && fn["arguments"].is_string())
              call.arguments += fn["arguments"].get<std::string>();
          }
        }
      }
    }
    if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
      finish_reason_ = choice["finish_reason"].get<std::string>();
    }
  }
  return Status::ok();
}

std::vector<ToolCall> ChatStreamDecoder::tool_calls() const {
  std::vector<ToolCall> out;
  for (const auto& c : calls_)
    if (!c.name.empty()) out.push_back(c);
  return out;
}

std::string describe_error_body(int http_status, std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  std::string msg;
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    msg = e.is_object() ? e.value("message", e.dump())
                        : (e.is_string() ? e.get<std::string>() : e.dump());
  } else {
    msg = std::string(body.substr(0, 300));
  }
  return "HTTP " + std::to_string(http_status) + ": " + msg;
}

}  // namespace parley::llm
