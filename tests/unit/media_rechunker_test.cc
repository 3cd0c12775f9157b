// Tests of the Rechunker: exact frame counts and drift-free timestamps from odd input sizes.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "parley/media/rechunker.h"

namespace parley::media {
namespace {

std::vector<int16_t> ramp(size_t n) {
  std::vector<int16_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<int16_t>(i % 30000);
  return v;
}

TEST(MediaRechunker, OddInputSizesGiveExactFramesAndTimestamps) {
  auto r = Rechunker::create(16000, 1, 20);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->samples_per_frame(), 320);
  const std::vector<int16_t> in = ramp(16000);  // exactly 1 s
  const size_t sizes[] = {1, 7, 333, 1001, 2, 319, 321, 640};
  std::vector<PcmFrame> frames;
  size_t pos = 0;
  for (size_t k = 0; pos < in.size(); ++k) {
    const size_t n = std::min(sizes[k % std::size(sizes)], in.size() - pos);
    ASSERT_TRUE(r->push(std::span(in).subspan(pos, n)).is_ok());
    pos += n;
    PcmFrame f;
    while (r->pop(f)) frames.push_back(f);
  }
  ASSERT_EQ(frames.size(), 50u);
  std::vector<int16_t> joined;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].timestamp_ms, static_cast<int64_t>(20 * i));
    EXPECT_EQ(frames[i].samples_per_channel(), 320);
    EXPECT_EQ(frames[i].sample_rate, 16000);
    joined.insert(joined.end(), frames[i].samples.begin(), frames[i].samples.end());
  }
  EXPECT_EQ(joined, in);
  PcmFrame rest;
  EXPECT_FALSE(r->flush(rest, true));  // nothing left over
}

TEST(MediaRechunker, StereoWithStartTimestamp) {
  auto r = Rechunker::create(48000, 2, 10, 1000);
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(r->push(ramp(2 * 1500)).is_ok());  // 1500 frames = 3 full 10 ms frames + 60
  PcmFrame f;
  std::vector<int64_t> stamps;
  while (r->pop(f)) {
    EXPECT_EQ(f.samples.size(), 960u);
    EXPECT_EQ(f.channels, 2);
    stamps.push_back(f.timestamp_ms);
  }
  EXPECT_EQ(stamps, (std::vector<int64_t>{1000, 1010, 1020}));
  EXPECT_EQ(r->buffered_frames(), 60u);
  EXPECT_EQ(r->push(std::vector<int16_t>{1}).code(), StatusCode::kInvalidArgument);
}

TEST(MediaRechunker, FlushEmitsThePartialFrame) {
  for (bool pad : {false, true}) {
    auto r = Rechunker::create(16000, 1, 10);
    ASSERT_TRUE(r.is_ok());
    ASSERT_TRUE(r->push(ramp(170)).is_ok());
    PcmFrame f;
    ASSERT_TRUE(r->pop(f));
    EXPECT_FALSE(r->pop(f));
    ASSERT_TRUE(r->flush(f, pad));
    EXPECT_EQ(f.timestamp_ms, 10);
    ASSERT_EQ(f.samples.size(), pad ? 160u : 10u);
    EXPECT_EQ(f.samples[0], 160);
    EXPECT_EQ(f.samples[9], 169);
    if (pad) {
      EXPECT_EQ(f.samples.back(), 0);
    }
    EXPECT_FALSE(r->flush(f, pad));
  }
}

TEST(MediaRechunker, TimestampsDoNotDriftOverTenMinutes) {
  auto r = Rechunker::create(44100, 1, 10);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->samples_per_frame(), 441);
  const std::vector<int16_t> chunk(1024, 1);  // never a multiple of 441
  PcmFrame f;
  int64_t count = 0;
  int64_t last = -10;
  for (int i = 0; i < 44100 * 600 / 1024; ++i) {
    ASSERT_TRUE(r->push(chunk).is_ok());
    while (r->pop(f)) {
      ASSERT_EQ(f.timestamp_ms, last + 10);
      last = f.timestamp_ms;
      ++count;
    }
  }
  EXPECT_EQ(last, 10 * (count - 1));
  EXPECT_GT(count, 59900);
}

TEST(MediaRechunker, RefusesFramesThatAreNotWholeSamples) {
  Result<Rechunker> r = Rechunker::create(22050, 1, 10);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("whole number of samples"), std::string::npos);
  EXPECT_FALSE(Rechunker::create(16000, 0, 20).is_ok());
  EXPECT_FALSE(Rechunker::create(16000, 1, 0).is_ok());
  EXPECT_TRUE(Rechunker::create(22050, 1, 20).is_ok());  // 441 samples
}

TEST(MediaRechunker, ResetRestartsTimestamps) {
  auto r = Rechunker::create(8000, 1, 20);
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(r->push(ramp(400)).is_ok());
  PcmFrame f;
  ASSERT_TRUE(r->pop(f));
  r->reset(5000);
  EXPECT_EQ(r->buffered_frames(), 0u);
  ASSERT_TRUE(r->push(ramp(160)).is_ok());
  ASSERT_TRUE(r->pop(f));
  EXPECT_EQ(f.timestamp_ms, 5000);
}

TEST(MediaRechunker, ConvertsToAudioFrameMessage) {
  PcmFrame f{48000, 2, 120, {1, 2, 3, 4}};
  std::unique_ptr<AudioFrame> msg = to_audio_frame(f);
  EXPECT_EQ(msg->name(), "pcm_frame");
  EXPECT_EQ(msg->sample_rate, 48000);
  EXPECT_EQ(msg->channels, 2);
  EXPECT_EQ(msg->samples_per_channel, 2);
  EXPECT_EQ(msg->bytes_per_sample, 2);
  EXPECT_EQ(msg->timestamp_ms, 120);
  ASSERT_EQ(msg->buffer().size(), 8u);
  EXPECT_EQ(msg->buffer().samples()[3], 4);
}

}  // namespace
}  // namespace parley::media
