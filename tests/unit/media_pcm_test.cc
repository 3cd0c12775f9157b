// Tests of the PCM helpers: channel mapping, float conversion, levels, gain and mixing.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "parley/media/pcm.h"

namespace parley::media {
namespace {

TEST(MediaPcm, StereoDownmixAveragesChannels) {
  const std::vector<int16_t> stereo = {1000, 3000, -32768, -32768, 32767, 32767, 1, 2, -5, 5};
  std::vector<int16_t> mono = {42};  // appended to, not replaced
  ASSERT_TRUE(downmix_to_mono(stereo, 2, mono).is_ok());
  EXPECT_EQ(mono, (std::vector<int16_t>{42, 2000, -32768, 32767, 2, 0}));
}

TEST(MediaPcm, DownmixRefusesPartialFrames) {
  std::vector<int16_t> mono;
  Status s = downmix_to_mono(std::vector<int16_t>{1, 2, 3}, 2, mono);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("whole number"), std::string::npos);
  EXPECT_FALSE(downmix_to_mono(std::vector<int16_t>{1}, 0, mono).is_ok());
  EXPECT_TRUE(mono.empty());
}

TEST(MediaPcm, UpmixAndRemixChannels) {
  std::vector<int16_t> out;
  ASSERT_TRUE(upmix_from_mono(std::vector<int16_t>{7, -8}, 3, out).is_ok());
  EXPECT_EQ(out, (std::vector<int16_t>{7, 7, 7, -8, -8, -8}));

  out.clear();  // 3 channels -> 2: averaged to mono, then duplicated
  ASSERT_TRUE(remix_channels(std::vector<int16_t>{3, 6, 9, 0, 0, 3}, 3, 2, out).is_ok());
  EXPECT_EQ(out, (std::vector<int16_t>{6, 6, 1, 1}));

  out.clear();
  ASSERT_TRUE(remix_channels(std::vector<int16_t>{1, 2}, 2, 2, out).is_ok());
  EXPECT_EQ(out, (std::vector<int16_t>{1, 2}));
}

TEST(MediaPcm, FloatConversionRoundTripsEveryValue) {
  std::vector<int16_t> all;
  for (int v = -32768; v <= 32767; ++v) all.push_back(static_cast<int16_t>(v));
  const std::vector<float> f = to_float(all);
  EXPECT_FLOAT_EQ(f.front(), -1.0f);
  EXPECT_LT(f.back(), 1.0f);
  EXPECT_EQ(to_int16(f), all);
}

TEST(MediaPcm, FloatToInt16Saturates) {
  const std::vector<float> f = {2.0f, -2.0f, 1.0f, 0.5f, NAN, INFINITY};
  EXPECT_EQ(to_int16(f), (std::vector<int16_t>{32767, -32768, 32767, 16384, 0, 32767}));
}

TEST(MediaPcm, RmsAndDbfs) {
  const std::vector<int16_t> square = {32767, -32768, 32767, -32768};
  EXPECT_NEAR(dbfs(square), 0.0, 0.01);
  std::vector<int16_t> full_sine;
  std::vector<int16_t> half_sine;
  for (int i = 0; i < 16000; ++i) {
    const double s = std::sin(2 * std::numbers::pi * 1000 * i / 16000);
    full_sine.push_back(static_cast<int16_t>(std::lround(32767 * s)));
    half_sine.push_back(static_cast<int16_t>(std::lround(16384 * s)));
  }
  EXPECT_NEAR(rms(full_sine), 1 / std::sqrt(2.0), 0.001);
  EXPECT_NEAR(dbfs(full_sine), -3.01, 0.01);
  EXPECT_NEAR(dbfs(half_sine), -9.03, 0.01);
  EXPECT_EQ(dbfs(std::vector<int16_t>(160, 0)), kSilenceDbfs);
  EXPECT_EQ(dbfs({}), kSilenceDbfs);
  EXPECT_EQ(rms({}), 0.0);
}

TEST(MediaPcm, GainSaturatesAndCountsClips) {
  std::vector<int16_t> v = {1000, 20000, -20000, -3};
  EXPECT_EQ(apply_gain(v, db_to_gain(20 * std::log10(2.0))), 2u);
  EXPECT_EQ(v, (std::vector<int16_t>{2000, 32767, -32768, -6}));
  EXPECT_EQ(apply_gain(v, 0.5), 0u);
  EXPECT_EQ(v, (std::vector<int16_t>{1000, 16384, -16384, -3}));
  EXPECT_NEAR(db_to_gain(-6.0206), 0.5, 1e-4);
}

TEST(MediaPcm, MixSaturatesAndPadsTheShorterInput) {
  const std::vector<int16_t> a = {30000, -30000, 100, 5};
  const std::vector<int16_t> b = {30000, -30000, -50};
  EXPECT_EQ(mix(a, b), (std::vector<int16_t>{32767, -32768, 50, 5}));
  EXPECT_EQ(mix(b, a), mix(a, b));

  std::vector<int16_t> dst = {1, 2, 3};
  ASSERT_TRUE(mix_into(dst, std::vector<int16_t>{10, 20}).is_ok());
  EXPECT_EQ(dst, (std::vector<int16_t>{11, 22, 3}));
  EXPECT_EQ(mix_into(dst, std::vector<int16_t>(4, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(saturate_int16(40000), 32767);
  EXPECT_EQ(saturate_int16(-40000), -32768);
}

}  // namespace
}  // namespace parley::media
