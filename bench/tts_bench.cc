// tts_bench: speed of the embedded speech front and back ends, printed as markdown tables.
//   1. TTS: eSpeak NG real-time factor (synthesis time / audio duration) and time to first audio,
//      for the raw EspeakService (submit → first chunk) and through the espeak_tts addon
//      (text_data in → first pcm_frame out, 16 kHz, 20 ms frames).
//   2. VAD: CPU time per 10 ms frame of WebRTC audio processing (voice detection alone, with
//      noise suppression, with echo cancellation), and the webrtc_vad addon end to end (format
//      conversion, 10 ms blocking, message hops) per 10 ms of audio.
// Each figure is the median of several runs. Usage: tts_bench [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include "parley/addon.h"
#include "parley/media/pcm.h"
#include "parley/media/resampler.h"
#include "parley/testing/extension_tester.h"
#include "speech/audio_processor.h"
#include "speech/espeak_synthesizer.h"
#include "speech/speech_segmenter.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using parley::AudioFrame;
namespace speech = parley::speech;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

const std::string kSentence = "The weather today is sunny with a light breeze from the west.";

std::string paragraph() {
  return "Thank you for calling the Riverside restaurant. I can help you book a table, change or "
         "cancel a reservation, or tell you about tonight's specials. The kitchen is open until "
         "ten, and we have a vegetarian menu as well as a menu for children. On Fridays there is "
         "live music from eight o'clock, so booking ahead is a good idea. Parking is free for "
         "guests behind the building. Just tell me what you would like to do, and I will take "
         "care of it for you right away.";
}

struct TtsFigures {
  double first_ms = 0;
  double total_ms = 0;
  double audio_ms = 0;
};

// Raw engine: submit → first chunk, submit → done; audio length at eSpeak's native rate.
TtsFigures raw_espeak(const std::string& text) {
  auto& tts = speech::EspeakService::instance();
  TtsFigures f;
  size_t samples = 0;
  std::promise<void> done;
  speech::SynthRequest r;
  r.text = text;
  const auto t0 = Clock::now();
  r.on_audio = [&](std::span<const int16_t> pcm, bool) {
    if (samples == 0 && !pcm.empty()) f.first_ms = ms_since(t0);
    samples += pcm.size();
  };
  r.on_done = [&](const parley::Status&) {
    f.total_ms = ms_since(t0);
    done.set_value();
  };
  (void)tts.submit(std::move(r));
  done.get_future().wait();
  f.audio_ms = 1000.0 * samples / tts.sample_rate();
  return f;
}

// Through the addon: text_data in → first pcm_frame / tts_audio_end out.
TtsFigures addon_espeak(parley::testing::ExtensionTester& t, const std::string& text, int turn) {
  TtsFigures f;
  const auto t0 = Clock::now();
  (void)t.send(std::make_unique<parley::Data>(
      "text_data", nlohmann::json{{"text", text}, {"end_of_segment", true}, {"turn_id", turn}}));
  if (!t.wait_for(parley::MessageKind::kAudioFrame, "pcm_frame", 30s)) return f;
  f.first_ms = ms_since(t0);
  if (!t.wait_for_data("tts_audio_end", 60s)) return f;
  f.total_ms = ms_since(t0);
  for (auto& m : t.take_all())
    if (m->name() == "pcm_frame") f.audio_ms += static_cast<AudioFrame&>(*m).duration_ms();
  f.audio_ms += 20;  // the first frame, taken by wait_for
  return f;
}

void tts_table(int runs) {
  std::printf("### TTS (eSpeak NG, en-us, 175 wpm)\n\n");
  std::printf(
      "| path | text | audio | time to first audio | synthesis time | real-time factor |\n");
  std::printf("|---|---|---|---|---|---|\n");
  parley::testing::ExtensionTester t("espeak_tts");
  if (auto s = t.start(); !s.is_ok()) {
    std::fprintf(stderr, "espeak_tts: %s\n", s.message().c_str());
    return;
  }
  int turn = 0;
  for (const auto& [label, text] :
       {std::pair{"sentence", kSentence}, std::pair{"paragraph", paragraph()}}) {
    for (bool through_addon : {false, true}) {
      std::vector<double> first, total, rtf;
      double audio = 0;
      for (int i = 0; i < runs + 1; ++i) {
        const TtsFigures f = through_addon ? addon_espeak(t, text, ++turn) : raw_espeak(text);
        if (i == 0) continue;  // warm-up
        first.push_back(f.first_ms);
        total.push_back(f.total_ms);
        rtf.push_back(f.total_ms / f.audio_ms);
        audio = f.audio_ms;
      }
      std::printf("| %s | %s (%zu chars) | %.2f s | %.2f ms | %.0f ms | %.4f |\n",
                  through_addon ? "espeak_tts addon, text_data → pcm_frame 16 kHz"
                                : "EspeakService, submit → chunk 22.05 kHz",
                  label, text.size(), audio / 1000, median(first), median(total), median(rtf));
    }
  }
  std::printf("\n");
}

// 20 s of speech with a -10 dB echo of other speech, at 16 kHz (near, far).
std::pair<std::vector<int16_t>, std::vector<int16_t>> vad_audio() {
  auto speak = [](const std::string& text) {
    parley::media::PcmAudio native;
    native.sample_rate = speech::EspeakService::instance().sample_rate();
    std::promise<void> done;
    speech::SynthRequest r;
    r.text = text;
    r.on_audio = [&](std::span<const int16_t> pcm, bool) {
      native.samples.insert(native.samples.end(), pcm.begin(), pcm.end());
    };
    r.on_done = [&](const parley::Status&) { done.set_value(); };
    (void)speech::EspeakService::instance().submit(std::move(r));
    done.get_future().wait();
    return parley::media::resample(native, 16000).value().samples;
  };
  std::vector<int16_t> far = speak(paragraph());
  std::vector<int16_t> near = speak(paragraph() + " " + kSentence);
  const size_t n = std::min<size_t>(std::min(near.size(), far.size()), 20 * 16000);
  near.resize(n - n % 160);
  far.resize(n - n % 160);
  for (size_t i = 960; i < n; ++i)
    near[i] = parley::media::saturate_int16(near[i] / 2 + far[i - 960] / 3);
  return {near, far};
}

