// `parley model-serve`: the speech engines as a SageMaker bidirectional-streaming container and a
// Deepgram-compatible server (src/model_server/). SageMaker starts containers as
// `<entrypoint> serve`; deploy/model-server/serve maps that onto this command.
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"
#include "model_server/model_server.h"

namespace parley::cli {
namespace {

struct ModelServeOptions {
  model_server::ModelServerConfig config;
  std::string bidi_route = "echo";
  std::string when_busy = "refuse";
  int queue_timeout_ms = 5000;
  double audio_timeout_s = 10;
  double ping_interval_s = 60;
  int max_missed_pongs = 5;
  int io_threads = 0;
  int compute_threads = 0;
};

int model_serve(ModelServeOptions& o) {
  auto route = model_server::parse_bidi_route(o.bidi_route);
  if (!route.is_ok()) {
    std::cerr << "parley model-serve: --bidi-route: " << route.status().message() << "\n";
    return 2;
  }
  if (o.when_busy != "refuse" && o.when_busy != "queue") {
    std::cerr << "parley model-serve: --when-busy must be refuse or queue\n";
    return 2;
  }
  auto& c = o.config;
  c.bidi_route = *route;
  c.queue_when_busy = o.when_busy == "queue";
  c.queue_timeout = std::chrono::milliseconds(o.queue_timeout_ms);
  c.listen.audio_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.audio_timeout_s * 1000));
  c.websocket.ping_interval =
      std::chrono::milliseconds(static_cast<int64_t>(o.ping_interval_s * 1000));
  c.websocket.max_missed_pongs = o.max_missed_pongs;
  if (c.warm_decoders > c.decoders) c.warm_decoders = c.decoders;
  if (Status st = c.validate(); !st.is_ok()) {
    std::cerr << "parley model-serve: " << st.message() << "\n";
    return 2;
  }
  auto runtime =
      Runtime::create({.io_threads = o.io_threads, .compute_threads = o.compute_threads});
  model_server::ModelServer server(runtime, c);
  if (Status st = server.start(); !st.is_ok()) {
    std::cerr << "parley model-serve: " << st.message() << "\n";
    return 1;
  }
  // Tests and scripts read the bound port from this line (useful with --port 0).
  std::cout << "listening on " << server.local_address() << std::endl;
  spdlog::info("model-serve: {}", c.to_string());
  std::atomic<bool> never{false};
  const auto why = wait_for_stop(never, std::chrono::milliseconds(0));
  spdlog::info("model-serve: stopping ({})", why);
  server.stop(std::chrono::milliseconds(5000));
  runtime->shutdown();
  return 0;
}

}  // namespace

void add_model_server_commands(CLI::App& app, CommonOptions& /*common*/, SetAction set_action) {
  auto o = std::make_shared<ModelServeOptions>();
  auto* cmd = app.add_subcommand(
      "model-serve",
      "Serve speech models: SageMaker bidirectional streaming (/ping, /invocations, "
      "/invocations-bidirectional-stream) and Deepgram-compatible /v1/listen and /v1/speak");
  cmd->add_option("--host", o->config.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o->config.port, "Port (0 = any free port; the bound one is printed)")
      ->capture_default_str();
  cmd->add_option("--bidi-route", o->bidi_route,
                  "What /invocations-bidirectional-stream does: echo, listen or speak (a client "
                  "may override it with ?route=)")
      ->capture_default_str();
  cmd->add_option("--decoders", o->config.decoders,
                  "Most PocketSphinx decoders, i.e. concurrent transcription streams")
      ->capture_default_str();
  cmd->add_option("--warm-decoders", o->config.warm_decoders,
                  "Decoders loaded before /ping reports ready")
      ->capture_default_str();
  cmd->add_option("--when-busy", o->when_busy,
                  "With every decoder in use, a new stream is refused (HTTP 503) or queued")
      ->capture_default_str();
  cmd->add_option("--queue-timeout-ms", o->queue_timeout_ms,
                  "With --when-busy queue: longest wait for a decoder before 503")
      ->capture_default_str();
  cmd->add_option("--audio-timeout-s", o->audio_timeout_s,
                  "Close a listen stream (1011, NET-0001) after this long without audio or "
                  "KeepAlive")
      ->capture_default_str();
  cmd->add_option("--ping-interval-s", o->ping_interval_s,
                  "WebSocket ping interval (0 = never ping)")
      ->capture_default_str();
  cmd->add_option("--max-missed-pongs", o->max_missed_pongs,
                  "Close a WebSocket after this many unanswered pings")
      ->capture_default_str();
  cmd->add_option("--io-threads", o->io_threads, "Network threads (0 = one per core)")
      ->capture_default_str();
  cmd->add_option("--compute-threads", o->compute_threads, "Decoding threads (0 = one per core)")
      ->capture_default_str();
  cmd->callback([o, set_action] { set_action([o] { return model_serve(*o); }); });

  add_listen_command(app, set_action);
}

}  // namespace parley::cli
