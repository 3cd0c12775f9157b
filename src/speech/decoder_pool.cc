// DecoderPool: lends loaded PocketSphinx decoders, loading new ones (outside the lock) up to max.
#include "speech/decoder_pool.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

namespace parley::speech {

// Everything a pool shares with its leases; outlives the DecoderPool while leases exist.
struct DecoderPool::State {
  PocketSphinxConfig config;
  size_t warm = 0;
  size_t max = 1;

  mutable std::mutex mu;
  std::condition_variable returned;            // signalled when a decoder or slot frees up
  std::vector<std::unique_ptr<Decoder>> idle;  // guarded by mu
  size_t in_use = 0;                           // guarded by mu
  size_t loading = 0;                          // guarded by mu
  uint64_t loads = 0;                          // guarded by mu
  uint64_t load_failures = 0;                  // guarded by mu
  double last_load_ms = 0;                     // guarded by mu

  // Decoders that exist or are being loaded; callers hold mu.
  size_t committed() const { return idle.size() + in_use + loading; }

  // Loads one decoder for a slot the caller reserved (loading was incremented under mu), without
  // holding the lock. On success the decoder is, in the same critical section that releases the
  // reservation, either counted as lent (`lend`, and returned) or parked in `idle` (and nullptr
  // returned), so total + loading never exceeds max even transiently.
  Result<std::unique_ptr<Decoder>> load_reserved(bool lend) {
    const auto start = std::chrono::steady_clock::now();
    auto loaded = Decoder::create(config);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::unique_ptr<Decoder> decoder;
    {
      std::lock_guard lock(mu);
      --loading;
      if (!loaded.is_ok()) {
        ++load_failures;
      } else {
        ++loads;
        last_load_ms = ms;
        decoder = std::move(loaded).value();
        if (lend) {
          ++in_use;
        } else {
          idle.push_back(std::move(decoder));
        }
      }
    }
    // Either a decoder became idle or a failed load freed a slot: a waiter may proceed.
    if (!lend || !loaded.is_ok()) returned.notify_one();
    if (!loaded.is_ok()) return loaded.status();
    return decoder;
  }

  // Takes the most recently returned idle decoder; callers hold mu and checked idle is non-empty.
  std::unique_ptr<Decoder> take_idle() {
    auto decoder = std::move(idle.back());
    idle.pop_back();
    ++in_use;
    return decoder;
  }

  // Resets a returned decoder (utterance and channel adaptation) and makes it idle again.
  void give_back(std::unique_ptr<Decoder> decoder) {
    decoder->reset();
    decoder->reset_adaptation();
    {
      std::lock_guard lock(mu);
      --in_use;
      idle.push_back(std::move(decoder));
    }
    returned.notify_one();
  }

  // The kUnavailable error for a full pool; callers hold mu.
  Status exhausted() const {
    return unavailable("all " + std::to_string(max) + " PocketSphinx decoders are busy (" +
                       std::to_string(in_use) + " in use, " + std::to_string(loading) +
                       " loading); retry later or raise the decoder pool's max (each decoder "
                       "costs ~100 MB)");
  }
};

std::string DecoderPoolStats::to_string() const {
  std::ostringstream out;
  out << "DecoderPoolStats(total=" << total << ", idle=" << idle << ", in_use=" << in_use
      << ", loading=" << loading << ", loads=" << loads << ", load_failures=" << load_failures
      << ", max=" << max << ", last_load_ms=" << last_load_ms << ")";
  return out.str();
}

DecoderPool::Lease::Lease(std::shared_ptr<State> state, std::unique_ptr<Decoder> decoder)
    : state_(std::move(state)), decoder_(std::move(decoder)) {}

DecoderPool::Lease& DecoderPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    decoder_ = std::move(other.decoder_);
  }
  return *this;
}

DecoderPool::Lease::~Lease() { release(); }

void DecoderPool::Lease::release() {
  if (decoder_ != nullptr && state_ != nullptr) state_->give_back(std::move(decoder_));
  decoder_.reset();
  state_.reset();
}

DecoderPool::DecoderPool(PocketSphinxConfig config, size_t warm, size_t max)
    : state_(std::make_shared<State>()) {
  state_->config = std::move(config);
  state_->max = std::max<size_t>(max, 1);
  state_->warm = std::min(warm, state_->max);
}

DecoderPool::~DecoderPool() = default;

Status DecoderPool::prewarm() {
  for (;;) {
    {
      std::lock_guard lock(state_->mu);
      if (state_->committed() >= state_->warm) return Status::ok();
      ++state_->loading;
    }
    auto loaded = state_->load_reserved(/*lend=*/false);
    if (!loaded.is_ok()) return loaded.status().with_context("decoder pool prewarm");
  }
}

Result<DecoderPool::Lease> DecoderPool::try_acquire() {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->idle.empty()) return Lease(state_, state_->take_idle());
    if (state_->committed() >= state_->max) return state_->exhausted();
    ++state_->loading;
  }
  auto decoder = state_->load_reserved(/*lend=*/true);
  if (!decoder.is_ok()) return decoder.status();
  return Lease(state_, std::move(decoder).value());
}

Result<DecoderPool::Lease> DecoderPool::acquire(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock lock(state_->mu);
    for (;;) {
      if (!state_->idle.empty()) return Lease(state_, state_->take_idle());
      if (state_->committed() < state_->max) break;
      if (state_->returned.wait_until(lock, deadline) == std::cv_status::timeout &&
          state_->idle.empty() && state_->committed() >= state_->max) {
        return deadline_exceeded("no PocketSphinx decoder was returned within " +
                                 std::to_string(timeout.count()) + " ms (all " +
                                 std::to_string(state_->max) +
                                 " are in use); raise the decoder pool's max or the timeout");
      }
    }
    ++state_->loading;
  }
  auto decoder = state_->load_reserved(/*lend=*/true);
  if (!decoder.is_ok()) return decoder.status();
  return Lease(state_, std::move(decoder).value());
}

DecoderPoolStats DecoderPool::stats() const {
  std::lock_guard lock(state_->mu);
  DecoderPoolStats s;
  s.idle = state_->idle.size();
  s.in_use = state_->in_use;
  s.total = s.idle + s.in_use;
  s.loading = state_->loading;
  s.loads = state_->loads;
  s.load_failures = state_->load_failures;
  s.max = state_->max;
  s.last_load_ms = state_->last_load_ms;
  return s;
}

const PocketSphinxConfig& DecoderPool::config() const { return state_->config; }

}  // namespace parley::speech
