// The model server's protocol pieces without sockets: strict /v1/listen and /v1/speak parameters,
// streaming audio decoding (WAV headers and frames split anywhere), control-message detection,
// punctuation and the field names of Deepgram's messages.
#include <gtest/gtest.h>

#include <cstring>

#include "model_server/audio_input.h"
#include "model_server/deepgram_messages.h"
#include "model_server/stream_params.h"
#include "model_server/transcriber.h"
#include "parley/media/wav.h"

namespace parley::model_server {
namespace {

Result<ListenParams> listen_query(const std::string& q) {
  return ListenParams::parse(net::parse_query(q));
}

TEST(ListenParams, AcceptsDeepgramParameters) {
  auto p = listen_query(
      "model=nova-3&language=en-US&encoding=linear16&sample_rate=48000&channels=2&"
      "interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true&"
      "smart_format=true&tag=a&tag=b&mip_opt_out=true");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->model, "nova-3");
  EXPECT_EQ(p->encoding, "linear16");
  EXPECT_EQ(p->sample_rate, 48000);
  EXPECT_EQ(p->channels, 2);
  EXPECT_TRUE(p->interim_results);
  EXPECT_EQ(p->endpointing_ms, 300);
  EXPECT_EQ(p->utterance_end_ms, 1000);
  EXPECT_TRUE(p->vad_events);
  EXPECT_TRUE(p->punctuate);  // smart_format implies it
  EXPECT_EQ(p->tags.size(), 2u);
  auto d = listen_query("");
  ASSERT_TRUE(d.is_ok());
  EXPECT_FALSE(d->encoding.has_value());
  EXPECT_EQ(d->endpointing_ms, 10);
  EXPECT_FALSE(listen_query("endpointing=false")->endpointing_ms.has_value());
}

TEST(ListenParams, RefusesUnknownAndInvalidWithTheReason) {
  struct Case {
    const char* query;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"foo=1", "unknown parameter 'foo'"},
           {"diarize=true", "does not implement"},
           {"language=de", "English only"},
           {"encoding=opus&sample_rate=48000", "encoding=opus"},
           {"encoding=linear16", "sample_rate is required"},
           {"sample_rate=abc", "sample_rate=abc"},
           {"sample_rate=4000", "8000..48000"},
           {"channels=9", "channels=9"},
           {"interim_results=maybe", "true or false"},
           {"utterance_end_ms=1000", "needs interim_results=true"},
           {"interim_results=true&utterance_end_ms=500", "utterance_end_ms=500"},
           {"model=a%20b", "model name"}}) {
    auto p = listen_query(c.query);
    ASSERT_FALSE(p.is_ok()) << c.query;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.says), std::string::npos)
        << c.query << " → " << p.status().message();
  }
}

TEST(SpeakParams, MapsModelsToVoicesAndChecksRates) {
  auto p = SpeakParams::parse(net::parse_query("model=aura-2-thalia-en&sample_rate=16000"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->voice, "en-us");
  EXPECT_EQ(p->sample_rate, 16000);
  auto e = SpeakParams::parse(net::parse_query("model=espeak-en-gb&speed=1.5&encoding=linear16"));
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->voice, "en-gb");
  EXPECT_DOUBLE_EQ(e->speed, 1.5);
  EXPECT_FALSE(SpeakParams::parse(net::parse_query("sample_rate=44100")).is_ok());
  EXPECT_FALSE(SpeakParams::parse(net::parse_query("encoding=mulaw")).is_ok());
  EXPECT_FALSE(SpeakParams::parse(net::parse_query("model=gpt")).is_ok());
  EXPECT_FALSE(SpeakParams::parse(net::parse_query("voice=x")).is_ok());
}

TEST(BidiRoute, ParsesNames) {
  EXPECT_EQ(*parse_bidi_route("listen"), BidiRoute::kListen);
  EXPECT_STREQ(bidi_route_name(BidiRoute::kSpeak), "speak");
  EXPECT_FALSE(parse_bidi_route("transcribe").is_ok());
}

std::string wav_bytes(int rate, int channels, const std::vector<int16_t>& samples) {
  media::PcmAudio a;
  a.sample_rate = rate;
  a.channels = channels;
  a.samples = samples;
  auto w = media::encode_wav(a);
  return std::string(w->begin(), w->end());
}

TEST(AudioInput, ParsesAWavStreamSplitAtEveryByte) {
  std::vector<int16_t> samples;
  for (int i = 0; i < 999; ++i) samples.push_back(static_cast<int16_t>(i * 7 - 3000));
  const std::string wav = wav_bytes(22050, 1, samples);
  for (size_t split : {1u, 3u, 44u, 45u, 1000u}) {
    AudioInput in({16000, 1}, false);
    std::vector<int16_t> out;
    for (size_t i = 0; i < wav.size(); i += split) {
      ASSERT_TRUE(in.push(std::string_view(wav).substr(i, split), out).is_ok());
    }
    EXPECT_TRUE(in.finish().is_ok());
    EXPECT_EQ(in.format().sample_rate, 22050);
    EXPECT_EQ(out, samples) << "split " << split;
  }
}

