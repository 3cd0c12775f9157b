// deepgram_tts against the real `parley model-serve` (in-process, 127.0.0.1, port 0): text becomes
// pcm_frames of the expected duration carrying the turn id, framed by tts_audio_start/end, with a
// tts_segment per spoken piece and an is_eof frame after text_end; a rate the server does not
// produce is resampled; a flush mid-utterance stops the audio at once, is forwarded, and the
// Clear leaves nothing of the old turn in the next one; a refused upgrade fails the start with the
// server's reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "deepgram_test_server.h"
#include "parley/testing/extension_tester.h"
#include "speech_test_audio.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ExtensionTester;

constexpr auto kSynthTimeout = 30s;

std::unique_ptr<Data> text_data(const std::string& text, int64_t turn_id, bool end = true) {
  return std::make_unique<Data>(
      "text_data",
      json{{"text", text}, {"end_of_segment", end}, {"role", "assistant"}, {"turn_id", turn_id}});
}

// A paragraph of about four minutes of speech.
std::string long_paragraph() {
  std::string text;
  for (int i = 0; i < 60; ++i)
    text += "This sentence is one of many in a very long answer that the agent reads out. ";
  return text;
}

// Milliseconds of audio in `frames` of turn `turn_id`.
double audio_ms_of_turn(const std::vector<const AudioFrame*>& frames, int64_t turn_id) {
  double ms = 0;
  for (const AudioFrame* f : frames)
    if (f->get<int64_t>("turn_id", -1) == turn_id) ms += f->duration_ms();
  return ms;
}

std::vector<const AudioFrame*> audio_frames(const std::deque<std::unique_ptr<Message>>& messages) {
  std::vector<const AudioFrame*> frames;
  for (const auto& m : messages) {
    if (m->kind() != MessageKind::kAudioFrame || m->name() != "pcm_frame") continue;
    const auto* frame = static_cast<const AudioFrame*>(m.get());
    if (!frame->is_eof) frames.push_back(frame);
  }
  return frames;
}

class DeepgramTtsTest : public deepgram_test::ModelServerFixture {
 protected:
  json props(json extra = json::object()) {
    json p = {{"url", base_url()}, {"model", "aura-asteria-en"}};
    p.update(extra);
    return p;
  }
  // Speaks `text` as turn `turn_id` at `rate` and checks the frames against eSpeak NG alone.
  void expect_plausible_speech(int rate) {
    const std::string text = "The quick brown fox jumps over the lazy dog.";
    const auto reference = speech_test::espeak_speech(text, rate);
    ASSERT_FALSE(reference.empty());
    const double reference_ms = 1000.0 * static_cast<double>(reference.size()) / rate;

    ExtensionTester t("deepgram_tts", props({{"sample_rate", rate}}), registry_);
    ASSERT_TRUE(t.start().is_ok());
    ASSERT_TRUE(t.send(text_data("The quick brown fox ", 7, false)).is_ok());
    ASSERT_TRUE(t.send(text_data("jumps over the lazy dog.", 7, false)).is_ok());
    ASSERT_TRUE(t.send(text_data("", 7, true)).is_ok());
    auto end = t.wait_for_data("tts_audio_end", kSynthTimeout);
    ASSERT_NE(end, nullptr);
    EXPECT_EQ(end->get<int64_t>("turn_id", -1), 7);
    EXPECT_FALSE(end->get<bool>("interrupted", true));
    auto messages = t.take_all();  // everything of the turn came before its tts_audio_end
    ASSERT_TRUE(t.send(std::make_unique<Data>("text_end", json::object())).is_ok());
    auto eof = t.wait_for_audio(kSynthTimeout);
    ASSERT_NE(eof, nullptr) << "no frame after text_end";
    EXPECT_TRUE(eof->is_eof) << "the frame after text_end is not is_eof";

    auto first_audio = std::find_if(messages.begin(), messages.end(), [](const auto& m) {
      return m->kind() == MessageKind::kAudioFrame;
    });
    auto start = std::find_if(messages.begin(), messages.end(),
                              [](const auto& m) { return m->name() == "tts_audio_start"; });
    ASSERT_NE(start, messages.end());
    EXPECT_LT(start - messages.begin(), first_audio - messages.begin());
    EXPECT_EQ((*start)->get<int64_t>("turn_id", -1), 7);

    const auto frames = audio_frames(messages);
    ASSERT_FALSE(frames.empty());
    for (const AudioFrame* f : frames) {
      EXPECT_EQ(f->sample_rate, rate);
      EXPECT_EQ(f->samples_per_channel, rate / 50);  // 20 ms
      EXPECT_EQ(f->get<int64_t>("turn_id", -1), 7);
    }
    const double got_ms = audio_ms_of_turn(frames, 7);
    EXPECT_NEAR(got_ms, reference_ms, reference_ms * 0.1 + 40) << "reference " << reference_ms;

    // One piece of text (one Speak + Flush), reported with its audio length.
    std::vector<json> segments;
    for (const auto& m : messages)
      if (m->name() == "tts_segment") segments.push_back(m->properties());
    ASSERT_EQ(segments.size(), 1u);
    EXPECT_EQ(segments[0]["turn_id"], 7);
    EXPECT_EQ(segments[0]["text"], text);
    EXPECT_NEAR(segments[0]["audio_ms"].get<double>(), got_ms, 40);
  }
};

