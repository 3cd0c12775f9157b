// Tests for speech/pocketsphinx_recognizer.h: config validation and streaming recognition of a
// LibriVox utterance shipped by the Debian package pocketsphinx-testdata.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "parley/media/wav.h"
#include "speech/pocketsphinx_recognizer.h"

namespace parley::speech {
namespace {

constexpr const char* kLibrivoxDir = "/usr/share/pocketsphinx/test/data/librivox";
constexpr const char* kUtterance = "sense_and_sensibility_01_austen_64kb-0870";

// Reads a 16 kHz mono WAV file (media::read_wav); fails the test on anything else.
std::vector<int16_t> read_wav_16k_mono(const std::string& path) {
  auto audio = media::read_wav(path);
  if (!audio.is_ok()) {
    ADD_FAILURE() << audio.status().to_string();
    return {};
  }
  EXPECT_EQ(audio->sample_rate, 16000) << path;
  EXPECT_EQ(audio->channels, 1) << path;
  return std::move(audio->samples);
}

// The reference words of `utterance` from the test data's `transcription` file.
std::vector<std::string> reference_words(const std::string& utterance) {
  std::ifstream in(std::string(kLibrivoxDir) + "/transcription");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("(" + utterance + ")") == std::string::npos) continue;
    std::istringstream words(line.substr(0, line.find('(')));
    std::vector<std::string> out;
    for (std::string w; words >> w;) {
      if (w != "<s>" && w != "</s>") out.push_back(w);
    }
    return out;
  }
  return {};
}

// Splits on spaces.
std::vector<std::string> split(const std::string& text) {
  std::istringstream in(text);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

// Fraction of reference words (with multiplicity) that also occur in the hypothesis.
double shared_fraction(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  std::map<std::string, int> available;
  for (const auto& w : hyp) ++available[w];
  int shared = 0;
  for (const auto& w : ref) {
    if (available[w] > 0) {
      --available[w];
      ++shared;
    }
  }
  return ref.empty() ? 0.0 : static_cast<double>(shared) / static_cast<double>(ref.size());
}

bool model_installed() { return PocketSphinxConfig{}.validate().is_ok(); }

TEST(PocketSphinxConfigTest, MissingDebianModelNamesThePackage) {
  PocketSphinxConfig config;
  config.lm = std::string(kDebianEnUsModelDir) + "/no-such.lm.bin";
  const Status status = config.validate();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("no-such.lm.bin"), std::string::npos) << status.to_string();
  EXPECT_NE(status.message().find("pocketsphinx-en-us"), std::string::npos) << status.to_string();
}

TEST(PocketSphinxConfigTest, MissingCustomModelNamesThePath) {
  PocketSphinxConfig config;
  config.hmm = "/nonexistent/acoustic-model";
  const Status status = config.validate();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("/nonexistent/acoustic-model"), std::string::npos);
  EXPECT_EQ(status.message().find("pocketsphinx-en-us"), std::string::npos) << status.to_string();
  EXPECT_EQ(Decoder::create(config).status().code(), StatusCode::kNotFound);
}

TEST(PocketSphinxConfigTest, RejectsUnknownExtraArgument) {
  if (!model_installed()) GTEST_SKIP() << "pocketsphinx-en-us is not installed";
  PocketSphinxConfig config;
  config.extra_args = {{"-no-such-option", "1"}};
  EXPECT_EQ(config.validate().code(), StatusCode::kInvalidArgument);
  config.extra_args = {{"-samprate", "8000"}};
  EXPECT_EQ(config.validate().code(), StatusCode::kInvalidArgument);
  config.extra_args = {{"-beam", "1e-48"}};
  EXPECT_TRUE(config.validate().is_ok()) << config.validate().to_string();
  EXPECT_NE(config.to_string().find("-beam=1e-48"), std::string::npos);
}

