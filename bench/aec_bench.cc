// aec_bench: how well webrtc_vad's echo cancellation works, measured through the addon itself.
//
// The agent's voice (eSpeak NG, ~18 s) is sent as far_end_frame and leaks into the microphone
// with a delay and an attenuation (the echo). From kTalkMs a second, human voice (a LibriVox
// recording from pocketsphinx-testdata) talks over it for ~3 s (double talk); after it, echo only
// again. For each echo scenario and canceller setting the program prints, as a markdown table:
//   ERLE       echo return loss enhancement, 10·log10(E_mic / E_out), over the echo-only audio:
//              the first second (convergence), 1 s to the double talk, and after it
//   speech_start on echo only   events while only the echo was present (each one would be the
//              agent interrupting itself), with their times
//   2nd voice  whether a speech_start fell inside the double talk, and how long after the second
//              voice's audible onset (its decision comes min_speech_ms = 200 ms later still)
//   voice kept 10·log10(E_out / E_voice) during double talk: how much of the near-end voice
//              (plus residual echo) survives; 0 dB is untouched, very negative is the canceller
//              muting the user
// Configurations "echo_delay_ms set" and "+ hint" are told the scene's true delay.
// Usage: aec_bench [second_voice.wav [min_level_dbfs] [delay_ms:gain_db ...]]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include "parley/addon.h"
#include "parley/media/pcm.h"
#include "parley/media/resampler.h"
#include "parley/media/wav.h"
#include "parley/testing/extension_tester.h"
#include "speech/espeak_synthesizer.h"

