// The command probe against real shell commands.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/base/event_loop.h"
#include "runner/base/proc.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/integration/harness.h"
#include "tests/probes/probe_test_base.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::ScopedEnvVar;
using ::firedrill::testing::TempDir;

// A fresh directory, removed with everything in it when the test ends, pass or fail.
// Sets an environment variable for one test and restores it afterwards.
// Params as the loader hands them over: validated, with every default filled in.
Params CommandParams(const std::string& run, int64_t exit_code = 0,
                     std::optional<std::string> stdout_re = {},
                     std::optional<std::string> stderr_re = {}, Millis timeout = Millis(5000)) {
  auto expect = std::make_shared<Params>();
  expect->Set("exit_code", {exit_code, {}});
  if (stdout_re) expect->Set("stdout_matches", {*stdout_re, {}});
  if (stderr_re) expect->Set("stderr_matches", {*stderr_re, {}});
  Params p;
  p.Set("run", {run, {}});
  p.Set("timeout", {timeout, {}});
  p.Set("expect", {expect, {}});
  return p;
}

// Every case runs twice: through Sample, which waits on the calling thread, and through
// SampleAsync, which waits on the run's loop. Both must give the same outcome.
class CommandProbeTest : public ::firedrill::testing::ProbeTestBase,
                         public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    ProbeTestBase::SetUp();
    auto loop = EventLoop::Start(Env::Default(), 2, 1);
    ASSERT_TRUE(loop.ok()) << loop.status().ToString();
    loop_ = std::move(*loop);
    ctx_.loop = loop_.get();
  }

  std::unique_ptr<Probe> Make(const Params& p) { return MakeProbe("command", p); }

  bool async() const { return GetParam(); }

  ProbeOutcome Take(Probe& probe, const SampleVars& vars) {
    if (!async()) return probe.Sample(vars);
    auto got = std::make_shared<std::promise<ProbeOutcome>>();
    probe.SampleAsync(vars, *loop_, [got](ProbeOutcome o) { got->set_value(std::move(o)); });
    auto f = got->get_future();
    if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << "SampleAsync never called back";
      return {false, "no callback"};
    }
    return f.get();
  }

  ProbeOutcome SampleOnce(const Params& p, std::optional<int64_t> seq = {}) {
    auto probe = Make(p);
    if (!probe) return {false, "no probe"};
    return Take(*probe, {.seq = seq});
  }

  // Declared last, so destroyed first: no command outlives the fixture's context.
  std::unique_ptr<EventLoop> loop_;
};

INSTANTIATE_TEST_SUITE_P(Paths, CommandProbeTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "SampleAsync" : "Sample";
                         });