TEST(PocketSphinxDecoderTest, EnforcesUtteranceLifecycle) {
  if (!model_installed()) GTEST_SKIP() << "pocketsphinx-en-us is not installed";
  auto decoder = Decoder::create(PocketSphinxConfig{});
  ASSERT_TRUE(decoder.is_ok()) << decoder.status().to_string();
  Decoder& d = **decoder;
  const std::vector<int16_t> silence(1600, 0);
  EXPECT_EQ(d.accept(silence).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.end_utterance().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(d.start_utterance().is_ok());
  EXPECT_EQ(d.start_utterance().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(d.accept(silence).is_ok());
  EXPECT_EQ(d.audio_ms(), 100);
  d.reset();
  EXPECT_FALSE(d.in_utterance());
  EXPECT_TRUE(d.start_utterance().is_ok());
  auto result = d.end_utterance();
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_TRUE(result->words.empty());
}

TEST(PocketSphinxDecoderTest, RecognisesLibrivoxUtteranceStreamedIn20MsChunks) {
  const std::string wav = std::string(kLibrivoxDir) + "/" + kUtterance + ".wav";
  if (!model_installed() || !std::filesystem::exists(wav)) {
    GTEST_SKIP() << "needs the Debian packages pocketsphinx-en-us and pocketsphinx-testdata";
  }
  const std::vector<int16_t> pcm = read_wav_16k_mono(wav);
  ASSERT_GT(pcm.size(), 16000u * 5);
  const std::vector<std::string> reference = reference_words(kUtterance);
  ASSERT_GE(reference.size(), 15u);

  auto decoder = Decoder::create(PocketSphinxConfig{});
  ASSERT_TRUE(decoder.is_ok()) << decoder.status().to_string();
  Decoder& d = **decoder;
  ASSERT_TRUE(d.start_utterance().is_ok());
  constexpr size_t kChunk = 320;  // 20 ms at 16 kHz
  bool heard_speech = false;
  bool endpoint_during_speech = false;
  std::string partial_at_half;
  for (size_t i = 0; i < pcm.size(); i += kChunk) {
    const size_t n = std::min(kChunk, pcm.size() - i);
    ASSERT_TRUE(d.accept(std::span<const int16_t>(pcm.data() + i, n)).is_ok());
    heard_speech = heard_speech || d.in_speech();
    endpoint_during_speech = endpoint_during_speech || d.is_endpoint();
    if (partial_at_half.empty() && i >= pcm.size() / 2) partial_at_half = d.partial();
  }
  EXPECT_TRUE(heard_speech);
  EXPECT_FALSE(endpoint_during_speech) << "the reader never pauses for half a second";
  // Streaming: a hypothesis exists before the end of the audio.
  EXPECT_GE(split(partial_at_half).size(), 3u) << partial_at_half;

  // A second of silence after the sentence is an endpoint.
  const std::vector<int16_t> silence(kChunk, 0);
  for (int i = 0; i < 50 && !d.is_endpoint(); ++i) ASSERT_TRUE(d.accept(silence).is_ok());
  EXPECT_TRUE(d.is_endpoint());
  const int64_t audio_ms = d.audio_ms();

  auto result = d.end_utterance();
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  const std::vector<std::string> hypothesis = split(result->text);
  EXPECT_GE(shared_fraction(reference, hypothesis), 0.6)
      << "hypothesis: " << result->text << "\nreference has " << reference.size() << " words";
  EXPECT_EQ(result->audio_ms, audio_ms);
  EXPECT_GT(audio_ms, static_cast<int64_t>(pcm.size() / 16));

  // Word segments: the hypothesis's words, in order, inside the audio, with posteriors.
  ASSERT_EQ(result->words.size(), hypothesis.size());
  int64_t previous_end = 0;
  for (size_t i = 0; i < result->words.size(); ++i) {
    const WordSegment& w = result->words[i];
    EXPECT_EQ(w.word, hypothesis[i]);
    EXPECT_GE(w.start_ms, previous_end) << w.word;
    EXPECT_GT(w.end_ms, w.start_ms) << w.word;
    EXPECT_LE(w.end_ms, result->audio_ms) << w.word;
    EXPECT_GE(w.confidence, 0.0) << w.word;
    EXPECT_LE(w.confidence, 1.0) << w.word;
    previous_end = w.end_ms;
  }
  EXPECT_GE(result->confidence, 0.0);
}

}  // namespace
}  // namespace parley::speech
