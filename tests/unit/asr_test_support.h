// Test support for the ASR addon tests (pocketsphinx_asr, deepgram_asr): the LibriVox recordings
// of the Debian package pocketsphinx-testdata as pcm_frames, what a node sent before asr_done, and
// a capture of what nodes log. Header-only.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "parley/media/rechunker.h"
#include "parley/media/wav.h"
#include "parley/testing/extension_tester.h"

namespace parley::asr_test {

using namespace std::chrono_literals;

inline constexpr const char* kLibrivox = "/usr/share/pocketsphinx/test/data/librivox";
// Decoding a few seconds of audio takes well under this even on a loaded 2-core machine.
inline constexpr auto kDecodeTimeout = 60s;

inline std::string wav_path(const std::string& id) {
  return std::string(kLibrivox) + "/" + id + ".wav";
}

inline media::PcmAudio read(const std::string& id) {
  auto audio = media::read_wav(wav_path(id));
  EXPECT_TRUE(audio.is_ok()) << audio.status().to_string();
  return audio.is_ok() ? std::move(audio).value() : media::PcmAudio{};
}

// `audio` as 20 ms pcm_frames (the last one zero-padded) stamped from `start_ms`; the last one is
// is_eof when `eof`.
inline std::vector<std::unique_ptr<AudioFrame>> frames_of(const media::PcmAudio& audio,
                                                          int64_t start_ms = 0, bool eof = false) {
  auto chunker = media::Rechunker::create(audio.sample_rate, audio.channels, 20, start_ms);
  EXPECT_TRUE(chunker.is_ok());
  EXPECT_TRUE(chunker->push(audio.samples).is_ok());
  std::vector<std::unique_ptr<AudioFrame>> frames;
  media::PcmFrame f;
  while (chunker->pop(f)) frames.push_back(media::to_audio_frame(f));
  if (chunker->flush(f, /*zero_pad=*/true)) frames.push_back(media::to_audio_frame(f));
  if (eof && !frames.empty()) frames.back()->is_eof = true;
  return frames;
}

inline void send_frames(testing::ExtensionTester& t,
                        std::vector<std::unique_ptr<AudioFrame>> frames) {
  for (auto& f : frames) ASSERT_TRUE(t.send(std::move(f)).is_ok());
}

// Sends `count` 20 ms frames of 8-bit audio, which the ASR addons refuse (they take 16-bit PCM).
inline void send_eight_bit_frames(testing::ExtensionTester& t, int count) {
  for (int i = 0; i < count; ++i) {
    auto frame = std::make_unique<AudioFrame>();
    frame->bytes_per_sample = 1;
    frame->set_buffer(Buffer(std::vector<uint8_t>(160, 0x80)));
    frame->samples_per_channel = 160;
    frame->timestamp_ms = i * 20;
    ASSERT_TRUE(t.send(std::move(frame)).is_ok());
  }
}

// What a node sent before asr_done: its asr_result (all, and split into partials and finals) and
// vad_event messages, in order.
struct Results {
  std::vector<nlohmann::json> partials;
  std::vector<nlohmann::json> finals;
  std::vector<nlohmann::json> all;
  std::vector<nlohmann::json> vad_events;
};

// Waits for asr_done, which must arrive, and returns what came before it.
inline Results collect_until_done(testing::ExtensionTester& t) {
  Results r;
  auto done = t.wait_for_data("asr_done", kDecodeTimeout);
  EXPECT_NE(done, nullptr) << "no asr_done after the end of the input";
  for (auto& m : t.take_all()) {
    if (m->kind() != MessageKind::kData) continue;
    const nlohmann::json& p = m->properties();
    if (m->name() == "asr_result") {
      r.all.push_back(p);
      (p.value("final", false) ? r.finals : r.partials).push_back(p);
    } else if (m->name() == "vad_event") {
      r.vad_events.push_back(p);
    }
  }
  return r;
}

// The texts of `results` joined by single spaces.
inline std::string joined_text(const std::vector<nlohmann::json>& results) {
  std::string text;
  for (const auto& r : results) text += (text.empty() ? "" : " ") + r.value("text", "");
  return text;
}

// Captures what every node logs (node loggers copy the default logger's sinks when created).
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(512)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string text() const {
    std::string all;
    for (const auto& line : sink_->last_formatted()) all += line;
    return all;
  }
  // Waits until the log contains `needle`; false after `timeout`.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = 20s) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (text().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  // How many times `needle` occurs in the log.
  size_t count(const std::string& needle) const {
    const std::string all = text();
    size_t n = 0;
    for (size_t p = all.find(needle); p != std::string::npos; p = all.find(needle, p + 1)) ++n;
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

}  // namespace parley::asr_test
