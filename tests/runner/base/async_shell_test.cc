// StartShell against real /bin/sh on a real loop: the same results as RunShell, no thread
// held per command, and owned children kept apart from the orphans ReapOrphans collects.
#include "runner/base/async_shell.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/event_loop.h"
#include "runner/base/proc.h"
#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

using std::chrono::steady_clock;

// Collects the results of several commands and waits for them, bounded.
class Results {
 public:
  explicit Results(size_t n) : got_(n) {}
  ShellDone For(size_t i) {
    return [this, i](Result<ShellResult> r) {
      std::lock_guard<std::mutex> l(mu_);
      EXPECT_FALSE(got_[i].has_value()) << "command " << i << " reported twice";
      got_[i].emplace(std::move(r));
      ++count_;
      cv_.notify_all();
    };
  }
  // False when they did not all arrive within `budget`.
  bool Wait(std::chrono::milliseconds budget = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, budget, [&] { return count_ == got_.size(); });
  }
  Result<ShellResult>& operator[](size_t i) { return *got_[i]; }
  size_t count() {
    std::lock_guard<std::mutex> l(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<Result<ShellResult>>> got_;
  size_t count_ = 0;
};

std::unique_ptr<EventLoop> RealLoop(int threads = 2) {
  auto loop = EventLoop::Start(Env::Default(), threads, 1);
  EXPECT_TRUE(loop.ok()) << loop.status().ToString();
  return loop.ok() ? std::move(*loop) : nullptr;
}

TEST(AsyncShellTest, ExitCodeAndOutputAreCaptured) {
  TempDir dir;
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  Results results(1);
  RunShellAsync(*loop, {.script = "echo out; echo err >&2; pwd; exit 7", .cwd = dir.path()},
                nullptr, results.For(0));
  ASSERT_TRUE(results.Wait());
  auto& r = results[0];
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->out, "out\n" + std::filesystem::canonical(dir.path()).string() + "\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->Describe(), "exit 7");
}

TEST(AsyncShellTest, KilledBySignalIsReported) {
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  Results results(1);
  RunShellAsync(*loop, {.script = "kill -TERM $$; sleep 5", .cwd = "."}, nullptr, results.For(0));
  ASSERT_TRUE(results.Wait());
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0]->term_signal, SIGTERM);
  EXPECT_EQ(results[0]->Describe(), "killed by SIGTERM");
}

TEST(AsyncShellTest, TimeoutKillsTheWholeGroup) {
  TempDir dir;
  PidReaper reaper;
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  Results results(1);
  RunShellAsync(*loop,
                {.script = "sleep 30 & echo $! > child.pid; sleep 30",
                 .cwd = dir.path(),
                 .timeout = Millis(300)},
                nullptr, results.For(0));
  ASSERT_TRUE(results.Wait());
  auto& r = results[0];
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  auto child = ReadPid(dir / "child.pid");
  ASSERT_TRUE(child.has_value());
  reaper.Watch(*child);
  // Wide bound: the child is SIGKILLed with its group, so it is gone almost at once.
  for (int i = 0; i < 200 && !Gone(*child); ++i) usleep(10000);
  EXPECT_TRUE(Gone(*child));
  // 300 ms limit on 30 s sleeps; 10 s is a wide bound for a loaded machine.
  EXPECT_LT(r->elapsed.count(), 10000);
}

TEST(AsyncShellTest, CancelIsHonouredPromptly) {
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  std::atomic<bool> cancel{false};
  Results results(1);
  RunShellAsync(*loop, {.script = "sleep 30", .cwd = ".", .timeout = Millis(60000)}, &cancel,
                results.For(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(results.count(), 0u);
  const auto set = steady_clock::now();
  cancel = true;
  ASSERT_TRUE(results.Wait());
  // The flag is looked at every 10 ms; a second is a wide bound for a loaded machine.
  EXPECT_LT(steady_clock::now() - set, std::chrono::seconds(1));
  ASSERT_TRUE(results[0].ok());
  EXPECT_TRUE(results[0]->cancelled);
  EXPECT_EQ(results[0]->Describe(), "cancelled");
}

TEST(AsyncShellTest, OutputIsCappedButTheCommandStillFinishes) {
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  Results results(1);
  RunShellAsync(*loop,
                {.script = "head -c 1000000 /dev/zero | tr '\\0' x; echo; exit 3",
                 .cwd = ".",
                 .capture_limit = 1000},
                nullptr, results.For(0));
  ASSERT_TRUE(results.Wait());
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0]->exit_code, 3);
  EXPECT_EQ(results[0]->out.size(), 1000u);
}

