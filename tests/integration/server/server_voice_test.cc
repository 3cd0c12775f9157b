// The spoken conversation through `parley serve`: a user streams a LibriVox recording over
// /v1/rtc to a voice_agent session (WebRTC VAD → PocketSphinx → turn detection → offline
// responder → eSpeak NG → channel_transport), hears the answer at real-time pace, barges in with
// a second utterance, and the agent stops, reports what was heard and answers the new turn.
#include <cstdio>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"
#include "parley/media/wav.h"
#include "parley/rtc_protocol.h"

namespace parley::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kLibriVox =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

// One /v1/rtc audio frame carrying `n` samples of 16 kHz mono PCM.
std::string pcm_frame(uint32_t seq, uint64_t ts_ms, const int16_t* samples, size_t n) {
  rtc::FrameHeader h;
  h.kind = rtc::FrameKind::kAudio;
  h.sequence = seq;
  h.timestamp_ms = ts_ms;
  h.sample_rate = 16000;
  h.channels = 1;
  return *rtc::encode_frame(
      h, std::string_view(reinterpret_cast<const char*>(samples), n * sizeof(int16_t)));
}

TEST(ServerVoice, AnswersBargeInStopsTheAgentAndTheNextTurnIsAnswered) {
  if (!std::filesystem::exists(kLibriVox) ||
      !std::filesystem::exists("/usr/share/pocketsphinx/model/en-us"))
    GTEST_SKIP() << "needs pocketsphinx-testdata and pocketsphinx-en-us";
  auto srv = ServeProcess::start({"--isolation", "thread"});
  ASSERT_TRUE(srv);
  Api api(srv->base_url());
  auto gen = api.post("/v1/api/generate", {{"channel_name", "voice"}, {"uid", 7}});
  ASSERT_EQ(gen.status, 200) << gen.text;
  std::string err;
  auto user = RtcClient::connect(
      api.runtime().io(), srv->rtc_url() + "?channel=voice&token=" + gen.body.value("token", ""),
      &err);
  ASSERT_TRUE(user) << err;
  ASSERT_TRUE(user->wait_type("joined"));
  auto started = api.post(
      "/v1/api/start", {{"channel_name", "voice"}, {"graph_name", "voice_agent"}, {"user_uid", 7}});
  ASSERT_EQ(started.status, 200) << started.text;

  // The user's side: the sentence, a pause long enough for the answer to start, the sentence
  // again over the agent's answer (the barge-in), and silence for the second answer.
  auto wav = media::read_wav(kLibriVox);
  ASSERT_TRUE(wav.is_ok()) << wav.status().to_string();
  ASSERT_EQ(wav->sample_rate, 16000);
  std::vector<int16_t> speech = wav->samples;
  const size_t gap = 16000 * 5 / 2;  // 2.5 s
  std::vector<int16_t> audio = speech;
  audio.insert(audio.end(), gap, 0);
  const double barge_in_at_ms = 1000.0 * static_cast<double>(audio.size()) / 16000;
  audio.insert(audio.end(), speech.begin(), speech.end());
  audio.insert(audio.end(), 16000 * 6, 0);

  std::optional<json> interrupted, user_final_1, answer_1, flush_event;
  double answer_1_at_ms = -1, flush_at_ms = -1, answer_2_at_ms = -1, done_2_at_ms = -1;
  std::optional<json> answer_2, done_2;
  auto is_answer_2 = [](const json& e) {
    return e.value("type", "") == "transcript" && e.value("role", "") == "assistant" &&
           e.value("turn_id", 0) >= 2;
  };
  auto is_done_2 = [&answer_2](const json& e) {
    return e.value("type", "") == "playout" &&
           e.value("turn_id", 0) == answer_2->value("turn_id", 0) && !e.value("started", false);
  };
  const auto t0 = Clock::now();
  auto ms_since_start = [&] {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };
  const size_t step = 320;  // 20 ms
  for (size_t i = 0, seq = 0; i + step <= audio.size(); i += step, ++seq) {
    std::this_thread::sleep_until(t0 + std::chrono::milliseconds(20 * seq));
    user->send_binary(pcm_frame(static_cast<uint32_t>(seq), 20 * seq, audio.data() + i, step));
    // Collect what has arrived so far without blocking the real-time stream.
    if (!answer_1) {
      answer_1 = user->wait_event(
          [](const json& e) {
            return e.value("type", "") == "transcript" && e.value("role", "") == "assistant" &&
                   e.value("turn_id", 0) == 1;
          },
          0ms);
      if (answer_1) answer_1_at_ms = ms_since_start();
    }
    if (!flush_event) {
      flush_event = user->wait_type("flush", "", 0ms);
      if (flush_event) flush_at_ms = ms_since_start();
    }
    if (flush_event && !answer_2) {
      answer_2 = user->wait_event(is_answer_2, 0ms);
      if (answer_2) answer_2_at_ms = ms_since_start();
    }
    if (answer_2 && !done_2) {
      done_2 = user->wait_event(is_done_2, 0ms);
      if (done_2) done_2_at_ms = ms_since_start();
    }
  }

  user_final_1 = user->wait_event(
      [](const json& e) {
        return e.value("type", "") == "transcript" && e.value("role", "") == "user" &&
               e.value("final", false) && e.value("turn_id", 0) == 1;
      },
      10s);
  ASSERT_TRUE(user_final_1) << "no final user transcript for the first sentence";
  EXPECT_NE(user_final_1->value("text", "").find("young"), std::string::npos) << *user_final_1;
  ASSERT_TRUE(answer_1) << "the agent never answered the first sentence";
  EXPECT_EQ(answer_1->value("text", "").rfind("I heard you say", 0), 0u) << *answer_1;
  ASSERT_TRUE(flush_event) << "no flush: the second sentence did not interrupt the agent";
  EXPECT_GT(flush_at_ms, barge_in_at_ms) << "flushed before the user barged in";
  EXPECT_GT(flush_at_ms, answer_1_at_ms);

  // The transport reports how much of the first answer the user heard: cut short.
  interrupted = user->wait_event(
      [](const json& e) {
        return e.value("type", "") == "playout" && e.value("turn_id", 0) == 1 &&
               !e.value("started", false);
      },
      5s);
  ASSERT_TRUE(interrupted) << "no playout report for the interrupted answer";
  EXPECT_TRUE(interrupted->value("interrupted", false)) << *interrupted;
  // Each turn is reported started before it ends (docs/protocol.md), and only once.
  auto is_started = [](int64_t turn) {
    return [turn](const json& e) {
      return e.value("type", "") == "playout" && e.value("turn_id", int64_t{0}) == turn &&
             e.value("started", false);
    };
  };
  EXPECT_TRUE(user->wait_event(is_started(1), 0ms)) << "no playout started for the first answer";
  EXPECT_FALSE(user->wait_event(is_started(1), 0ms)) << "the first answer was started twice";
  const double heard_ms = interrupted->value("played_ms", -1.0);
  EXPECT_GT(heard_ms, 0) << *interrupted;
  // Paced at real time: what was heard is at most the time between the answer and the flush
  // (plus the transport's 40 ms lead, a frame and the test's polling; unpaced, it would be the
  // whole answer), not the whole synthesised answer.
  EXPECT_LE(heard_ms, flush_at_ms - answer_1_at_ms + 300) << *interrupted;

  // The second sentence is a new turn, answered and played to the end, at real-time pace.
  if (!answer_2) {
    answer_2 = user->wait_event(is_answer_2, 15s);
    answer_2_at_ms = ms_since_start();
  }
  ASSERT_TRUE(answer_2) << "the second sentence was not answered";
  if (!done_2) {
    done_2 = user->wait_event(is_done_2, 20s);
    done_2_at_ms = ms_since_start();
  }
  ASSERT_TRUE(done_2) << "no playout report for the second answer";
  EXPECT_FALSE(done_2->value("interrupted", true)) << *done_2;
  EXPECT_TRUE(done_2->value("done", false)) << *done_2;
  EXPECT_TRUE(user->wait_event(is_started(answer_2->value("turn_id", int64_t{0})), 0ms))
      << "no playout started for the second answer";
  const double played_2 = done_2->value("played_ms", 0.0);
  EXPECT_GT(played_2, 1000) << *done_2;
  // Sent at real-time pace: the answer cannot have been delivered much faster than it lasts
  // (the transport sends 40 ms ahead; events are polled every 20 ms; unpaced, it would arrive at
  // once).
  EXPECT_GE(done_2_at_ms - answer_2_at_ms, 0.7 * played_2)
      << "answer of " << played_2 << " ms delivered in " << done_2_at_ms - answer_2_at_ms << " ms";
  std::printf(
      "user: \"%s\"\nagent: \"%s\" (answer at %.0f ms)\nbarge-in at %.0f ms of user audio, "
      "flush at %.0f ms; heard %.0f ms of the first answer\nsecond answer: %.0f ms played in "
      "%.0f ms\n",
      user_final_1->value("text", "").c_str(), answer_1->value("text", "").c_str(), answer_1_at_ms,
      barge_in_at_ms, flush_at_ms, heard_ms, played_2, done_2_at_ms - answer_2_at_ms);
  EXPECT_TRUE(user->wait_type("metrics", "", 5s)) << "no per-turn metrics event";
  EXPECT_GT(user->binary_count(), 50u) << "too little agent audio came back";

  // Both sides of the conversation are in the store.
  auto t = api.get("/v1/api/sessions/voice/transcript");
  ASSERT_EQ(t.status, 200) << t.text;
  int users = 0, assistants = 0;
  for (const auto& e : t.body["entries"]) {
    if (!e.value("final", false)) continue;
    (e.value("role", "") == "user" ? users : assistants)++;
  }
  EXPECT_GE(users, 2) << t.text;
  EXPECT_GE(assistants, 2) << t.text;
  EXPECT_EQ(api.post("/v1/api/stop", {{"channel_name", "voice"}}).status, 200);
}

}  // namespace
}  // namespace parley::testing
