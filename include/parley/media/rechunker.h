// Rechunker: turns interleaved PCM arriving in arbitrary sizes into frames of exactly frame_ms
// (10 or 20 ms on the standard pcm_frame interface) with drift-free timestamps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "parley/message.h"
#include "parley/status.h"

namespace parley::media {

// One fixed-duration block of interleaved PCM produced by a Rechunker.
struct PcmFrame {
  int sample_rate = 0;
  int channels = 0;
  // Start time of the first sample, from the stream's start timestamp and sample count.
  int64_t timestamp_ms = 0;
  // Interleaved samples; samples.size() / channels frames.
  std::vector<int16_t> samples;

  // Samples per channel.
  int samples_per_channel() const {
    return channels > 0 ? static_cast<int>(samples.size()) / channels : 0;
  }
};

// Builds an AudioFrame message (s16le) carrying a copy of `frame`'s samples.
std::unique_ptr<AudioFrame> to_audio_frame(const PcmFrame& frame, std::string name = "pcm_frame");

// Accumulates interleaved int16 input and yields frames of exactly frame_ms. Timestamps are
// start_timestamp_ms + (samples emitted per channel) * 1000 / sample_rate, so they never drift
// however the input was split. Not thread-safe; one instance per stream.
class Rechunker {
 public:
  // Fails unless rate, channels and frame_ms are positive and frame_ms holds a whole number of
  // samples (sample_rate * frame_ms divisible by 1000; e.g. 10 ms at 44.1 kHz is 441 samples).
  static Result<Rechunker> create(int sample_rate, int channels, int frame_ms,
                                  int64_t start_timestamp_ms = 0);

  // Appends interleaved input; its size must be a whole number of channel frames.
  Status push(std::span<const int16_t> interleaved);
  // Moves the next complete frame into `frame`; false when less than one frame is buffered.
  bool pop(PcmFrame& frame);
  // At end of stream (after pop() returned false), emits the buffered remainder, zero-padded to
  // a full frame when `zero_pad`; false when nothing is buffered. Never emits more than a frame.
  bool flush(PcmFrame& frame, bool zero_pad);
  // Drops buffered input and restarts timestamps at `start_timestamp_ms`.
  void reset(int64_t start_timestamp_ms = 0);

  int sample_rate() const { return sample_rate_; }
  int channels() const { return channels_; }
  int frame_ms() const { return frame_ms_; }
  // Samples per channel in one frame.
  int samples_per_frame() const { return samples_per_frame_; }
  // Samples per channel buffered but not yet emitted.
  size_t buffered_frames() const { return (pending_.size() - read_pos_) / channels_; }
  // Timestamp the next emitted frame will carry.
  int64_t next_timestamp_ms() const;

 private:
  Rechunker(int sample_rate, int channels, int frame_ms, int64_t start_timestamp_ms);
  // Fills `frame` with `count` interleaved samples from the buffer, zero-padded to `total`.
  void emit(PcmFrame& frame, size_t count, size_t total);

  int sample_rate_;
  int channels_;
  int frame_ms_;
  int samples_per_frame_;
  int64_t start_timestamp_ms_;
  int64_t emitted_ = 0;  // samples per channel emitted since start (drives timestamps)
  std::vector<int16_t> pending_;
  size_t read_pos_ = 0;  // index into pending_ of the first sample not yet emitted
};

}  // namespace parley::media