TEST_P(CommandProbeTest, ExitZeroAndMatchingStdoutPasses) {
  auto out = SampleOnce(CommandParams("echo OK", 0, "OK"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 0, stdout \"OK\"");
}

TEST_P(CommandProbeTest, NoOutputDetailIsJustTheExit) {
  auto out = SampleOnce(CommandParams("true"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 0");
}

TEST_P(CommandProbeTest, WrongExitCodeNamesFirstStderrLine) {
  auto out = SampleOnce(CommandParams("echo boom >&2; echo second >&2; exit 1"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "exit 1 (expected 0): boom...");
}

TEST_P(CommandProbeTest, WrongExitCodeFallsBackToStdout) {
  auto out = SampleOnce(CommandParams("echo '(error) READONLY'; exit 2"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "exit 2 (expected 0): (error) READONLY");
}

TEST_P(CommandProbeTest, ExpectedNonZeroExitPasses) {
  auto out = SampleOnce(CommandParams("exit 3", 3));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 3");
}

TEST_P(CommandProbeTest, KilledBySignalFails) {
  auto out = SampleOnce(CommandParams("kill -TERM $$"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "killed by SIGTERM (expected exit 0)");
}

TEST_P(CommandProbeTest, StdoutMismatchQuotesOutputAndPattern) {
  auto out = SampleOnce(CommandParams("echo foo", 0, "bar"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "stdout \"foo\" does not match /bar/");
}

// A command whose whole output is one number reads it, passing or not (a lag over its
// bound fails the check, and is the figure that matters most); anything else reads none.
TEST_P(CommandProbeTest, AnOutputThatIsOneNumberIsItsValue) {
  auto lag = SampleOnce(CommandParams("printf '  1048576\\n'", 0, "^[0-9]{1,3}$"));
  EXPECT_FALSE(lag.passed);
  EXPECT_EQ(lag.value, std::optional<double>(1048576));
  EXPECT_EQ(SampleOnce(CommandParams("echo -0.25")).value, std::optional<double>(-0.25));
  EXPECT_EQ(SampleOnce(CommandParams("echo 12 34")).value, std::nullopt);
  EXPECT_EQ(SampleOnce(CommandParams("echo 12ms")).value, std::nullopt);
  EXPECT_EQ(SampleOnce(CommandParams("echo nan")).value, std::nullopt);
  EXPECT_EQ(SampleOnce(CommandParams("true")).value, std::nullopt);
  EXPECT_EQ(SampleOnce(CommandParams("echo 7; kill -TERM $$")).value, std::nullopt);
}

TEST_P(CommandProbeTest, StderrMatchesIsChecked) {
  auto pass = SampleOnce(CommandParams("echo warn >&2", 0, {}, "^warn$"));
  EXPECT_TRUE(pass.passed) << pass.detail;
  auto fail = SampleOnce(CommandParams("echo warn >&2", 0, {}, "^error"));
  EXPECT_FALSE(fail.passed);
  EXPECT_EQ(fail.detail, "stderr \"warn\" does not match /^error/");
}

// `^${seq}$` against "42\n" is the data verifier of docs/drill-format.md: anchors work per line.
TEST_P(CommandProbeTest, SeqExpandsInScriptAndPattern) {
  auto probe = Make(CommandParams("echo ${seq}", 0, "^${seq}$"));
  ASSERT_NE(probe, nullptr);
  auto first = Take(*probe, {.seq = 42});
  EXPECT_TRUE(first.passed) << first.detail;
  EXPECT_EQ(first.detail, "exit 0, stdout \"42\"");
  auto second = Take(*probe, {.seq = 7});
  EXPECT_TRUE(second.passed) << second.detail;
  EXPECT_EQ(second.detail, "exit 0, stdout \"7\"");

  auto stale = Make(CommandParams("echo 43", 0, "^${seq}$"));
  ASSERT_NE(stale, nullptr);
  auto out = Take(*stale, {.seq = 42});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "stdout \"43\" does not match /^42$/");
}

TEST_P(CommandProbeTest, AnchorsMatchAtLineBreaks) {
  auto out = SampleOnce(CommandParams("printf 'a\\nOK\\nb\\n'", 0, "^OK$"));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "exit 0, stdout \"a...\"");
}

TEST_P(CommandProbeTest, RunsInTheWorkdir) {
  auto out = SampleOnce(CommandParams("pwd", 0, "firedrill-test-"));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail,
            "exit 0, stdout \"" + std::filesystem::canonical(dir_.path()).string() + "\"");
}

TEST_P(CommandProbeTest, TimeoutKillsTheCommand) {
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce(CommandParams("sleep 30", 0, {}, {}, Millis(200)));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "timed out after 200ms");
  // Far below the 30s sleep: the command was killed, not waited for. Wide for loaded CI.
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST_P(CommandProbeTest, LongOutputIsCutInTheDetail) {
  auto out = SampleOnce(CommandParams("printf '%0200d\\n' 0"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 0, stdout \"" + std::string(80, '0') + "...\"");
}

// libstdc++'s recursive regex matcher overflows the stack when one match attempt runs
// over a few tens of KiB (here `^a*` over a 60000-character line); the probe must not.
TEST_P(CommandProbeTest, LongLineDoesNotCrashTheMatcher) {
  const std::string line = "head -c 60000 /dev/zero | tr '\\0' a; echo; ";
  auto out = SampleOnce(CommandParams(line + "echo OK", 0, "^a*OK$"));
  EXPECT_TRUE(out.passed) << out.detail;
  auto miss = SampleOnce(CommandParams(line + "echo KO", 0, "^a*OK$"));
  EXPECT_FALSE(miss.passed);
  EXPECT_EQ(miss.detail, "stdout \"" + std::string(80, 'a') + "...\" does not match /^a*OK$/");
}

TEST_P(CommandProbeTest, PatternInvalidOnlyAfterExpansionFails) {
  ScopedEnvVar var("FD_PROBE_TEST_RE", "(");
  auto out = SampleOnce(CommandParams("echo x", 0, "${env:FD_PROBE_TEST_RE}"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail.rfind("bad regex /(/: ", 0), 0u) << out.detail;
}

TEST_P(CommandProbeTest, UnsetEnvironmentVariableFails) {
  auto out = SampleOnce(CommandParams("echo ${env:FD_PROBE_TEST_UNSET_VAR}"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "environment variable FD_PROBE_TEST_UNSET_VAR is not set");
}

TEST_P(CommandProbeTest, CancelledRunStopsTheCommand) {
  std::atomic<bool> cancel{true};
  ctx_.cancel = &cancel;
  auto out = SampleOnce(CommandParams("sleep 30"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "cancelled");
}

// Cancelled while it runs, not before: the command stops within a few ticks.
TEST_P(CommandProbeTest, CancelDuringTheCommandIsPrompt) {
  std::atomic<bool> cancel{false};
  ctx_.cancel = &cancel;
  auto probe = Make(CommandParams("sleep 30", 0, {}, {}, Millis(60000)));
  ASSERT_NE(probe, nullptr);
  std::atomic<int64_t> set_at{0};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    set_at = Env::Default()->NowMs();
    cancel = true;
  });
  auto out = Take(*probe, {});
  const int64_t took = Env::Default()->NowMs() - set_at;
  canceller.join();
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "cancelled");
  // The flag is looked at every 10 ms; a second is a wide bound for a loaded machine.
  EXPECT_LT(took, 1000);
  ctx_.cancel = nullptr;
}

// ReapOrphans runs all the time in a real run (the engine calls it as it polls services),
// and a command's daemon is re-parented to firedrill and reaped by it; the command's own
// exit status must still reach the probe, every time. Each command leaves a daemon outside
// its process group (setsid), which records its parent after its own parent has gone.
TEST_P(CommandProbeTest, ExitCodeSurvivesAReaperAndTheOrphanIsReaped) {
  ::firedrill::testing::ReaperThread reaper;
  const pid_t self = getpid();
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    const std::string daemon =
        "setsid sh -c 'sleep 0.02; echo $$ $(cut -d\" \" -f4 /proc/$$/stat) > orphan.tmp; "
        "mv orphan.tmp orphan." +
        n + "' </dev/null >/dev/null 2>&1";
    auto out = SampleOnce(
        CommandParams("(" + daemon + " &); sleep 0.05; exit " + std::to_string(i + 1), i + 1));
    ASSERT_TRUE(out.passed) << i << ": " << out.detail;
    EXPECT_EQ(out.detail, "exit " + std::to_string(i + 1));

    // The daemon's report: its PID and its parent once orphaned (this process).
    std::string report;
    for (int t = 0; t < 500 && report.empty(); ++t) {
      std::ifstream in(dir_.path() + "/orphan." + n);
      std::getline(in, report);
      if (report.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_t orphan = 0, parent = 0;
    ASSERT_EQ(std::sscanf(report.c_str(), "%d %d", &orphan, &parent), 2) << report;
    EXPECT_EQ(parent, self) << "the daemon was not re-parented to this process";
    // It exits right after writing; then the reaper collects its zombie.
    bool reaped = false;
    for (int t = 0; t < 300 && !reaped; ++t) {
      auto st = ReadProcStat(orphan);
      reaped = !st || st->ppid != self;
      if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(reaped) << "daemon " << orphan << " left unreaped";
  }
  EXPECT_GT(reaper.calls(), 10);
}

// Where a probe runs is the engine's to route (runner/engine/remote/): a host's agent
// builds the same probe, host: and all, and it runs there, on its own machine.
TEST_P(CommandProbeTest, AHostIsTheEnginesToRouteTheKindRunsWhereItIsMade) {
  Params p = CommandParams("true");
  p.Set("host", {std::string("db1"), {}});
  auto probe = FindProbeKind("command")->make(p, ctx_);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_TRUE(Take(**probe, {}).passed);
}

}  // namespace
}  // namespace firedrill

namespace firedrill {
namespace {

class CommandProbeLoopTest : public ::firedrill::testing::ProbeTestBase {};

// A command waits on the loop, not on a thread: 100 slow commands at once on a loop of two
// threads take about as long as one, and the process gains no thread per command.
TEST_F(CommandProbeLoopTest, HundredSlowCommandsShareTwoThreads) {
  auto threads_now = [] {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
  };
  const size_t before = threads_now();
  auto loop = EventLoop::Start(Env::Default(), 2, 1);
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  ctx_.loop = loop->get();
  constexpr int kCommands = 100;
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < kCommands; ++i) {
    probes.push_back(MakeProbe("command", CommandParams("sleep 0.3")));
    ASSERT_NE(probes.back(), nullptr);
  }
  std::mutex mu;
  std::vector<ProbeOutcome> outcomes;
  const auto start = std::chrono::steady_clock::now();
  for (auto& p : probes) {
    p->SampleAsync({}, **loop, [&](ProbeOutcome o) {
      std::lock_guard<std::mutex> l(mu);
      outcomes.push_back(std::move(o));
    });
  }
  auto finished = [&] {
    std::lock_guard<std::mutex> l(mu);
    return outcomes.size() == kCommands;
  };
  size_t peak = threads_now();
  while (!finished() && std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
    peak = std::max(peak, threads_now());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(finished());
  for (const auto& o : outcomes) EXPECT_EQ(o.detail, "exit 0");
  // One after another they would take 30 s. Starting 100 shells (and 100 sleeps) on two
  // busy cores takes a while in itself: 5 s, about 16 commands' time, is a wide bound that
  // is still far from serial.
  EXPECT_LT(took, std::chrono::seconds(5));
  std::cout << "100 x sleep 0.3 took " << std::chrono::duration_cast<Millis>(took).count()
            << " ms; threads " << before << " before, " << peak << " at most\n";
  // The loop's two threads and its blocking thread, with room for what else the process
  // starts meanwhile; a thread per command would add 100.
  EXPECT_LE(peak, before + 10) << "threads before " << before << ", peak " << peak;
  probes.clear();
  loop->reset();
}

}  // namespace
}  // namespace firedrill
