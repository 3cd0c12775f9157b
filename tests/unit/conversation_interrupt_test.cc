// Barge-in end to end, with the real engines: the user's voice (two LibriVox recordings, the second
// starting while the agent is still answering the first) → webrtc_vad → pocketsphinx_asr →
// turn_detector → openai_llm (against the loopback OpenAI server, which streams a long answer and
// then keeps the stream open) → espeak_tts → wav_sink playing out at real time and reporting
// playout. Checks what a user would notice: the flush reaches the end of the chain, the LLM's HTTP
// stream is closed, no agent audio of the old turn leaves after the flush, the second question is
// answered, and the history sent with it keeps only the part of the first answer that was played.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "fake_openai_server.h"
#include "parley/engine.h"
#include "parley/graph.h"
#include "parley/media/wav.h"
#include "parley/turn_metrics.h"
#include "test_addons.h"

namespace parley {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLibriVox = "/usr/share/pocketsphinx/test/data/librivox/";
constexpr int kSlot = 7;  // recorder slot of this test

// The first answer: long enough to still be playing when the user speaks again.
const std::vector<std::string> kStory = {
    "Once upon a time, a small fox lived at the edge of a quiet forest.",
    "Every morning it walked down to the river to drink.",
    "The river was wide and cold, and the fox was always careful.",
    "One day it met an old heron standing still in the reeds.",
    "The heron told it about a valley full of apples beyond the hills.",
    "The fox thought about the valley for many days and nights.",
    "At last it packed nothing at all and simply started walking.",
    "It crossed three streams and a meadow full of bees.",
    "By evening it could see the apple trees glowing in the sun.",
    "And that is where the fox decided to stay forever.",
};

// The user's microphone: 0.5 s silence, "he was not an ill disposed young man", 3 s of silence
// (the agent starts answering), "he might even have been made amiable himself" over the agent,
// then 2.5 s of silence. Written as a 16 kHz WAV at `path`.
Status write_user_audio(const std::string& path) {
  PARLEY_ASSIGN_OR_RETURN(
      media::PcmAudio first,
      media::read_wav(std::string(kLibriVox) + "sense_and_sensibility_01_austen_64kb-0880.wav"));
  PARLEY_ASSIGN_OR_RETURN(
      media::PcmAudio second,
      media::read_wav(std::string(kLibriVox) + "sense_and_sensibility_01_austen_64kb-0930.wav"));
  media::PcmAudio out;
  auto silence = [&out](int ms) { out.samples.insert(out.samples.end(), ms * 16, 0); };
  silence(500);
  out.samples.insert(out.samples.end(), first.samples.begin(), first.samples.end());
  silence(3000);
  out.samples.insert(out.samples.end(), second.samples.begin(), second.samples.end());
  silence(2500);
  return media::write_wav(path, out);
}

std::string graph_json(const std::string& base_url, const std::string& in, const std::string& out) {
  auto to = [](std::initializer_list<const char*> names) {
    nlohmann::json dest = nlohmann::json::array();
    for (const char* n : names) dest.push_back({{"extension", n}});
    return dest;
  };
  auto route = [](const char* name, nlohmann::json dest) {
    return nlohmann::json{{"name", name}, {"dest", std::move(dest)}};
  };
  nlohmann::json g = {
      {"nodes",
       {{{"name", "source"}, {"addon", "wav_source"}, {"property", {{"path", in}}}},
        {{"name", "vad"}, {"addon", "webrtc_vad"}},
        {{"name", "asr"}, {"addon", "pocketsphinx_asr"}},
        {{"name", "turn"}, {"addon", "turn_detector"}},
        {{"name", "llm"},
         {"addon", "openai_llm"},
         {"property",
          {{"base_url", base_url},
           {"api_key", "sk-test"},
           {"model", "fake-model"},
           {"system_prompt", "You are a storyteller."}}}},
        {{"name", "tts"}, {"addon", "espeak_tts"}},
        {{"name", "sink"},
         {"addon", "wav_sink"},
         {"property", {{"path", out}, {"realtime", true}, {"stop_graph_on_eof", false}}}},
        {{"name", "rec"}, {"addon", "recorder"}, {"property", {{"slot", kSlot}}}}}},
      {"connections",
       {{{"extension", "source"}, {"audio_frame", {route("pcm_frame", to({"vad"}))}}},
        {{"extension", "vad"},
         {"audio_frame", {route("pcm_frame", to({"asr"}))}},
         {"data", {route("vad_event", to({"asr", "turn", "rec"}))}}},
        {{"extension", "asr"},
         {"data", {route("asr_result", to({"turn", "rec"})), route("asr_done", to({"turn"}))}}},
        {{"extension", "turn"},
         {"cmd", {route("flush", to({"llm"}))}},
         {"data",
          {route("text_data", to({"llm", "rec"})), route("text_end", to({"llm"})),
           route("turn_mark", to({"rec"}))}}},
        {{"extension", "llm"},
         {"cmd", {route("flush", to({"tts"}))}},
         {"data",
          {route("text_data", to({"tts", "rec"})), route("text_end", to({"tts"})),
           route("turn_mark", to({"rec"}))}}},
        {{"extension", "tts"},
         {"cmd", {route("flush", to({"sink"}))}},
         {"audio_frame", {route("pcm_frame", to({"sink", "rec"}))}},
         {"data",
          {route("tts_audio_start", to({"turn", "rec"})),
           route("tts_audio_end", to({"turn", "sink", "rec"})),
           route("tts_segment", to({"llm", "rec"})), route("turn_mark", to({"rec"}))}}},
        {{"extension", "sink"},
         {"cmd", {route("flush", to({"rec"}))}},
         {"data",
          {route("playout", to({"llm", "turn", "rec"})), route("turn_mark", to({"rec"}))}}}}}};
  return g.dump();
}

// What the recorder saw, copied out under its lock.
struct Seen {
  std::vector<std::unique_ptr<Message>> messages;
  const Message* find(const std::function<bool(const Message&)>& pred) const {
    for (const auto& m : messages)
      if (pred(*m)) return m.get();
    return nullptr;
  }
};

Seen snapshot() {
  auto& r = test::recorded(kSlot);
  std::lock_guard lock(r.mu);
  Seen s;
  for (const auto& m : r.messages) s.messages.push_back(m->clone());
  return s;
}

bool is_playout(const Message& m, bool interrupted) {
  return m.name() == "playout" && m.get<bool>("interrupted", false) == interrupted &&
         (interrupted || m.get<bool>("done", false));
}

TEST(ConversationInterrupt, BargeInCutsTheAnswerAndTheHistoryKeepsWhatWasHeard) {
  AddonRegistry registry;
  register_builtin_addons(registry);
  test::register_test_addons(registry);
  test::reset_recorded();
  if (!std::filesystem::exists(std::string(kLibriVox) +
                               "sense_and_sensibility_01_austen_64kb-0880.wav"))
    GTEST_SKIP() << "the pocketsphinx test recordings are not installed";

  std::vector<test::SseStep> story;
  for (const auto& s : kStory) story.push_back(test::delta(s + " ", 5));
  story.push_back(test::stall());  // the model "keeps generating" until the stream is closed
  test::FakeOpenAi server(
      {{200, story},
       {200,
        {test::delta("Of course, I will stop there. "), test::delta("The fox is asleep now."),
         test::finish("stop"), test::done()}}});

  const auto dir = std::filesystem::path(::testing::TempDir()) / "parley_interrupt_test";
  std::filesystem::create_directories(dir);
  const std::string in = (dir / "user.wav").string();
  const std::string out = (dir / "heard.wav").string();
  ASSERT_TRUE(write_user_audio(in).is_ok());

  std::vector<GraphProblem> problems;
  auto graphs = parse_graph_document(nlohmann::json::parse(graph_json(server.base_url(), in, out)),
                                     "interrupt.json", problems);
  ASSERT_TRUE(problems.empty()) << problems_to_status(problems).message();
  auto more = validate_graph(graphs.at(0), registry);
  ASSERT_TRUE(more.empty()) << problems_to_status(more).message();
  auto engine = Engine::create(graphs.at(0), Runtime::create({2, 2}), {}, registry);
  ASSERT_TRUE(engine.is_ok()) << engine.status().message();
  ASSERT_TRUE((*engine)->start_sync().is_ok());

  // Wait (the audio plays at real time, about 12 s) for a reply that played to its end after an
  // interrupted one.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  Seen seen;
  for (;;) {
    seen = snapshot();
    const Message* cut = seen.find([](const Message& m) { return is_playout(m, true); });
    const int64_t cut_turn = cut ? cut->get<int64_t>("turn_id", 0) : INT64_MAX;
    if (seen.find([cut_turn](const Message& m) {
          return is_playout(m, false) && m.get<int64_t>("turn_id", 0) > cut_turn;
        }))
      break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "no interrupted reply followed by a reply played to its end; " << seen.messages.size()
        << " messages recorded, " << server.requests().size() << " LLM request(s)";
    std::this_thread::sleep_for(100ms);
  }
  (*engine)->stop_sync();

  // The interruption: turn_detector flushed to the new user turn, and the flush came out at the
  // end of the chain (llm → tts → sink → recorder).
  const Message* flush = seen.find([](const Message& m) { return m.name() == "flush"; });
  ASSERT_NE(flush, nullptr) << "the flush never reached the end of the chain";
  const int64_t barge_turn = flush->get<int64_t>("turn_id", 0);
  const Message* cut = seen.find([](const Message& m) { return is_playout(m, true); });
  ASSERT_NE(cut, nullptr);
  const int64_t story_turn = cut->get<int64_t>("turn_id", 0);
  const double played_ms = cut->get<double>("played_ms", 0);
  EXPECT_LT(story_turn, barge_turn);

  // The LLM's HTTP stream was closed, not merely ignored.
  EXPECT_TRUE(server.wait_client_closed(5s));

  // TTS audio stopped: no frame of the story after the flush, and it ended interrupted.
  size_t flush_at = 0;
  double story_audio_ms = 0;
  std::string story_text;  // the answer as the LLM sent it to TTS (its history before the cut)
  std::vector<std::pair<std::string, double>> segments;
  for (size_t i = 0; i < seen.messages.size(); ++i) {
    const Message& m = *seen.messages[i];
    if (&m == flush) flush_at = i;
    const int64_t turn = m.get<int64_t>("turn_id", -1);
    if (m.name() == "pcm_frame" && turn == story_turn) {
      EXPECT_EQ(flush_at, 0u) << "a frame of the interrupted turn left after the flush";
      story_audio_ms += static_cast<const AudioFrame&>(m).duration_ms();
    }
    if (m.name() == "text_data" && turn == story_turn &&
        m.get<std::string>("role", "") == "assistant") {
      const auto piece = m.get<std::string>("text", "");
      if (!piece.empty()) story_text += (story_text.empty() ? "" : " ") + piece;
    }
    if (m.name() == "tts_segment" && turn == story_turn)
      segments.emplace_back(m.get<std::string>("text", ""), m.get<double>("audio_ms", 0));
  }
  EXPECT_TRUE(seen.find([story_turn](const Message& m) {
    return m.name() == "tts_audio_end" && m.get<int64_t>("turn_id", 0) == story_turn &&
           m.get<bool>("interrupted", false);
  }));
  EXPECT_GT(played_ms, 0);
  EXPECT_LT(played_ms + 3000, story_audio_ms) << "most of the story should have gone unheard";

  // The second question was answered and played to its end.
  ASSERT_GE(server.requests().size(), 2u);
  const Message* answered = seen.find([story_turn](const Message& m) {
    return is_playout(m, false) && m.get<int64_t>("turn_id", 0) > story_turn;
  });
  ASSERT_NE(answered, nullptr);
  EXPECT_GT(answered->get<double>("played_ms", 0), 500);

  // The history sent with the second question keeps only the heard part of the story.
  const auto second = server.requests().at(1)["messages"];
  std::cout << "\n=== history before the interruption (the first answer as streamed to TTS, "
            << story_audio_ms / 1000 << " s of audio) ===\n"
            << story_text << "\n=== playout: " << played_ms << " ms of it played when the user "
            << "barged in (flush to turn " << barge_turn << ") ===\n"
            << "=== history after (messages of the second request) ===\n"
            << second.dump(2) << "\n";
  ASSERT_GE(second.size(), 4u);
  const auto& assistant = second[second.size() - 2];
  ASSERT_EQ(assistant["role"], "assistant");
  EXPECT_EQ(second.back()["role"], "user");
  const std::string kept = assistant["content"].get<std::string>();
  ASSERT_GT(kept.size(), 2u);
  ASSERT_EQ(kept.substr(kept.size() - 4), " \xE2\x80\x94") << "a cut reply ends with a dash";
  const std::string heard = kept.substr(0, kept.size() - 4);
  EXPECT_EQ(story_text.rfind(heard, 0), 0u) << "the kept text is the beginning of the answer";
  EXPECT_LT(heard.size(), story_text.size());
  // Every segment whose audio had fully played is kept; none that had not started is.
  ASSERT_FALSE(segments.empty());
  double t = 0;
  for (const auto& [text, audio_ms] : segments) {
    if (t + audio_ms <= played_ms) {
      EXPECT_NE(heard.find(text), std::string::npos) << "played but not kept: " << text;
    }
    if (t >= played_ms) {
      EXPECT_EQ(heard.find(text), std::string::npos) << "kept but never played: " << text;
    }
    t += audio_ms;
  }

  // What the loudspeaker played (the sink's file): the heard part of the story and the answer,
  // not the story's unplayed rest.
  auto info = media::read_wav_info(out);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  const double written_ms = static_cast<double>(info->frames) * 1000.0 / info->sample_rate;
  std::cout << "loudspeaker: " << written_ms
            << " ms played in all; story audio synthesised: " << story_audio_ms << " ms\n";
  EXPECT_LT(written_ms, played_ms + answered->get<double>("played_ms", 0) + 200);
}

}  // namespace
}  // namespace parley
