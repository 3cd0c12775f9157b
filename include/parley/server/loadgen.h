// The load generator behind `parley loadgen`: N simulated users, each generating a token,
// joining its channel over /v1/rtc, starting a session, streaming a WAV at real-time pace,
// receiving the agent's audio and events, and stopping. It measures session start latency, relay
// delay (the echo agent returns each frame with its timestamp) and errors. Loopback servers only.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "parley/status.h"

namespace parley::server {

// What to run.
struct LoadgenConfig {
  // http://127.0.0.1:PORT (loopback hosts only).
  std::string server;
  // Concurrent users (1..5000).
  int users = 1;
  std::string graph = "echo_agent";
  // 16-bit PCM WAV streamed by every user (converted to 16 kHz mono, looped to fill the duration).
  std::string wav;
  // Seconds each user streams (0 < s <= 3600).
  double duration_s = 10;
  // Audio frame length.
  int frame_ms = 20;
  // Silence streamed after each pass of the WAV (a user waiting for the agent's answer).
  int pause_ms = 0;
  // Starts are spread evenly over this many ms (0: all at once).
  int ramp_ms = 0;
  // PARLEY_API_KEY of the server, if it has one.
  std::string api_key;
  // Server pid: when given, the server's memory (PSS, with its worker processes) is sampled.
  int server_pid = 0;
  // Network threads of the generator.
  int io_threads = 1;

  Status validate() const;
};

// Percentiles of a set of samples, in ms.
struct Distribution {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// What a run measured.
struct LoadgenReport {
  int users = 0;
  int sessions_started = 0;
  Distribution start_ms;        // /start request → answer (agent joined)
  Distribution relay_ms;        // frame sent → same frame back from the agent
  Distribution first_reply_ms;  // first frame sent → first agent audio or transcript
  Distribution turn_ms;         // agent's per-turn voice-to-voice (metrics events), if any
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t transcripts = 0;
  std::map<std::string, int> errors;  // by kind
  // Server memory (PSS of the server and its worker processes), before and at the peak.
  long server_rss_kib_idle = 0;
  long server_rss_kib_peak = 0;
  double wall_s = 0;

  // Human-readable summary.
  std::string to_text() const;
  nlohmann::json to_json() const;
};

// Runs the load and waits for it (blocking).
Result<LoadgenReport> run_loadgen(const LoadgenConfig& config);

}  // namespace parley::server
