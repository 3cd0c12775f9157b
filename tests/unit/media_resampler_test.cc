// Tests of the libsoxr-backed resampler: frequency and length are preserved, channels stay
// separate, streaming delay stays within the live-speech budget, and misuse is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "parley/media/resampler.h"

namespace parley::media {
namespace {

// `seconds` of a sine at `freq` Hz on every one of `channels` channels (or only channel 0).
std::vector<int16_t> sine(int rate, double freq, double seconds, int channels = 1,
                          bool only_first_channel = false, double amplitude = 10000.0) {
  const int frames = static_cast<int>(std::lround(rate * seconds));
  std::vector<int16_t> v;
  v.reserve(static_cast<size_t>(frames) * channels);
  for (int i = 0; i < frames; ++i) {
    const auto s = static_cast<int16_t>(
        std::lround(amplitude * std::sin(2 * std::numbers::pi * freq * i / rate)));
    for (int c = 0; c < channels; ++c) v.push_back(only_first_channel && c > 0 ? 0 : s);
  }
  return v;
}

// Channel `channel` of interleaved samples, without the first and last 10% (filter edges).
std::vector<double> steady_channel(const std::vector<int16_t>& v, int channels, int channel = 0) {
  std::vector<double> out;
  const size_t frames = v.size() / channels;
  for (size_t f = frames / 10; f < frames - frames / 10; ++f)
    out.push_back(v[f * channels + channel]);
  return out;
}

// Fraction of the signal's energy at `freq` (Goertzel); 1.0 for a pure tone at `freq`.
double tone_fraction(const std::vector<double>& x, int rate, double freq) {
  const double w = 2 * std::numbers::pi * freq / rate;
  double s1 = 0, s2 = 0, energy = 0;
  for (double v : x) {
    const double s0 = v + 2 * std::cos(w) * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += v * v;
  }
  const double power = s1 * s1 + s2 * s2 - 2 * std::cos(w) * s1 * s2;
  return energy > 0 ? 2 * power / (x.size() * energy) : 0.0;
}

// Frequency estimated from rising zero crossings.
double zero_crossing_hz(const std::vector<double>& x, int rate) {
  int crossings = 0;
  for (size_t i = 1; i < x.size(); ++i) crossings += (x[i - 1] < 0 && x[i] >= 0) ? 1 : 0;
  return static_cast<double>(crossings) * rate / x.size();
}

// Runs `in` through `r` in chunks of `chunk_frames`, then flushes.
std::vector<int16_t> stream(Resampler& r, const std::vector<int16_t>& in, size_t chunk_frames) {
  std::vector<int16_t> out;
  const size_t step = chunk_frames * r.channels();
  for (size_t i = 0; i < in.size(); i += step) {
    const size_t n = std::min(step, in.size() - i);
    EXPECT_TRUE(r.process(std::span(in).subspan(i, n), out).is_ok());
  }
  EXPECT_TRUE(r.flush(out).is_ok());
  return out;
}

TEST(MediaResampler, Sine1kHz48kTo16kKeepsFrequencyAndLength) {
  auto r = Resampler::create(48000, 16000, 1);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const std::vector<int16_t> out = stream(**r, sine(48000, 1000, 1.0), 480);
  EXPECT_NEAR(static_cast<double>(out.size()), 16000, 3);
  const auto steady = steady_channel(out, 1);
  EXPECT_NEAR(zero_crossing_hz(steady, 16000), 1000, 5);
  EXPECT_GT(tone_fraction(steady, 16000, 1000), 0.99);
}

TEST(MediaResampler, OddRatiosAndOddChunksGiveExpectedLength) {
  struct Case {
    int in_rate, out_rate;
    size_t chunk;
  };
  for (Case c : {Case{44100, 16000, 441}, Case{8000, 16000, 77}, Case{16000, 48000, 1001},
                 Case{22050, 24000, 13}}) {
    for (ResamplerQuality q :
         {ResamplerQuality::kLow, ResamplerQuality::kMedium, ResamplerQuality::kHigh}) {
      auto r = Resampler::create(c.in_rate, c.out_rate, 1, q);
      ASSERT_TRUE(r.is_ok());
      const std::vector<int16_t> out = stream(**r, sine(c.in_rate, 440, 2.0), c.chunk);
      EXPECT_NEAR(static_cast<double>(out.size()), 2.0 * c.out_rate, 3)
          << c.in_rate << " -> " << c.out_rate << " quality " << static_cast<int>(q);
      EXPECT_GT(tone_fraction(steady_channel(out, 1), c.out_rate, 440), 0.99);
    }
  }
}

TEST(MediaResampler, StereoChannelsStaySeparate) {
  auto r = Resampler::create(48000, 16000, 2);
  ASSERT_TRUE(r.is_ok());
  const std::vector<int16_t> out = stream(**r, sine(48000, 1000, 1.0, 2, true), 960);
  ASSERT_EQ(out.size() % 2, 0u);
  EXPECT_NEAR(static_cast<double>(out.size() / 2), 16000, 3);
  EXPECT_GT(tone_fraction(steady_channel(out, 2, 0), 16000, 1000), 0.99);
  const auto right = steady_channel(out, 2, 1);
  EXPECT_LE(*std::max_element(right.begin(), right.end()), 1.0);  // silent channel stays silent
}

TEST(MediaResampler, SameRateIsExactPassThrough) {
  auto r = Resampler::create(16000, 16000, 2);
  ASSERT_TRUE(r.is_ok());
  const std::vector<int16_t> in = {1, -1, 32767, -32768, 5, 6};
  std::vector<int16_t> out;
  ASSERT_TRUE((*r)->process(in, out).is_ok());
  ASSERT_TRUE((*r)->flush(out).is_ok());
  EXPECT_EQ(out, in);
  EXPECT_EQ((*r)->delay_ms(), 0.0);
}

TEST(MediaResampler, ChunkingDoesNotChangeTheOutput) {
  const auto in = sine(48000, 700, 0.5);
  auto a = Resampler::create(48000, 16000, 1);
  auto b = Resampler::create(48000, 16000, 1);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(stream(**a, in, in.size()), stream(**b, in, 37));
}

TEST(MediaResampler, FlushThenReuseMatchesAFreshResampler) {
  const auto in = sine(44100, 500, 0.3);
  auto r = Resampler::create(44100, 16000, 1);
  ASSERT_TRUE(r.is_ok());
  const auto first = stream(**r, in, 441);
  const auto second = stream(**r, in, 441);
  EXPECT_EQ(first, second);

  std::vector<int16_t> partial;
  ASSERT_TRUE((*r)->process(std::span(in).first(1000), partial).is_ok());
  ASSERT_TRUE((*r)->reset().is_ok());
  EXPECT_EQ(stream(**r, in, 441), first);
}

TEST(MediaResampler, MediumQualityStreamingDelayStaysWithinBudget) {
  for (int in_rate : {48000, 44100}) {
    auto r = Resampler::create(in_rate, 16000, 1, ResamplerQuality::kMedium);
    ASSERT_TRUE(r.is_ok());
    const auto in = sine(in_rate, 1000, 2.0);
    const size_t chunk = in_rate / 100;  // 10 ms
    std::vector<int16_t> out;
    double worst_ms = 0;
    for (size_t i = 0; i + chunk <= in.size(); i += chunk) {
      ASSERT_TRUE((*r)->process(std::span(in).subspan(i, chunk), out).is_ok());
      const double owed_ms = 1000.0 * (i + chunk) / in_rate - 1000.0 * out.size() / 16000;
      EXPECT_NEAR((*r)->delay_ms(), owed_ms, 0.1);
      worst_ms = std::max(worst_ms, owed_ms);
    }
    EXPECT_LE(worst_ms, 20.0) << in_rate;
  }
}

TEST(MediaResampler, OneShotResampleOfAClip) {
  PcmAudio clip{48000, 2, sine(48000, 1000, 0.5, 2)};
  Result<PcmAudio> out = resample(clip, 16000);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ(out->sample_rate, 16000);
  EXPECT_EQ(out->channels, 2);
  EXPECT_NEAR(static_cast<double>(out->frames()), 8000, 3);
  EXPECT_NEAR(out->duration_s(), 0.5, 0.001);
  EXPECT_GT(tone_fraction(steady_channel(out->samples, 2, 1), 16000, 1000), 0.99);
}

TEST(MediaResampler, RefusesBadArguments) {
  EXPECT_EQ(Resampler::create(0, 16000, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Resampler::create(48000, -1, 1).status().code(), StatusCode::kInvalidArgument);
  Result<std::unique_ptr<Resampler>> none = Resampler::create(48000, 16000, 0);
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("channel"), std::string::npos);

  auto r = Resampler::create(48000, 16000, 2);
  ASSERT_TRUE(r.is_ok());
  std::vector<int16_t> out;
  Status s = (*r)->process(std::vector<int16_t>{1, 2, 3}, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("whole number"), std::string::npos);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(resample(PcmAudio{16000, 2, {1, 2, 3}}, 8000).is_ok());
}

}  // namespace
}  // namespace parley::media