TEST_F(DeepgramTtsTest, TextBecomesFramesOfTheExpectedDurationWithTurnIds) {
  expect_plausible_speech(16000);
}

TEST_F(DeepgramTtsTest, ARateTheServerDoesNotProduceIsResampled) {
  expect_plausible_speech(22050);  // requested at 24000, resampled here
}

TEST_F(DeepgramTtsTest, FlushMidUtteranceStopsTheAudioClearsAndIsForwarded) {
  ExtensionTester t("deepgram_tts", props(), registry_);
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(text_data(long_paragraph(), 1)).is_ok());
  ASSERT_NE(t.wait_for_audio(kSynthTimeout), nullptr) << "no audio for the long paragraph";

  auto result = t.send_cmd(make_flush(2));
  ASSERT_NE(result, nullptr);
  EXPECT_TRUE(result->ok()) << result->status().to_string();
  auto end = t.wait_for_data("tts_audio_end", 5s);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(end->get<int64_t>("turn_id", -1), 1);
  EXPECT_TRUE(end->get<bool>("interrupted", false));

  // The next turn: its audio must be its own, with nothing of the cleared paragraph in it.
  const std::string answer = "Yes, of course.";
  const auto reference = speech_test::espeak_speech(answer, 16000);
  ASSERT_FALSE(reference.empty());
  ASSERT_TRUE(t.send(text_data(answer, 2)).is_ok());
  auto end2 = t.wait_for_data("tts_audio_end", kSynthTimeout);
  ASSERT_NE(end2, nullptr);
  EXPECT_EQ(end2->get<int64_t>("turn_id", -1), 2);
  EXPECT_FALSE(end2->get<bool>("interrupted", true));

  auto messages = t.take_all();
  // The flush was forwarded downstream, and no frame of turn 1 follows it.
  auto flush = std::find_if(messages.begin(), messages.end(), [](const auto& m) {
    return m->kind() == MessageKind::kCmd && m->name() == "flush";
  });
  ASSERT_NE(flush, messages.end()) << "flush not forwarded";
  EXPECT_EQ((*flush)->get<int64_t>("turn_id", -1), 2);
  for (auto it = flush; it != messages.end(); ++it) {
    if ((*it)->kind() == MessageKind::kAudioFrame || (*it)->name() == "tts_segment") {
      EXPECT_NE((*it)->get<int64_t>("turn_id", -1), 1) << "the flushed turn after the flush";
    }
  }
  const auto frames = audio_frames(messages);
  EXPECT_LT(audio_ms_of_turn(frames, 1), 60000) << "the paragraph was not cut";
  const double reference_ms = 1000.0 * static_cast<double>(reference.size()) / 16000;
  EXPECT_NEAR(audio_ms_of_turn(frames, 2), reference_ms, reference_ms * 0.1 + 40);
}

TEST_F(DeepgramTtsTest, ARefusedUpgradeFailsTheStartWithTheServersReason) {
  ExtensionTester t("deepgram_tts", props({{"model", "bogus"}}), registry_);
  const Status st = t.start();
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("HTTP 400"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("model=bogus is unknown"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("/v1/speak"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace parley
