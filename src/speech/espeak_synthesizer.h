// Streaming text-to-speech with eSpeak NG, shared by every session of a process.
//
// eSpeak NG keeps all of its state in globals, so a process runs exactly one synthesis thread (the
// EspeakService singleton) and every session submits SynthRequests to its queue. Audio is handed
// to the request's on_audio callback chunk by chunk as eSpeak produces it (eSpeak NG 1.51 hands out
// ~49 ms of audio per chunk whatever buffer length is asked for), so the first audio of a long
// paragraph is ready in well under a millisecond once the voice is loaded. Cancelling a request
// (barge-in, flush) stops its synthesis within one chunk, and queued requests that share the
// cancelled flag are skipped without being synthesised.
//
// Audio is mono signed 16-bit at eSpeak's native rate (sample_rate(), 22050 Hz with Debian's
// espeak-ng-data); callers resample as they need.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "parley/status.h"

namespace parley::speech {

// Receives synthesised audio on the synthesis thread: mono s16 samples at
// EspeakService::sample_rate(). `last` is true on the final call of a request that ran to the
// end; that call may carry no samples. Must return quickly: every session shares the thread.
// Callbacks may run after the submitter lost interest, so capture weak_ptrs, not raw `this`.
using SynthAudioCallback = std::function<void(std::span<const int16_t> samples, bool last)>;

// Called exactly once per accepted request, on the synthesis thread, after its last audio: ok,
// kCancelled (cancelled or shut down), or the error that prevented synthesis (e.g. unknown voice).
using SynthDoneCallback = std::function<void(const Status& status)>;

// One piece of text to speak, with its voice settings and where the audio goes.
struct SynthRequest {
  // UTF-8 text (plain text; SSML tags are not interpreted).
  std::string text;
  // eSpeak NG voice name or language, e.g. "en-us", "en-gb", "de", "fr" (`espeak-ng --voices`).
  std::string voice = "en-us";
  // Speaking rate in words per minute, 80..450.
  int rate_wpm = 175;
  // Base pitch, 0..100 (50 is the voice's normal pitch).
  int pitch = 50;
  // Required: receives the audio as it is produced.
  SynthAudioCallback on_audio;
  // Optional: told how the request ended.
  SynthDoneCallback on_done;
  // Optional cancellation flag; share one between the requests of a turn so one cancel() stops
  // them all. submit() creates one when it is null.
  std::shared_ptr<std::atomic<bool>> cancelled;

  // Checks the ranges of rate_wpm and pitch and that on_audio is set.
  Status validate() const;
  // One-line description (voice, rate, pitch, text length), for logs.
  std::string to_string() const;
};

// Caller's handle on a submitted request: its id and its cancellation flag.
class SynthHandle {
 public:
  SynthHandle() = default;
  SynthHandle(uint64_t id, std::shared_ptr<std::atomic<bool>> cancelled)
      : id_(id), cancelled_(std::move(cancelled)) {}

  // Stops the request (within one chunk if it is being synthesised) and every queued request
  // sharing its flag. Safe from any thread, any number of times.
  void cancel() const {
    if (cancelled_) cancelled_->store(true, std::memory_order_relaxed);
  }
  // True once cancel() was called on this handle or on its shared flag.
  bool is_cancelled() const { return cancelled_ && cancelled_->load(std::memory_order_relaxed); }
  // Process-unique, increasing request id (0 for a default-constructed handle).
  uint64_t id() const { return id_; }
  // The shared cancellation flag, to pass to further requests of the same turn.
  const std::shared_ptr<std::atomic<bool>>& flag() const { return cancelled_; }

 private:
  uint64_t id_ = 0;
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

// The process-wide eSpeak NG synthesis thread and its request queue.
class EspeakService {
 public:
  // The singleton; its thread starts on the first start()/submit()/check_voice().
  static EspeakService& instance();

  ~EspeakService();
  EspeakService(const EspeakService&) = delete;
  EspeakService& operator=(const EspeakService&) = delete;

  // Starts the synthesis thread and initialises eSpeak NG, blocking until it is ready. Idempotent;
  // returns the same error every time when eSpeak NG cannot start (e.g. espeak-ng-data missing).
  Status start();
  // Queues `request` behind the ones already submitted. Fails at once if eSpeak NG cannot start
  // or the request is invalid; later failures (unknown voice) go to request.on_done.
  Result<SynthHandle> submit(SynthRequest request);
  // Checks on the synthesis thread that eSpeak NG knows `voice`; waits behind queued requests.
  Status check_voice(const std::string& voice);
  // eSpeak NG's output sample rate in Hz; 0 until start() succeeded.
  int sample_rate() const { return sample_rate_.load(std::memory_order_acquire); }
  // Requests waiting in the queue (not counting the one being synthesised).
  size_t queued() const;

 private:
  EspeakService() = default;
  void run();
  Status initialize_on_thread();
  void synthesize(SynthRequest& request);
  Status apply_voice(const SynthRequest& request);

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void(bool shutting_down)>> queue_;  // guarded by mu_
  bool started_ = false;                                       // guarded by mu_
  bool stopping_ = false;                                      // guarded by mu_
  std::optional<Status> init_status_;                          // guarded by mu_
  std::thread thread_;
  std::atomic<bool> shutting_down_{false};  // stops the current synthesis at shutdown
  std::atomic<int> sample_rate_{0};
  std::atomic<uint64_t> next_id_{1};
  std::string current_voice_;  // synthesis thread only
};

// Checks that `data_dir` holds eSpeak NG's data files (phontab, phondata, phonindex, intonations,
// en_dict); the message names the Debian package espeak-ng-data when they are missing.
Status check_espeak_data_dir(const std::string& data_dir);

}  // namespace parley::speech
