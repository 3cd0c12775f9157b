// /v1/speak: Deepgram streaming TTS on eSpeak NG.
#include "model_server/speak_session.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "model_server/deepgram_messages.h"
#include "speech/espeak_synthesizer.h"

namespace parley::model_server {

std::shared_ptr<SpeakSession> SpeakSession::create(SpeakParams params, std::string request_id) {
  return std::shared_ptr<SpeakSession>(new SpeakSession(std::move(params), std::move(request_id)));
}

net::WsCallbacks SpeakSession::callbacks() {
  auto self = shared_from_this();
  net::WsCallbacks cb;
  cb.on_open = [self](const std::shared_ptr<net::WsConnection>& c) { self->on_open(c); };
  cb.on_text = [self](const std::shared_ptr<net::WsConnection>& c, std::string text) {
    self->on_message(c, text);
  };
  cb.on_binary = [self](const std::shared_ptr<net::WsConnection>& c, std::string data) {
    self->on_message(c, data);
  };
  cb.on_close = [self](const std::shared_ptr<net::WsConnection>&, const net::WsCloseInfo&) {
    self->cancel_->store(true);  // stop synthesising for a client that is gone
    self->generation_.fetch_add(1);
  };
  return cb;
}

void SpeakSession::on_open(const std::shared_ptr<net::WsConnection>& conn) {
  conn_ = conn;
  spdlog::info("speak {}: opened from {} ({})", request_id_, conn->request().remote,
               params_.to_string());
  (void)conn->send_text(speak_metadata_message(request_id_, params_.model).dump());
}

void SpeakSession::warn(const std::shared_ptr<net::WsConnection>& conn, const std::string& code,
                        const std::string& description) {
  (void)conn->send_text(
      nlohmann::json{{"type", "Warning"}, {"code", code}, {"description", description}}.dump());
}

void SpeakSession::on_message(const std::shared_ptr<net::WsConnection>& conn,
                              const std::string& data) {
  if (closing_) return;
  nlohmann::json msg;
  const auto type = control_type(data, &msg);
  if (!type) {
    return warn(conn, "INVALID_MESSAGE", "expected a JSON message: Speak, Flush, Clear or Close");
  }
  if (*type == "Speak") {
    auto it = msg.find("text");
    if (it == msg.end() || !it->is_string()) {
      return warn(conn, "INVALID_MESSAGE", "Speak needs a string \"text\"");
    }
    const auto& text = it->get_ref<const std::string&>();
    if (!text_.empty() && !text.empty() && text_.back() != ' ' && text.front() != ' ') {
      text_.push_back(' ');
    }
    text_ += text;
  } else if (*type == "Flush") {
    flush(conn, false);
  } else if (*type == "Clear") {
    clear(conn);
  } else if (*type == "Close") {
    flush(conn, true);
  } else {
    warn(conn, "UNKNOWN_MESSAGE",
         "unknown message type '" + *type + "'; send Speak, Flush, Clear or Close");
  }
}

void SpeakSession::flush(const std::shared_ptr<net::WsConnection>& conn, bool then_close) {
  if (then_close) closing_ = true;
  const bool announce = !then_close || !text_.empty();
  const uint64_t sequence = announce ? next_sequence_++ : 0;
  const uint64_t generation = generation_.load();
  speech::SynthRequest req;
  req.text = std::move(text_);
  text_.clear();
  req.voice = params_.voice;
  req.rate_wpm = std::clamp(static_cast<int>(175 * params_.speed), 80, 450);
  req.cancelled = cancel_;
  std::weak_ptr<SpeakSession> weak = weak_from_this();
  req.on_audio = [weak, generation](std::span<const int16_t> samples, bool last) {
    if (auto self = weak.lock()) self->on_audio(generation, samples, last);
  };
  std::weak_ptr<net::WsConnection> wconn = conn;
  req.on_done = [weak, wconn, generation, sequence, announce, then_close](const Status& st) {
    auto self = weak.lock();
    auto c = wconn.lock();
    if (!self || !c) return;
    if (!st.is_ok() && st.code() != StatusCode::kCancelled) {
      spdlog::warn("speak {}: synthesis failed: {}", self->request_id_, st.to_string());
    }
    c->post([self, c, generation, sequence, announce, then_close, st] {
      if (!st.is_ok() && st.code() != StatusCode::kCancelled) {
        self->warn(c, "SYNTHESIS_FAILED", st.message());
      }
      if (announce && self->generation_.load() == generation) {
        (void)c->send_text(nlohmann::json{{"type", "Flushed"}, {"sequence_id", sequence}}.dump());
      }
      if (then_close) c->close(net::ws_close::kNormal, "");
    });
  };
  auto handle = speech::EspeakService::instance().submit(std::move(req));
  if (!handle.is_ok()) {
    warn(conn, "SYNTHESIS_FAILED", handle.status().message());
    if (then_close) conn->close(net::ws_close::kInternalError, handle.status().message());
  }
}

void SpeakSession::clear(const std::shared_ptr<net::WsConnection>& conn) {
  text_.clear();
  cancel_->store(true);  // stops the request being spoken and every queued one of this session
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  generation_.fetch_add(1);
  const uint64_t sequence = next_sequence_ == 0 ? 0 : next_sequence_ - 1;
  (void)conn->send_text(nlohmann::json{{"type", "Cleared"}, {"sequence_id", sequence}}.dump());
}

void SpeakSession::on_audio(uint64_t generation, std::span<const int16_t> samples, bool last) {
  if (generation_.load() != generation) return;
  const int in_rate = speech::EspeakService::instance().sample_rate();
  std::span<const int16_t> out = samples;
  if (in_rate != params_.sample_rate) {
    if (!resampler_) {
      auto r = media::Resampler::create(in_rate, params_.sample_rate, 1);
      if (!r.is_ok()) return;
      resampler_ = std::move(*r);
    } else if (resampler_generation_ != generation) {
      (void)resampler_->reset();  // drop what a cleared turn left inside the filter
    }
    resampler_generation_ = generation;
    resampled_.clear();
    (void)resampler_->process(samples, resampled_);
    if (last) (void)resampler_->flush(resampled_);
    out = resampled_;
  }
  if (out.empty()) return;
  auto conn = conn_.lock();
  if (!conn) return;
  std::string bytes(out.size() * 2, '\0');
  std::memcpy(bytes.data(), out.data(), bytes.size());  // little-endian host
  // Decide on the connection strand, where Clear bumps the generation, so nothing of a cleared
  // turn can be sent after its Cleared.
  conn->post([self = shared_from_this(), conn, generation, bytes = std::move(bytes)]() mutable {
    if (self->generation_.load() == generation) (void)conn->send_binary(std::move(bytes));
  });
}

}  // namespace parley::model_server
