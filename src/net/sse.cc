// Incremental text/event-stream parser (WHATWG HTML §9.2.6 "Interpreting an event stream").
#include "parley/net/sse.h"

#include <charconv>

namespace parley::net {

void SseParser::feed(std::string_view chunk) {
  if (!bom_checked_ && !chunk.empty()) {
    // A UTF-8 BOM may start the stream; it may itself be split across chunks.
    buffer_.append(chunk);
    if (buffer_.size() < 3 && std::string_view("\xEF\xBB\xBF").starts_with(buffer_)) return;
    bom_checked_ = true;
    if (buffer_.starts_with("\xEF\xBB\xBF")) buffer_.erase(0, 3);
    std::string pending;
    pending.swap(buffer_);
    feed(pending);
    return;
  }
  size_t start = 0;
  for (size_t i = 0; i < chunk.size(); ++i) {
    const char c = chunk[i];
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') {
        start = i + 1;
        continue;
      }
    }
    if (c != '\r' && c != '\n') continue;
    if (buffer_.empty()) {
      line(chunk.substr(start, i - start));
    } else {
      buffer_.append(chunk.substr(start, i - start));
      line(buffer_);
      buffer_.clear();
    }
    if (c == '\r') skip_lf_ = true;
    start = i + 1;
  }
  buffer_.append(chunk.substr(start));
}

void SseParser::finish() {
  if (!buffer_.empty()) {
    std::string last;
    last.swap(buffer_);
    line(last);
  }
  dispatch();
}

void SseParser::line(std::string_view text) {
  if (text.empty()) {
    dispatch();
    return;
  }
  if (text.front() == ':') return;  // comment (often used as a keep-alive)
  const auto colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_ = std::string(value);
  } else if (field == "retry") {
    long ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec == std::errc() && end == value.data() + value.size()) current_.retry_ms = ms;
  }
}

void SseParser::dispatch() {
  if (has_data_) {
    current_.id = last_id_;
    if (current_.event.empty()) current_.event = "message";
    on_event_(current_);
  }
  current_ = SseEvent();
  has_data_ = false;
}

}  // namespace parley::net
