// The SQLite store: upserts, transcript messages updated in place, flush, reopen after close.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "parley/server/store.h"

namespace parley::server {
namespace {

class ServerStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("parley-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(ServerStore, SessionsAreUpsertedById) {
  auto store = Store::open({path_});
  ASSERT_TRUE(store.is_ok()) << store.status().message();
  SessionRecord s{"s1", "room", "echo_agent", "starting", "process", 1000, 0, 0, ""};
  (*store)->put_session(s);
  s.state = "failed";
  s.worker_pid = 77;
  s.stopped_at_ms = 2000;
  s.error = "killed by signal 9";
  (*store)->put_session(s);
  (*store)->flush();
  auto rows = (*store)->sessions();
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].state, "failed");
  EXPECT_EQ((*rows)[0].worker_pid, 77);
  EXPECT_EQ((*rows)[0].error, "killed by signal 9");
}

TEST_F(ServerStore, TranscriptMessagesUpdateInPlaceUntilFinal) {
  auto store = Store::open({path_});
  ASSERT_TRUE(store.is_ok());
  (*store)->put_transcript({"s1", "room", "user", "hel", false, 1, "m1", 10});
  (*store)->put_transcript({"s1", "room", "user", "hello", true, 1, "m1", 11});
  (*store)->put_transcript({"s1", "room", "assistant", "hi there", true, 1, "", 12});
  (*store)->put_transcript({"s1", "other", "user", "elsewhere", true, 1, "", 13});
  (*store)->flush();
  auto rows = (*store)->transcript("room");
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].text, "hello");
  EXPECT_TRUE((*rows)[0].final);
  EXPECT_EQ((*rows)[1].role, "assistant");
  EXPECT_EQ((*rows)[1].text, "hi there");
}

TEST_F(ServerStore, CloseFlushesAndDataSurvivesReopen) {
  {
    auto store = Store::open({path_});
    ASSERT_TRUE(store.is_ok());
    for (int i = 0; i < 1000; ++i)
      (*store)->put_transcript({"s1", "room", "user", "line " + std::to_string(i), true, i, "", i});
    (*store)->put_metrics({"s1", "room", 3, {{"asr_ms", 120}}, 5});
  }  // the destructor closes, which drains the queue
  auto store = Store::open({path_});
  ASSERT_TRUE(store.is_ok());
  auto rows = (*store)->transcript("room");
  ASSERT_TRUE(rows.is_ok());
  EXPECT_EQ(rows->size(), 1000u);
  auto m = (*store)->metrics("room");
  ASSERT_TRUE(m.is_ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].metrics["asr_ms"], 120);
  EXPECT_EQ((*store)->stats().dropped, 0u);
}

TEST_F(ServerStore, BadPathsAreRefusedWithAHint) {
  EXPECT_FALSE(Store::open({":memory:"}).is_ok());
  auto r = Store::open({(dir_ / "missing" / "x.db").string()});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace parley::server
