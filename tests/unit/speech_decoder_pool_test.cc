// Tests for speech/decoder_pool.h: warm decoders are lent without loading, the pool refuses
// beyond its maximum with a clear reason, and leases return reset decoders.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "speech/decoder_pool.h"

namespace parley::speech {
namespace {

using std::chrono::milliseconds;

bool model_installed() { return PocketSphinxConfig{}.validate().is_ok(); }

#define SKIP_WITHOUT_MODEL() \
  if (!model_installed()) GTEST_SKIP() << "needs the Debian package pocketsphinx-en-us"

TEST(DecoderPoolTest, PrewarmedDecoderIsLentWithoutLoading) {
  SKIP_WITHOUT_MODEL();
  DecoderPool pool(PocketSphinxConfig{}, /*warm=*/1, /*max=*/2);
  EXPECT_EQ(pool.stats().total, 0u);  // nothing loads before prewarm or acquire
  ASSERT_TRUE(pool.prewarm().is_ok());
  DecoderPoolStats s = pool.stats();
  EXPECT_EQ(s.total, 1u);
  EXPECT_EQ(s.idle, 1u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_GT(s.last_load_ms, 0.0);

  auto lease = pool.try_acquire();
  ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
  s = pool.stats();
  EXPECT_EQ(s.loads, 1u) << "a warm decoder must be lent without loading another";
  EXPECT_EQ(s.in_use, 1u);
  EXPECT_EQ(s.idle, 0u);
  EXPECT_TRUE(lease->valid());
  EXPECT_TRUE((*lease)->start_utterance().is_ok());

  // A second prewarm has nothing to do: the warm decoder exists (lent out).
  ASSERT_TRUE(pool.prewarm().is_ok());
  EXPECT_EQ(pool.stats().loads, 1u);
}

TEST(DecoderPoolTest, RefusesBeyondMaxWithAReason) {
  SKIP_WITHOUT_MODEL();
  DecoderPool pool(PocketSphinxConfig{}, /*warm=*/1, /*max=*/1);
  ASSERT_TRUE(pool.prewarm().is_ok());
  auto first = pool.try_acquire();
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();

  auto second = pool.try_acquire();
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("all 1 PocketSphinx decoders are busy"),
            std::string::npos)
      << second.status().to_string();
  EXPECT_NE(second.status().message().find("max"), std::string::npos);

  auto waited = pool.acquire(milliseconds(20));
  EXPECT_EQ(waited.status().code(), StatusCode::kDeadlineExceeded) << waited.status().to_string();

  first->release();
  EXPECT_FALSE(first->valid());
  auto third = pool.try_acquire();
  ASSERT_TRUE(third.is_ok()) << third.status().to_string();
  EXPECT_EQ(pool.stats().loads, 1u);
}

TEST(DecoderPoolTest, LeaseReturnsTheDecoderReset) {
  SKIP_WITHOUT_MODEL();
  DecoderPool pool(PocketSphinxConfig{}, /*warm=*/0, /*max=*/1);
  Decoder* lent = nullptr;
  {
    auto lease = pool.try_acquire();  // nothing warm: loads one
    ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
    EXPECT_EQ(pool.stats().loads, 1u);
    lent = &lease->decoder();
    ASSERT_TRUE((*lease)->start_utterance().is_ok());
    const std::vector<int16_t> silence(3200, 0);
    ASSERT_TRUE((*lease)->accept(silence).is_ok());
  }  // returned mid-utterance
  EXPECT_EQ(pool.stats().idle, 1u);
  EXPECT_EQ(pool.stats().in_use, 0u);

  auto again = pool.try_acquire();
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(&again->decoder(), lent);
  EXPECT_FALSE((*again)->in_utterance());
  EXPECT_TRUE((*again)->start_utterance().is_ok());
}

TEST(DecoderPoolTest, BlockingAcquireGetsTheReturnedDecoder) {
  SKIP_WITHOUT_MODEL();
  DecoderPool pool(PocketSphinxConfig{}, /*warm=*/1, /*max=*/1);
  ASSERT_TRUE(pool.prewarm().is_ok());
  auto held = pool.try_acquire();
  ASSERT_TRUE(held.is_ok());

  auto waiter =
      std::async(std::launch::async, [&pool] { return pool.acquire(milliseconds(30000)); });
  std::this_thread::sleep_for(milliseconds(20));  // usually lets the waiter block first
  held->release();
  auto got = waiter.get();
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(pool.stats().loads, 1u);
  EXPECT_EQ(pool.stats().in_use, 1u);
}

TEST(DecoderPoolTest, ConcurrentPrewarmAndAcquireNeverExceedMax) {
  SKIP_WITHOUT_MODEL();
  DecoderPool pool(PocketSphinxConfig{}, /*warm=*/2, /*max=*/2);
  auto prewarm = std::async(std::launch::async, [&pool] { return pool.prewarm(); });
  std::vector<DecoderPool::Lease> leases;
  for (int i = 0; i < 2; ++i) {
    auto lease = pool.acquire(milliseconds(30000));
    ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
    leases.push_back(std::move(lease).value());
    const DecoderPoolStats s = pool.stats();
    EXPECT_LE(s.total + s.loading, 2u) << s.to_string();
  }
  EXPECT_TRUE(prewarm.get().is_ok());
  EXPECT_EQ(leases.size(), 2u);
  EXPECT_EQ(pool.stats().loads, 2u);
  EXPECT_EQ(pool.try_acquire().status().code(), StatusCode::kUnavailable);
}

TEST(DecoderPoolTest, LoadFailureIsReportedAndCounted) {
  PocketSphinxConfig config;
  config.dict = std::string(kDebianEnUsModelDir) + "/missing.dict";
  DecoderPool pool(config, /*warm=*/1, /*max=*/1);
  const Status status = pool.prewarm();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("pocketsphinx-en-us"), std::string::npos) << status.to_string();
  EXPECT_EQ(pool.try_acquire().status().code(), StatusCode::kNotFound);
  const DecoderPoolStats s = pool.stats();
  EXPECT_EQ(s.load_failures, 2u);
  EXPECT_EQ(s.total + s.loading, 0u) << "a failed load must give its slot back";
}

TEST(DecoderPoolTest, LeaseMayOutliveThePool) {
  SKIP_WITHOUT_MODEL();
  DecoderPool::Lease lease;
  {
    DecoderPool pool(PocketSphinxConfig{}, /*warm=*/0, /*max=*/1);
    auto got = pool.try_acquire();
    ASSERT_TRUE(got.is_ok());
    lease = std::move(got).value();
  }
  ASSERT_TRUE(lease.valid());
  EXPECT_TRUE(lease->start_utterance().is_ok());
  lease.release();
  EXPECT_FALSE(lease.valid());
}

}  // namespace
}  // namespace parley::speech
