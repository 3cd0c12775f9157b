// /v1/listen: Deepgram live transcription on PocketSphinx.
#include "model_server/listen_session.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

namespace parley::model_server {

namespace asio = boost::asio;

std::shared_ptr<ListenSession> ListenSession::create(asio::thread_pool& compute,
                                                     speech::DecoderPool::Lease lease,
                                                     ListenParams params, ListenLimits limits,
                                                     std::string request_id) {
  return std::shared_ptr<ListenSession>(new ListenSession(
      compute, std::move(lease), std::move(params), limits, std::move(request_id)));
}

ListenSession::ListenSession(asio::thread_pool& compute, speech::DecoderPool::Lease lease,
                             ListenParams params, ListenLimits limits, std::string request_id)
    : strand_(asio::make_strand(compute.get_executor())),
      lease_(std::move(lease)),
      params_(std::move(params)),
      limits_(limits),
      request_id_(std::move(request_id)),
      created_(iso8601_now()),
      input_(media::AudioFormat{params_.sample_rate, params_.channels},
             params_.encoding.has_value()),
      transcriber_(*lease_, transcriber_options(params_),
                   [this](TranscriptEvent e) { emit(std::move(e)); }) {}

TranscriberOptions ListenSession::transcriber_options(const ListenParams& params) {
  TranscriberOptions o;
  o.interim_results = params.interim_results;
  o.endpointing_ms = params.endpointing_ms;
  o.utterance_end_ms = params.utterance_end_ms;
  o.vad_events = params.vad_events;
  o.punctuate = params.punctuate;
  return o;
}

net::WsCallbacks ListenSession::callbacks() {
  auto self = shared_from_this();
  net::WsCallbacks cb;
  cb.on_open = [self](const std::shared_ptr<net::WsConnection>& c) { self->on_open(c); };
  cb.on_text = [self](const std::shared_ptr<net::WsConnection>& c, std::string text) {
    self->on_message(c, std::move(text), true);
  };
  cb.on_binary = [self](const std::shared_ptr<net::WsConnection>& c, std::string data) {
    self->on_message(c, std::move(data), false);
  };
  cb.on_close = [self](const std::shared_ptr<net::WsConnection>&, const net::WsCloseInfo& info) {
    spdlog::debug("listen {}: closed {} {}", self->request_id_, info.code, info.reason);
    self->on_close();
  };
  return cb;
}

void ListenSession::on_open(const std::shared_ptr<net::WsConnection>& conn) {
  conn_ = conn;
  timeout_ = std::make_unique<asio::steady_timer>(conn->executor());
  spdlog::info("listen {}: opened from {} ({})", request_id_, conn->request().remote,
               params_.to_string());
  arm_timeout();
}

void ListenSession::arm_timeout() {
  timeout_->expires_after(limits_.audio_timeout);
  timeout_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->closing_.load()) return;
    if (auto conn = self->conn_.lock()) {
      self->closing_ = true;
      conn->close(net::ws_close::kInternalError,
                  "NET-0001: no audio or KeepAlive received for " +
                      std::to_string(self->limits_.audio_timeout.count() / 1000) + " s");
    }
  });
}

void ListenSession::post_compute(void (ListenSession::*job)()) {
  asio::post(strand_, [self = shared_from_this(), job] { (self.get()->*job)(); });
}

void ListenSession::on_message(const std::shared_ptr<net::WsConnection>& conn, std::string data,
                               bool text) {
  if (closing_.load()) return;
  arm_timeout();
  nlohmann::json parsed;
  const auto type = control_type(data, &parsed);
  if (type) {
    if (*type == "KeepAlive") return;
    if (*type == "Finalize") return post_compute(&ListenSession::finalize_job);
    if (*type == "CloseStream") {
      closing_ = true;
      timeout_->cancel();
      return post_compute(&ListenSession::close_stream_job);
    }
  }
  if (text) {
    // Deepgram answers unknown text with a warning rather than dropping the stream.
    const std::string what = type ? "message type '" + *type + "'" : "a text message";
    (void)conn->send_text(nlohmann::json{{"type", "Warning"},
                                         {"code", "UNKNOWN_MESSAGE"},
                                         {"description", "ignored " + what +
                                                             ": send audio as binary frames, or "
                                                             "KeepAlive, Finalize or CloseStream"}}
                              .dump());
    return;
  }
  if (data.empty()) return;
  const size_t backlog = backlog_.fetch_add(data.size()) + data.size();
  if (backlog > limits_.max_backlog_bytes) {
    closing_ = true;
    conn->close(net::ws_close::kPolicy,
                "audio arrives faster than it can be transcribed (backlog over " +
                    std::to_string(limits_.max_backlog_bytes >> 20) + " MiB)");
    return;
  }
  asio::post(strand_, [self = shared_from_this(), data = std::move(data)]() mutable {
    self->decode(std::move(data));
  });
}

