// Streaming int16 resampling over libsoxr, see include/parley/media/resampler.h.
#include "parley/media/resampler.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace parley::media {
namespace {

constexpr int kMaxRate = 1'000'000;
constexpr int kMaxChannels = 64;
// Smallest DFT block soxr may use (2^8, soxr's minimum; its default is 2^10). Smaller blocks mean
// less audio held back between calls, at a small CPU cost.
constexpr unsigned kLowLatencyLog2DftSize = 8;

soxr_quality_spec_t quality_spec(ResamplerQuality quality) {
  switch (quality) {
    case ResamplerQuality::kLow:
      return soxr_quality_spec(SOXR_LQ | SOXR_MINIMUM_PHASE, 0);
    case ResamplerQuality::kMedium: {
      // LQ's 16-bit precision with a wider pass band: keeps speech up to 6.4 kHz at 16 kHz while
      // holding back about half of what SOXR_MQ does (see the table in the header).
      soxr_quality_spec_t spec = soxr_quality_spec(SOXR_LQ | SOXR_MINIMUM_PHASE, 0);
      spec.passband_end = 0.8;
      return spec;
    }
    case ResamplerQuality::kHigh:
      break;
  }
  return soxr_quality_spec(SOXR_HQ, 0);
}

}  // namespace

void Resampler::SoxrDeleter::operator()(soxr* s) const { soxr_delete(s); }

Resampler::Resampler(int in_rate, int out_rate, int channels, ResamplerQuality quality)
    : in_rate_(in_rate), out_rate_(out_rate), channels_(channels), quality_(quality) {}

Resampler::~Resampler() = default;

Result<std::unique_ptr<Resampler>> Resampler::create(int in_rate, int out_rate, int channels,
                                                     ResamplerQuality quality) {
  if (in_rate <= 0 || in_rate > kMaxRate || out_rate <= 0 || out_rate > kMaxRate) {
    return invalid_argument("resampler rates must be 1.." + std::to_string(kMaxRate) + " Hz, got " +
                            std::to_string(in_rate) + " -> " + std::to_string(out_rate));
  }
  if (channels < 1 || channels > kMaxChannels) {
    return invalid_argument("resampler channel count must be 1.." + std::to_string(kMaxChannels) +
                            ", got " + std::to_string(channels));
  }
  std::unique_ptr<Resampler> r(new Resampler(in_rate, out_rate, channels, quality));
  if (in_rate == out_rate) return r;

  soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
  // Dither would make identical input give different output; int16 speech does not need it.
  io.flags |= SOXR_NO_DITHER;
  const soxr_quality_spec_t q = quality_spec(quality);
  soxr_runtime_spec_t runtime = soxr_runtime_spec(1);  // never spawn threads on our executors
  if (quality != ResamplerQuality::kHigh) runtime.log2_min_dft_size = kLowLatencyLog2DftSize;
  soxr_error_t error = nullptr;
  soxr* s =
      soxr_create(in_rate, out_rate, static_cast<unsigned>(channels), &error, &io, &q, &runtime);
  if (error != nullptr || s == nullptr) {
    if (s != nullptr) soxr_delete(s);
    return internal_error(std::string("libsoxr could not create a ") + std::to_string(in_rate) +
                          " -> " + std::to_string(out_rate) +
                          " Hz resampler: " + soxr_strerror(error));
  }
  r->soxr_.reset(s);
  return r;
}

Status Resampler::run(const int16_t* in, size_t frames, std::vector<int16_t>& out) {
  const double ratio = static_cast<double>(out_rate_) / in_rate_;
  const auto ch = static_cast<size_t>(channels_);
  // Loop until all input is consumed and soxr returns less than the room we gave it (nothing
  // more is ready); at end of input (in == nullptr) until it returns nothing.
  for (;;) {
    const size_t room = static_cast<size_t>(std::ceil(frames * ratio)) + 256;
    const size_t old_size = out.size();
    out.resize(old_size + room * ch);
    size_t used = 0;
    size_t produced = 0;
    soxr_error_t error = soxr_process(soxr_.get(), in, in ? frames : 0, in ? &used : nullptr,
                                      out.data() + old_size, room, &produced);
    out.resize(old_size + produced * ch);
    if (error != nullptr) {
      return internal_error(std::string("libsoxr failed while resampling: ") + error);
    }
    if (in == nullptr) {
      if (produced == 0) return Status::ok();
      continue;
    }
    in += used * ch;
    frames -= used;
    if (frames == 0 && produced < room) return Status::ok();
    if (used == 0 && produced == 0) {
      return internal_error("libsoxr made no progress (" + std::to_string(frames) +
                            " frames left)");
    }
  }
}

Status Resampler::process(std::span<const int16_t> in, std::vector<int16_t>& out) {
  if (in.size() % static_cast<size_t>(channels_) != 0) {
    return invalid_argument("resampler input of " + std::to_string(in.size()) +
                            " samples is not a whole number of " + std::to_string(channels_) +
                            "-channel frames");
  }
  if (in.empty()) return Status::ok();  // soxr reads a null input as end of stream
  if (!soxr_) {
    out.insert(out.end(), in.begin(), in.end());
    return Status::ok();
  }
  return run(in.data(), in.size() / channels_, out);
}

Status Resampler::flush(std::vector<int16_t>& out) {
  if (!soxr_) return Status::ok();
  PARLEY_RETURN_IF_ERROR(run(nullptr, 0, out));
  return reset();
}

Status Resampler::reset() {
  if (!soxr_) return Status::ok();
  soxr_error_t error = soxr_clear(soxr_.get());
  if (error != nullptr) {
    return internal_error(std::string("libsoxr could not reset the resampler: ") + error);
  }
  return Status::ok();
}

double Resampler::delay_ms() const {
  return soxr_ ? 1000.0 * soxr_delay(soxr_.get()) / out_rate_ : 0.0;
}

Result<PcmAudio> resample(const PcmAudio& audio, int out_rate, ResamplerQuality quality) {
  PARLEY_RETURN_IF_ERROR(audio.validate());
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<Resampler> r,
                          Resampler::create(audio.sample_rate, out_rate, audio.channels, quality));
  PcmAudio out;
  out.sample_rate = out_rate;
  out.channels = audio.channels;
  out.samples.reserve(static_cast<size_t>(
      std::ceil(static_cast<double>(audio.samples.size()) * out_rate / audio.sample_rate) + 64));
  PARLEY_RETURN_IF_ERROR(r->process(audio.samples, out.samples));
  PARLEY_RETURN_IF_ERROR(r->flush(out.samples));
  return out;
}

}  // namespace parley::media
