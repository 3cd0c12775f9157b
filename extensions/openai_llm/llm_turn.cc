// LlmTurn: streaming chat completion with cancellation, first-token timeout and retries.
#include "llm_turn.h"

#include <spdlog/logger.h>

#include "parley/runtime.h"

namespace parley::llm {

std::shared_ptr<LlmTurn> LlmTurn::start(Context& ctx, const LlmEndpoint& endpoint, std::string body,
                                        LlmTurnHandlers handlers) {
  std::shared_ptr<LlmTurn> turn(new LlmTurn(ctx, endpoint, std::move(body), std::move(handlers)));
  turn->attempt();
  return turn;
}

LlmTurn::LlmTurn(Context& ctx, const LlmEndpoint& endpoint, std::string body,
                 LlmTurnHandlers handlers)
    : ctx_(ctx),
      endpoint_(endpoint),
      body_(std::move(body)),
      handlers_(std::move(handlers)),
      poster_(ctx.poster()) {}

void LlmTurn::attempt() {
  ++attempts_;
  const uint64_t gen = ++generation_;
  decoder_ = std::make_unique<ChatStreamDecoder>(ChatStreamHandlers{[this](std::string_view delta) {
                                                                      if (handlers_.on_text)
                                                                        handlers_.on_text(delta);
                                                                    },
                                                                    nullptr});
  sse_ = std::make_unique<net::SseParser>([this](const net::SseEvent& ev) {
    if (!stream_error_.is_ok() || finished_) return;
    const bool was_started = decoder_->started();
    Status s = decoder_->on_data(ev.data);
    if (!s.is_ok()) {
      stream_error_ = s;
      call_.cancel();
      return;
    }
    if (!was_started && decoder_->started()) {
      ctx_.cancel_timer(first_token_timer_);
      if (handlers_.on_first_token) handlers_.on_first_token();
    }
  });
  http_status_ = 0;
  error_body_.clear();
  stream_error_ = Status::ok();

  net::HttpClientRequest req;
  req.method = "POST";
  req.url = endpoint_.url;
  req.body = body_;
  req.connect_timeout = endpoint_.connect_timeout;
  req.read_timeout = endpoint_.first_token_timeout;
  req.headers.set("Content-Type", "application/json");
  req.headers.set("Accept", "text/event-stream");
  if (!endpoint_.api_key.empty()) req.headers.set("Authorization", "Bearer " + endpoint_.api_key);

  std::weak_ptr<LlmTurn> weak = weak_from_this();
  auto post = [weak, poster = poster_](std::function<void(LlmTurn&)> fn) {
    poster([weak, fn = std::move(fn)] {
      if (auto self = weak.lock()) fn(*self);
    });
  };
  auto status = std::make_shared<int>(0);
  net::HttpStreamHandlers h;
  h.on_headers = [post, status, gen](int code, const net::HttpHeaders&) {
    *status = code;
    post([gen, code](LlmTurn& t) {
      if (gen == t.generation_) t.http_status_ = code;
    });
  };
  h.on_body = [post, gen](std::string_view chunk) {
    post([gen, c = std::string(chunk)](LlmTurn& t) mutable { t.on_chunk(gen, std::move(c)); });
  };
  h.on_done = [post, status, gen](const Status& st) {
    post([gen, code = *status, st](LlmTurn& t) { t.on_http_done(gen, code, st); });
  };
  call_ = net::http_stream(ctx_.runtime().io(), std::move(req), std::move(h));
  first_token_timer_ = ctx_.set_timer(endpoint_.first_token_timeout, [this, gen] {
    if (gen != generation_ || finished_ || decoder_->started()) return;
    stream_error_ = deadline_exceeded(
        "no first token within " + std::to_string(endpoint_.first_token_timeout.count()) + " ms");
    call_.cancel();
  });
}

void LlmTurn::on_chunk(uint64_t gen, std::string chunk) {
  if (gen != generation_ || finished_) return;
  if (http_status_ != 200) {
    if (error_body_.size() < 4096) error_body_ += chunk;
    return;
  }
  sse_->feed(chunk);
}

void LlmTurn::on_http_done(uint64_t gen, int status, Status st) {
  if (gen != generation_ || finished_) return;
  ctx_.cancel_timer(first_token_timer_);
  if (status != 0) http_status_ = status;
  if (!stream_error_.is_ok()) {
    fail_or_retry(stream_error_);
    return;
  }
  if (!st.is_ok()) {
    fail_or_retry(st.with_context("chat request to " + endpoint_.url));
    return;
  }
  if (http_status_ != 200) {
    fail_or_retry(unavailable(describe_error_body(http_status_, error_body_)));
    return;
  }
  sse_->finish();
  if (!stream_error_.is_ok()) {
    fail_or_retry(stream_error_);
    return;
  }
  if (!decoder_->done() && decoder_->finish_reason().empty()) {
    fail_or_retry(data_loss("the chat stream ended before [DONE]"));
    return;
  }
  finish(Status::ok());
}

void LlmTurn::fail_or_retry(Status st) {
  // Retry only before the first token: once words were spoken, a retry would repeat them.
  // A client error (bad key, bad request) will fail the same way again; anything else may not.
  const bool client_error = http_status_ >= 400 && http_status_ < 500 && http_status_ != 429;
  const bool retryable =
      !decoder_->started() && attempts_ <= endpoint_.max_retries && !client_error;
  if (retryable) {
    const auto delay = endpoint_.backoff * (1 << (attempts_ - 1));
    ctx_.log().warn("LLM attempt {} failed ({}); retrying in {} ms", attempts_, st.message(),
                    delay.count());
    const uint64_t gen = ++generation_;
    ctx_.set_timer(delay, [this, gen, self = shared_from_this()] {
      if (gen == generation_ && !finished_) attempt();
    });
    return;
  }
  finish(st);
}

void LlmTurn::finish(const Status& st) {
  if (finished_) return;
  finished_ = true;
  if (handlers_.on_done) handlers_.on_done(st, *decoder_);
}

void LlmTurn::cancel() {
  if (finished_) return;
  finished_ = true;
  ++generation_;
  ctx_.cancel_timer(first_token_timer_);
  call_.cancel();  // closes the HTTP stream now, so the server stops generating
}

}  // namespace parley::llm
