// Tests for speech/espeak_synthesizer.h: streaming synthesis on the shared eSpeak NG thread,
// cancellation, skipping of cancelled queued requests, and error reporting.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "speech/espeak_synthesizer.h"

namespace parley::speech {
namespace {

constexpr auto kWait = std::chrono::seconds(30);

constexpr const char* kParagraph =
    "It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith, his "
    "chin nuzzled into his breast in an effort to escape the vile wind, slipped quickly through "
    "the glass doors of Victory Mansions, though not quickly enough to prevent a swirl of gritty "
    "dust from entering along with him.";

// Everything one request delivered, filled on the synthesis thread.
struct Capture {
  std::mutex mu;
  std::vector<int16_t> samples;
  std::vector<size_t> chunk_sizes;
  int last_calls = 0;
  bool audio_after_last = false;
  bool audio_after_done = false;
  bool done_called = false;
  std::promise<Status> done;

  // Wires `request`'s callbacks to this capture; `after_chunk` runs after each stored chunk.
  void attach(SynthRequest& request, std::function<void(Capture&)> after_chunk = nullptr) {
    request.on_audio = [this, after_chunk](std::span<const int16_t> pcm, bool last) {
      {
        std::lock_guard lock(mu);
        if (last_calls > 0) audio_after_last = true;
        if (done_called) audio_after_done = true;
        samples.insert(samples.end(), pcm.begin(), pcm.end());
        if (!pcm.empty()) chunk_sizes.push_back(pcm.size());
        if (last) ++last_calls;
      }
      if (after_chunk) after_chunk(*this);
    };
    request.on_done = [this](const Status& status) {
      {
        std::lock_guard lock(mu);
        done_called = true;
      }
      done.set_value(status);
    };
  }

  // Waits for on_done; fails the test on timeout.
  Status wait() {
    auto future = done.get_future();
    if (future.wait_for(kWait) != std::future_status::ready) {
      ADD_FAILURE() << "synthesis did not finish in time";
      return deadline_exceeded("timeout");
    }
    return future.get();
  }

  double rms() {
    std::lock_guard lock(mu);
    double sum = 0;
    for (int16_t s : samples) sum += static_cast<double>(s) * s;
    return samples.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(samples.size()));
  }
};

// Starts the service or skips the test when eSpeak NG's data is not installed.
#define START_ESPEAK_OR_SKIP()                                                        \
  do {                                                                                \
    const Status started = EspeakService::instance().start();                         \
    if (started.code() == StatusCode::kNotFound) GTEST_SKIP() << started.to_string(); \
    ASSERT_TRUE(started.is_ok()) << started.to_string();                              \
  } while (0)

// Synthesises `text` to completion and returns the capture's sample count.
size_t synthesize_all(const std::string& text) {
  Capture capture;
  SynthRequest request;
  request.text = text;
  capture.attach(request);
  auto handle = EspeakService::instance().submit(std::move(request));
  EXPECT_TRUE(handle.is_ok()) << handle.status().to_string();
  EXPECT_TRUE(capture.wait().is_ok());
  return capture.samples.size();
}

TEST(EspeakServiceTest, SynthesisesHelloWorldInStreamingChunks) {
  START_ESPEAK_OR_SKIP();
  EspeakService& tts = EspeakService::instance();
  const int rate = tts.sample_rate();
  EXPECT_EQ(rate, 22050) << "Debian's espeak-ng-data synthesises at 22.05 kHz";

  Capture capture;
  SynthRequest request;
  request.text = "hello world";
  capture.attach(request);
  auto handle = tts.submit(std::move(request));
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  EXPECT_GT(handle->id(), 0u);
  ASSERT_TRUE(capture.wait().is_ok());

  const double seconds = static_cast<double>(capture.samples.size()) / rate;
  EXPECT_GT(seconds, 0.4);
  EXPECT_LT(seconds, 3.0);
  EXPECT_GT(capture.rms(), 500.0) << "synthesised speech should be clearly audible";
  // Streaming: the audio came in several chunks, the first a small part of the whole.
  ASSERT_GE(capture.chunk_sizes.size(), 4u);
  EXPECT_LT(capture.chunk_sizes.front() * 4, capture.samples.size());
  EXPECT_LE(capture.chunk_sizes.front(), static_cast<size_t>(rate / 10));  // <= 100 ms
  EXPECT_EQ(capture.last_calls, 1);
  EXPECT_FALSE(capture.audio_after_last);
  EXPECT_FALSE(capture.audio_after_done);
}

TEST(EspeakServiceTest, CancelStopsWithinAChunk) {
  START_ESPEAK_OR_SKIP();
  const size_t full = synthesize_all(kParagraph);
  ASSERT_GT(full, 22050u * 5);

  Capture capture;
  SynthRequest request;
  request.text = kParagraph;
  auto flag = std::make_shared<std::atomic<bool>>(false);
  request.cancelled = flag;
  // Cancel from the callback once the first chunk arrived, as a barge-in would.
  capture.attach(request, [flag](Capture&) { flag->store(true); });
  auto handle = EspeakService::instance().submit(std::move(request));
  ASSERT_TRUE(handle.is_ok());
  EXPECT_EQ(capture.wait().code(), StatusCode::kCancelled);
  EXPECT_TRUE(handle->is_cancelled());
  EXPECT_EQ(capture.chunk_sizes.size(), 1u);
  EXPECT_LT(capture.samples.size() * 20, full);
  EXPECT_EQ(capture.last_calls, 0);

  // The service is still healthy afterwards.
  EXPECT_GT(synthesize_all("still speaking"), 0u);
}

TEST(EspeakServiceTest, QueuedRequestsOfACancelledTurnAreSkipped) {
  START_ESPEAK_OR_SKIP();
  auto turn = std::make_shared<std::atomic<bool>>(false);
  Capture first;
  Capture second;
  SynthRequest a;
  a.text = kParagraph;
  a.cancelled = turn;
  first.attach(a, [turn](Capture&) { turn->store(true); });
  SynthRequest b;
  b.text = "this sentence belongs to the cancelled turn";
  b.cancelled = turn;
  second.attach(b);
  auto ha = EspeakService::instance().submit(std::move(a));
  auto hb = EspeakService::instance().submit(std::move(b));
  ASSERT_TRUE(ha.is_ok());
  ASSERT_TRUE(hb.is_ok());
  EXPECT_EQ(ha->flag(), hb->flag());
  EXPECT_EQ(first.wait().code(), StatusCode::kCancelled);
  const Status skipped = second.wait();
  EXPECT_EQ(skipped.code(), StatusCode::kCancelled);
  EXPECT_NE(skipped.message().find("before it started"), std::string::npos) << skipped.to_string();
  EXPECT_TRUE(second.samples.empty());
}

TEST(EspeakServiceTest, CancelViaHandleBeforeStartSkipsTheRequest) {
  START_ESPEAK_OR_SKIP();
  Capture capture;
  SynthRequest request;
  request.text = "never heard";
  auto flag = std::make_shared<std::atomic<bool>>(true);  // cancelled before submission
  request.cancelled = flag;
  capture.attach(request);
  auto handle = EspeakService::instance().submit(std::move(request));
  ASSERT_TRUE(handle.is_ok());
  EXPECT_EQ(capture.wait().code(), StatusCode::kCancelled);
  EXPECT_TRUE(capture.samples.empty());
}

TEST(EspeakServiceTest, UnknownVoiceIsReportedWithAHint) {
  START_ESPEAK_OR_SKIP();
  Capture capture;
  SynthRequest request;
  request.text = "hello";
  request.voice = "nosuchvoice";
  capture.attach(request);
  ASSERT_TRUE(EspeakService::instance().submit(std::move(request)).is_ok());
  const Status status = capture.wait();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("nosuchvoice"), std::string::npos) << status.to_string();
  EXPECT_NE(status.message().find("espeak-ng --voices"), std::string::npos);
  EXPECT_TRUE(capture.samples.empty());

