// `parley model-serve` black-box over 127.0.0.1 port 0 with parley_net's own client: /ping while
// loading and when ready, /v1/listen on a LibriVox recording, parameter and capacity refusals
// before the upgrade, NET-0001 and DATA-0000 closes, /invocations both ways, the bidirectional
// echo route and /v1/speak's Flush / Clear.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "model_server/model_server.h"
#include "parley/media/wav.h"
#include "parley/net/client.h"

namespace parley::model_server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kLibrivox =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

// Everything one client connection received.
struct Received : std::enable_shared_from_this<Received> {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> texts;
  std::vector<std::string> raw_texts;  // as received, for messages that are not JSON
  std::string binary;                  // every binary message, concatenated
  size_t binary_bytes = 0;
  std::vector<size_t> binary_after_text;  // texts.size() when each binary message arrived
  std::optional<net::WsCloseInfo> closed;

  // The callbacks share ownership: a connection may outlive the test body that made it.
  net::WsCallbacks callbacks() {
    auto self = shared_from_this();
    net::WsCallbacks cb;
    cb.on_text = [self](const std::shared_ptr<net::WsConnection>&, std::string t) {
      std::lock_guard lock(self->mu);
      self->texts.push_back(json::parse(t, nullptr, false));  // plain text: discarded
      self->raw_texts.push_back(std::move(t));
      self->cv.notify_all();
    };
    cb.on_binary = [self](const std::shared_ptr<net::WsConnection>&, std::string b) {
      std::lock_guard lock(self->mu);
      self->binary_bytes += b.size();
      self->binary += b;
      self->binary_after_text.push_back(self->texts.size());
      self->cv.notify_all();
    };
    cb.on_close = [self](const std::shared_ptr<net::WsConnection>&, const net::WsCloseInfo& i) {
      std::lock_guard lock(self->mu);
      self->closed = i;
      self->cv.notify_all();
    };
    return cb;
  }
  std::optional<net::WsCloseInfo> wait_closed(std::chrono::milliseconds t = 30s) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, t, [&] { return closed.has_value(); });
    return closed;
  }
  bool wait_type(const std::string& type, std::chrono::milliseconds t = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, t, [&] {
      for (auto& j : texts) {
        if (j.is_object() && j.value("type", "") == type) return true;
      }
      return false;
    });
  }
  std::vector<json> of_type(const std::string& type) {
    std::lock_guard lock(mu);
    std::vector<json> out;
    for (auto& j : texts) {
      if (j.is_object() && j.value("type", "") == type) out.push_back(j);
    }
    return out;
  }
};

class ModelServerTest : public ::testing::Test {
 protected:
  void SetUp() override { runtime_ = Runtime::create({.io_threads = 2, .compute_threads = 2}); }
  void TearDown() override {
    if (server_) server_->stop(2000ms);
    server_.reset();
    runtime_->shutdown();
  }

