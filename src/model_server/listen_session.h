// One /v1/listen stream: Deepgram's live speech-to-text protocol over a WebSocket connection,
// decoded by a PocketSphinx decoder borrowed from the shared pool.
//
// Threads: the WebSocket callbacks run on the connection's strand (I/O) and only queue work;
// decoding runs on the compute pool, serialised on a per-session strand, and sends its results
// with the thread-safe WsConnection::send_text(). The decoder lease is returned when the last
// queued job of the session has finished.
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "model_server/audio_input.h"
#include "model_server/deepgram_messages.h"
#include "model_server/stream_params.h"
#include "model_server/transcriber.h"
#include "parley/media/audio_converter.h"
#include "parley/net/websocket.h"
#include "speech/decoder_pool.h"

namespace parley::model_server {

// Limits of a listen stream.
struct ListenLimits {
  // Close 1011 NET-0001 when neither audio nor a text message arrives for this long.
  std::chrono::milliseconds audio_timeout{10000};
  // Received audio not yet decoded beyond which the stream is closed (1008): the client sends
  // faster than the decoder can keep up for far too long.
  size_t max_backlog_bytes = 64u << 20;
};

class ListenSession : public std::enable_shared_from_this<ListenSession> {
 public:
  // A session decoding with `lease` on `compute`, answering with `request_id`.
  static std::shared_ptr<ListenSession> create(boost::asio::thread_pool& compute,
                                               speech::DecoderPool::Lease lease,
                                               ListenParams params, ListenLimits limits,
                                               std::string request_id);

  // The WebSocket callbacks driving this session (they keep it alive until the close).
  net::WsCallbacks callbacks();

 private:
  ListenSession(boost::asio::thread_pool& compute, speech::DecoderPool::Lease lease,
                ListenParams params, ListenLimits limits, std::string request_id);

  // I/O strand.
  void on_open(const std::shared_ptr<net::WsConnection>& conn);
  void on_message(const std::shared_ptr<net::WsConnection>& conn, std::string data, bool text);
  void on_close();
  void arm_timeout();
  static TranscriberOptions transcriber_options(const ListenParams& params);
  void post_compute(void (ListenSession::*job)());

  // Compute strand.
  void decode(std::string bytes);
  void finalize_job();
  void close_stream_job();
  void emit(TranscriptEvent event);
  void fail(uint16_t code, const std::string& reason);
  void send(const nlohmann::json& message);

  boost::asio::strand<boost::asio::thread_pool::executor_type> strand_;
  speech::DecoderPool::Lease lease_;
  ListenParams params_;
  ListenLimits limits_;
  std::string request_id_;
  std::string created_;
  std::weak_ptr<net::WsConnection> conn_;
  std::unique_ptr<boost::asio::steady_timer> timeout_;  // I/O strand
  std::atomic<bool> closing_{false};                    // CloseStream seen or connection gone
  std::atomic<size_t> backlog_{0};
  // Compute strand only.
  AudioInput input_;
  std::unique_ptr<media::AudioConverter> converter_;
  StreamingTranscriber transcriber_;
  Sha256 sha_;
  std::vector<int16_t> decoded_, mono_;
  int64_t frames_ = 0;
  bool failed_ = false;
};

}  // namespace parley::model_server
