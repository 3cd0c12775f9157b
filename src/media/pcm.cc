// PCM helpers, see include/parley/media/pcm.h.
#include "parley/media/pcm.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace parley::media {
namespace {

Status check_channels(size_t samples, int channels, const char* what) {
  if (channels < 1) {
    return invalid_argument(std::string(what) + ": channel count must be at least 1, got " +
                            std::to_string(channels));
  }
  if (samples % static_cast<size_t>(channels) != 0) {
    return invalid_argument(std::string(what) + ": " + std::to_string(samples) +
                            " samples are not a whole number of " + std::to_string(channels) +
                            "-channel frames");
  }
  return Status::ok();
}

}  // namespace

Status PcmAudio::validate() const {
  if (sample_rate <= 0) {
    return invalid_argument("audio sample rate must be positive, got " +
                            std::to_string(sample_rate));
  }
  if (channels <= 0 || channels > 65535) {
    return invalid_argument("audio channel count must be 1..65535, got " +
                            std::to_string(channels));
  }
  if (samples.size() % static_cast<size_t>(channels) != 0) {
    return invalid_argument(std::to_string(samples.size()) + " samples are not a whole number of " +
                            std::to_string(channels) + "-channel frames");
  }
  return Status::ok();
}

Status downmix_to_mono(std::span<const int16_t> interleaved, int channels,
                       std::vector<int16_t>& mono) {
  PARLEY_RETURN_IF_ERROR(check_channels(interleaved.size(), channels, "downmix_to_mono"));
  const auto ch = static_cast<size_t>(channels);
  const size_t frames = interleaved.size() / ch;
  if (ch == 1) {
    mono.insert(mono.end(), interleaved.begin(), interleaved.end());
    return Status::ok();
  }
  mono.reserve(mono.size() + frames);
  const int16_t* p = interleaved.data();
  for (size_t f = 0; f < frames; ++f, p += ch) {
    int32_t sum = 0;
    for (size_t c = 0; c < ch; ++c) sum += p[c];
    // Round to nearest so that identical channels average back to themselves exactly.
    const double avg = std::nearbyint(static_cast<double>(sum) / channels);
    mono.push_back(static_cast<int16_t>(avg));
  }
  return Status::ok();
}

Status upmix_from_mono(std::span<const int16_t> mono, int channels,
                       std::vector<int16_t>& interleaved) {
  PARLEY_RETURN_IF_ERROR(check_channels(0, channels, "upmix_from_mono"));
  const auto ch = static_cast<size_t>(channels);
  interleaved.reserve(interleaved.size() + mono.size() * ch);
  for (int16_t s : mono) interleaved.insert(interleaved.end(), ch, s);
  return Status::ok();
}

Status remix_channels(std::span<const int16_t> in, int in_channels, int out_channels,
                      std::vector<int16_t>& out) {
  PARLEY_RETURN_IF_ERROR(check_channels(in.size(), in_channels, "remix_channels"));
  PARLEY_RETURN_IF_ERROR(check_channels(0, out_channels, "remix_channels (output)"));
  if (in_channels == out_channels) {
    out.insert(out.end(), in.begin(), in.end());
    return Status::ok();
  }
  if (out_channels == 1) return downmix_to_mono(in, in_channels, out);
  if (in_channels == 1) return upmix_from_mono(in, out_channels, out);
  std::vector<int16_t> mono;
  PARLEY_RETURN_IF_ERROR(downmix_to_mono(in, in_channels, mono));
  return upmix_from_mono(mono, out_channels, out);
}

std::vector<float> to_float(std::span<const int16_t> samples) {
  std::vector<float> out(samples.size());
  std::transform(samples.begin(), samples.end(), out.begin(),
                 [](int16_t s) { return static_cast<float>(s) * (1.0f / 32768.0f); });
  return out;
}

std::vector<int16_t> to_int16(std::span<const float> samples) {
  std::vector<int16_t> out(samples.size());
  std::transform(samples.begin(), samples.end(), out.begin(), [](float x) -> int16_t {
    if (std::isnan(x)) return 0;
    const float scaled = std::clamp(x * 32768.0f, -32768.0f, 32767.0f);
    return static_cast<int16_t>(std::lrintf(scaled));
  });
  return out;
}

double rms(std::span<const int16_t> samples) {
  if (samples.empty()) return 0.0;
  double sum = 0.0;
  for (int16_t s : samples) sum += static_cast<double>(s) * s;
  return std::sqrt(sum / static_cast<double>(samples.size())) / 32768.0;
}

double dbfs(std::span<const int16_t> samples) {
  const double r = rms(samples);
  if (r <= 0.0) return kSilenceDbfs;
  return std::max(kSilenceDbfs, 20.0 * std::log10(r));
}

double db_to_gain(double db) { return std::pow(10.0, db / 20.0); }

size_t apply_gain(std::span<int16_t> samples, double gain) {
  size_t clipped = 0;
  for (int16_t& s : samples) {
    double v = std::nearbyint(s * gain);
    if (std::isnan(v)) v = 0.0;  // 0 * inf, or a NaN gain
    if (v > 32767.0 || v < -32768.0) ++clipped;
    s = static_cast<int16_t>(std::clamp(v, -32768.0, 32767.0));
  }
  return clipped;
}

Status mix_into(std::span<int16_t> dst, std::span<const int16_t> src) {
  if (src.size() > dst.size()) {
    return invalid_argument("mix_into: source of " + std::to_string(src.size()) +
                            " samples is longer than the destination (" +
                            std::to_string(dst.size()) + ")");
  }
  for (size_t i = 0; i < src.size(); ++i) dst[i] = saturate_int16(int32_t{dst[i]} + src[i]);
  return Status::ok();
}

std::vector<int16_t> mix(std::span<const int16_t> a, std::span<const int16_t> b) {
  if (a.size() < b.size()) std::swap(a, b);
  std::vector<int16_t> out(a.begin(), a.end());
  for (size_t i = 0; i < b.size(); ++i) out[i] = saturate_int16(int32_t{out[i]} + b[i]);
  return out;
}

}  // namespace parley::media
