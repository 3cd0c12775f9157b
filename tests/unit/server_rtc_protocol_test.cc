// The /v1/rtc media framing: exact bytes of the header, round trips, and clear decode errors.
#include <gtest/gtest.h>

#include "parley/rtc_protocol.h"

namespace parley::rtc {
namespace {

std::string pcm(size_t samples) { return std::string(samples * 2, '\x01'); }

TEST(ServerRtcProtocol, AudioHeaderLayoutIsLittleEndian) {
  FrameHeader h;
  h.kind = FrameKind::kAudio;
  h.flags = frame_flags::kEndOfStream;
  h.sequence = 0x01020304;
  h.timestamp_ms = 0x1122334455667788ull;
  h.sample_rate = 16000;
  h.channels = 1;
  auto bytes = encode_frame(h, pcm(320));
  ASSERT_TRUE(bytes.is_ok());
  const std::string& b = *bytes;
  ASSERT_EQ(b.size(), kFrameHeaderBytes + 640);
  EXPECT_EQ(static_cast<uint8_t>(b[0]), 0x50);
  EXPECT_EQ(b[1], 1);
  EXPECT_EQ(b[2], 1);
  EXPECT_EQ(b[3], 1);
  EXPECT_EQ(static_cast<uint8_t>(b[4]), 0x04);
  EXPECT_EQ(static_cast<uint8_t>(b[7]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(b[8]), 0x88);
  EXPECT_EQ(static_cast<uint8_t>(b[15]), 0x11);
  EXPECT_EQ(static_cast<uint8_t>(b[16]), 0x80);  // 16000 = 0x3e80
  EXPECT_EQ(static_cast<uint8_t>(b[17]), 0x3e);
  EXPECT_EQ(b[20], 1);
  EXPECT_EQ(b[21], 1);
}

TEST(ServerRtcProtocol, AudioFrameRoundTrip) {
  AudioFrame f;
  f.sample_rate = 48000;
  f.channels = 2;
  f.timestamp_ms = 1234;
  std::vector<int16_t> samples(960 * 2);
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<int16_t>(i * 7 - 3000);
  f.set_buffer(Buffer::copy_of_samples(samples));
  auto bytes = encode_audio(f, 7);
  ASSERT_TRUE(bytes.is_ok());
  auto view = decode_frame(*bytes);
  ASSERT_TRUE(view.is_ok()) << view.status().message();
  EXPECT_EQ(view->header.sequence, 7u);
  auto back = to_audio_frame(*view);
  EXPECT_EQ(back->name(), "pcm_frame");
  EXPECT_EQ(back->sample_rate, 48000);
  EXPECT_EQ(back->channels, 2);
  EXPECT_EQ(back->timestamp_ms, 1234);
  EXPECT_EQ(back->samples_per_channel, 960);
  ASSERT_EQ(back->buffer().size(), samples.size() * 2);
  EXPECT_TRUE(std::equal(samples.begin(), samples.end(), back->buffer().samples().begin()));
}

TEST(ServerRtcProtocol, VideoFrameRoundTrip) {
  VideoFrame f;
  f.pixel_fmt = PixelFormat::kRgb24;
  f.width = 4;
  f.height = 2;
  f.timestamp_ms = 99;
  f.set_buffer(Buffer::copy_of(std::vector<uint8_t>(4 * 2 * 3, 9)));
  auto bytes = encode_video(f, 3);
  ASSERT_TRUE(bytes.is_ok());
  auto view = decode_frame(*bytes);
  ASSERT_TRUE(view.is_ok());
  auto back = to_video_frame(*view);
  EXPECT_EQ(back->pixel_fmt, PixelFormat::kRgb24);
  EXPECT_EQ(back->width, 4);
  EXPECT_EQ(back->height, 2);
  EXPECT_EQ(back->buffer().size(), 24u);
}

TEST(ServerRtcProtocol, DecodeErrorsNameTheField) {
  FrameHeader h;
  auto good = *encode_frame(h, pcm(160));
  auto expect_error = [](std::string bytes, const std::string& words) {
    auto r = decode_frame(bytes);
    ASSERT_FALSE(r.is_ok()) << words;
    EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
  };
  expect_error(good.substr(0, 10), "shorter than the 24-byte header");
  std::string bad = good;
  bad[0] = 'X';
  expect_error(bad, "magic");
  bad = good;
  bad[1] = 2;
  expect_error(bad, "version 2");
  bad = good;
  bad[2] = 9;
  expect_error(bad, "kind 9");
  bad = good;
  bad[20] = 0;
  expect_error(bad, "channels 0");
  bad = good;
  bad[21] = 3;
  expect_error(bad, "sample format 3");
  expect_error(good + "x", "whole number of 16-bit samples");
  FrameHeader v;
  v.kind = FrameKind::kVideo;
  v.pixel_format = WirePixelFormat::kRgba;
  v.width = 2;
  v.height = 2;
  EXPECT_FALSE(encode_frame(v, std::string(15, 'a')).is_ok());
  EXPECT_TRUE(encode_frame(v, std::string(16, 'a')).is_ok());
}

TEST(ServerRtcProtocol, Roles) {
  EXPECT_EQ(parse_role("user"), Role::kUser);
  EXPECT_EQ(parse_role("agent"), Role::kAgent);
  EXPECT_FALSE(parse_role("admin").has_value());
  EXPECT_STREQ(role_name(Role::kAgent), "agent");
}

}  // namespace
}  // namespace parley::rtc
