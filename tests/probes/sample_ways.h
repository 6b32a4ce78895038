// The two ways a probe is sampled, for tests that run each case both ways: Sample on the
// test's thread, and SampleAsync through a real event loop, whose outcome the test waits
// for. Both must come to the same outcome.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/event_loop.h"
#include "runner/base/values.h"
#include "runner/drill/probe.h"
#include "tests/testing.h"

namespace firedrill::testing {

enum class Way { kSample, kSampleAsync };

// A failed outcome a test makes up (no probe, no answer), saying why.
inline ProbeOutcome Failed(std::string why) {
  ProbeOutcome o;
  o.detail = std::move(why);
  return o;
}

inline std::string WayName(const ::testing::TestParamInfo<Way>& info) {
  return info.param == Way::kSample ? "Sample" : "SampleAsync";
}

// Outcomes SampleAsync delivered, however many times and from whichever thread.
class Outcomes {
 public:
  // Waits until `n` have arrived or `wait` has passed; how many there are.
  size_t WaitFor(size_t n, Millis wait) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return got_.size() >= n; });
    return got_.size();
  }
  size_t Count() {
    std::lock_guard lock(mu_);
    return got_.size();
  }
  std::vector<ProbeOutcome> Get() {
    std::lock_guard lock(mu_);
    return got_;
  }
  void Add(ProbeOutcome o) {
    std::lock_guard lock(mu_);
    got_.push_back(std::move(o));
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ProbeOutcome> got_;
};

// A `done` that adds to `o`, which it keeps alive: a late call finds it still there.
inline SampleDone Collect(const std::shared_ptr<Outcomes>& o) {
  return [o](ProbeOutcome out) { o->Add(std::move(out)); };
}

// One SampleAsync through `loop`, waited for (a loop without threads is driven here);
// a failed outcome saying so when none came within `wait`.
inline ProbeOutcome SampleAsyncAndWait(Probe& probe, EventLoop& loop, const SampleVars& vars = {},
                                       Millis wait = Millis(30000)) {
  auto outcomes = std::make_shared<Outcomes>();
  probe.SampleAsync(vars, loop, Collect(outcomes));
  if (loop.manual()) {
    const int64_t until = loop.NowMs() + wait.count();
    loop.Drive(Millis(1), [&] { return outcomes->Count() > 0 || loop.NowMs() >= until; });
  }
  if (outcomes->WaitFor(1, wait) == 0) return Failed("no outcome within " + FormatDuration(wait));
  // A second call would come straight after the first; give it the chance to be seen.
  EXPECT_EQ(outcomes->WaitFor(2, Millis(20)), 1u) << "done called more than once";
  return outcomes->Get().front();
}

// A real event loop for a test: 2 loop threads and 1 blocking thread, as small as the
// engine's on this machine.
inline std::unique_ptr<EventLoop> TestLoop(int threads = 2, int blocking = 1) {
  auto loop = EventLoop::Start(Env::Default(), threads, blocking);
  EXPECT_TRUE(loop.ok()) << loop.status().ToString();
  return loop.ok() ? std::move(*loop) : nullptr;
}

// Samples `probe` the way asked. REQUIRES: `loop` is set for kSampleAsync.
inline ProbeOutcome SampleBy(Way way, Probe& probe, EventLoop* loop, const SampleVars& vars = {}) {
  if (way == Way::kSample) return probe.Sample(vars);
  return SampleAsyncAndWait(probe, *loop, vars);
}

}  // namespace firedrill::testing
