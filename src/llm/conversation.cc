// Conversation history with truncation to what was heard.
#include "llm/conversation.h"

namespace parley::llm {

void Conversation::add_user(int64_t turn_id, nlohmann::json content) {
  ChatMessage m;
  m.role = "user";
  m.content = std::move(content);
  m.turn_id = turn_id;
  history_.push_back(std::move(m));
  trim();
}

void Conversation::append_assistant(int64_t turn_id, const std::string& text) {
  if (text.empty()) return;
  if (!history_.empty() && history_.back().role == "assistant" &&
      history_.back().turn_id == turn_id && history_.back().tool_calls.empty()) {
    auto& c = history_.back().content;
    std::string prev = c.is_string() ? c.get<std::string>() : "";
    c = prev.empty() ? text : prev + " " + text;
    return;
  }
  ChatMessage m;
  m.role = "assistant";
  m.content = text;
  m.turn_id = turn_id;
  history_.push_back(std::move(m));
  trim();
}

void Conversation::add_tool_calls(int64_t turn_id, std::vector<ToolCall> calls) {
  ChatMessage m;
  m.role = "assistant";
  m.content = "";
  m.tool_calls = std::move(calls);
  m.turn_id = turn_id;
  history_.push_back(std::move(m));
}

void Conversation::add_tool_result(int64_t turn_id, std::string call_id, std::string content) {
  ChatMessage m;
  m.role = "tool";
  m.content = std::move(content);
  m.tool_call_id = std::move(call_id);
  m.turn_id = turn_id;
  history_.push_back(std::move(m));
}

void Conversation::truncate_assistant(int64_t turn_id, size_t heard) {
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->role != "assistant" || it->turn_id != turn_id || !it->tool_calls.empty()) continue;
    std::string text = it->content.is_string() ? it->content.get<std::string>() : "";
    if (heard >= text.size()) return;
    size_t cut = heard;
    while (cut > 0 && text[cut] != ' ') --cut;  // whole words only
    text = text.substr(0, cut);
    if (text.empty()) {
      history_.erase(std::next(it).base());
    } else {
      it->content = text + " —";  // the dash tells the model it was cut off
    }
    return;
  }
}

std::string Conversation::assistant_text(int64_t turn_id) const {
  std::string out;
  for (const auto& m : history_) {
    if (m.role == "assistant" && m.turn_id == turn_id && m.content.is_string()) {
      const auto& t = m.content.get_ref<const std::string&>();
      if (!t.empty()) out += (out.empty() ? "" : " ") + t;
    }
  }
  return out;
}

void Conversation::trim() {
  while (history_.size() > max_messages_) history_.erase(history_.begin());
  // Never start with a tool result or an assistant tool call whose partner was dropped.
  while (!history_.empty() &&
         (history_.front().role == "tool" || !history_.front().tool_calls.empty()))
    history_.erase(history_.begin());
}

std::vector<ChatMessage> Conversation::messages() const {
  std::vector<ChatMessage> out;
  if (!system_prompt_.empty()) {
    ChatMessage s;
    s.role = "system";
    s.content = system_prompt_;
    out.push_back(std::move(s));
  }
  out.insert(out.end(), history_.begin(), history_.end());
  return out;
}

nlohmann::json Conversation::to_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& m : messages()) j.push_back(m.to_json());
  return j;
}

size_t heard_characters(const std::vector<SpokenSegment>& segments, double played_ms) {
  size_t chars = 0;
  double t = 0;
  for (const auto& s : segments) {
    const size_t with_space = s.text.size() + (chars > 0 ? 1 : 0);
    if (t + s.audio_ms <= played_ms) {
      chars += with_space;
      t += s.audio_ms;
      continue;
    }
    if (s.audio_ms > 0 && played_ms > t) {
      const double share = (played_ms - t) / s.audio_ms;
      chars += static_cast<size_t>(share * static_cast<double>(with_space));
    }
    break;
  }
  return chars;
}

}  // namespace parley::llm
