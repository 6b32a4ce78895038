// RunShell against real /bin/sh: exit codes, output, timeouts, and nothing left behind.
#include "runner/base/subprocess.h"

#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

TEST(SubprocessTest, ExitCodeAndOutputAreCaptured) {
  TempDir dir;
  auto r = RunShell({.script = "echo out; echo err >&2; pwd; exit 7", .cwd = dir.path()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->out, "out\n" + std::filesystem::canonical(dir.path()).string() + "\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->Describe(), "exit 7");
}

TEST(SubprocessTest, KilledBySignalIsReported) {
  auto r = RunShell({.script = "kill -TERM $$; sleep 5", .cwd = "."});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_EQ(r->Describe(), "killed by SIGTERM");
}

TEST(SubprocessTest, TimeoutKillsTheWholeGroup) {
  TempDir dir;
  PidReaper reaper;
  auto r = RunShell({.script = "sleep 30 & echo $! > child.pid; sleep 30",
                     .cwd = dir.path(),
                     .timeout = Millis(300)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  auto child = ReadPid(dir / "child.pid");
  ASSERT_TRUE(child.has_value());
  reaper.Watch(*child);
  // Wide bound: the child is SIGKILLed with its group, so it is gone almost at once.
  for (int i = 0; i < 200 && !Gone(*child); ++i) usleep(10000);
  EXPECT_TRUE(Gone(*child));
  // Started 30 s sleeps, yet returned: the timeout (300 ms) ended it. 10 s is a wide bound.
  EXPECT_LT(r->elapsed.count(), 10000);
}

TEST(SubprocessTest, BackgroundLeftoversDieWhenTheShellExits) {
  TempDir dir;
  PidReaper reaper;
  auto r = RunShell({.script = "sleep 30 & echo $! > child.pid; echo done", .cwd = dir.path()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "done\n");
  auto child = ReadPid(dir / "child.pid");
  ASSERT_TRUE(child.has_value());
  reaper.Watch(*child);
  for (int i = 0; i < 200 && !Gone(*child); ++i) usleep(10000);
  EXPECT_TRUE(Gone(*child));
}

// A daemon (redis-server --daemonize yes) forks, its parent exits, and the child leaves
// the group with setsid a moment later. The shell's exit is seen at once, so the group
// must not be killed before that moment has passed: here the child takes 50 ms to leave,
// the alerting drill's restarted Redis was killed before it did (CI, 2026-12-02).
TEST(SubprocessTest, ADaemonThatLeavesTheGroupAMomentLaterSurvives) {
  TempDir dir;
  PidReaper reaper;
  // As daemon(3) does: out of the group first (setsid), then the output let go.
  auto r = RunShell({.script = "(sleep 0.05; exec setsid sh -c 'exec >/dev/null 2>&1 </dev/null; "
                               "echo $$ > daemon.pid; exec sleep 30') & echo started",
                     .cwd = dir.path()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  std::optional<pid_t> daemon;
  for (int i = 0; i < 200 && !(daemon = ReadPid(dir / "daemon.pid")); ++i) usleep(10000);
  ASSERT_TRUE(daemon.has_value()) << "the daemon was killed before it left the group";
  reaper.Watch(*daemon);
  EXPECT_FALSE(Gone(*daemon));
  ::kill(*daemon, SIGKILL);
}

TEST(SubprocessTest, OutputIsCappedButTheCommandStillFinishes) {
  auto r = RunShell({.script = "head -c 1000000 /dev/zero | tr '\\0' x; echo; exit 3",
                     .cwd = ".",
                     .timeout = Millis(5000),
                     .capture_limit = 1000});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out.size(), 1000u);
}

TEST(SubprocessTest, CancelStopsALongCommand) {
  std::atomic<bool> cancel{true};
  auto r = RunShell({.script = "sleep 30", .cwd = ".", .timeout = Millis(60000)}, &cancel);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->Describe(), "cancelled");
}

}  // namespace
}  // namespace firedrill::testing
