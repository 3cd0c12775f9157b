// Server-Sent Events (text/event-stream) parsing, for streamed LLM responses over http_stream().
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace parley::net {

// One dispatched event.
struct SseEvent {
  // The "event:" field; "message" when the stream gave none.
  std::string event = "message";
  // The "data:" lines joined with '\n'.
  std::string data;
  // The last "id:" seen in the stream (it persists across events, as the spec says).
  std::string id;
  // The "retry:" field in milliseconds, or -1.
  long retry_ms = -1;
};

// Incremental parser of the WHATWG event-stream format: feed it body chunks split anywhere (even
// inside a UTF-8 sequence or a CRLF pair) and it calls back once per complete event. Comments
// (":...") and unknown fields are skipped; events with no data are not dispatched. Not
// thread-safe; one per stream.
class SseParser {
 public:
  explicit SseParser(std::function<void(const SseEvent&)> on_event)
      : on_event_(std::move(on_event)) {}

  // Parses `chunk`, dispatching every event it completes.
  void feed(std::string_view chunk);
  // Dispatches a final event that was not followed by a blank line (end of stream).
  void finish();

 private:
  void line(std::string_view line);
  void dispatch();

  std::function<void(const SseEvent&)> on_event_;
  std::string buffer_;    // an incomplete line
  bool skip_lf_ = false;  // the previous chunk ended in '\r'
  bool bom_checked_ = false;
  SseEvent current_;
  bool has_data_ = false;
  std::string last_id_;
};

}  // namespace parley::net