void ListenSession::on_close() {
  closing_ = true;
  if (timeout_) timeout_->cancel();
}

void ListenSession::decode(std::string bytes) {
  backlog_.fetch_sub(bytes.size());
  if (failed_ || conn_.expired()) return;
  sha_.update(bytes);
  decoded_.clear();
  if (auto st = input_.push(bytes, decoded_); !st.is_ok()) {
    return fail(net::ws_close::kPolicy, st.message());
  }
  if (decoded_.empty()) return;
  if (!converter_) {
    auto c = media::AudioConverter::create(media::AudioFormat{speech::kPocketSphinxSampleRate, 1});
    if (!c.is_ok()) return fail(net::ws_close::kInternalError, c.status().message());
    converter_ = std::move(*c);
  }
  frames_ += static_cast<int64_t>(decoded_.size()) / input_.format().channels;
  mono_.clear();
  if (auto st = converter_->convert(decoded_, input_.format(), mono_); !st.is_ok()) {
    return fail(net::ws_close::kPolicy, "DATA-0000: " + st.message());
  }
  if (auto st = transcriber_.accept(mono_); !st.is_ok()) {
    return fail(net::ws_close::kInternalError, "decoder failed: " + st.message());
  }
}

void ListenSession::finalize_job() {
  if (failed_) return;
  if (converter_) {
    mono_.clear();
    (void)converter_->flush(mono_);
    if (auto st = transcriber_.accept(mono_); !st.is_ok()) {
      return fail(net::ws_close::kInternalError, "decoder failed: " + st.message());
    }
  }
  if (auto st = transcriber_.finalize(true, true); !st.is_ok()) {
    fail(net::ws_close::kInternalError, "decoder failed: " + st.message());
  }
}

void ListenSession::close_stream_job() {
  if (failed_) return;
  if (auto st = input_.finish(); !st.is_ok()) return fail(net::ws_close::kPolicy, st.message());
  if (converter_) {
    mono_.clear();
    (void)converter_->flush(mono_);
    (void)transcriber_.accept(mono_);
  }
  if (auto st = transcriber_.finalize(false, false); !st.is_ok()) {
    return fail(net::ws_close::kInternalError, "decoder failed: " + st.message());
  }
  const double duration =
      input_.format_known() ? static_cast<double>(frames_) / input_.format().sample_rate : 0.0;
  send(listen_metadata_message(request_id_, created_, sha_.hex(), duration, params_.channels));
  if (auto conn = conn_.lock()) conn->close(net::ws_close::kNormal, "");
  spdlog::info("listen {}: CloseStream after {:.2f} s of audio", request_id_, duration);
}

void ListenSession::emit(TranscriptEvent e) {
  switch (e.kind) {
    case TranscriptEvent::Kind::kSegment:
      return send(results_message(e, request_id_, 1));
    case TranscriptEvent::Kind::kSpeechStarted:
      return send(speech_started_message(e.timestamp));
    case TranscriptEvent::Kind::kUtteranceEnd:
      return send(utterance_end_message(e.timestamp));
  }
}

void ListenSession::fail(uint16_t code, const std::string& reason) {
  failed_ = true;
  closing_ = true;
  spdlog::info("listen {}: closing {}: {}", request_id_, code, reason);
  if (auto conn = conn_.lock()) conn->close(code, reason);
}

void ListenSession::send(const nlohmann::json& message) {
  if (auto conn = conn_.lock()) (void)conn->send_text(message.dump());
}

}  // namespace parley::model_server
