// Small addons used by the runtime tests: a recorder, a turn-aware relay, a silent sink, a thrower.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "parley/addon.h"

namespace parley::test {

// What a Recorder node saw, shared with the test thread.
struct Recorded {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Message>> messages;
  std::vector<std::thread::id> threads;

  // Waits until at least `n` messages arrived.
  bool wait(size_t n, std::chrono::milliseconds t = std::chrono::seconds(5)) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, t, [&] { return messages.size() >= n; });
  }
  size_t size() {
    std::lock_guard lock(mu);
    return messages.size();
  }
};

// Registers into `r`:
//   recorder  — records everything into the Recorded named by property "slot" (0..7); answers cmds
//   ok relay     — forwards data/audio/flush; drops data whose turn_id is older than the last flush
//   silent    — keeps commands forever without answering
//   dropper   — destroys commands without answering
//   thrower   — throws from on_data and on_cmd
//   producer  — on start, sends `count` data messages named "tick" with seq
//   worker    — runs "work" data on the compute pool ({ms}), then sends "done" and a metric
//   ticker    — sends "tick" `count` times every `period_ms` from a repeating timer
void register_test_addons(AddonRegistry& r);
// The shared slots recorders write to.
Recorded& recorded(int slot);
void reset_recorded();

}  // namespace parley::test
