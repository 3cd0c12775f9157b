// espeak_tts and text_input addons: text becomes 16 kHz frames of the expected total duration,
// framed by tts_audio_start/end; the first frame of a long paragraph leaves long before its
// synthesis ends; flush mid-utterance stops the audio at once and is answered and forwarded;
// sentences and turns stay in order and text_end ends the audio with is_eof; each synthesised
// segment is reported as tts_segment {turn_id, text, audio_ms} (what the LLM stage cuts its history
// with), never for a segment a flush cut short; a bad voice or property fails the start with a
// message naming it.
#include <gtest/gtest.h>

#include <thread>

#include "parley/addon.h"
#include "parley/testing/extension_tester.h"
#include "speech_test_audio.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using testing::ExtensionTester;

std::unique_ptr<Data> text_data(const std::string& text, int64_t turn_id, bool end = true) {
  return std::make_unique<Data>(
      "text_data",
      nlohmann::json{
          {"text", text}, {"end_of_segment", end}, {"role", "assistant"}, {"turn_id", turn_id}});
}

// A paragraph of about four minutes of speech: seconds of synthesis even on a fast machine.
std::string long_paragraph() {
  std::string text;
  for (int i = 0; i < 60; ++i)
    text += "This sentence is one of many in a very long answer that the agent reads out. ";
  return text;
}

// Takes the pcm_frame messages (in order) out of `messages`.
std::vector<std::unique_ptr<AudioFrame>> pcm_frames(
    std::deque<std::unique_ptr<Message>>& messages) {
  std::vector<std::unique_ptr<AudioFrame>> frames;
  for (auto& m : messages) {
    if (m && m->kind() == MessageKind::kAudioFrame && m->name() == "pcm_frame")
      frames.emplace_back(static_cast<AudioFrame*>(m.release()));
  }
  return frames;
}

class EspeakTtsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_builtin_addons(registry_);
    if (!speech::EspeakService::instance().start().is_ok())
      GTEST_SKIP() << "eSpeak NG is not available";
  }
  AddonRegistry registry_;
};

TEST_F(EspeakTtsTest, TextBecomes16kHzFramesOfTheExpectedDuration) {
  const std::string text = "The quick brown fox jumps over the lazy dog.";
  const auto reference = speech_test::espeak_speech(text);  // the engine alone, at 16 kHz
  ASSERT_FALSE(reference.empty());

  ExtensionTester t("espeak_tts", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(text_data(text, 7)).is_ok());
  auto end = t.wait_for_data("tts_audio_end", 10s);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->get<int64_t>("turn_id", -1), 7);
  EXPECT_FALSE(end->get<bool>("interrupted", true));

  auto messages = t.take_all();
  ASSERT_FALSE(messages.empty());
  // tts_audio_start comes before the first frame.
  auto first_audio = std::find_if(messages.begin(), messages.end(), [](const auto& m) {
    return m->kind() == MessageKind::kAudioFrame;
  });
  auto start = std::find_if(messages.begin(), messages.end(),
                            [](const auto& m) { return m->name() == "tts_audio_start"; });
  ASSERT_NE(start, messages.end());
  EXPECT_LT(start - messages.begin(), first_audio - messages.begin());
  EXPECT_EQ((*start)->get<int64_t>("turn_id", -1), 7);

  size_t far_copies = 0;
  for (const auto& m : messages) far_copies += m->name() == "far_end_frame";
  auto frames = pcm_frames(messages);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(far_copies, frames.size());  // the tester connects far_end_frame, so copies go out
  int64_t samples = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const AudioFrame& f = *frames[i];
    EXPECT_EQ(f.sample_rate, 16000);
    EXPECT_EQ(f.channels, 1);
    EXPECT_EQ(f.samples_per_channel, 320);
    EXPECT_EQ(f.timestamp_ms, static_cast<int64_t>(i) * 20);
    EXPECT_EQ(f.get<int64_t>("turn_id", -1), 7);
    samples += f.samples_per_channel;
  }
  // Same length as the engine's own output, up to the zero-padded last frame.
  EXPECT_GE(samples, static_cast<int64_t>(reference.size()) - 16);
  EXPECT_LT(samples, static_cast<int64_t>(reference.size()) + 320 + 16);
  EXPECT_GT(media::dbfs(frames[frames.size() / 2]->buffer().samples()) +
                media::dbfs(frames[frames.size() / 3]->buffer().samples()),
            -100.0);  // speech, not silence, in the middle
}

