// Tests of WAV reading and writing: exact round trips, tolerated quirks, and the error a user
// sees for each kind of file Parley cannot read.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "parley/media/wav.h"

namespace parley::media {
namespace {

std::string temp_path(const std::string& name) { return testing::TempDir() + "media_wav_" + name; }

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x));
  v.push_back(static_cast<uint8_t>(x >> 8));
}

void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

// One RIFF chunk for hand-built files.
struct Chunk {
  Chunk(std::string id, std::vector<uint8_t> body,
        std::optional<uint32_t> declared_size = std::nullopt, bool pad = true)
      : id(std::move(id)), body(std::move(body)), declared_size(declared_size), pad(pad) {}
  std::string id;
  std::vector<uint8_t> body;
  std::optional<uint32_t> declared_size;  // written instead of body.size() when set
  bool pad;                               // add the pad byte after an odd-sized body
};

std::vector<uint8_t> riff(const std::vector<Chunk>& chunks, const std::string& riff_id = "RIFF",
                          const std::string& form = "WAVE") {
  std::vector<uint8_t> v(riff_id.begin(), riff_id.end());
  put32(v, 0);  // patched below
  v.insert(v.end(), form.begin(), form.end());
  for (const Chunk& c : chunks) {
    v.insert(v.end(), c.id.begin(), c.id.end());
    put32(v, c.declared_size.value_or(static_cast<uint32_t>(c.body.size())));
    v.insert(v.end(), c.body.begin(), c.body.end());
    if (c.pad && c.body.size() % 2 == 1) v.push_back(0);
  }
  const auto riff_size = static_cast<uint32_t>(v.size() - 8);
  for (int i = 0; i < 4; ++i) v[4 + i] = static_cast<uint8_t>(riff_size >> (8 * i));
  return v;
}

std::vector<uint8_t> fmt_body(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits) {
  std::vector<uint8_t> v;
  const auto block_align = static_cast<uint16_t>(channels * ((bits + 7) / 8));
  put16(v, format);
  put16(v, channels);
  put32(v, rate);
  put32(v, rate * block_align);
  put16(v, block_align);
  put16(v, bits);
  return v;
}

std::vector<uint8_t> extensible_fmt_body(uint16_t subformat, uint16_t channels, uint32_t rate,
                                         uint16_t bits) {
  std::vector<uint8_t> v = fmt_body(0xFFFE, channels, rate, bits);
  put16(v, 22);                         // cbSize
  put16(v, bits);                       // valid bits per sample
  put32(v, channels == 2 ? 0x3 : 0x4);  // channel mask
  put16(v, subformat);
  const uint8_t tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                            0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  v.insert(v.end(), tail, tail + 14);
  return v;
}

std::vector<uint8_t> pcm_bytes(const std::vector<int16_t>& samples) {
  std::vector<uint8_t> v;
  for (int16_t s : samples) put16(v, static_cast<uint16_t>(s));
  return v;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

const std::vector<int16_t> kStereoSamples = {0, 1, -1, 32767, -32768, 1234, -4321, 7, 100, -100};

// Expects `bytes` to be refused with `code` and a message containing each of `needles`.
void expect_refused(const std::vector<uint8_t>& bytes, StatusCode code,
                    const std::vector<std::string>& needles) {
  Result<PcmAudio> r = parse_wav(bytes, "upload.wav");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), code) << r.status().message();
  EXPECT_NE(r.status().message().find("upload.wav"), std::string::npos) << r.status().message();
  for (const std::string& n : needles) {
    EXPECT_NE(r.status().message().find(n), std::string::npos)
        << "'" << n << "' missing from: " << r.status().message();
  }
}

TEST(MediaWav, WriteThenReadGivesExactSamples) {
  PcmAudio audio;
  audio.sample_rate = 44100;
  audio.channels = 2;
  audio.samples = kStereoSamples;
  const std::string path = temp_path("roundtrip.wav");
  ASSERT_TRUE(write_wav(path, audio).is_ok());

  Result<PcmAudio> back = read_wav(path);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->sample_rate, 44100);
  EXPECT_EQ(back->channels, 2);
  EXPECT_EQ(back->samples, kStereoSamples);
  EXPECT_EQ(back->frames(), 5);
  EXPECT_DOUBLE_EQ(back->duration_s(), 5.0 / 44100);

  Result<WavInfo> info = read_wav_info(path);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->sample_rate, 44100);
  EXPECT_EQ(info->channels, 2);
  EXPECT_EQ(info->frames, 5);
}