TEST(AudioInput, RawStereoFramesSplitAcrossMessagesAndStrayBytesAreADataError) {
  AudioInput in({16000, 2}, true);
  const int16_t frames[8] = {1, -1, 2, -2, 3, -3, 4, -4};
  std::string bytes(reinterpret_cast<const char*>(frames), sizeof frames);
  std::vector<int16_t> out;
  ASSERT_TRUE(in.push(bytes.substr(0, 3), out).is_ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(in.push(bytes.substr(3, 10), out).is_ok());
  EXPECT_EQ(out, std::vector<int16_t>({1, -1, 2, -2, 3, -3}));  // 13 bytes: three whole frames
  ASSERT_TRUE(in.push(bytes.substr(13), out).is_ok());
  EXPECT_EQ(out, std::vector<int16_t>(std::begin(frames), std::end(frames)));
  EXPECT_TRUE(in.finish().is_ok());
  ASSERT_TRUE(in.push("\x01", out).is_ok());
  auto st = in.finish();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("DATA-0000"), std::string::npos);
  EXPECT_NE(st.message().find("multiple of 4"), std::string::npos);
  AudioInput tiny({16000, 1}, true);  // fewer bytes than the header sniffing needs
  ASSERT_TRUE(tiny.push("\x01\x02\x03", out).is_ok());
  EXPECT_EQ(tiny.finish().code(), StatusCode::kDataLoss);
}

TEST(AudioInput, RefusesCompressedAudioAndMismatchedHeaders) {
  std::vector<int16_t> out;
  AudioInput mp3({16000, 1}, false);
  auto st = mp3.push(std::string("ID3\x04\0\0\0\0\0\0\0\0\0", 13), out);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("MP3"), std::string::npos);
  AudioInput ogg({16000, 1}, true);
  EXPECT_NE(ogg.push(std::string("OggS\0\2\0\0\0\0\0\0\0\0", 14), out).message().find("Ogg"),
            std::string::npos);
  AudioInput mismatch({16000, 1}, true);
  st = mismatch.push(wav_bytes(8000, 1, {1, 2, 3}), out);
  EXPECT_NE(st.message().find("sample_rate=16000"), std::string::npos) << st.message();
  AudioInput matching({8000, 1}, true);
  out.clear();
  ASSERT_TRUE(matching.push(wav_bytes(8000, 1, {1, 2, 3}), out).is_ok());
  EXPECT_EQ(out, std::vector<int16_t>({1, 2, 3}));  // the header was skipped, not decoded
}

TEST(ControlMessages, AreRecognisedInTextOrBinaryAndAudioIsNot) {
  EXPECT_EQ(control_type(R"({"type":"KeepAlive"})"), "KeepAlive");
  EXPECT_EQ(control_type(" \n{\"type\": \"CloseStream\"}"), "CloseStream");
  nlohmann::json j;
  EXPECT_EQ(control_type(R"({"type":"Speak","text":"hi"})", &j), "Speak");
  EXPECT_EQ(j["text"], "hi");
  EXPECT_FALSE(control_type(R"({"kind":"x"})"));
  EXPECT_FALSE(control_type(R"({"type":5})"));
  EXPECT_FALSE(control_type("{not json"));
  EXPECT_FALSE(control_type(std::string("\x7b\x00\x10\x20", 4)));  // audio starting with '{'
}

TEST(Punctuation, CapitalisesAndEndsSentences) {
  std::string t = "i think i'm here";
  std::vector<TimedWord> words = {
      {"i", "", 0, 0, 1}, {"think", "", 0, 0, 1}, {"i'm", "", 0, 0, 1}, {"here", "", 0, 0, 1}};
  punctuate(t, words);
  EXPECT_EQ(t, "I think I'm here.");
  EXPECT_EQ(words[0].punctuated_word, "I");
  EXPECT_EQ(words[2].punctuated_word, "I'm");
  EXPECT_EQ(words[3].punctuated_word, "here.");
}

TEST(DeepgramMessages, UseTheSdkFieldNames) {
  TranscriptEvent e;
  e.is_final = true;
  e.speech_final = true;
  e.start = 1.5;
  e.duration = 2.0;
  e.transcript = "hello world";
  e.confidence = 0.9;
  e.words = {{"hello", "hello", 1.6, 2.0, 0.95}};
  auto r = results_message(e, "rid", 1);
  EXPECT_EQ(r["type"], "Results");
  EXPECT_EQ(r["channel_index"], nlohmann::json::array({0, 1}));
  EXPECT_EQ(r["is_final"], true);
  EXPECT_EQ(r["speech_final"], true);
  EXPECT_EQ(r["from_finalize"], false);
  EXPECT_EQ(r["channel"]["alternatives"][0]["transcript"], "hello world");
  EXPECT_EQ(r["channel"]["alternatives"][0]["words"][0]["start"], 1.6);
  EXPECT_EQ(r["metadata"]["request_id"], "rid");
  EXPECT_TRUE(r["metadata"]["model_info"].contains("name"));
  auto m = listen_metadata_message("rid", "2025-01-01T00:00:00.000Z", "ab", 3.5, 1);
  for (const char* k : {"type", "transaction_key", "request_id", "sha256", "created", "duration",
                        "channels", "models", "model_info"}) {
    EXPECT_TRUE(m.contains(k)) << k;
  }
  EXPECT_EQ(speech_started_message(1.0)["type"], "SpeechStarted");
  EXPECT_EQ(utterance_end_message(2.0)["last_word_end"], 2.0);
  const std::string id = new_request_id();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  Sha256 sha;
  sha.update("abc");
  EXPECT_EQ(sha.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(iso8601_now().size(), 24u);
}

}  // namespace
}  // namespace parley::model_server
