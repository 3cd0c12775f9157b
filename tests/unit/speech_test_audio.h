// Test audio for the speech addon tests: eSpeak NG speech at 16 kHz, framing into AudioFrames,
// and level measurements. Header-only; included by the vad_* and tts_* tests.
#pragma once

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "parley/media/pcm.h"
#include "parley/media/resampler.h"
#include "parley/message.h"
#include "speech/espeak_synthesizer.h"

namespace parley::speech_test {

// Synthesises `text` with eSpeak NG, straight from the engine (not through the addon), resampled
// to `rate`. Empty when eSpeak NG is unavailable.
inline std::vector<int16_t> espeak_speech(const std::string& text, int rate = 16000,
                                          const std::string& voice = "en-us", int pitch = 50) {
  speech::EspeakService& tts = speech::EspeakService::instance();
  if (!tts.start().is_ok()) return {};
  media::PcmAudio native;
  native.sample_rate = tts.sample_rate();
  std::promise<Status> done;
  speech::SynthRequest request;
  request.text = text;
  request.voice = voice;
  request.pitch = pitch;
  request.on_audio = [&native](std::span<const int16_t> pcm, bool) {
    native.samples.insert(native.samples.end(), pcm.begin(), pcm.end());
  };
  request.on_done = [&done](const Status& s) { done.set_value(s); };
  if (!tts.submit(std::move(request)).is_ok() || !done.get_future().get().is_ok()) return {};
  auto out = media::resample(native, rate);
  return out.is_ok() ? std::move(out->samples) : std::vector<int16_t>{};
}

// Cuts interleaved audio into frames of `frame_ms` (the last one shorter) starting at `start_ms`.
inline std::vector<std::unique_ptr<AudioFrame>> to_frames(const std::vector<int16_t>& samples,
                                                          int rate, int channels, int frame_ms,
                                                          int64_t start_ms = 0,
                                                          const std::string& name = "pcm_frame") {
  std::vector<std::unique_ptr<AudioFrame>> frames;
  const size_t step = static_cast<size_t>(rate) * frame_ms / 1000 * channels;
  for (size_t pos = 0; pos < samples.size(); pos += step) {
    const size_t n = std::min(step, samples.size() - pos);
    auto f = std::make_unique<AudioFrame>(name);
    f->sample_rate = rate;
    f->channels = channels;
    f->timestamp_ms = start_ms + static_cast<int64_t>(pos / channels) * 1000 / rate;
    f->set_buffer(Buffer::copy_of_samples(std::span<const int16_t>(samples.data() + pos, n)));
    frames.push_back(std::move(f));
  }
  return frames;
}

// Start and end (ms from the start of `samples`, 16 kHz mono) of the audible part: the first and
// last 10 ms block above -40 dBFS. {-1, -1} when nothing is audible.
inline std::pair<int64_t, int64_t> audible_span_ms(const std::vector<int16_t>& samples) {
  constexpr size_t kBlock = 160;
  int64_t first = -1;
  int64_t last = -1;
  for (size_t pos = 0; pos + kBlock <= samples.size(); pos += kBlock) {
    if (media::dbfs(std::span<const int16_t>(samples.data() + pos, kBlock)) > -40.0) {
      const auto ms = static_cast<int64_t>(pos / 16);
      if (first < 0) first = ms;
      last = ms + 10;
    }
  }
  return {first, last};
}

// Energy (sum of squares) of samples [from_ms, to_ms) of 16 kHz mono audio.
inline double energy(const std::vector<int16_t>& samples, int64_t from_ms, int64_t to_ms) {
  double sum = 0;
  const size_t end = std::min(samples.size(), static_cast<size_t>(to_ms) * 16);
  for (size_t i = static_cast<size_t>(from_ms) * 16; i < end; ++i)
    sum += static_cast<double>(samples[i]) * samples[i];
  return sum;
}

}  // namespace parley::speech_test
