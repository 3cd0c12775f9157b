// One /v1/speak stream: Deepgram's streaming text-to-speech protocol on eSpeak NG.
//
// Client messages: {"type":"Speak","text":...} buffers text; {"type":"Flush"} synthesises the
// buffer and answers {"type":"Flushed","sequence_id":n} after its audio; {"type":"Clear"} drops
// buffered text and cuts the audio in progress, answered by {"type":"Cleared","sequence_id":n};
// {"type":"Close"} finishes what was flushed and closes (1000). Audio goes out as binary linear16
// frames at the requested rate. Synthesis runs on the process's eSpeak thread; every send is
// decided on the connection strand, so no audio of a cleared turn can follow its Cleared.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model_server/stream_params.h"
#include "parley/media/resampler.h"
#include "parley/net/websocket.h"

namespace parley::model_server {

class SpeakSession : public std::enable_shared_from_this<SpeakSession> {
 public:
  // A session speaking with `params`, answering with `request_id`.
  static std::shared_ptr<SpeakSession> create(SpeakParams params, std::string request_id);
  // The WebSocket callbacks driving this session.
  net::WsCallbacks callbacks();

 private:
  SpeakSession(SpeakParams params, std::string request_id)
      : params_(std::move(params)), request_id_(std::move(request_id)) {}

  // Connection strand.
  void on_open(const std::shared_ptr<net::WsConnection>& conn);
  void on_message(const std::shared_ptr<net::WsConnection>& conn, const std::string& data);
  void flush(const std::shared_ptr<net::WsConnection>& conn, bool then_close);
  void clear(const std::shared_ptr<net::WsConnection>& conn);
  void warn(const std::shared_ptr<net::WsConnection>& conn, const std::string& code,
            const std::string& description);

  // eSpeak thread: resamples and hands the bytes to the connection strand.
  void on_audio(uint64_t generation, std::span<const int16_t> samples, bool last);

  SpeakParams params_;
  std::string request_id_;
  std::weak_ptr<net::WsConnection> conn_;
  // Connection strand.
  std::string text_;
  uint64_t next_sequence_ = 0;
  bool closing_ = false;
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
  // Bumped by Clear; audio of older generations is dropped. Read on the eSpeak thread.
  std::atomic<uint64_t> generation_{0};
  // eSpeak thread only.
  std::unique_ptr<media::Resampler> resampler_;
  uint64_t resampler_generation_ = 0;
  std::vector<int16_t> resampled_;
};

}  // namespace parley::model_server
