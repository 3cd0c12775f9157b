// AudioConverter: brings AudioFrames of any rate and channel count to one target format (for
// example 16 kHz mono for ASR) by channel mapping and resampling.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "parley/media/resampler.h"
#include "parley/message.h"
#include "parley/status.h"

namespace parley::media {

// Lowest and highest sample rates and channel counts the converter accepts.
inline constexpr int kMinConverterRate = 8000;
inline constexpr int kMaxConverterRate = 192000;
inline constexpr int kMaxConverterChannels = 8;

// A PCM stream format: rate and interleaved channel count (samples are always s16le).
struct AudioFormat {
  int sample_rate = 16000;
  int channels = 1;

  // Ok when the rate is 8000..192000 Hz and channels 1..8; `what` names the stream in errors.
  Status validate(const std::string& what) const;
  // "48000 Hz, 2 ch".
  std::string to_string() const;
  bool operator==(const AudioFormat&) const = default;
};

// Converts a stream of audio to `target`. When the input format changes mid-stream, the audio
// held in the old resampler is emitted first, then the converter reconfigures, so nothing is
// lost or garbled. Output is interleaved int16 samples in the target format; rechunk them with a
// Rechunker. Not thread-safe; one instance per stream.
class AudioConverter {
 public:
  // Fails if `target` is outside the accepted range.
  static Result<std::unique_ptr<AudioConverter>> create(
      AudioFormat target, ResamplerQuality quality = ResamplerQuality::kMedium);

  // Appends the converted samples of `frame`. Refuses (and appends nothing) if bytes_per_sample
  // is not 2, the buffer is not a whole number of frames, or the format is out of range. If the
  // frame is_eof, the resampler is drained after it (see flush()).
  Status convert(const AudioFrame& frame, std::vector<int16_t>& out);
  // Appends the conversion of interleaved samples in format `in`.
  Status convert(std::span<const int16_t> interleaved, AudioFormat in, std::vector<int16_t>& out);
  // Appends the audio still held in the resampler (end of stream); the next input starts fresh.
  Status flush(std::vector<int16_t>& out);
  // Drops held audio and forgets the input format.
  void reset();

  // The format produced.
  const AudioFormat& target() const { return target_; }
  // The format of the most recent input, if any has been seen.
  const std::optional<AudioFormat>& input_format() const { return input_; }
  // Audio currently held back in the resampler, in milliseconds.
  double delay_ms() const { return resampler_ ? resampler_->delay_ms() : 0.0; }

 private:
  AudioConverter(AudioFormat target, ResamplerQuality quality)
      : target_(target), quality_(quality) {}
  // Makes the resampler match `in`, draining the old one into `out` if it must be replaced.
  Status configure(const AudioFormat& in, std::vector<int16_t>& out);

  AudioFormat target_;
  ResamplerQuality quality_;
  std::optional<AudioFormat> input_;
  std::unique_ptr<Resampler> resampler_;
  std::vector<int16_t> scratch_;  // channel-mapped samples between the two stages
};

}  // namespace parley::media
