// Counters and histograms of the session server, rendered as Prometheus text on /metrics.
// Every member is updated lock-free (or under a tiny lock for labelled error counts) from any
// thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace parley::server {

// A fixed-bucket histogram of milliseconds.
class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in ms (+Inf is implicit).
  static constexpr std::array<double, 12> kBoundsMs = {5,   10,   25,   50,   100,   250,
                                                       500, 1000, 2500, 5000, 10000, 30000};
  // Records one observation.
  void observe(double ms);
  // Appends the Prometheus lines of histogram `name` (with HELP and TYPE).
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

// Everything /metrics exports besides the live session counts.
struct ServerMetrics {
  // Media frames relayed to a peer, by kind.
  std::atomic<uint64_t> audio_frames_relayed{0};
  std::atomic<uint64_t> video_frames_relayed{0};
  // Media frames dropped from a slow participant's queue (oldest first), by kind.
  std::atomic<uint64_t> audio_frames_dropped{0};
  std::atomic<uint64_t> video_frames_dropped{0};
  // Media frames that had no peer to go to (e.g. before the agent joined).
  std::atomic<uint64_t> frames_without_peer{0};
  // JSON events relayed, and those recorded to the store (transcripts, metrics).
  std::atomic<uint64_t> events_relayed{0};
  std::atomic<uint64_t> events_recorded{0};
  // Participants joined since start, and currently joined.
  std::atomic<uint64_t> joins{0};
  std::atomic<int64_t> participants{0};
  // Time from a /start request to the agent having joined its channel.
  LatencyHistogram start_latency;

  // Counts one error with a stable code (e.g. "token_expired", "worker_crashed").
  void error(std::string_view code);
  // Appends the counters above in Prometheus text format.
  void render(std::string& out) const;

 private:
  mutable std::mutex errors_mu_;
  std::map<std::string, uint64_t, std::less<>> errors_;
};

}  // namespace parley::server