TEST(MediaWav, EncodeProducesCanonicalHeaderAndParsesBack) {
  PcmAudio audio{8000, 1, {1, 2, 3, -3}};
  Result<std::vector<uint8_t>> bytes = encode_wav(audio);
  ASSERT_TRUE(bytes.is_ok());
  ASSERT_EQ(bytes->size(), 44u + 8u);
  EXPECT_EQ(std::string(bytes->begin(), bytes->begin() + 4), "RIFF");
  EXPECT_EQ(std::string(bytes->begin() + 8, bytes->begin() + 16), "WAVEfmt ");
  EXPECT_EQ((*bytes)[44], 1);  // little-endian sample 1
  EXPECT_EQ((*bytes)[45], 0);

  Result<PcmAudio> back = parse_wav(*bytes, "memory");
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->sample_rate, 8000);
  EXPECT_EQ(back->samples, audio.samples);
}

TEST(MediaWav, EncodeRefusesPartialFrames) {
  PcmAudio audio{16000, 2, {1, 2, 3}};
  Result<std::vector<uint8_t>> bytes = encode_wav(audio);
  ASSERT_FALSE(bytes.is_ok());
  EXPECT_NE(bytes.status().message().find("whole number"), std::string::npos);
}

TEST(MediaWav, StreamingWriterPatchesSizesOnClose) {
  const std::string path = temp_path("writer.wav");
  WavWriter writer;
  ASSERT_TRUE(writer.open(path, 48000, 2).is_ok());
  EXPECT_FALSE(writer.open(path, 48000, 2).is_ok());  // already open
  ASSERT_TRUE(writer.write(std::vector<int16_t>{1, 2, 3, 4}).is_ok());
  EXPECT_EQ(writer.write(std::vector<int16_t>{5}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(writer.write(std::vector<int16_t>{5, 6}).is_ok());
  EXPECT_EQ(writer.frames_written(), 3);
  ASSERT_TRUE(writer.close().is_ok());
  EXPECT_FALSE(writer.is_open());

  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  ASSERT_EQ(bytes.size(), 44u + 12u);
  EXPECT_EQ(bytes[40], 12);  // data size patched
  EXPECT_EQ(bytes[4], 36 + 12);
  Result<PcmAudio> back = read_wav(path);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->samples, (std::vector<int16_t>{1, 2, 3, 4, 5, 6}));
}

TEST(MediaWav, WriterDestructorClosesTheFile) {
  const std::string path = temp_path("writer_dtor.wav");
  {
    WavWriter writer;
    ASSERT_TRUE(writer.open(path, 16000, 1).is_ok());
    ASSERT_TRUE(writer.write(std::vector<int16_t>{9, 8, 7}).is_ok());
  }
  Result<PcmAudio> back = read_wav(path);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->samples, (std::vector<int16_t>{9, 8, 7}));
}

TEST(MediaWav, ReadsExtensiblePcm) {
  auto bytes =
      riff({{"fmt ", extensible_fmt_body(1, 2, 48000, 16)}, {"data", pcm_bytes(kStereoSamples)}});
  Result<PcmAudio> r = parse_wav(bytes, "ext.wav");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->channels, 2);
  EXPECT_EQ(r->sample_rate, 48000);
  EXPECT_EQ(r->samples, kStereoSamples);
}

TEST(MediaWav, SkipsUnknownAndOddSizedChunks) {
  const std::vector<uint8_t> odd = {'a', 'b', 'c'};
  for (bool pad : {true, false}) {
    auto bytes = riff({{"fmt ", fmt_body(1, 1, 22050, 16)},
                       {"LIST", std::vector<uint8_t>(26, 'x')},
                       {"junk", odd, std::nullopt, pad},
                       {"data", pcm_bytes({5, -5, 6})},
                       {"id3 ", odd}});
    Result<PcmAudio> r = parse_wav(bytes, "tagged.wav");
    ASSERT_TRUE(r.is_ok()) << "pad=" << pad << ": " << r.status().message();
    EXPECT_EQ(r->sample_rate, 22050);
    EXPECT_EQ(r->samples, (std::vector<int16_t>{5, -5, 6}));
  }
}

TEST(MediaWav, ReadsDataChunkBeforeFmt) {
  auto bytes = riff({{"data", pcm_bytes({1, 2})}, {"fmt ", fmt_body(1, 1, 16000, 16)}});
  Result<PcmAudio> r = parse_wav(bytes, "odd_order.wav");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->samples, (std::vector<int16_t>{1, 2}));
}

