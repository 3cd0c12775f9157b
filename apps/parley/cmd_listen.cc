// `parley listen FILE.wav [--url ws://host:8080/v1/listen?...]`: a Deepgram live-transcription
// client. Streams the WAV at real-time pace in small chunks, prints transcripts as they arrive,
// then sends CloseStream and prints the final Metadata. Works against `parley model-serve` or
// Deepgram itself (--api-key or DEEPGRAM_API_KEY; wss:// URLs use TLS).
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "parley/media/wav.h"
#include "parley/net/client.h"
#include "parley/runtime.h"

namespace parley::cli {
namespace {

struct ListenOptions {
  std::string file;
  std::string url = "ws://127.0.0.1:8080/v1/listen";
  std::string api_key;
  int chunk_ms = 100;
  double speed = 1.0;
  bool interim = false;
  bool raw = false;
};

// Shared between the WebSocket callbacks (I/O thread) and the streaming loop.
struct ListenState {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  net::WsCloseInfo close;
  bool got_metadata = false;
};

void print_message(const std::string& text, const ListenOptions& o, ListenState& s) {
  if (o.raw) {
    std::cout << text << std::endl;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return;
  const std::string type = j.value("type", "");
  if (type == "Results") {
    const auto& alt = j["channel"]["alternatives"][0];
    const std::string transcript = alt.value("transcript", "");
    const bool final = j.value("is_final", false);
    if (o.raw || transcript.empty() || (!final && !o.interim)) return;
    const double start = j.value("start", 0.0), end = start + j.value("duration", 0.0);
    char when[64];
    std::snprintf(when, sizeof when, "[%7.2f - %7.2f]", start, end);
    std::cout << when << (final ? "  " : " ~ ") << transcript << std::endl;
  } else if (type == "Metadata") {
    std::lock_guard lock(s.mu);
    s.got_metadata = true;
    if (!o.raw) std::cout << "Metadata: " << j.dump(2) << std::endl;
  } else if (!o.raw && (type == "SpeechStarted" || type == "UtteranceEnd")) {
    std::cout << "# " << j.dump() << std::endl;
  } else if (!o.raw && type != "Results") {
    std::cout << "# " << text << std::endl;
  }
}

int listen(const ListenOptions& o) {
  auto audio = media::read_wav(o.file);
  if (!audio.is_ok()) {
    std::cerr << "parley listen: " << audio.status().message() << "\n";
    return 2;
  }
  auto url = net::parse_url(o.url);
  if (!url.is_ok()) {
    std::cerr << "parley listen: --url: " << url.status().message() << "\n";
    return 2;
  }
  // Describe the raw PCM we send unless the URL already says what it is.
  std::string full = o.url;
  if (full.find("encoding=") == std::string::npos) {
    full += (full.find('?') == std::string::npos ? "?" : "&");
    full += net::build_query({{"encoding", "linear16"},
                              {"sample_rate", std::to_string(audio->sample_rate)},
                              {"channels", std::to_string(audio->channels)}});
  }
  if (o.interim && full.find("interim_results=") == std::string::npos) {
    full += "&interim_results=true";
  }

  auto runtime = Runtime::create({.io_threads = 1, .compute_threads = 1});
  ListenState state;
  net::WsCallbacks cb;
  cb.on_text = [&o, &state](const std::shared_ptr<net::WsConnection>&, std::string text) {
    print_message(text, o, state);
  };
  cb.on_close = [&state](const std::shared_ptr<net::WsConnection>&, const net::WsCloseInfo& i) {
    std::lock_guard lock(state.mu);
    state.closed = true;
    state.close = i;
    state.cv.notify_all();
  };
  net::WsClientOptions options;
  std::string key = o.api_key;
  if (key.empty() && std::getenv("DEEPGRAM_API_KEY")) key = std::getenv("DEEPGRAM_API_KEY");
  if (!key.empty()) options.headers.set("Authorization", "Token " + key);
  auto conn = net::ws_connect_sync(runtime->io(), full, options, cb);
  if (!conn.is_ok()) {
    std::cerr << "parley listen: " << conn.status().message() << "\n";
    return 1;
  }
  std::cerr << "streaming " << o.file << " (" << audio->duration_s() << " s, " << audio->sample_rate
            << " Hz, " << audio->channels << " ch) to " << full << "\n";

  const size_t frame = static_cast<size_t>(audio->channels);
  const size_t chunk = static_cast<size_t>(audio->sample_rate) * o.chunk_ms / 1000 * frame;
  const auto t0 = std::chrono::steady_clock::now();
  size_t sent = 0, index = 0;
  while (sent < audio->samples.size()) {
    {
      std::lock_guard lock(state.mu);
      if (state.closed) break;
    }
    const size_t n = std::min(chunk, audio->samples.size() - sent);
    std::string bytes(n * 2, '\0');
    std::memcpy(bytes.data(), audio->samples.data() + sent, bytes.size());
    if (!(*conn)->send_binary(std::move(bytes)).is_ok()) break;
    sent += n;
    ++index;
    if (o.speed > 0) {
      const auto due =
          t0 + std::chrono::microseconds(static_cast<int64_t>(index * o.chunk_ms * 1000 / o.speed));
      std::this_thread::sleep_until(due);
    }
  }
  (void)(*conn)->send_text(R"({"type":"CloseStream"})");

  std::unique_lock lock(state.mu);
  if (!state.cv.wait_for(lock, std::chrono::seconds(60), [&] { return state.closed; })) {
    lock.unlock();
    std::cerr << "parley listen: no Close from the server within 60 s of CloseStream\n";
    (*conn)->close(net::ws_close::kNormal, "");
    return 1;
  }
  const bool ok = state.close.code == net::ws_close::kNormal && state.got_metadata;
  std::cerr << "closed: " << state.close.code << (state.close.reason.empty() ? "" : " ")
            << state.close.reason << "\n";
  lock.unlock();
  runtime->shutdown();
  return ok ? 0 : 1;
}

}  // namespace

void add_listen_command(CLI::App& app, SetAction set_action) {
  auto o = std::make_shared<ListenOptions>();
  auto* cmd = app.add_subcommand(
      "listen", "Stream a WAV file to a Deepgram-compatible /v1/listen and print the transcripts");
  cmd->add_option("file", o->file, "16-bit PCM WAV file")->required();
  cmd->add_option("--url", o->url,
                  "Listen endpoint; encoding, sample_rate and channels are added from the file "
                  "unless the URL has encoding=")
      ->capture_default_str();
  cmd->add_option("--api-key", o->api_key, "Deepgram API key (default: $DEEPGRAM_API_KEY)");
  cmd->add_option("--chunk-ms", o->chunk_ms, "Audio per message")
      ->capture_default_str()
      ->check(CLI::Range(10, 5000));
  cmd->add_option("--speed", o->speed,
                  "Pace relative to real time (2 = twice as fast; 0 = as fast as possible)")
      ->capture_default_str();
  cmd->add_flag("--interim", o->interim, "Ask for and print interim results");
  cmd->add_flag("--raw", o->raw, "Print every server message as received JSON");
  cmd->callback([o, set_action] { set_action([o] { return listen(*o); }); });
}

}  // namespace parley::cli
