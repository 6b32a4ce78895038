// FileWatch against real files on a real loop: written, created, rotated, and stopped.
#include "runner/base/file_watch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "runner/base/env.h"
#include "runner/base/event_loop.h"
#include "tests/testing.h"

namespace firedrill::testing {
namespace {

class FileWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::Start(Env::Default(), 2, 0);
    ASSERT_TRUE(loop.ok()) << loop.status().ToString();
    loop_ = std::move(*loop);
  }

  std::unique_ptr<FileWatch> Watch(const std::string& name = "app.log") {
    auto w = FileWatch::Start(*loop_, dir_ / name, [this] { ++calls_; });
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(*w) : nullptr;
  }
  void Append(const std::string& text, const std::string& name = "app.log") {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::app) << text;
  }
  // Waits (bounded: a loaded machine can take a while to run the loop) for more calls than
  // `seen`; returns whether they came.
  bool CalledAfter(int seen) {
    for (int i = 0; i < 500 && calls_ <= seen; ++i) Pause(2);
    return calls_ > seen;
  }
  // Long enough for any callback that was coming to have come, on a loaded machine.
  static void Settle() { Pause(200); }
  static void Pause(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  TempDir dir_;
  std::atomic<int> calls_{0};
  std::unique_ptr<EventLoop> loop_;  // last: stopped before what its handlers use
};

TEST_F(FileWatchTest, EachWriteIsReported) {
  Append("first\n");
  auto w = Watch();
  ASSERT_NE(w, nullptr);
  // One call at the start: whatever was written before the watch existed.
  ASSERT_TRUE(CalledAfter(0));
  Settle();
  const int start = calls_;
  Append("second\n");
  EXPECT_TRUE(CalledAfter(start));
}

TEST_F(FileWatchTest, AFileCreatedLaterIsFollowed) {
  auto w = Watch();
  ASSERT_NE(w, nullptr);
  Settle();
  int seen = calls_;
  Append("created\n");
  ASSERT_TRUE(CalledAfter(seen));
  Settle();
  seen = calls_;
  Append("appended\n");
  EXPECT_TRUE(CalledAfter(seen));
}

// After a rotation the new file is followed, and the old one, still written by a writer
// that has not reopened its log, no longer wakes anyone.
TEST_F(FileWatchTest, ARotatedFileIsLeftAndItsSuccessorFollowed) {
  Append("old\n");
  auto w = Watch();
  ASSERT_NE(w, nullptr);
  std::ofstream old_writer(dir_ / "app.log", std::ios::binary | std::ios::app);
  Settle();
  std::filesystem::rename(dir_ / "app.log", dir_ / "app.log.1");
  Append("new\n");
  Settle();
  int seen = calls_;
  old_writer << "to the rotated file\n" << std::flush;
  Settle();
  EXPECT_EQ(calls_, seen);
  Append("more\n");
  EXPECT_TRUE(CalledAfter(seen));
}

TEST_F(FileWatchTest, NothingIsCalledOnceTheWatchIsGone) {
  auto w = Watch();
  ASSERT_NE(w, nullptr);
  Settle();
  w.reset();
  const int seen = calls_;
  Append("after\n");
  Settle();
  EXPECT_EQ(calls_, seen);
}

TEST_F(FileWatchTest, AMissingDirectoryIsAnError) {
  auto w = FileWatch::Start(*loop_, dir_ / "no/such/dir/app.log", [] {});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kIo);
  EXPECT_NE(w.status().message().find("no/such/dir"), std::string::npos) << w.status().message();
}

}  // namespace
}  // namespace firedrill::testing
