// deepgram_asr against the real `parley model-serve` (in-process, 127.0.0.1, port 0): a LibriVox
// recording becomes partials, finals with times and words, vad_event speech_start and asr_done;
// audio of another rate and channel count is converted; vad_event speech_end sends Finalize so the
// final comes without endpointing; 8-bit frames are refused with one error line; a refused upgrade,
// a URL of the wrong scheme, a failed TLS handshake and an unreachable server fail the start naming
// the problem; a lost connection is logged with its URL and reopened, with the audio sent meanwhile
// buffered and transcribed. Also validates graphs/voice_assistant_deepgram.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "asr_test_support.h"
#include "deepgram_test_server.h"
#include "parley/graph.h"
#include "parley/media/audio_converter.h"
#include "parley/testing/extension_tester.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using namespace asr_test;
using nlohmann::json;
using testing::ExtensionTester;

// "he was not an ill disposed young man", 3.0 s.
constexpr const char* kShort = "sense_and_sensibility_01_austen_64kb-0880";

class DeepgramAsrTest : public deepgram_test::ModelServerFixture {
 protected:
  void SetUp() override {
    ModelServerFixture::SetUp();
    if (IsSkipped()) return;
    if (!std::filesystem::exists(wav_path(kShort)))
      GTEST_SKIP() << "needs the Debian package pocketsphinx-testdata";
  }
  json props(json extra = json::object()) {
    json p = {{"url", base_url()}};
    p.update(extra);
    return p;
  }
};

TEST_F(DeepgramAsrTest, TranscribesALibrivoxRecordingWithPartialsFinalsAndAsrDone) {
  ExtensionTester t("deepgram_asr", props({{"vad_events", true}}), registry_);
  ASSERT_TRUE(t.start().is_ok());
  const auto audio = read(kShort);
  send_frames(t, frames_of(audio, 0, /*eof=*/true));
  const Results c = collect_until_done(t);

  ASSERT_FALSE(c.finals.empty());
  EXPECT_FALSE(c.partials.empty()) << "interim_results is on by default";
  const std::string text = joined_text(c.finals);
  for (const char* word : {"young", "man", "ill"})
    EXPECT_NE(text.find(word), std::string::npos) << "'" << word << "' not in \"" << text << "\"";
  const int64_t audio_ms = static_cast<int64_t>(audio.duration_s() * 1000);
  int64_t last_turn = 0;
  for (const auto& f : c.finals) {
    EXPECT_GT(f["turn_id"].get<int64_t>(), last_turn) << f.dump();
    last_turn = f["turn_id"].get<int64_t>();
    const int64_t start = f["start_ms"].get<int64_t>();
    const int64_t duration = f["duration_ms"].get<int64_t>();
    EXPECT_GE(start, 0) << f.dump();
    EXPECT_GT(duration, 0) << f.dump();
    EXPECT_LE(start + duration, audio_ms + 100) << f.dump();
    EXPECT_EQ(f["language"], "en-US");
    ASSERT_FALSE(f["words"].empty()) << f.dump();
    for (const auto& w : f["words"]) {
      EXPECT_GE(w["start_ms"].get<int64_t>(), start) << w.dump();
      EXPECT_LE(w["start_ms"].get<int64_t>(), w["end_ms"].get<int64_t>()) << w.dump();
    }
  }
  // Partials carry the turn id of the utterance their final closes.
  for (const auto& p : c.partials) {
    EXPECT_GE(p["turn_id"].get<int64_t>(), 1);
    EXPECT_LE(p["turn_id"].get<int64_t>(), last_turn);
    EXPECT_FALSE(p["text"].get<std::string>().empty());
  }
  ASSERT_FALSE(c.vad_events.empty()) << "vad_events=true: SpeechStarted becomes vad_event";
  EXPECT_EQ(c.vad_events[0]["event"], "speech_start");
  EXPECT_LT(c.vad_events[0]["timestamp_ms"].get<int64_t>(), audio_ms);
}

TEST_F(DeepgramAsrTest, ConvertsAudioOfAnotherRateAndChannelCount) {
  const auto mono = read(kShort);
  auto up = media::AudioConverter::create({44100, 2});
  ASSERT_TRUE(up.is_ok());
  media::PcmAudio stereo;
  stereo.sample_rate = 44100;
  stereo.channels = 2;
  ASSERT_TRUE((*up)->convert(mono.samples, {mono.sample_rate, 1}, stereo.samples).is_ok());
  ASSERT_TRUE((*up)->flush(stereo.samples).is_ok());

  ExtensionTester t("deepgram_asr", props({{"interim_results", false}}), registry_);
  ASSERT_TRUE(t.start().is_ok());
  send_frames(t, frames_of(stereo, 0, /*eof=*/true));
  const Results c = collect_until_done(t);
  ASSERT_FALSE(c.finals.empty());
  const std::string text = joined_text(c.finals);
  EXPECT_NE(text.find("young man"), std::string::npos) << text;
}

