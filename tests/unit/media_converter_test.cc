// Tests of AudioConverter: any input format becomes the target format, format changes
// mid-stream lose nothing, and malformed frames are refused with a message, not turned to noise.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include "parley/media/audio_converter.h"

namespace parley::media {
namespace {

std::vector<int16_t> sine(int rate, double freq, int frames, int channels, int64_t start = 0) {
  std::vector<int16_t> v;
  for (int i = 0; i < frames; ++i) {
    const auto s = static_cast<int16_t>(
        std::lround(8000 * std::sin(2 * std::numbers::pi * freq * (start + i) / rate)));
    v.insert(v.end(), static_cast<size_t>(channels), s);
  }
  return v;
}

AudioFrame make_frame(int rate, int channels, const std::vector<int16_t>& samples) {
  AudioFrame f;
  f.sample_rate = rate;
  f.channels = channels;
  f.set_buffer(Buffer::copy_of_samples(samples));
  return f;
}

// Fraction of the energy at `freq` (Goertzel) over the middle 80% of mono `x`.
double tone_fraction(const std::vector<int16_t>& x, int rate, double freq) {
  const double w = 2 * std::numbers::pi * freq / rate;
  double s1 = 0, s2 = 0, energy = 0;
  const size_t begin = x.size() / 10;
  const size_t end = x.size() - x.size() / 10;
  for (size_t i = begin; i < end; ++i) {
    const double s0 = x[i] + 2 * std::cos(w) * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += static_cast<double>(x[i]) * x[i];
  }
  const double power = s1 * s1 + s2 * s2 - 2 * std::cos(w) * s1 * s2;
  return energy > 0 ? 2 * power / ((end - begin) * energy) : 0.0;
}

std::unique_ptr<AudioConverter> converter_to(int rate, int channels) {
  auto c = AudioConverter::create({rate, channels});
  EXPECT_TRUE(c.is_ok()) << c.status().message();
  return c.is_ok() ? std::move(c).value() : nullptr;
}

TEST(MediaConverter, Stereo48kBecomes16kMonoAtTheSameFrequency) {
  auto conv = converter_to(16000, 1);
  ASSERT_TRUE(conv);
  std::vector<int16_t> out;
  for (int i = 0; i < 100; ++i) {  // 1 s in 10 ms frames
    AudioFrame f = make_frame(48000, 2, sine(48000, 1000, 480, 2, 480 * i));
    ASSERT_TRUE(conv->convert(f, out).is_ok());
  }
  ASSERT_TRUE(conv->flush(out).is_ok());
  EXPECT_NEAR(static_cast<double>(out.size()), 16000, 3);
  EXPECT_GT(tone_fraction(out, 16000, 1000), 0.99);
  EXPECT_EQ(conv->input_format(), (AudioFormat{48000, 2}));
}

TEST(MediaConverter, FormatChangeMidStreamLosesNothing) {
  auto conv = converter_to(16000, 1);
  ASSERT_TRUE(conv);
  std::vector<int16_t> out;
  for (int i = 0; i < 50; ++i) {  // 0.5 s of 48 kHz stereo
    ASSERT_TRUE(conv->convert(make_frame(48000, 2, sine(48000, 500, 480, 2)), out).is_ok());
  }
  for (int i = 0; i < 25; ++i) {  // then 0.5 s of 8 kHz mono, 20 ms frames
    ASSERT_TRUE(conv->convert(make_frame(8000, 1, sine(8000, 500, 160, 1)), out).is_ok());
  }
  AudioFrame eof = make_frame(8000, 1, {});
  eof.is_eof = true;
  ASSERT_TRUE(conv->convert(eof, out).is_ok());  // drains the resampler
  EXPECT_NEAR(static_cast<double>(out.size()), 16000, 6);
  EXPECT_EQ(conv->input_format(), (AudioFormat{8000, 1}));
  EXPECT_EQ(conv->delay_ms(), 0.0);
}

TEST(MediaConverter, MatchingFormatPassesSamplesThroughUnchanged) {
  auto conv = converter_to(16000, 1);
  ASSERT_TRUE(conv);
  const std::vector<int16_t> in = {1, -2, 3, 32767, -32768};
  std::vector<int16_t> out;
  ASSERT_TRUE(conv->convert(make_frame(16000, 1, in), out).is_ok());
  EXPECT_EQ(out, in);
}

TEST(MediaConverter, MonoUpmixesToIdenticalChannels) {
  auto conv = converter_to(48000, 2);
  ASSERT_TRUE(conv);
  std::vector<int16_t> out;
  ASSERT_TRUE(conv->convert(sine(16000, 440, 8000, 1), {16000, 1}, out).is_ok());
  ASSERT_TRUE(conv->flush(out).is_ok());
  ASSERT_EQ(out.size() % 2, 0u);
  EXPECT_NEAR(static_cast<double>(out.size() / 2), 24000, 3);
  for (size_t i = 0; i < out.size(); i += 2) ASSERT_EQ(out[i], out[i + 1]);
}

TEST(MediaConverter, RefusesEightBitInputWithAMessage) {
  auto conv = converter_to(16000, 1);
  ASSERT_TRUE(conv);
  AudioFrame f;
  f.sample_rate = 8000;
  f.bytes_per_sample = 1;
  f.set_buffer(Buffer::copy_of(std::vector<uint8_t>(80, 128)));
  std::vector<int16_t> out;
  Status s = conv->convert(f, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("bytes_per_sample 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("16-bit"), std::string::npos) << s.message();
  EXPECT_TRUE(out.empty());
}

TEST(MediaConverter, RefusesBufferThatIsNotWholeFrames) {
  auto conv = converter_to(16000, 1);
  ASSERT_TRUE(conv);
  AudioFrame f;
  f.sample_rate = 48000;
  f.channels = 2;
  f.set_buffer(Buffer::copy_of(std::vector<uint8_t>(1002, 0)));
  std::vector<int16_t> out;
  Status s = conv->convert(f, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1002 bytes"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("whole number"), std::string::npos) << s.message();
  EXPECT_TRUE(out.empty());
}

TEST(MediaConverter, RefusesOutOfRangeFormats) {
  auto conv = converter_to(16000, 1);
  ASSERT_TRUE(conv);
  std::vector<int16_t> out;
  const std::vector<int16_t> samples(36, 0);
  for (AudioFormat bad : {AudioFormat{4000, 1}, AudioFormat{384000, 1}, AudioFormat{16000, 9},
                          AudioFormat{16000, 0}}) {
    AudioFrame f = make_frame(bad.sample_rate, bad.channels, samples);
    Status s = conv->convert(f, out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad.to_string();
    EXPECT_NE(s.message().find("supported"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(AudioConverter::create({16000, 12}).is_ok());
  EXPECT_FALSE(AudioConverter::create({1000, 1}).is_ok());
}

}  // namespace
}  // namespace parley::media
