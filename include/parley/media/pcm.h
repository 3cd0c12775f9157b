// In-memory PCM audio (PcmAudio) and small helpers for interleaved signed 16-bit samples:
// channel mapping, int16 <-> float, level measurement, gain and mixing. All arithmetic
// saturates instead of wrapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "parley/status.h"

namespace parley::media {

// Interleaved signed 16-bit PCM held in memory.
struct PcmAudio {
  int sample_rate = 16000;
  int channels = 1;
  // Interleaved samples: frame 0 channel 0, frame 0 channel 1, ..., frame 1 channel 0, ...
  std::vector<int16_t> samples;

  // Samples per channel (0 when channels is not positive).
  int64_t frames() const {
    return channels > 0 ? static_cast<int64_t>(samples.size()) / channels : 0;
  }
  // Length in seconds (0 when the format is invalid).
  double duration_s() const {
    return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0;
  }
  // Ok when the rate and channel count are positive and `samples` holds whole frames.
  Status validate() const;
};

// Level reported by dbfs() for digital silence (a single LSB of noise reads about -90 dBFS).
inline constexpr double kSilenceDbfs = -120.0;

// Clamps a wide value to the int16 range.
inline int16_t saturate_int16(int32_t v) {
  return static_cast<int16_t>(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

// Appends the per-frame average of `channels` interleaved channels to `mono`.
Status downmix_to_mono(std::span<const int16_t> interleaved, int channels,
                       std::vector<int16_t>& mono);
// Appends `mono` with each sample repeated on `channels` interleaved channels.
Status upmix_from_mono(std::span<const int16_t> mono, int channels,
                       std::vector<int16_t>& interleaved);
// Appends `in` converted from `in_channels` to `out_channels`: copied when equal, averaged to
// mono, duplicated from mono, and otherwise averaged to mono then duplicated (N -> M).
Status remix_channels(std::span<const int16_t> in, int in_channels, int out_channels,
                      std::vector<int16_t>& out);

// Converts int16 samples to float in [-1, 1) (divides by 32768).
std::vector<float> to_float(std::span<const int16_t> samples);
// Converts float samples to int16 (multiplies by 32768, rounds, saturates; NaN becomes 0).
std::vector<int16_t> to_int16(std::span<const float> samples);

// Root-mean-square of the samples relative to full scale (0 for silence, 1.0 for a full-scale
// square wave, 0.707 for a full-scale sine). 0 for an empty span.
double rms(std::span<const int16_t> samples);
// rms() in dB relative to full scale (a full-scale sine reads -3.01 dBFS); kSilenceDbfs at most
// for silence or an empty span.
double dbfs(std::span<const int16_t> samples);

// Converts decibels to a linear gain factor (+6.02 dB -> 2.0).
double db_to_gain(double db);
// Multiplies every sample by `gain` in place, saturating; returns how many samples clipped.
size_t apply_gain(std::span<int16_t> samples, double gain);
// Adds `src` into the start of `dst` with saturation; fails if `src` is longer than `dst`.
Status mix_into(std::span<int16_t> dst, std::span<const int16_t> src);
// Returns the saturated sum of `a` and `b`; the shorter one is treated as padded with silence.
std::vector<int16_t> mix(std::span<const int16_t> a, std::span<const int16_t> b);

}  // namespace parley::media