TEST(AsyncShellTest, AMissingWorkdirIsAnErrorNotAResult) {
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  Results results(1);
  RunShellAsync(*loop, {.script = "true", .cwd = "/nonexistent/firedrill"}, nullptr,
                results.For(0));
  ASSERT_TRUE(results.Wait());
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].status().code(), Status::Code::kIo);
  EXPECT_EQ(results[0].status().message(),
            "cannot start /bin/sh in /nonexistent/firedrill: No such file or directory");
}

// A loop with no threads runs only when driven: the command still completes there.
TEST(AsyncShellTest, RunsOnADrivenLoop) {
  auto loop = EventLoop::Start(Env::Default(), 0, 0);
  ASSERT_TRUE(loop.ok());
  Results results(1);
  RunShellAsync(**loop, {.script = "echo hi", .cwd = "."}, nullptr, results.For(0));
  const auto deadline = steady_clock::now() + std::chrono::seconds(30);
  (*loop)->Drive(Millis(1), [&] { return results.count() == 1 || steady_clock::now() > deadline; });
  ASSERT_EQ(results.count(), 1u);
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0]->out, "hi\n");
}

// The loop going away mid-command kills the command's group, and nothing is reported.
TEST(AsyncShellTest, DestroyingTheLoopKillsTheCommand) {
  TempDir dir;
  PidReaper reaper;
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  std::atomic<int> calls{0};
  RunShellAsync(*loop, {.script = "echo $$ > shell.pid; sleep 30", .cwd = dir.path()}, nullptr,
                [&calls](Result<ShellResult>) { ++calls; });
  std::optional<pid_t> shell;
  for (int i = 0; i < 500 && !(shell = ReadPid(dir / "shell.pid")); ++i) usleep(10000);
  ASSERT_TRUE(shell.has_value());
  reaper.Watch(*shell);
  loop.reset();
  EXPECT_EQ(calls, 0);
  // Killed at once; reaped here, or by ReapOrphans once it is a zombie.
  for (int i = 0; i < 200 && !Gone(*shell); ++i) {
    ReapOrphans();
    usleep(10000);
  }
  EXPECT_TRUE(Gone(*shell));
}

// The property the engine depends on: with ReapOrphans running all the time (the engine
// calls it as it polls services), every command's own exit status still reaches it, while
// the daemons its commands leave behind are re-parented here and collected. Each of the 50
// commands leaves an orphan that exits while the commands still run.
TEST(AsyncShellTest, OrphansAreReapedAndOwnedExitCodesSurvive) {
  TempDir dir;
  auto loop = RealLoop();
  ASSERT_NE(loop, nullptr);
  ReaperThread reaper;
  constexpr size_t kCommands = 50;
  Results results(kCommands);
  for (size_t i = 0; i < kCommands; ++i) {
    const std::string n = std::to_string(i);
    // The subshell exits at once, so the sleep is orphaned and re-parented to the nearest
    // subreaper: this process. It outlives no one: the shell itself runs 0.2 s longer.
    RunShellAsync(*loop,
                  {.script = "(sleep 0.2 </dev/null >/dev/null 2>&1 & echo $! > orphan." + n +
                             "); sleep 0.4; exit " + std::to_string(i + 1),
                   .cwd = dir.path()},
                  nullptr, results.For(i));
  }
  // Each orphan is seen with this process as its parent while it sleeps.
  const pid_t self = getpid();
  std::vector<std::optional<pid_t>> orphans(kCommands);
  std::vector<bool> adopted(kCommands, false);
  const auto deadline = steady_clock::now() + std::chrono::seconds(30);
  while (results.count() < kCommands && steady_clock::now() < deadline) {
    for (size_t i = 0; i < kCommands; ++i) {
      if (adopted[i]) continue;
      if (!orphans[i]) orphans[i] = ReadPid(dir / ("orphan." + std::to_string(i)));
      if (!orphans[i]) continue;
      auto st = ReadProcStat(*orphans[i]);
      if (st && st->ppid == self) adopted[i] = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(results.Wait());
  for (size_t i = 0; i < kCommands; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status().ToString();
    EXPECT_EQ(results[i]->exit_code, static_cast<int>(i + 1)) << results[i]->Describe();
    EXPECT_TRUE(adopted[i]) << "orphan " << i << " was never seen re-parented here";
  }
  EXPECT_GT(reaper.calls(), 10);
  // Every orphan has exited by now (0.2 s sleeps, the shells ran 0.4 s): none is left a
  // zombie of this process once the reaper has had a moment.
  for (size_t i = 0; i < kCommands; ++i) {
    if (!orphans[i]) continue;
    bool reaped = false;
    for (int t = 0; t < 300 && !reaped; ++t) {
      auto st = ReadProcStat(*orphans[i]);
      reaped = !st || st->ppid != self;
      if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(reaped) << "orphan " << *orphans[i] << " left unreaped";
  }
}

}  // namespace
}  // namespace firedrill::testing