  void start(ModelServerConfig c = {}) {
    c.host = "127.0.0.1";
    c.port = 0;
    c.decoders = std::max<size_t>(c.decoders, 1);
    c.warm_decoders = std::min(c.warm_decoders, c.decoders);
    server_ = std::make_unique<ModelServer>(runtime_, c);
    auto st = server_->start();
    ASSERT_TRUE(st.is_ok()) << st.to_string();
  }
  void wait_ready() {
    for (int i = 0; i < 300 && server_->readiness() != Readiness::kReady; ++i) {
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(server_->readiness(), Readiness::kReady);
  }
  std::string url(const std::string& scheme, const std::string& path) {
    return scheme + "://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  Result<net::HttpResponse> http(const std::string& method, const std::string& path,
                                 std::string body = "", net::HttpHeaders headers = {}) {
    net::HttpClientRequest r;
    r.method = method;
    r.url = url("http", path);
    r.body = std::move(body);
    r.headers = std::move(headers);
    return net::http_fetch(runtime_->io(), r);
  }
  Result<std::shared_ptr<net::WsConnection>> ws(const std::string& path,
                                                const std::shared_ptr<Received>& rx) {
    return net::ws_connect_sync(runtime_->io(), url("ws", path), {}, rx->callbacks());
  }

  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<ModelServer> server_;
};

std::string pcm_bytes(const media::PcmAudio& a) {
  std::string b(a.samples.size() * 2, '\0');
  std::memcpy(b.data(), a.samples.data(), b.size());
  return b;
}

TEST_F(ModelServerTest, PingIs503WithAReasonWhileLoadingThen200) {
  start();
  auto first = http("GET", "/ping");
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();  // listening before models load
  if (first->status == 503) {
    auto j = json::parse(first->body);
    EXPECT_EQ(j["status"], "loading");
    EXPECT_NE(j["reason"].get<std::string>().find("PocketSphinx"), std::string::npos);
  } else {
    EXPECT_EQ(first->status, 200);
  }
  wait_ready();
  auto get = http("GET", "/ping");
  auto post = http("POST", "/ping");
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(json::parse(get->body)["status"], "ok");
}

TEST_F(ModelServerTest, ListenTranscribesALibrivoxRecording) {
  start();
  wait_ready();
  auto audio = media::read_wav(kLibrivox);
  ASSERT_TRUE(audio.is_ok()) << audio.status().to_string();
  auto rx = std::make_shared<Received>();
  auto conn =
      ws("/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&punctuate=true&"
         "vad_events=true",
         rx);
  ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
  const std::string bytes = pcm_bytes(*audio);
  for (size_t i = 0; i < bytes.size(); i += 3201) {  // odd-sized chunks: samples split across
    ASSERT_TRUE((*conn)->send_binary(bytes.substr(i, 3201)).is_ok());
  }
  ASSERT_TRUE((*conn)->send_text(R"({"type":"CloseStream"})").is_ok());
  auto closed = rx->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1000) << closed->reason;
  std::string transcript;
  for (auto& r : rx->of_type("Results")) {
    if (r["is_final"])
      transcript += r["channel"]["alternatives"][0]["transcript"].get<std::string>();
  }
  EXPECT_NE(transcript.find("young man"), std::string::npos) << transcript;
  EXPECT_EQ(transcript.front(), 'H');  // punctuate=true
  EXPECT_FALSE(rx->of_type("SpeechStarted").empty());
  auto meta = rx->of_type("Metadata");
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_NEAR(meta[0]["duration"].get<double>(), audio->duration_s(), 0.01);
  EXPECT_EQ(meta[0]["channels"], 1);
  EXPECT_EQ(meta[0]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(rx->texts.back()["type"], "Metadata");  // the last message before the Close
}

TEST_F(ModelServerTest, RefusesBadParametersAndBusyServersBeforeTheUpgrade) {
  ModelServerConfig c;
  c.decoders = 1;
  c.warm_decoders = 1;
  start(c);
  wait_ready();
  auto rx = std::make_shared<Received>();
  auto bad = ws("/v1/listen?encoding=linear16&sample_rate=16000&wat=1", rx);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("HTTP 400"), std::string::npos);
  EXPECT_NE(bad.status().message().find("unknown parameter 'wat'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("INVALID_QUERY_PARAMETER"), std::string::npos);

  auto a = std::make_shared<Received>(), b = std::make_shared<Received>(),
       d = std::make_shared<Received>();
  auto first = ws("/v1/listen", a);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  auto second = ws("/v1/listen", b);
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find("HTTP 503"), std::string::npos);
  EXPECT_NE(second.status().message().find("decoders are in use"), std::string::npos);
  (void)(*first)->send_text(R"({"type":"CloseStream"})");
  ASSERT_TRUE(a->wait_closed());
  Result<std::shared_ptr<net::WsConnection>> third = unavailable("not tried");
  for (int i = 0; i < 50 && !third.is_ok(); ++i) {  // the decoder returns after the last job
    std::this_thread::sleep_for(20ms);
    third = ws("/v1/listen", d);
  }
  EXPECT_TRUE(third.is_ok()) << third.status().to_string();
}

TEST_F(ModelServerTest, QueueModeHoldsTheUpgradeUntilADecoderIsFree) {
  ModelServerConfig c;
  c.decoders = 1;
  c.warm_decoders = 1;
  c.queue_when_busy = true;
  c.queue_timeout = 3000ms;
  start(c);
  wait_ready();
  auto a = std::make_shared<Received>(), b = std::make_shared<Received>();
  auto first = ws("/v1/listen", a);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  std::thread release([&] {
    std::this_thread::sleep_for(300ms);
    (void)(*first)->send_text(R"({"type":"CloseStream"})");
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto second = ws("/v1/listen", b);  // waits in the queue, then gets the returned decoder
  release.join();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  auto c2 = std::make_shared<Received>();
  const auto t1 = std::chrono::steady_clock::now();
  auto third = ws("/v1/listen", c2);  // the only decoder stays lent: 503 when the wait ends
  ASSERT_FALSE(third.is_ok());
  EXPECT_NE(third.status().message().find("HTTP 503"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - t1, 2900ms);
}

TEST_F(ModelServerTest, ClosesWithNet0001WhenNoAudioArrivesAndKeepAliveDefersIt) {
  ModelServerConfig c;
  c.listen.audio_timeout = 300ms;
  start(c);
  wait_ready();
  auto quiet = std::make_shared<Received>(), alive = std::make_shared<Received>();
  auto q = ws("/v1/listen", quiet);
  auto k = ws("/v1/listen", alive);
  ASSERT_TRUE(q.is_ok() && k.is_ok());
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE((*k)->send_text(R"({"type":"KeepAlive"})").is_ok());
  }
  auto closed = quiet->wait_closed(5s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1011);
  EXPECT_NE(closed->reason.find("NET-0001"), std::string::npos);
  EXPECT_TRUE((*k)->is_open());
}

TEST_F(ModelServerTest, UndecodableAudioClosesWithADataError) {
  start();
  wait_ready();
  auto odd = std::make_shared<Received>(), mp3 = std::make_shared<Received>();
  auto o = ws("/v1/listen?encoding=linear16&sample_rate=16000", odd);
  ASSERT_TRUE(o.is_ok());
  (void)(*o)->send_binary(std::string(3201, '\0'));  // 1600.5 samples
  (void)(*o)->send_text(R"({"type":"CloseStream"})");
  auto c1 = odd->wait_closed();
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->code, 1008);
  EXPECT_NE(c1->reason.find("DATA-0000"), std::string::npos);
  auto m = ws("/v1/listen", mp3);
  ASSERT_TRUE(m.is_ok());
  (void)(*m)->send_binary(std::string("ID3\x03\0\0\0\0\0\0\0\0\0\0\0\0", 16));
  auto c2 = mp3->wait_closed();
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->code, 1008);
  EXPECT_NE(c2->reason.find("MP3"), std::string::npos);
}

TEST_F(ModelServerTest, FinalizeFlushesAResultMarkedFromFinalize) {
  start();
  wait_ready();
  auto audio = media::read_wav(kLibrivox);
  auto rx = std::make_shared<Received>();
  auto conn = ws("/v1/listen?endpointing=false", rx);  // WAV header detected: no encoding
  ASSERT_TRUE(conn.is_ok());
  auto wav = media::encode_wav(*audio);
  (void)(*conn)->send_binary(std::string(wav->begin(), wav->begin() + wav->size() / 2));
  (void)(*conn)->send_text(R"({"type":"Finalize"})");
  ASSERT_TRUE(rx->wait_type("Results"));
  bool from_finalize = false;
  for (auto& r : rx->of_type("Results")) from_finalize |= r["from_finalize"].get<bool>();
  EXPECT_TRUE(from_finalize);
  for (auto& r : rx->of_type("Results")) EXPECT_FALSE(r["speech_final"].get<bool>());
}

TEST_F(ModelServerTest, InvocationsTranscribesWavAndSynthesisesText) {
  start();
  wait_ready();
  std::ifstream f(kLibrivox, std::ios::binary);
  std::string wav((std::istreambuf_iterator<char>(f)), {});
  net::HttpHeaders h;
  h.set("Content-Type", "audio/wav");
  auto t = http("POST", "/invocations", wav, h);
  ASSERT_TRUE(t.is_ok());
  ASSERT_EQ(t->status, 200) << t->body;
  EXPECT_NE(json::parse(t->body)["transcript"].get<std::string>().find("young man"),
            std::string::npos)
      << t->body;
  net::HttpHeaders a;
  a.set("Content-Type", "application/json");
  a.set("Accept", "audio/wav");
  auto s = http("POST", "/invocations", R"({"text":"hello there","sample_rate":16000})", a);
  ASSERT_TRUE(s.is_ok());
  ASSERT_EQ(s->status, 200) << s->body;
  EXPECT_EQ(s->headers.get("Content-Type"), "audio/wav");
  auto pcm = media::parse_wav(
      std::span(reinterpret_cast<const uint8_t*>(s->body.data()), s->body.size()), "reply");
  ASSERT_TRUE(pcm.is_ok()) << pcm.status().to_string();
  EXPECT_EQ(pcm->sample_rate, 16000);
  EXPECT_GT(pcm->duration_s(), 0.3);
  EXPECT_EQ(http("POST", "/invocations", "garbage")->status, 415);
  a.set("Accept", "text/plain");
  EXPECT_EQ(http("POST", "/invocations", R"({"text":"x"})", a)->status, 406);
  a.set("Accept", "audio/wav");
  auto bad_voice = http("POST", "/invocations", R"({"text":"x","voice":5})", a);
  ASSERT_TRUE(bad_voice.is_ok()) << bad_voice.status().to_string();
  EXPECT_EQ(bad_voice->status, 400);
  EXPECT_NE(json::parse(bad_voice->body)["error"]["message"].get<std::string>().find("\"voice\""),
            std::string::npos)
      << bad_voice->body;
  EXPECT_EQ(http("GET", "/ping")->status, 200);  // still serving
}

TEST_F(ModelServerTest, BidirectionalStreamEchoesAndRoutesToListen) {
  start();
  wait_ready();
  auto rx = std::make_shared<Received>();
  auto conn = ws("/invocations-bidirectional-stream", rx);
  ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
  const std::string blob("\x01\x02\xff", 3);
  (void)(*conn)->send_text("I need help with");
  (void)(*conn)->send_binary(blob);
  (void)(*conn)->send_text(R"({"type":"KeepAlive"})");  // JSON that is not a close: echoed too
  {
    std::unique_lock lock(rx->mu);
    ASSERT_TRUE(
        rx->cv.wait_for(lock, 5s, [&] { return rx->raw_texts.size() == 2 && rx->binary_bytes; }));
  }
  (void)(*conn)->send_binary(R"({"type":"CloseStream"})");  // control JSON in a binary frame
  auto closed = rx->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1000);
  EXPECT_EQ(rx->raw_texts,
            (std::vector<std::string>{"I need help with", R"({"type":"KeepAlive"})"}));
  EXPECT_EQ(rx->binary, blob);  // as binary, byte for byte; the CloseStream is not echoed