namespace {

using namespace std::chrono_literals;
using parley::AudioFrame;
using parley::media::PcmAudio;

constexpr int64_t kConvergeMs = 1000;  // ERLE before the double talk is measured from here
constexpr int64_t kTalkMs = 8000;      // the second voice starts here
constexpr const char* kDefaultVoice =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

std::vector<int16_t> synthesize(const std::string& text) {
  auto& tts = parley::speech::EspeakService::instance();
  PcmAudio native;
  native.sample_rate = tts.sample_rate();
  std::promise<parley::Status> done;
  parley::speech::SynthRequest r;
  r.text = text;
  r.on_audio = [&](std::span<const int16_t> pcm, bool) {
    native.samples.insert(native.samples.end(), pcm.begin(), pcm.end());
  };
  r.on_done = [&](const parley::Status& s) { done.set_value(s); };
  if (!tts.submit(std::move(r)).is_ok() || !done.get_future().get().is_ok()) return {};
  auto out = parley::media::resample(native, 16000);
  return out.is_ok() ? out->samples : std::vector<int16_t>{};
}

double energy(const std::vector<int16_t>& x, int64_t from_ms, int64_t to_ms) {
  double sum = 0;
  const size_t end = std::min(x.size(), static_cast<size_t>(to_ms) * 16);
  for (size_t i = static_cast<size_t>(from_ms) * 16; i < end; ++i)
    sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

double db(double num, double den) {
  return 10.0 * std::log10(std::max(num, 1.0) / std::max(den, 1.0));
}

// First 10 ms block above -40 dBFS, in ms.
int64_t onset_ms(const std::vector<int16_t>& x) {
  for (size_t pos = 0; pos + 160 <= x.size(); pos += 160)
    if (parley::media::dbfs(std::span<const int16_t>(x.data() + pos, 160)) > -40) return pos / 16;
  return 0;
}

struct Scene {
  std::string name;
  int delay_ms;
  double gain_db;
  std::vector<int16_t> mic;
  int64_t talk_onset_ms = 0;
  int64_t talk_end_ms = 0;
  double voice_energy = 0;  // of the second voice during the double talk
};

Scene make_scene(const std::vector<int16_t>& far, const std::vector<int16_t>& voice, int delay_ms,
                 double gain_db) {
  Scene s{std::to_string(delay_ms) + " ms, " + std::to_string(static_cast<int>(gain_db)) + " dB",
          delay_ms,
          gain_db,
          {}};
  s.mic.assign(far.size(), 0);
  const double g = parley::media::db_to_gain(gain_db);
  for (size_t i = static_cast<size_t>(delay_ms) * 16; i < far.size(); ++i)
    s.mic[i] = parley::media::saturate_int16(std::lround(far[i - delay_ms * 16] * g));
  const size_t at = kTalkMs * 16;
  (void)parley::media::mix_into(std::span<int16_t>(s.mic.data() + at, voice.size()), voice);
  s.talk_onset_ms = kTalkMs + onset_ms(voice);
  s.talk_end_ms = kTalkMs + static_cast<int64_t>(voice.size() / 16);
  std::vector<int16_t> placed(at, 0);
  placed.insert(placed.end(), voice.begin(), voice.end());
  s.voice_energy = energy(placed, kTalkMs, s.talk_end_ms);
  return s;
}

struct Result {
  std::vector<int16_t> out;
  std::vector<int64_t> starts;
};

Result run(const Scene& s, const std::vector<int16_t>& far, const nlohmann::json& props) {
  parley::testing::ExtensionTester t("webrtc_vad", props);
  Result r;
  if (auto st = t.start(); !st.is_ok()) {
    std::fprintf(stderr, "webrtc_vad: %s\n", st.message().c_str());
    return r;
  }
  constexpr size_t kStep = 320;  // 20 ms frames, as a transport delivers them
  for (size_t pos = 0; pos < s.mic.size(); pos += kStep) {
    auto frame = [&](const std::vector<int16_t>& x, const char* name) {
      auto f = std::make_unique<AudioFrame>(name);
      f->timestamp_ms = static_cast<int64_t>(pos / 16);
      const size_t n = std::min(kStep, x.size() - pos);
      f->set_buffer(parley::Buffer::copy_of_samples(std::span<const int16_t>(x.data() + pos, n)));
      return f;
    };
    if (pos < far.size()) (void)t.send(frame(far, "far_end_frame"));
    (void)t.send(frame(s.mic, "pcm_frame"));
  }
  auto eof = std::make_unique<AudioFrame>();
  eof->is_eof = true;
  (void)t.send(std::move(eof));
  for (;;) {
    auto m = t.wait_for(parley::MessageKind::kAudioFrame, "pcm_frame", 30s);
    if (!m || static_cast<AudioFrame&>(*m).is_eof) break;
    auto pcm = static_cast<AudioFrame&>(*m).buffer().samples();
    r.out.insert(r.out.end(), pcm.begin(), pcm.end());
  }
  for (auto& m : t.take_all())
    if (m->name() == "vad_event" && m->get<std::string>("event", "") == "speech_start")
      r.starts.push_back(m->get<int64_t>("timestamp_ms", -1));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  parley::register_builtin_addons(parley::AddonRegistry::global());
  if (auto s = parley::speech::EspeakService::instance().start(); !s.is_ok()) {
    std::fprintf(stderr, "eSpeak NG: %s\n", s.message().c_str());
    return 1;
  }
  const std::string voice_path = argc > 1 ? argv[1] : kDefaultVoice;
  auto voice = parley::media::read_wav(voice_path);
  if (!voice.is_ok() || voice->sample_rate != 16000 || voice->channels != 1) {
    std::fprintf(stderr, "need a 16 kHz mono second voice: %s\n",
                 voice.is_ok() ? voice_path.c_str() : voice.status().message().c_str());
    return 1;
  }
  const std::vector<int16_t> far = synthesize(
      "Thank you for calling the Riverside restaurant. I can help you book a table, change or "
      "cancel a reservation, or tell you about tonight's specials. The kitchen is open until "
      "ten, and we have a vegetarian menu as well as a menu for children. Just tell me what "
      "you would like to do, and I will take care of it for you right away.");
  std::printf("far end: eSpeak NG en-us, %.1f s; second voice: %s (%.1f s) at %.1f s\n\n",
              far.size() / 16000.0, voice_path.c_str(), voice->samples.size() / 16000.0,
              kTalkMs / 1000.0);

  struct Config {
    const char* name;
    nlohmann::json props;
  };
  const std::vector<Config> configs = {
      {"off", {{"echo_cancellation", false}}},
      {"AEC, delay-agnostic", {{"echo_cancellation", true}}},
      {"AEC, echo_delay_ms set", {{"echo_cancellation", true}, {"delay_agnostic", false}}},
      {"AEC + NS, delay-agnostic", {{"echo_cancellation", true}, {"noise_suppression", true}}},
      {"AEC, delay-agnostic + hint", {{"echo_cancellation", true}, {"echo_delay_ms", -1}}},
  };
  std::printf(
      "| echo (delay, level) | canceller | ERLE 0-1 s | ERLE 1-8 s | ERLE after double talk | "
      "speech_start on echo only | 2nd voice detected (after its onset) | voice kept in double "
      "talk |\n"
      "|---|---|---|---|---|---|---|---|\n");
  std::vector<std::pair<int, double>> scenes = {{60, -10.0}, {150, -6.0}, {250, -6.0}, {100, 0.0}};
  if (argc > 3) scenes.clear();
  for (int i = 3; i < argc; ++i) {
    int delay = 0;
    double gain = 0;
    if (std::sscanf(argv[i], "%d:%lf", &delay, &gain) == 2) scenes.emplace_back(delay, gain);
  }
  for (auto [delay, gain] : scenes) {
    const Scene s = make_scene(far, voice->samples, delay, gain);
    const int64_t end_ms = static_cast<int64_t>(far.size() / 16);
    for (const auto& c : configs) {
      nlohmann::json props = c.props;
      if (argc > 2) props["min_level_dbfs"] = std::atof(argv[2]);
      if (props.value("delay_agnostic", true) == false || props.value("echo_delay_ms", 0) < 0)
        props["echo_delay_ms"] = delay;
      const Result r = run(s, far, props);
      if (r.out.size() < s.mic.size()) {
        std::printf("| %s | %s | (run failed) | | | | | |\n", s.name.c_str(), c.name);
        continue;
      }
      std::string false_starts;  // "n (at t1, t2 s)"
      int n_false = 0;
      int64_t detected = -1;
      for (int64_t ts : r.starts) {
        if (ts >= kTalkMs - 100 && ts < s.talk_end_ms) {
          if (detected < 0) detected = ts;
        } else {
          char at[32];
          std::snprintf(at, sizeof at, "%s%.2f", n_false++ ? ", " : "", ts / 1000.0);
          false_starts += at;
        }
      }
      if (n_false > 0)
        false_starts = std::to_string(n_false) + " (at " + false_starts + " s)";
      else
        false_starts = "0";
      const double first = db(energy(s.mic, 0, kConvergeMs), energy(r.out, 0, kConvergeMs));
      const double before =
          db(energy(s.mic, kConvergeMs, kTalkMs), energy(r.out, kConvergeMs, kTalkMs));
      const double after = db(energy(s.mic, s.talk_end_ms + 500, end_ms),
                              energy(r.out, s.talk_end_ms + 500, end_ms));
      const double kept = db(energy(r.out, kTalkMs, s.talk_end_ms), s.voice_energy);
      char second[64];
      if (detected >= 0)
        std::snprintf(second, sizeof second, "yes, %+lld ms",
                      static_cast<long long>(detected - s.talk_onset_ms));
      else
        std::snprintf(second, sizeof second, "**no**");
      std::printf("| %s | %s | %.1f dB | %.1f dB | %.1f dB | %s | %s | %+.1f dB |\n",
                  s.name.c_str(), c.name, first, before, after, false_starts.c_str(), second, kept);
    }
  }
  return 0;
}
