// The scheduler alone, on a manual clock (a FakeEnv moved only by the loop's Drive, or by
// the test): fixed rate without drift, one sample in flight per schedule, and every slot
// either started or counted as missed.
#include "runner/engine/scheduler.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/fake_env.h"

namespace firedrill {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::Start(&env_, 0, 0);
    ASSERT_TRUE(loop.ok()) << loop.status().ToString();
    loop_ = std::move(*loop);
  }
  // Runs the loop until `ms` have passed on the test clock.
  void RunFor(int64_t ms) {
    const int64_t end = env_.NowMs() + ms;
    loop_->Drive(Millis(1), [&] { return env_.NowMs() >= end; });
  }

  FakeEnv env_;
  std::unique_ptr<EventLoop> loop_;
};

TEST_F(SchedulerTest, SamplesAtAFixedRateFromTheFirstSlot) {
  Scheduler s(loop_.get());
  std::vector<int64_t> started, planned;
  const int64_t first = env_.NowMs();
  s.Add(Millis(100), first, [&](int64_t p, EventLoop&, Scheduler::Finished done) {
    planned.push_back(p - first);
    started.push_back(env_.NowMs() - first);
    done(true);
  });
  RunFor(1050);
  s.Stop();
  EXPECT_EQ(started, (std::vector<int64_t>{0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000}));
  EXPECT_EQ(planned, started);
  const ScheduleStats st = s.Stats(0);
  EXPECT_EQ(st.samples, 11);
  EXPECT_EQ(st.missed, 0);
  EXPECT_EQ(st.late_max_ms, 0);
}

TEST_F(SchedulerTest, AStalledLoopMissesTheSlotsItSleptThroughAndKeepsTheGrid) {
  Scheduler s(loop_.get());
  std::vector<int64_t> started;
  const int64_t first = env_.NowMs();
  s.Add(Millis(100), first, [&](int64_t, EventLoop&, Scheduler::Finished done) {
    started.push_back(env_.NowMs() - first);
    done(true);
  });
  RunFor(150);  // slots 0 and 100 start
  // The process stalls for 370 ms (a loaded machine, a stopped process): nothing runs.
  env_.AdvanceMs(370);  // now 520: slots 200, 300, 400 passed, 500 is due and late by 20
  RunFor(130);          // 650
  s.Stop();
  EXPECT_EQ(started, (std::vector<int64_t>{0, 100, 520, 600}));
  const ScheduleStats st = s.Stats(0);
  EXPECT_EQ(st.samples, 4);
  EXPECT_EQ(st.missed, 3);
  EXPECT_EQ(st.late_max_ms, 20);
  EXPECT_EQ(st.late_p50_ms, 0);
}

TEST_F(SchedulerTest, ASampleStillRunningMakesItsSuccessorsMissedNotStacked) {
  Scheduler s(loop_.get());
  int in_flight = 0, most = 0;
  std::vector<std::unique_ptr<RunTimer>> timers;
  s.Add(Millis(100), env_.NowMs(), [&](int64_t, EventLoop&, Scheduler::Finished done) {
    most = std::max(most, ++in_flight);
    // Each sample takes 250 ms.
    timers.push_back(loop_->At(env_.NowMs() + 250, [&in_flight, done] {
      --in_flight;
      done(true);
    }));
  });
  RunFor(1000);
  s.Stop();
  EXPECT_EQ(most, 1);
  const ScheduleStats st = s.Stats(0);
  // Slots 0, 300, 600, 900 start; 100, 200, 400, 500, 700, 800 and 1000 (due as the test
  // stops, with the sample of 900 still running) are missed.
  EXPECT_EQ(st.samples, 4);
  EXPECT_EQ(st.missed, 7);
}

TEST_F(SchedulerTest, ASampleThatSaysStopEndsItsScheduleOnly) {
  Scheduler s(loop_.get());
  int a = 0, b = 0;
  s.Add(Millis(100), env_.NowMs(),
        [&](int64_t, EventLoop&, Scheduler::Finished done) { done(++a < 3); });
  s.Add(Millis(100), env_.NowMs(), [&](int64_t, EventLoop&, Scheduler::Finished done) {
    ++b;
    done(true);
  });
  RunFor(950);
  s.Stop();
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 10);
  EXPECT_EQ(s.Stats(0).missed, 0) << "slots after the end of a schedule are not misses";
}

TEST_F(SchedulerTest, StopWaitsForTheSampleInFlight) {
  Scheduler s(loop_.get());
  bool finished = false;
  std::unique_ptr<RunTimer> t;
  s.Add(Millis(100), env_.NowMs(), [&](int64_t, EventLoop&, Scheduler::Finished done) {
    if (t) return done(true);
    t = loop_->At(env_.NowMs() + 500, [&finished, done] {
      finished = true;
      done(true);
    });
  });
  RunFor(10);
  const int64_t before = env_.NowMs();
  s.Stop();
  EXPECT_TRUE(finished);
  EXPECT_EQ(env_.NowMs() - before, 490);
}

}  // namespace
}  // namespace firedrill
