// `parley model-serve`: Parley's speech engines as a model container for SageMaker's
// bidirectional streaming, or for any HTTP/WebSocket client.
//
//   GET|POST /ping          200 {"status":"ok",...} once the models are loaded; until then 503
//                           {"status":"loading","reason":...} (the port listens at once), or 503
//                           {"status":"error","reason":...} if they failed to load.
//   POST /invocations       a WAV body → JSON transcript; {"text":...} → audio/wav.
//   WS /invocations-bidirectional-stream
//                           echo by default (text → text, binary → binary), or listen / speak
//                           (--bidi-route, or ?route=listen|speak|echo).
//   WS /v1/listen           Deepgram live speech-to-text on PocketSphinx.
//   WS /v1/speak            Deepgram streaming text-to-speech on eSpeak NG.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "model_server/listen_session.h"
#include "model_server/stream_params.h"
#include "parley/net/server.h"
#include "parley/runtime.h"
#include "speech/pocketsphinx_recognizer.h"

namespace parley::model_server {

// Everything `parley model-serve` can be told.
struct ModelServerConfig {
  // Address and port to listen on (SageMaker's contract: 8080 on every interface).
  std::string host = "0.0.0.0";
  uint16_t port = 8080;
  // What /invocations-bidirectional-stream does when the client names no ?route=.
  BidiRoute bidi_route = BidiRoute::kEcho;
  // Most PocketSphinx decoders (= concurrent listen streams + one-shot transcriptions).
  size_t decoders = 4;
  // Decoders loaded before /ping reports ready (at most `decoders`).
  size_t warm_decoders = 2;
  // When every decoder is busy: false refuses a new stream at once (HTTP 503); true holds the
  // upgrade for up to queue_timeout waiting for one.
  bool queue_when_busy = false;
  std::chrono::milliseconds queue_timeout{5000};
  // Audio timeout and backlog limit of listen streams.
  ListenLimits listen;
  // The PocketSphinx model.
  speech::PocketSphinxConfig pocketsphinx;
  // Keep-alive of every WebSocket (SageMaker: ping every 60 s, close after 5 missed pongs).
  net::WsOptions websocket;
  // Largest POST /invocations body.
  size_t max_body_bytes = 64u << 20;

  // Ok when the values are usable; the message names the bad one.
  Status validate() const;
  // One-line description, for the startup log.
  std::string to_string() const;
};

// Readiness as /ping reports it.
enum class Readiness { kLoading, kReady, kFailed };

class ModelServer {
 public:
  // A server using `runtime`'s I/O threads for sockets and its compute pool for decoding.
  ModelServer(std::shared_ptr<Runtime> runtime, ModelServerConfig config);
  // Stops (see stop()).
  ~ModelServer();
  ModelServer(const ModelServer&) = delete;
  ModelServer& operator=(const ModelServer&) = delete;

  // Listens at once, then loads the models on the compute pool (/ping says 503 until done).
  Status start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // "address:port" bound.
  std::string local_address() const;
  // Current readiness and, when not ready, why.
  Readiness readiness(std::string* reason = nullptr) const;
  // Graceful stop: Close 1001 to every stream, waiting up to `grace`. Not from an I/O thread.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // Connection counts.
  net::ServerStats stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace parley::model_server