TEST(MediaWav, StreamedDataSizeReadsToEndOfFile) {
  for (uint32_t declared : {0u, 0xFFFFFFFFu}) {
    auto bytes =
        riff({{"fmt ", fmt_body(1, 2, 16000, 16)}, {"data", pcm_bytes(kStereoSamples), declared}});
    bytes.push_back(0x7F);  // a writer killed mid-sample: the partial frame is dropped
    Result<PcmAudio> r = parse_wav(bytes, "stream.wav");
    ASSERT_TRUE(r.is_ok()) << "declared=" << declared << ": " << r.status().message();
    EXPECT_EQ(r->samples, kStereoSamples);
  }
}

TEST(MediaWav, TruncatedDataIsDataLossWithByteCounts) {
  auto bytes = riff({{"fmt ", fmt_body(1, 1, 16000, 16)}, {"data", pcm_bytes({1, 2, 3, 4})}});
  bytes.erase(bytes.end() - 3, bytes.end());  // 8 declared, 5 present
  expect_refused(bytes, StatusCode::kDataLoss, {"8 bytes", "only 5", "truncated"});
}

TEST(MediaWav, RefusesUnsupportedSampleFormats) {
  const std::vector<uint8_t> data(12, 0);
  expect_refused(riff({{"fmt ", fmt_body(3, 1, 16000, 32)}, {"data", data}}),
                 StatusCode::kUnimplemented, {"IEEE float", "16-bit PCM"});
  expect_refused(riff({{"fmt ", fmt_body(6, 1, 8000, 8)}, {"data", data}}),
                 StatusCode::kUnimplemented, {"A-law", "16-bit PCM"});
  expect_refused(riff({{"fmt ", fmt_body(7, 1, 8000, 8)}, {"data", data}}),
                 StatusCode::kUnimplemented, {"µ-law"});
  expect_refused(riff({{"fmt ", fmt_body(0x55, 1, 8000, 0)}, {"data", data}}),
                 StatusCode::kUnimplemented, {"MP3"});
  for (uint16_t bits : {8, 24, 32}) {
    expect_refused(riff({{"fmt ", fmt_body(1, 1, 16000, bits)}, {"data", data}}),
                   StatusCode::kUnimplemented, {std::to_string(bits) + "-bit PCM", "16-bit PCM"});
  }
  expect_refused(riff({{"fmt ", extensible_fmt_body(3, 2, 48000, 32)}, {"data", data}}),
                 StatusCode::kUnimplemented, {"IEEE float"});
}

TEST(MediaWav, RefusesBadHeaders) {
  const auto fmt = fmt_body(1, 1, 16000, 16);
  const auto data = pcm_bytes({1, 2});
  expect_refused({'R', 'I', 'F'}, StatusCode::kInvalidArgument, {"not a WAV file"});
  expect_refused(riff({{"fmt ", fmt}, {"data", data}}, "OggS"), StatusCode::kInvalidArgument,
                 {"not a WAV file", "OggS"});
  expect_refused(riff({{"fmt ", fmt}, {"data", data}}, "RIFF", "AVI "),
                 StatusCode::kInvalidArgument, {"AVI ", "not WAVE"});
  expect_refused(riff({{"data", data}}), StatusCode::kInvalidArgument, {"no 'fmt ' chunk"});
  expect_refused(riff({{"fmt ", fmt}, {"LIST", {1, 2}}}), StatusCode::kInvalidArgument,
                 {"no 'data' chunk"});
  expect_refused(riff({{"fmt ", fmt_body(1, 0, 16000, 16)}, {"data", data}}),
                 StatusCode::kInvalidArgument, {"0 channels"});
  expect_refused(riff({{"fmt ", fmt_body(1, 1, 0, 16)}, {"data", data}}),
                 StatusCode::kInvalidArgument, {"sample rate of 0"});
  expect_refused(riff({{"fmt ", std::vector<uint8_t>(10, 1)}, {"data", data}}),
                 StatusCode::kInvalidArgument, {"fmt chunk is 10 bytes"});
}

TEST(MediaWav, FileErrorsNameThePath) {
  const std::string missing = temp_path("does_not_exist.wav");
  Result<PcmAudio> r = read_wav(missing);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(missing), std::string::npos);

  const std::string float_path = temp_path("float.wav");
  write_file(float_path, riff({{"fmt ", fmt_body(3, 1, 16000, 32)}, {"data", {0, 0, 0, 0}}}));
  Result<PcmAudio> f = read_wav(float_path);
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(f.status().message().find(float_path), std::string::npos);
  EXPECT_NE(f.status().message().find("IEEE float"), std::string::npos);
  EXPECT_FALSE(read_wav_info(float_path).is_ok());
}

}  // namespace
}  // namespace parley::media
