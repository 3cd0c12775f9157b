// webrtc_vad echo cancellation, end to end through the addon: the agent's voice (eSpeak NG) is
// fed as far_end_frame and leaks into the microphone 60 ms later at -10 dB; halfway through, a
// second (human, LibriVox) voice talks over it. With echo_cancellation on, the echo energy drops
// by more than 10 dB, the echo alone never starts speech, and the second voice still does.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "parley/addon.h"
#include "parley/media/pcm.h"
#include "parley/media/wav.h"
#include "parley/testing/extension_tester.h"
#include "speech_test_audio.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using testing::ExtensionTester;

constexpr int64_t kEchoDelayMs = 60;
constexpr double kEchoGainDb = -10.0;
constexpr int64_t kTalkStartMs = 5000;  // the second voice starts here...
constexpr int64_t kConvergedMs = 1000;  // ERLE is measured from here to kTalkStartMs
constexpr const char* kSecondVoice =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

// The microphone signal and what went into it.
struct EchoScene {
  std::vector<int16_t> far;  // agent audio, 16 kHz
  std::vector<int16_t> mic;  // echo of `far` + the second voice
  int64_t talk_end_ms = 0;   // ...and ends here
};

EchoScene make_scene() {
  EchoScene s;
  s.far = speech_test::espeak_speech(
      "Thank you for calling. I can help you book a table, change a reservation, or tell you "
      "about tonight's specials. The kitchen closes at ten, and we have a vegetarian menu. "
      "Just tell me what you would like to do.");
  if (s.far.empty()) return s;
  std::vector<int16_t> second;
  if (std::filesystem::exists(kSecondVoice)) {
    auto wav = media::read_wav(kSecondVoice);
    if (wav.is_ok() && wav->sample_rate == 16000 && wav->channels == 1) second = wav->samples;
  }
  if (second.empty())  // no LibriVox test data: another synthetic voice stands in
    second =
        speech_test::espeak_speech("Sorry, can I stop you there for a second?", 16000, "en-us", 90);
  const size_t delay = kEchoDelayMs * 16;
  s.mic.assign(s.far.size(), 0);
  const double gain = media::db_to_gain(kEchoGainDb);
  for (size_t i = delay; i < s.far.size(); ++i)
    s.mic[i] = static_cast<int16_t>(std::lround(s.far[i - delay] * gain));
  const size_t at = kTalkStartMs * 16;
  if (s.mic.size() < at + second.size()) s.mic.resize(at + second.size(), 0);
  std::span<int16_t> talk(s.mic.data() + at, second.size());
  EXPECT_TRUE(media::mix_into(talk, second).is_ok());
  s.talk_end_ms = kTalkStartMs + static_cast<int64_t>(second.size() / 16);
  return s;
}

// What the addon made of the scene: cleaned (or passed-through) microphone audio and speech starts.
struct AecRun {
  std::vector<int16_t> out;
  std::vector<int64_t> speech_starts;
};

AecRun run_scene(const EchoScene& s, bool aec) {
  AddonRegistry registry;
  register_builtin_addons(registry);
  ExtensionTester t("webrtc_vad", {{"echo_cancellation", aec}}, registry);
  EXPECT_TRUE(t.start().is_ok());
  auto far = speech_test::to_frames(s.far, 16000, 1, 20, 0, "far_end_frame");
  auto mic = speech_test::to_frames(s.mic, 16000, 1, 20, 0);
  // As live: each 20 ms of agent audio reaches the node just before the microphone's 20 ms.
  for (size_t i = 0; i < mic.size(); ++i) {
    if (i < far.size()) {
      EXPECT_TRUE(t.send(std::move(far[i])).is_ok());
    }
    EXPECT_TRUE(t.send(std::move(mic[i])).is_ok());
  }
  auto eof = std::make_unique<AudioFrame>();
  eof->is_eof = true;
  EXPECT_TRUE(t.send(std::move(eof)).is_ok());
  AecRun run;
  for (;;) {
    auto m = t.wait_for(MessageKind::kAudioFrame, "pcm_frame", 20s);
    if (!m) {
      ADD_FAILURE() << "no eof frame came back";
      break;
    }
    const auto& frame = static_cast<const AudioFrame&>(*m);
    if (frame.is_eof) break;
    auto pcm = frame.buffer().samples();
    run.out.insert(run.out.end(), pcm.begin(), pcm.end());
  }
  for (auto& m : t.take_all()) {
    if (m->name() == "vad_event" && m->get<std::string>("event", "") == "speech_start")
      run.speech_starts.push_back(m->get<int64_t>("timestamp_ms", -1));
  }
  return run;
}

TEST(WebrtcVadEchoTest, CancelsTheAgentsOwnVoiceButHearsASecondVoice) {
  const EchoScene scene = make_scene();
  if (scene.far.empty()) GTEST_SKIP() << "eSpeak NG is not available";
  ASSERT_GT(scene.far.size(), static_cast<size_t>(kTalkStartMs * 16)) << "agent speech too short";

  const AecRun off = run_scene(scene, false);
  const AecRun on = run_scene(scene, true);
  ASSERT_EQ(off.out.size(), scene.mic.size());
  ASSERT_EQ(on.out.size(), scene.mic.size());

  // Without AEC the echo alone is taken for the user speaking: the scene is a real test.
  ASSERT_FALSE(off.speech_starts.empty());
  EXPECT_LT(off.speech_starts.front(), kTalkStartMs);

  // With AEC: more than 10 dB less echo once converged...
  const double echo_in = speech_test::energy(scene.mic, kConvergedMs, kTalkStartMs);
  const double echo_out = speech_test::energy(on.out, kConvergedMs, kTalkStartMs);
  ASSERT_GT(echo_in, 0.0);
  const double erle_db = 10.0 * std::log10(echo_in / std::max(echo_out, 1.0));
  EXPECT_GT(erle_db, 10.0);
  std::cout << "ERLE on echo only: " << erle_db << " dB\n";

  // ...no speech_start on echo alone, and one for the second voice, near its onset.
  ASSERT_FALSE(on.speech_starts.empty()) << "the second voice was not detected";
  EXPECT_GE(on.speech_starts.front(), kTalkStartMs - 100)
      << "speech_start at " << on.speech_starts.front() << " ms, before the second voice";
  EXPECT_LT(on.speech_starts.front(), kTalkStartMs + 1000);
  EXPECT_LT(on.speech_starts.front(), scene.talk_end_ms);
}

}  // namespace
}  // namespace parley