void vad_table(int runs) {
  const auto [near, far] = vad_audio();
  const size_t frames = near.size() / 160;
  std::printf("### VAD / AEC / NS cost per 10 ms frame (%.0f s of speech, 16 kHz)\n\n",
              near.size() / 16000.0);
  std::printf("| configuration | µs per 10 ms frame | share of one core in real time |\n");
  std::printf("|---|---|---|\n");
  struct Apm {
    const char* name;
    bool ns;
    speech::EchoCanceller ec;
  };
  for (const Apm& c : {Apm{"VAD only", false, speech::EchoCanceller::kNone},
                       Apm{"VAD + NS", true, speech::EchoCanceller::kNone},
                       Apm{"VAD + AEC (delay-agnostic)", false, speech::EchoCanceller::kFull},
                       Apm{"VAD + AEC + NS", true, speech::EchoCanceller::kFull},
                       Apm{"VAD + AECM (mobile)", false, speech::EchoCanceller::kMobile}}) {
    std::vector<double> per_frame;
    for (int run = 0; run < runs; ++run) {
      speech::AudioProcessorConfig cfg;
      cfg.noise_suppression = c.ns;
      cfg.echo_canceller = c.ec;
      auto apm = speech::AudioProcessor::create(cfg).value();
      speech::SpeechSegmenter seg;
      std::vector<int16_t> out(160);
      const auto t0 = Clock::now();
      for (size_t f = 0; f < frames; ++f) {
        if (c.ec != speech::EchoCanceller::kNone)
          (void)apm->analyze_reverse(std::span<const int16_t>(far.data() + f * 160, 160));
        auto voiced = apm->process(std::span<const int16_t>(near.data() + f * 160, 160), out);
        (void)seg.push(voiced.is_ok() && *voiced);
      }
      per_frame.push_back(ms_since(t0) * 1000.0 / frames);
    }
    std::printf("| AudioProcessor: %s | %.1f | %.2f %% |\n", c.name, median(per_frame),
                median(per_frame) / 100.0);
  }
  // The addon end to end: 20 ms frames in, forwarded frames and events out, per 10 ms of audio.
  struct Addon {
    const char* name;
    nlohmann::json props;
    int rate;
    int channels;
  };
  for (const Addon& a : {Addon{"webrtc_vad addon, 16 kHz mono in", {}, 16000, 1},
                         Addon{"webrtc_vad addon, 48 kHz stereo in", {}, 48000, 2},
                         Addon{"webrtc_vad addon, AEC + NS, 16 kHz mono in",
                               {{"echo_cancellation", true}, {"noise_suppression", true}},
                               16000,
                               1}}) {
    std::vector<int16_t> mic = near;
    if (a.rate != 16000) {
      auto hi = parley::media::resample({16000, 1, near}, a.rate).value().samples;
      mic.clear();
      (void)parley::media::upmix_from_mono(hi, a.channels, mic);
    }
    const size_t step = static_cast<size_t>(a.rate / 50) * a.channels;
    std::vector<double> per_frame;
    for (int run = 0; run < runs; ++run) {
      parley::testing::ExtensionTester t("webrtc_vad", a.props);
      if (!t.start().is_ok()) return;
      std::vector<std::unique_ptr<AudioFrame>> in;
      for (size_t pos = 0, k = 0; pos + step <= mic.size(); pos += step, ++k) {
        if (a.props.is_object() && a.props.value("echo_cancellation", false)) {
          auto ff = std::make_unique<AudioFrame>("far_end_frame");
          ff->set_buffer(parley::Buffer::copy_of_samples(std::span<const int16_t>(
              far.data() + k * 320, std::min<size_t>(320, far.size() - k * 320))));
          in.push_back(std::move(ff));
        }
        auto f = std::make_unique<AudioFrame>();
        f->sample_rate = a.rate;
        f->channels = a.channels;
        f->timestamp_ms = static_cast<int64_t>(k) * 20;
        f->set_buffer(
            parley::Buffer::copy_of_samples(std::span<const int16_t>(mic.data() + pos, step)));
        in.push_back(std::move(f));
      }
      auto eof = std::make_unique<AudioFrame>();
      eof->is_eof = true;
      in.push_back(std::move(eof));
      const auto t0 = Clock::now();
      for (auto& f : in) (void)t.send(std::move(f));
      for (;;) {
        auto m = t.wait_for(parley::MessageKind::kAudioFrame, "pcm_frame", 30s);
        if (!m || static_cast<AudioFrame&>(*m).is_eof) break;
      }
      per_frame.push_back(ms_since(t0) * 1000.0 / frames);
    }
    std::printf("| %s | %.1f | %.2f %% |\n", a.name, median(per_frame), median(per_frame) / 100.0);
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  parley::register_builtin_addons(parley::AddonRegistry::global());
  if (auto s = speech::EspeakService::instance().start(); !s.is_ok()) {
    std::fprintf(stderr, "eSpeak NG: %s\n", s.message().c_str());
    return 1;
  }
  tts_table(runs);
  vad_table(runs);
  return 0;
}