  auto lx = std::make_shared<Received>();
  auto listen =
      ws("/invocations-bidirectional-stream?route=listen&encoding=linear16&"
         "sample_rate=16000",
         lx);
  ASSERT_TRUE(listen.is_ok()) << listen.status().to_string();
  auto audio = media::read_wav(kLibrivox);
  (void)(*listen)->send_binary(pcm_bytes(*audio));
  (void)(*listen)->send_binary(R"({"type":"CloseStream"})");
  ASSERT_TRUE(lx->wait_closed());
  EXPECT_FALSE(lx->of_type("Metadata").empty());
  auto bad = std::make_shared<Received>();
  EXPECT_FALSE(ws("/invocations-bidirectional-stream?route=sing", bad).is_ok());
}

TEST_F(ModelServerTest, SpeakStreamsAudioWithFlushedAndClearedMarkers) {
  start();
  wait_ready();
  auto rx = std::make_shared<Received>();
  auto conn = ws("/v1/speak?model=aura-asteria-en&encoding=linear16&sample_rate=16000", rx);
  ASSERT_TRUE(conn.is_ok()) << conn.status().to_string();
  ASSERT_TRUE(rx->wait_type("Metadata"));
  (void)(*conn)->send_text(R"({"type":"Speak","text":"Hello from the model server."})");
  (void)(*conn)->send_text(R"({"type":"Flush"})");
  ASSERT_TRUE(rx->wait_type("Flushed"));
  {
    std::lock_guard lock(rx->mu);
    EXPECT_GT(rx->binary_bytes, 16000u);  // > 0.5 s of 16 kHz s16
    EXPECT_EQ(rx->texts.back()["sequence_id"], 0);
  }
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "This sentence will be cut short by a Clear. ";
  (void)(*conn)->send_text(json{{"type", "Speak"}, {"text", long_text}}.dump());
  (void)(*conn)->send_text(R"({"type":"Flush"})");
  std::this_thread::sleep_for(100ms);
  (void)(*conn)->send_text(R"({"type":"Clear"})");
  ASSERT_TRUE(rx->wait_type("Cleared"));
  std::this_thread::sleep_for(300ms);
  {
    std::lock_guard lock(rx->mu);
    size_t cleared_at = 0;
    for (size_t i = 0; i < rx->texts.size(); ++i) {
      if (rx->texts[i]["type"] == "Cleared") cleared_at = i + 1;
    }
    for (size_t after : rx->binary_after_text) EXPECT_LT(after, cleared_at);
  }
  EXPECT_EQ(rx->of_type("Flushed").size(), 1u);  // the cleared flush is not announced
  (void)(*conn)->send_text(R"({"type":"Close"})");
  auto closed = rx->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1000);
}

}  // namespace
}  // namespace parley::model_server