TEST_F(EspeakTtsTest, FirstFrameLeavesLongBeforeTheParagraphIsSynthesised) {
  ExtensionTester t("espeak_tts", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(text_data(long_paragraph(), 1)).is_ok());
  auto first = t.wait_for(MessageKind::kAudioFrame, "pcm_frame", 10s);
  ASSERT_TRUE(first);
  // About four minutes of speech (12,000 frames) are still being synthesised.
  EXPECT_EQ(t.wait_for_data("tts_audio_end", 0ms), nullptr);
  auto so_far = t.take_all();
  EXPECT_LT(pcm_frames(so_far).size(), 6000u);
  EXPECT_TRUE(t.send_cmd(make_flush(2))->ok());  // do not synthesise the rest
}

TEST_F(EspeakTtsTest, FlushMidUtteranceStopsTheAudioAndIsAnsweredAndForwarded) {
  ExtensionTester t("espeak_tts", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  ASSERT_TRUE(t.send(text_data(long_paragraph(), 1)).is_ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(t.wait_for(MessageKind::kAudioFrame, "pcm_frame", 10s));
  auto before = t.take_all();

  auto result = t.send_cmd(make_flush(2));
  ASSERT_TRUE(result->ok()) << result->status().to_string();
  // Frames the node sent between the flush being sent and being handled (already in its queue).
  auto during = t.take_all();
  const auto in_flight = pcm_frames(during).size();
  std::cout << "frames sent while the flush was in flight: " << in_flight << "\n";

  // Not one frame of turn 1 after the flush was answered.
  std::this_thread::sleep_for(300ms);
  auto after = t.take_all();
  EXPECT_EQ(pcm_frames(after).size(), 0u);

  bool forwarded = false;
  bool ended = false;
  for (auto* batch : {&during, &after}) {
    for (const auto& m : *batch) {
      if (!m) continue;
      if (m->kind() == MessageKind::kCmd && m->name() == "flush") forwarded = true;
      if (m->name() == "tts_audio_end") {
        ended = true;
        EXPECT_TRUE(m->get<bool>("interrupted", false));
        EXPECT_EQ(m->get<int64_t>("turn_id", -1), 1);
      }
    }
  }
  EXPECT_TRUE(forwarded);
  EXPECT_TRUE(ended);

  // The node keeps working for the new turn; timestamps keep increasing.
  int64_t last_ts = 0;
  for (const auto& f : pcm_frames(before)) last_ts = std::max(last_ts, f->timestamp_ms);
  ASSERT_TRUE(t.send(text_data("Yes?", 2)).is_ok());
  auto next = t.wait_for(MessageKind::kAudioFrame, "pcm_frame", 10s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->get<int64_t>("turn_id", -1), 2);
  EXPECT_GT(static_cast<AudioFrame&>(*next).timestamp_ms, last_ts);
}

TEST_F(EspeakTtsTest, TurnsStayInOrderAndTextEndEndsTheAudioWithEof) {
  ExtensionTester t("espeak_tts", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  // Turn 1 arrives in streamed pieces; the first sentence is spoken before the rest arrives.
  ASSERT_TRUE(t.send(text_data("Hello there. How", 1, false)).is_ok());
  auto early = t.wait_for(MessageKind::kAudioFrame, "pcm_frame", 10s);
  ASSERT_TRUE(early);
  ASSERT_TRUE(t.send(text_data(" are you today?", 1, true)).is_ok());
  ASSERT_TRUE(t.send(text_data("Second turn.", 2)).is_ok());
  ASSERT_TRUE(t.send(std::make_unique<Data>("text_end")).is_ok());
  std::unique_ptr<Message> eof;
  std::vector<std::string> order;
  int64_t last_ts = -1;
  for (;;) {
    auto m = t.wait_for(MessageKind::kAudioFrame, "pcm_frame", 10s);
    ASSERT_TRUE(m) << "no eof frame";
    if (static_cast<AudioFrame&>(*m).is_eof) {
      eof = std::move(m);
      break;
    }
    EXPECT_GT(static_cast<AudioFrame&>(*m).timestamp_ms, last_ts);
    last_ts = static_cast<AudioFrame&>(*m).timestamp_ms;
  }
  for (const auto& m : t.take_all()) {
    if (m->name() == "tts_audio_start" || m->name() == "tts_audio_end")
      order.push_back(m->name().substr(10) + std::to_string(m->get<int64_t>("turn_id", -1)));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"start1", "end1", "start2", "end2"}));
  EXPECT_GT(static_cast<AudioFrame&>(*eof).timestamp_ms, last_ts);
}

// Takes the tts_segment data messages (in order) out of `messages`.
std::vector<std::unique_ptr<Message>> tts_segments(std::deque<std::unique_ptr<Message>>& messages) {
  std::vector<std::unique_ptr<Message>> segments;
  for (auto& m : messages)
    if (m && m->kind() == MessageKind::kData && m->name() == "tts_segment")
      segments.push_back(std::move(m));
  return segments;
}

TEST_F(EspeakTtsTest, ReportsEachSegmentWithItsTextAndAudioDuration) {
  ExtensionTester t("espeak_tts", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  const std::vector<std::string> texts = {"Hello there, my friend.", "How are you today?"};
  // Pieces as an LLM stage sends them: trimmed sentences, then an empty end_of_segment. A piece
  // that ends a sentence is spoken without waiting for the next piece: its segment is reported
  // before the next piece is even sent, after the frames of its audio.
  ASSERT_TRUE(t.send(text_data(texts[0], 3, false)).is_ok());
  auto first = t.wait_for_data("tts_segment", 10s);
  ASSERT_TRUE(first);
  auto before = t.take_all();
  double first_frames_ms = 0;
  for (const auto& f : pcm_frames(before)) first_frames_ms += f->duration_ms();
  ASSERT_TRUE(t.send(text_data(texts[1], 3, false)).is_ok());
  ASSERT_TRUE(t.send(text_data("", 3, true)).is_ok());
  ASSERT_TRUE(t.wait_for_data("tts_audio_end", 10s));
  auto messages = t.take_all();
  double frames_ms = first_frames_ms;
  for (const auto& f : pcm_frames(messages)) frames_ms += f->duration_ms();
  auto segments = tts_segments(messages);
  segments.insert(segments.begin(), std::move(first));
  ASSERT_EQ(segments.size(), 2u);
  double total_ms = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    EXPECT_EQ(segments[i]->get<int64_t>("turn_id", -1), 3);
    EXPECT_EQ(segments[i]->get<std::string>("text", ""), texts[i]);
    const double audio_ms = segments[i]->get<double>("audio_ms", 0);
    // About as long as the engine's own audio for that text alone (16 kHz: 16 samples per ms);
    // eSpeak NG's leading pause depends on what it synthesised before, by up to ~50 ms.
    const double reference_ms =
        static_cast<double>(speech_test::espeak_speech(texts[i]).size()) / 16;
    std::cout << "segment \"" << texts[i] << "\": " << audio_ms << " ms (engine alone "
              << reference_ms << " ms)\n";
    EXPECT_NEAR(audio_ms, reference_ms, 80.0);
    total_ms += audio_ms;
  }
  // Exactly the audio that left: the first segment's frames (but for what the resampler and the
  // framer still held: less than a frame), and both segments together, the whole turn (up to the
  // zero-padded last frame).
  EXPECT_NEAR(segments[0]->get<double>("audio_ms", 0), first_frames_ms, 25.0);
  EXPECT_NEAR(total_ms, frames_ms, 21.0);
}

TEST_F(EspeakTtsTest, FlushReportsOnlySegmentsSynthesisedToTheEnd) {
  ExtensionTester t("espeak_tts", {}, registry_);
  ASSERT_TRUE(t.start().is_ok());
  std::vector<std::string> sentences;
  for (int i = 0; i < 40; ++i) {
    sentences.push_back("Sentence number " + std::to_string(i + 1) +
                        " of a long answer goes on for quite a while before it ends.");
    ASSERT_TRUE(t.send(text_data(sentences.back(), 1, false)).is_ok());
  }
  ASSERT_TRUE(t.wait_for_data("tts_segment", 10s));
  auto result = t.send_cmd(make_flush(2));
  ASSERT_TRUE(result->ok()) << result->status().to_string();
  std::this_thread::sleep_for(300ms);
  auto messages = t.take_all();
  // Everything after the forwarded flush: no audio and no segment of turn 1.
  auto flush = std::find_if(messages.begin(), messages.end(),
                            [](const auto& m) { return m && m->name() == "flush"; });
  ASSERT_NE(flush, messages.end());
  for (auto it = flush; it != messages.end(); ++it) {
    EXPECT_NE((*it)->name(), "tts_segment");
    EXPECT_NE((*it)->name(), "pcm_frame");
  }
  // The reported segments (the one in wait_for_data's hands was the first) are the first
  // sentences, in order, each with its audio; the rest of the 40 never finished.
  auto segments = tts_segments(messages);
  EXPECT_LT(segments.size() + 1, sentences.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    EXPECT_EQ(segments[i]->get<std::string>("text", ""), sentences[i + 1]);
    EXPECT_GT(segments[i]->get<double>("audio_ms", 0), 1000.0);
  }
}

TEST_F(EspeakTtsTest, BadVoiceOrPropertiesFailTheStartNamingTheProblem) {
  ExtensionTester voice("espeak_tts", {{"voice", "xx-nonexistent"}}, registry_);
  Status s = voice.start();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("'xx-nonexistent'"), std::string::npos) << s.message();

  ExtensionTester rate("espeak_tts", {{"rate", 1000}}, registry_);
  s = rate.start();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("rate is 1000"), std::string::npos) << s.message();

  ExtensionTester frame("espeak_tts", {{"sample_rate", 22050}, {"frame_ms", 15}}, registry_);
  EXPECT_FALSE(frame.start().is_ok());
}

TEST(TextInputTest, SendsEachLineAsATurnThenTextEnd) {
  AddonRegistry registry;
  register_builtin_addons(registry);
  ExtensionTester t("text_input", {{"lines", {"one", "two"}}}, registry);
  ASSERT_TRUE(t.start().is_ok());
  for (int64_t turn = 1; turn <= 2; ++turn) {
    auto d = t.wait_for_data("text_data");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->get<std::string>("text", ""), turn == 1 ? "one" : "two");
    EXPECT_EQ(d->get<int64_t>("turn_id", -1), turn);
    EXPECT_TRUE(d->get<bool>("end_of_segment", false));
    EXPECT_EQ(d->get<std::string>("role", ""), "assistant");
  }
  EXPECT_TRUE(t.wait_for_data("text_end"));
  EXPECT_FALSE(t.stop_requested());

  ExtensionTester bad("text_input", {{"lines", {"ok", 3}}}, registry);
  Status s = bad.start();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("lines[1] must be a string"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace parley
