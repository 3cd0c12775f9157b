// A process-wide pool of loaded PocketSphinx decoders shared by every session.
//
// Loading a decoder costs ~0.35 s of CPU and ~100 MB, far too slow for a session start, so a
// process keeps `warm` decoders loaded ahead of time and lends them out. A session holds a
// DecoderPool::Lease for as long as it recognises speech; destroying the lease resets the decoder
// (open utterance and channel adaptation, see Decoder::reset_adaptation) and returns it to the
// pool. At most `max` decoders ever exist, which bounds memory: the pool refuses (kUnavailable)
// instead of overcommitting.
//
// PocketSphinx 5prealpha has no public way to share an acoustic model between decoders (ps_retain
// only adds a reference to the same decoder, and acmod_init always loads its own copy), so the
// pool holds whole decoders. The model's mdef and senone dump are mmap'd read-only, so those
// pages are shared by the kernel anyway.
//
// All methods are thread-safe. A Lease must be used from one thread at a time; it may outlive the
// DecoderPool object (the pool's state is kept alive by its leases).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "parley/status.h"
#include "speech/pocketsphinx_recognizer.h"

namespace parley::speech {

// A snapshot of a pool's counters.
struct DecoderPoolStats {
  // Decoders that exist (idle + in use); decoders being loaded are counted in `loading`.
  size_t total = 0;
  // Loaded decoders waiting to be lent.
  size_t idle = 0;
  // Decoders currently lent out.
  size_t in_use = 0;
  // Loads in progress.
  size_t loading = 0;
  // Decoders loaded since the pool was created (successful loads only).
  uint64_t loads = 0;
  // Loads that failed since the pool was created.
  uint64_t load_failures = 0;
  // Upper bound on total + loading.
  size_t max = 0;
  // Duration of the most recent successful load, in milliseconds.
  double last_load_ms = 0;

  // One-line human-readable description, for logs and /metrics.
  std::string to_string() const;
};

// Thread-safe pool of ready PocketSphinx decoders built from one config.
class DecoderPool {
  struct State;

 public:
  // Exclusive, movable loan of one decoder; returns it (reset) to the pool when destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept = default;
    // Returns any decoder held now, then takes over `other`'s.
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    // True while this lease holds a decoder.
    bool valid() const { return decoder_ != nullptr; }
    // The borrowed decoder; only valid() leases may be dereferenced.
    Decoder& decoder() const { return *decoder_; }
    Decoder* operator->() const { return decoder_.get(); }
    Decoder& operator*() const { return *decoder_; }
    // Resets the decoder and gives it back to the pool now; the lease becomes empty.
    void release();

   private:
    friend class DecoderPool;
    Lease(std::shared_ptr<State> state, std::unique_ptr<Decoder> decoder);

    std::shared_ptr<State> state_;
    std::unique_ptr<Decoder> decoder_;
  };

  // A pool that keeps `warm` decoders ready and never holds more than `max` (max >= 1; warm is
  // clamped to max). Loads nothing until prewarm() or the first acquire.
  DecoderPool(PocketSphinxConfig config, size_t warm, size_t max);
  ~DecoderPool();
  DecoderPool(const DecoderPool&) = delete;
  DecoderPool& operator=(const DecoderPool&) = delete;

  // Loads decoders until `warm` exist (idle, lent or loading). Blocks for the loads, so call it on
  // a background thread at startup. Returns the first load error (e.g. model not installed).
  Status prewarm();
  // Returns at once with an idle decoder if there is one; otherwise loads a new one when fewer
  // than `max` exist (blocking for the load); otherwise fails with kUnavailable.
  Result<Lease> try_acquire();
  // Like try_acquire(), but when all `max` decoders are lent waits up to `timeout` for one to be
  // returned; fails with kDeadlineExceeded when none comes back in time.
  Result<Lease> acquire(std::chrono::milliseconds timeout);

  // Current counters.
  DecoderPoolStats stats() const;
  // The config every decoder of this pool is loaded from.
  const PocketSphinxConfig& config() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace parley::speech
