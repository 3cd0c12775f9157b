// Format conversion of AudioFrames, see include/parley/media/audio_converter.h.
#include "parley/media/audio_converter.h"

#include <algorithm>

#include "parley/media/pcm.h"

namespace parley::media {

Status AudioFormat::validate(const std::string& what) const {
  if (sample_rate < kMinConverterRate || sample_rate > kMaxConverterRate) {
    return invalid_argument(what + ": sample rate " + std::to_string(sample_rate) +
                            " Hz is outside the supported " + std::to_string(kMinConverterRate) +
                            ".." + std::to_string(kMaxConverterRate) + " Hz");
  }
  if (channels < 1 || channels > kMaxConverterChannels) {
    return invalid_argument(what + ": " + std::to_string(channels) +
                            " channels is outside the supported 1.." +
                            std::to_string(kMaxConverterChannels));
  }
  return Status::ok();
}

std::string AudioFormat::to_string() const {
  return std::to_string(sample_rate) + " Hz, " + std::to_string(channels) + " ch";
}

Result<std::unique_ptr<AudioConverter>> AudioConverter::create(AudioFormat target,
                                                               ResamplerQuality quality) {
  PARLEY_RETURN_IF_ERROR(target.validate("audio converter target format"));
  return std::unique_ptr<AudioConverter>(new AudioConverter(target, quality));
}

Status AudioConverter::configure(const AudioFormat& in, std::vector<int16_t>& out) {
  // Resample at the smaller channel count: downmix before resampling, upmix after.
  const int resample_channels = std::min(in.channels, target_.channels);
  if (resampler_ && resampler_->in_rate() == in.sample_rate &&
      resampler_->channels() == resample_channels) {
    input_ = in;
    return Status::ok();
  }
  if (resampler_) PARLEY_RETURN_IF_ERROR(flush(out));  // keep the old format's tail
  PARLEY_ASSIGN_OR_RETURN(resampler_, Resampler::create(in.sample_rate, target_.sample_rate,
                                                        resample_channels, quality_));
  input_ = in;
  return Status::ok();
}

Status AudioConverter::convert(std::span<const int16_t> interleaved, AudioFormat in,
                               std::vector<int16_t>& out) {
  PARLEY_RETURN_IF_ERROR(in.validate("audio converter input"));
  if (interleaved.size() % static_cast<size_t>(in.channels) != 0) {
    return invalid_argument("audio converter input of " + std::to_string(interleaved.size()) +
                            " samples is not a whole number of " + std::to_string(in.channels) +
                            "-channel frames");
  }
  PARLEY_RETURN_IF_ERROR(configure(in, out));
  scratch_.clear();
  if (in.channels > target_.channels) {
    PARLEY_RETURN_IF_ERROR(remix_channels(interleaved, in.channels, target_.channels, scratch_));
    return resampler_->process(scratch_, out);
  }
  if (in.channels == target_.channels) return resampler_->process(interleaved, out);
  PARLEY_RETURN_IF_ERROR(resampler_->process(interleaved, scratch_));
  return remix_channels(scratch_, in.channels, target_.channels, out);
}

Status AudioConverter::convert(const AudioFrame& frame, std::vector<int16_t>& out) {
  const std::string what = "audio frame '" + frame.name() + "'" +
                           (frame.source().empty() ? "" : " from '" + frame.source() + "'");
  if (frame.bytes_per_sample != 2) {
    return invalid_argument(what + " has bytes_per_sample " +
                            std::to_string(frame.bytes_per_sample) +
                            "; only 16-bit PCM (bytes_per_sample 2, s16le) is supported — "
                            "convert 8-bit, 24-bit or float audio to s16le at the source");
  }
  const Buffer& buffer = frame.buffer();
  if (!buffer.empty()) {
    AudioFormat in{frame.sample_rate, frame.channels};
    PARLEY_RETURN_IF_ERROR(in.validate(what));
    const size_t frame_bytes = static_cast<size_t>(in.channels) * 2;
    if (buffer.size() % frame_bytes != 0) {
      return invalid_argument(what + " carries " + std::to_string(buffer.size()) +
                              " bytes, not a whole number of " + std::to_string(frame_bytes) +
                              "-byte frames (" + std::to_string(in.channels) +
                              " channels x 2 bytes); the buffer is truncated or mislabelled");
    }
    PARLEY_RETURN_IF_ERROR(convert(buffer.samples(), in, out));
  }
  if (frame.is_eof) return flush(out);
  return Status::ok();
}

Status AudioConverter::flush(std::vector<int16_t>& out) {
  if (!resampler_) return Status::ok();
  scratch_.clear();
  PARLEY_RETURN_IF_ERROR(resampler_->flush(scratch_));
  return remix_channels(scratch_, resampler_->channels(), target_.channels, out);
}

void AudioConverter::reset() {
  resampler_.reset();
  input_.reset();
  scratch_.clear();
}

}  // namespace parley::media