  EXPECT_TRUE(EspeakService::instance().check_voice("en-us").is_ok());
  EXPECT_TRUE(EspeakService::instance().check_voice("en-gb").is_ok());  // a language, not a name
  EXPECT_EQ(EspeakService::instance().check_voice("nosuchvoice").code(), StatusCode::kNotFound);
  // The failed voice change does not break the next request.
  EXPECT_GT(synthesize_all("back to normal"), 0u);
}

TEST(EspeakServiceTest, VoiceRateAndPitchChangeTheAudio) {
  START_ESPEAK_OR_SKIP();
  auto length = [](int rate_wpm, int pitch) {
    Capture capture;
    SynthRequest request;
    request.text = "the quick brown fox jumps over the lazy dog";
    request.rate_wpm = rate_wpm;
    request.pitch = pitch;
    capture.attach(request);
    EXPECT_TRUE(EspeakService::instance().submit(std::move(request)).is_ok());
    EXPECT_TRUE(capture.wait().is_ok());
    return capture.samples.size();
  };
  const size_t slow = length(100, 50);
  const size_t fast = length(300, 50);
  EXPECT_GT(slow, fast * 2) << "100 wpm should take far longer than 300 wpm";
  EXPECT_GT(length(175, 10), 0u);
}

TEST(EspeakServiceTest, InvalidRequestsAreRejectedAtSubmit) {
  SynthRequest request;
  request.text = "hello";
  EXPECT_EQ(EspeakService::instance().submit(request).status().code(),
            StatusCode::kInvalidArgument);  // no on_audio
  request.on_audio = [](std::span<const int16_t>, bool) {};
  request.rate_wpm = 10;
  const Status status = EspeakService::instance().submit(request).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("80..450"), std::string::npos) << status.to_string();
  request.rate_wpm = 175;
  request.pitch = 101;
  EXPECT_EQ(request.validate().code(), StatusCode::kInvalidArgument);
}

TEST(EspeakDataTest, MissingDataNamesTheDebianPackage) {
  const Status status = check_espeak_data_dir("/nonexistent/espeak-ng-data");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("apt-get install espeak-ng-data"), std::string::npos)
      << status.to_string();
}

}  // namespace
}  // namespace parley::speech
