// LlmTurn: one streamed chat completion for one conversation turn — the HTTP stream, SSE parsing,
// first-token timeout and retries before the first token. Lives on the openai_llm node's
// executor; network callbacks are hopped onto it through the node's Poster.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "llm/openai_chat.h"
#include "parley/extension.h"
#include "parley/net/client.h"
#include "parley/net/sse.h"

namespace parley::llm {

// Where and how to send requests.
struct LlmEndpoint {
  std::string url;  // .../chat/completions
  std::string api_key;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds first_token_timeout{15000};
  int max_retries = 2;
  std::chrono::milliseconds backoff{300};
};

// What a turn reports, always on the node's executor.
struct LlmTurnHandlers {
  std::function<void()> on_first_token;
  std::function<void(std::string_view delta)> on_text;
  // Exactly once: ok with the decoder's final state, or the error (never after cancel()).
  std::function<void(const Status& status, const ChatStreamDecoder& decoder)> on_done;
};

// One request (with its retries). Create with start(); cancel() closes the HTTP stream at once.
class LlmTurn : public std::enable_shared_from_this<LlmTurn> {
 public:
  static std::shared_ptr<LlmTurn> start(Context& ctx, const LlmEndpoint& endpoint, std::string body,
                                        LlmTurnHandlers handlers);
  // Closes the stream; no handler runs afterwards. Call on the node's executor.
  void cancel();
  bool active() const { return !finished_; }

 private:
  LlmTurn(Context& ctx, const LlmEndpoint& endpoint, std::string body, LlmTurnHandlers handlers);
  void attempt();
  void on_chunk(uint64_t gen, std::string chunk);
  void on_http_done(uint64_t gen, int status, Status st);
  void fail_or_retry(Status st);
  void finish(const Status& st);

  Context& ctx_;
  LlmEndpoint endpoint_;
  std::string body_;
  LlmTurnHandlers handlers_;
  Poster poster_;
  net::HttpCall call_;
  std::unique_ptr<ChatStreamDecoder> decoder_;
  std::unique_ptr<net::SseParser> sse_;
  uint64_t generation_ = 0;  // bumps on every attempt and on cancel; stale callbacks are dropped
  int attempts_ = 0;
  int http_status_ = 0;
  std::string error_body_;
  Status stream_error_;
  TimerId first_token_timer_ = 0;
  bool finished_ = false;
};

}  // namespace parley::llm