TEST_F(DeepgramAsrTest, SpeechEndSendsFinalizeSoTheFinalComesWithoutEndpointing) {
  // Endpointing off: only a Finalize (or the end of the stream) can close the utterance.
  ExtensionTester t("deepgram_asr", props({{"endpointing", 0}}), registry_);
  ASSERT_TRUE(t.start().is_ok());
  send_frames(t, frames_of(read(kShort)));
  ASSERT_TRUE(t.send(std::make_unique<Data>("vad_event",
                                            json{{"event", "speech_end"}, {"timestamp_ms", 3000}}))
                  .is_ok());
  std::unique_ptr<Data> final_result;
  while (auto r = t.wait_for_data("asr_result", kDecodeTimeout)) {
    if (r->get<bool>("final", false)) {
      final_result = std::move(r);
      break;
    }
  }
  ASSERT_NE(final_result, nullptr) << "no final after vad_event speech_end";
  EXPECT_NE(final_result->get<std::string>("text", "").find("young man"), std::string::npos)
      << final_result->properties().dump();
  // The stream is still open: its end comes only now.
  for (auto& m : t.take_all()) EXPECT_NE(m->name(), "asr_done");
  ASSERT_TRUE(t.send(std::make_unique<Data>("text_end", json::object())).is_ok());
  EXPECT_NE(t.wait_for_data("asr_done", kDecodeTimeout), nullptr);
}

TEST_F(DeepgramAsrTest, RefusesEightBitFramesWithOneErrorLineAndSendsNothing) {
  LogCapture log;
  ExtensionTester t("deepgram_asr", props(), registry_);
  ASSERT_TRUE(t.start().is_ok());
  send_eight_bit_frames(t, 50);
  ASSERT_TRUE(t.send(std::make_unique<Data>("text_end", json::object())).is_ok());
  const Results c = collect_until_done(t);
  EXPECT_TRUE(c.partials.empty() && c.finals.empty()) << "refused audio must not be transcribed";
  EXPECT_NE(log.text().find("has bytes_per_sample 1"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("16-bit PCM"), std::string::npos) << log.text();
  EXPECT_EQ(log.count("refused so far"), 1u) << "one line for the first refusal, not one per frame";
}

TEST_F(DeepgramAsrTest, RefusalsAndBadUrlsFailTheStartNamingTheProblem) {
  {
    ExtensionTester t("deepgram_asr", props({{"url", base_url() + "/v1/listen?wat=1"}}), registry_);
    const Status st = t.start();
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("HTTP 400"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("unknown parameter 'wat'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(port_)), std::string::npos)
        << st.message();
  }
  {
    ExtensionTester t("deepgram_asr", props({{"language", "fr"}}), registry_);
    const Status st = t.start();
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("English only"), std::string::npos) << st.message();
  }
  {
    ExtensionTester t("deepgram_asr", props({{"url", "https://api.deepgram.com/v1/listen"}}),
                      registry_);
    const Status st = t.start();
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("not a WebSocket URL"), std::string::npos) << st.message();
  }
  {
    // wss:// speaks TLS (as Deepgram needs); the model server speaks plain WebSocket, so the TLS
    // handshake fails, and says so.
    const std::string tls_url = "wss://127.0.0.1:" + std::to_string(port_);
    ExtensionTester t("deepgram_asr", props({{"url", tls_url}}), registry_);
    const Status st = t.start();
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find(tls_url + "/v1/listen"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("TLS"), std::string::npos) << st.message();
  }
  const std::string gone = base_url();
  stop_server();
  {
    ExtensionTester t("deepgram_asr", props({{"url", gone}}), registry_);
    const Status st = t.start();
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find(gone + "/v1/listen"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("connect"), std::string::npos) << st.message();
  }
}

TEST_F(DeepgramAsrTest, ReconnectsAfterALostConnectionAndTranscribesTheBufferedAudio) {
  LogCapture log;
  ExtensionTester t("deepgram_asr",
                    props({{"reconnect_initial_ms", 50}, {"reconnect_max_ms", 200}}), registry_);
  ASSERT_TRUE(t.start().is_ok());
  // The client can see the upgrade answered before the server has registered the stream; a stop
  // in between would not close it (and nothing would be lost). Wait until the server has it.
  ASSERT_TRUE(log.wait_for(": opened from")) << log.text();
  const uint16_t port = port_;
  stop_server();  // closes the stream with 1001
  ASSERT_TRUE(log.wait_for("connection to " + base_url() + "/v1/listen")) << log.text();
  EXPECT_NE(log.text().find("lost"), std::string::npos) << log.text();
  // Sent while no server listens: held until the connection is open again.
  send_frames(t, frames_of(read(kShort), 0, /*eof=*/true));
  start_server(port);
  if (HasFatalFailure()) return;
  const Results c = collect_until_done(t);
  const std::string text = joined_text(c.finals);
  EXPECT_NE(text.find("young man"), std::string::npos) << text;
  EXPECT_NE(log.text().find("connected again"), std::string::npos) << log.text();
}

TEST(DeepgramGraph, VoiceAssistantDeepgramValidates) {
  AddonRegistry registry;
  register_builtin_addons(registry);
  const std::string path = std::string(PARLEY_SOURCE_DIR) + "/graphs/voice_assistant_deepgram.json";
  auto graph = load_graph(path, "", {}, registry);
  ASSERT_TRUE(graph.is_ok()) << graph.status().to_string();
  bool asr = false, tts = false;
  for (const auto& node : graph->nodes) {
    if (node.addon == "deepgram_asr") {
      asr = true;
      EXPECT_EQ(node.properties["url"].get<std::string>().rfind("ws", 0), 0u);
    }
    tts = tts || node.addon == "deepgram_tts";
  }
  EXPECT_TRUE(asr && tts);
}

}  // namespace
}  // namespace parley
