// Services against real processes: process groups, captured output, teardown that leaves
// no grandchild behind, and exits noticed while the drill runs.
#include "runner/engine/services.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "runner/base/user.h"
#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

ServiceSpec Spec(const std::string& name) {
  ServiceSpec s;
  s.name = name;
  return s;
}

bool WaitFor(const std::function<bool()>& cond, int64_t ms = 5000) {
  for (int64_t waited = 0; waited < ms; waited += 10) {
    if (cond()) return true;
    usleep(10000);
  }
  return cond();
}

// `user:` runs the service as that user, in ${workdir}/users/USER, which it owns alone,
// with HOME and USER set to match; it is stopped like any other.
TEST(ServicesTest, AServiceRunsAsItsUserInADirectoryItOwns) {
  if (geteuid() != 0) GTEST_SKIP() << "switching user needs root";
  auto nobody = LookUpUser("nobody");
  if (!nobody.ok()) GTEST_SKIP() << "no user nobody: " << nobody.status().ToString();
  TempDir dir;
  Timeline tl(Env::Default());
  PidReaper reaper;
  std::vector<std::string> left;
  const std::string home = dir / "users/nobody";
  {
    Services services(Env::Default(), &tl, dir.path(), dir / "logs");
    ServiceSpec spec = Spec("db");
    spec.user = "nobody";
    ASSERT_TRUE(
        services.Start(spec, "echo \"$HOME $USER $(pwd)\"; touch mine; exec sleep 300").ok());
    auto pgid = services.ProcessGroup("db");
    ASSERT_TRUE(pgid.has_value());
    reaper.Watch(*pgid);
    ASSERT_TRUE(WaitFor([&] { return !ReadFile(dir / "logs/db.out.log").empty(); }));
    EXPECT_EQ(ReadFile(dir / "logs/db.out.log"), home + " nobody " + home + "\n");
    // The process is the user's (real, effective, saved and file-system ids).
    std::string uid_line;
    std::istringstream status(ReadFile("/proc/" + std::to_string(*pgid) + "/status"));
    for (std::string l; std::getline(status, l);) {
      if (l.rfind("Uid:", 0) == 0) uid_line = l;
    }
    const std::string u = std::to_string(nobody->uid);
    EXPECT_EQ(uid_line, "Uid:	" + u + "	" + u + "	" + u + "	" + u);
    struct stat st {};
    ASSERT_EQ(::stat(home.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, nobody->uid);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_TRUE(WaitFor([&] { return ::stat((home + "/mine").c_str(), &st) == 0; }));
    EXPECT_EQ(st.st_uid, nobody->uid) << "a file it made is its own";
    left = services.StopAll(Millis(2000));
    EXPECT_TRUE(Gone(*pgid));
  }
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
}

// A workdir under a directory the user cannot search is refused with the reason, before
// anything starts (the service would only say "permission denied").
TEST(ServicesTest, AUserThatCannotReachTheWorkdirIsRefusedWithTheReason) {
  if (geteuid() != 0) GTEST_SKIP() << "switching user needs root";
  if (!LookUpUser("nobody").ok()) GTEST_SKIP() << "no user nobody";
  TempDir dir;  // 0700, root's
  ::mkdir((dir / "work").c_str(), 0755);
  Timeline tl(Env::Default());
  Services services(Env::Default(), &tl, dir / "work", dir / "logs");
  ServiceSpec spec = Spec("db");
  spec.user = "nobody";
  Status st = services.Start(spec, "exec sleep 300");
  EXPECT_EQ(st.message(), "service db: user 'nobody' cannot reach the workdir: " + dir.path() +
                              " is not searchable by it (mode 0700)");
  EXPECT_FALSE(services.ProcessGroup("db").has_value());
  EXPECT_FALSE(std::filesystem::exists(dir / "work/users"));
}

TEST(ServicesTest, StartsInOwnGroupCapturesOutputAndStopsCleanly) {
  TempDir dir;
  Timeline tl(Env::Default());
  PidReaper reaper;
  std::vector<std::string> left;
  {
    Services services(Env::Default(), &tl, dir.path(), dir / "logs");
    ASSERT_TRUE(services.Start(Spec("echoer"), "echo hello; echo oops >&2; exec sleep 300").ok());
    auto pgid = services.ProcessGroup("echoer");
    ASSERT_TRUE(pgid.has_value());
    reaper.Watch(*pgid);
    EXPECT_EQ(ReadProcStat(*pgid)->pgrp, *pgid);  // its own group, not ours
    EXPECT_NE(*pgid, getpgrp());
    ASSERT_TRUE(WaitFor([&] { return ReadFile(dir / "logs/echoer.out.log") == "hello\n"; }));
    EXPECT_EQ(ReadFile(dir / "logs/echoer.err.log"), "oops\n");
    left = services.StopAll(Millis(2000));
    EXPECT_TRUE(Gone(*pgid));
    EXPECT_FALSE(services.ProcessGroup("echoer").has_value());
  }
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
  bool stopped = false;
  for (const auto& e : tl.Events()) stopped |= e.type == "service.stopped" && e.name == "echoer";
  EXPECT_TRUE(stopped);
}

TEST(ServicesTest, KillingTheWrapperLeavesNoGrandchildAfterTeardown) {
  TempDir dir;
  Timeline tl(Env::Default());
  PidReaper reaper;
  Services services(Env::Default(), &tl, dir.path(), dir / "logs");
  // A shell wrapper with a background child in its group, a daemon that double-forks into
  // its own session, and a child that ignores SIGTERM.
  ASSERT_TRUE(
      services
          .Start(Spec("wrapped"),
                 "sleep 300 & echo $! > bg.pid\n"
                 "(setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' &)\n"
                 "sh -c 'trap \"\" TERM; echo $$ > stubborn.pid; while :; do sleep 1; done' &\n"
                 "wait\n")
          .ok());
  ASSERT_TRUE(WaitFor([&] {
    return ReadPid(dir / "bg.pid") && ReadPid(dir / "daemon.pid") && ReadPid(dir / "stubborn.pid");
  }));
  pid_t bg = *ReadPid(dir / "bg.pid"), daemon = *ReadPid(dir / "daemon.pid"),
        stubborn = *ReadPid(dir / "stubborn.pid");
  reaper.Watch(bg);
  reaper.Watch(daemon);
  reaper.Watch(stubborn);
  pid_t wrapper = *services.ProcessGroup("wrapped");
  EXPECT_NE(ReadProcStat(daemon)->pgrp, wrapper);  // it really left the group

  ASSERT_EQ(::kill(wrapper, SIGKILL), 0);
  // Poll reaps the wrapper and says how it ended.
  EXPECT_TRUE(WaitFor([&] {
    services.Poll();
    for (const auto& e : tl.Events()) {
      if (e.type == "service.exited" && e.detail == "killed by SIGKILL") return true;
    }
    return false;
  }));
  EXPECT_TRUE(Gone(wrapper));
  EXPECT_FALSE(Gone(bg));
  EXPECT_FALSE(Gone(daemon));

  auto left = services.StopAll(Millis(300));
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
  EXPECT_TRUE(Gone(bg));
  EXPECT_TRUE(Gone(daemon));
  EXPECT_TRUE(Gone(stubborn));
  EXPECT_TRUE(Descendants(getpid()).empty());
}

TEST(ServicesTest, RestartOnFailureBringsAServiceBack) {
  TempDir dir;
  Timeline tl(Env::Default());
  Services services(Env::Default(), &tl, dir.path(), dir / "logs");
  ServiceSpec s = Spec("flaky");
  s.restart = RestartPolicy::kOnFailure;
  ASSERT_TRUE(services.Start(s, "echo started >> starts.log; exec sleep 300").ok());
  pid_t first = *services.ProcessGroup("flaky");
  // Killed only once it has really started, so the log shows exactly two starts.
  ASSERT_TRUE(WaitFor([&] { return ReadFile(dir / "starts.log") == "started\n"; }));
  ASSERT_EQ(::kill(-first, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] {
    services.Poll();
    auto now = services.ProcessGroup("flaky");
    return now && *now != first;
  }));
  EXPECT_TRUE(WaitFor([&] { return ReadFile(dir / "starts.log") == "started\nstarted\n"; }));
  EXPECT_TRUE(services.StopAll(Millis(2000)).empty());
}

}  // namespace
}  // namespace firedrill::testing
