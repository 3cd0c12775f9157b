// Prometheus text rendering of the session server's counters.
#include "metrics.h"

#include <fmt/format.h>

namespace parley::server {

void LatencyHistogram::observe(double ms) {
  size_t i = 0;
  while (i < kBoundsMs.size() && ms > kBoundsMs[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(ms * 1000.0), std::memory_order_relaxed);
}

void LatencyHistogram::render(std::string& out, std::string_view name,
                              std::string_view help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBoundsMs.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBoundsMs[i] / 1000.0, cumulative);
  }
  cumulative += buckets_[kBoundsMs.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n", name, sum_us_.load(std::memory_order_relaxed) / 1e6);
  out += fmt::format("{}_count {}\n", name, count_.load(std::memory_order_relaxed));
}

void ServerMetrics::error(std::string_view code) {
  std::lock_guard lock(errors_mu_);
  auto it = errors_.find(code);
  if (it == errors_.end()) it = errors_.emplace(std::string(code), 0).first;
  ++it->second;
}

void ServerMetrics::render(std::string& out) const {
  auto counter = [&out](std::string_view name, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
  };
  counter("parley_frames_relayed_total", "Media frames relayed between participants.");
  out += fmt::format("parley_frames_relayed_total{{kind=\"audio\"}} {}\n",
                     audio_frames_relayed.load());
  out += fmt::format("parley_frames_relayed_total{{kind=\"video\"}} {}\n",
                     video_frames_relayed.load());
  counter("parley_frames_dropped_total",
          "Media frames dropped (oldest first) because a participant read too slowly.");
  out += fmt::format("parley_frames_dropped_total{{kind=\"audio\"}} {}\n",
                     audio_frames_dropped.load());
  out += fmt::format("parley_frames_dropped_total{{kind=\"video\"}} {}\n",
                     video_frames_dropped.load());
  counter("parley_frames_without_peer_total", "Media frames sent while no peer was joined.");
  out += fmt::format("parley_frames_without_peer_total {}\n", frames_without_peer.load());
  counter("parley_events_relayed_total", "JSON events relayed between participants.");
  out += fmt::format("parley_events_relayed_total {}\n", events_relayed.load());
  counter("parley_events_recorded_total", "Transcript and metrics events written to the store.");
  out += fmt::format("parley_events_recorded_total {}\n", events_recorded.load());
  counter("parley_joins_total", "Participants that joined a channel.");
  out += fmt::format("parley_joins_total {}\n", joins.load());
  out += "# HELP parley_participants Participants joined now.\n# TYPE parley_participants gauge\n";
  out += fmt::format("parley_participants {}\n", participants.load());
  start_latency.render(out, "parley_session_start_seconds",
                       "Time from /start to the agent having joined its channel.");
  counter("parley_errors_total", "Errors by stable code.");
  std::lock_guard lock(errors_mu_);
  for (const auto& [code, n] : errors_)
    out += fmt::format("parley_errors_total{{code=\"{}\"}} {}\n", code, n);
}

}  // namespace parley::server
