// The event loop's lanes: each its own thread, the blocking pool shared, and a thread that
// cannot be made an error, not a hang.
#include "runner/base/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace firedrill {
namespace {

// Runs `fn` on `loop` and waits for it (bounded).
std::thread::id RunOn(EventLoop& loop, bool blocking = false) {
  std::mutex mu;
  std::thread::id id;
  std::atomic<bool> done{false};
  auto fn = [&] {
    {
      std::lock_guard lock(mu);
      id = std::this_thread::get_id();
    }
    done = true;
  };
  if (blocking) {
    loop.Blocking(fn);
  } else {
    loop.Post(fn);
  }
  for (int i = 0; i < 5000 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(done.load());
  std::lock_guard lock(mu);
  return id;
}

TEST(EventLoopTest, EachLaneRunsOnAThreadOfItsOwn) {
  auto loop = EventLoop::Start(Env::Default(), 3, 1);
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  EventLoop& l = **loop;
  EXPECT_EQ(l.lanes(), 3u);
  EXPECT_EQ(l.threads(), 3);
  EXPECT_EQ(&l.Lane(0), &l);
  EXPECT_EQ(&l.Lane(3), &l) << "lane i is lane i % lanes()";
  EXPECT_EQ(&l.Lane(4), &l.Lane(1));
  std::set<std::thread::id> ids;
  for (size_t i = 0; i < 3; ++i) {
    const std::thread::id a = RunOn(l.Lane(i));
    // The same lane, the same thread, every time: a sample's steps never change thread.
    EXPECT_EQ(RunOn(l.Lane(i)), a);
    ids.insert(a);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_FALSE(ids.count(std::this_thread::get_id()));
  // Every lane hands blocking calls to the one pool: its single thread, not a lane's.
  const std::thread::id pool = RunOn(l.Lane(1), true);
  EXPECT_EQ(RunOn(l.Lane(2), true), pool);
  EXPECT_FALSE(ids.count(pool));
}

TEST(EventLoopTest, ServicesArePerLane) {
  struct Counter {
    explicit Counter(EventLoop& l) : loop(&l) {}
    EventLoop* loop;
  };
  auto loop = EventLoop::Start(Env::Default(), 2, 0);
  ASSERT_TRUE(loop.ok());
  EventLoop& l = **loop;
  EXPECT_EQ(l.Lane(0).Service<Counter>().loop, &l.Lane(0));
  EXPECT_EQ(l.Lane(1).Service<Counter>().loop, &l.Lane(1));
  EXPECT_EQ(&l.Lane(1).Service<Counter>(), &l.Lane(1).Service<Counter>());
}

TEST(EventLoopTest, WithoutThreadsThereIsOneLaneTheCallerDrives) {
  auto loop = EventLoop::Start(Env::Default(), 0, 0);
  ASSERT_TRUE(loop.ok());
  EventLoop& l = **loop;
  EXPECT_TRUE(l.manual());
  EXPECT_EQ(l.lanes(), 1u);
  EXPECT_EQ(&l.Lane(5), &l);
  bool ran = false;
  l.Post([&] { ran = true; });
  l.Drive(Millis(1), [&] { return ran; });
  EXPECT_TRUE(ran);
}

// Blocking work handed over before the loop goes still runs to its end, and what it
// posts to a lane meanwhile does not crash the teardown (ASan checks that).
TEST(EventLoopTest, DestroyingTheLoopFinishesBlockingWorkFirst) {
  std::atomic<int> finished{0};
  {
    auto loop = EventLoop::Start(Env::Default(), 2, 2);
    ASSERT_TRUE(loop.ok());
    EventLoop* l = loop->get();
    for (int i = 0; i < 4; ++i) {
      l->Blocking([l, &finished, i] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        l->Lane(i).Post([] {});
        ++finished;
      });
    }
  }
  EXPECT_EQ(finished.load(), 4);
}

}  // namespace
}  // namespace firedrill
