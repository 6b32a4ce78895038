// The process probe against real processes (spawned, stopped, killed and reaped here), and
// the same paths driven by FakeEnv.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/base/proc.h"
#include "runner/base/subprocess.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/fake_env.h"
#include "tests/probes/probe_test_base.h"
#include "tests/testing.h"

extern char** environ;

namespace firedrill {
namespace {

using ::firedrill::testing::TempDir;

// A child process, killed and reaped when the test ends, pass or fail.
class Child {
 public:
  // Starts argv[0] with argv; in a process group of its own when `own_group`.
  Child(const std::vector<std::string>& argv, bool own_group) : group_(own_group) {
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    if (own_group) {
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
      posix_spawnattr_setpgroup(&attr, 0);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // Registered as owned, so that a concurrent ReapOrphans leaves it to us.
    OwnedChildGuard guard;
    pid_t pid = 0;
    if (posix_spawn(&pid, args[0], nullptr, &attr, args.data(), environ) == 0) {
      pid_ = pid;
      guard.Register(pid);
    }
    posix_spawnattr_destroy(&attr);
  }
  ~Child() {
    Kill();
    Reap();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) {
    if (pid_ > 0 && !reaped_) ::kill(group_ ? -pid_ : pid_, sig);
  }
  void Kill() { Signal(SIGKILL); }
  void Reap() {
    if (pid_ > 0 && !reaped_) {
      ::waitpid(pid_, nullptr, 0);
      ReleaseOwnedChild(pid_);
      reaped_ = true;
    }
  }

 private:
  pid_t pid_ = 0;
  bool group_;
  bool reaped_ = false;
};

// Polls /proc until `pid` is in `state` ('T', 'Z', ...); false after 5s.
bool WaitForState(pid_t pid, char state) {
  for (int i = 0; i < 500; ++i) {
    auto st = ReadProcStat(pid);
    if (st && st->state == state) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Polls /proc until process group `pgid` has `n` members; false after 5s.
bool WaitForGroupSize(pid_t pgid, size_t n) {
  for (int i = 0; i < 500; ++i) {
    size_t count = 0;
    for (pid_t p : ListPids()) {
      auto st = ReadProcStat(p);
      if (st && st->pgrp == pgid && st->state != 'Z') ++count;
    }
    if (count == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class TestServices final : public ServiceDirectory {
 public:
  std::optional<pid_t> ProcessGroup(const std::string& name) const override {
    auto it = groups.find(name);
    if (it == groups.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, pid_t> groups;
};

Params ProcessParams(const std::string& key, Param::Value target, const std::string& expect) {
  Params p;
  p.Set(key, {std::move(target), {}});
  p.Set("expect", {expect, {}});
  return p;
}
Params PidParams(pid_t pid, const std::string& expect) {
  return ProcessParams("pid", int64_t{pid}, expect);
}

class ProcessProbeTest : public ::firedrill::testing::ProbeTestBase {
 protected:
  ProbeOutcome SampleOnce(const Params& p) {
    const ProbeKind* kind = FindProbeKind("process");
    if (!kind || !kind->make) return {false, "process probe has no runtime"};
    auto probe = kind->make(p, ctx_);
    if (!probe.ok()) return {false, probe.status().ToString()};
    return (*probe)->Sample({});
  }
};

TEST_F(ProcessProbeTest, PidRunningStoppedZombieGone) {
  Child child({"/bin/sleep", "30"}, false);
  const pid_t pid = child.pid();
  ASSERT_GT(pid, 0);
  const std::string who = "PID " + std::to_string(pid) + ": ";

  auto out = SampleOnce(PidParams(pid, "running"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, who + "running");
  EXPECT_FALSE(SampleOnce(PidParams(pid, "stopped")).passed);

  child.Signal(SIGSTOP);
  ASSERT_TRUE(WaitForState(pid, 'T'));
  out = SampleOnce(PidParams(pid, "running"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, who + "stopped");
  EXPECT_TRUE(SampleOnce(PidParams(pid, "stopped")).passed);

  child.Signal(SIGCONT);
  ASSERT_TRUE(WaitForState(pid, 'S'));
  EXPECT_TRUE(SampleOnce(PidParams(pid, "running")).passed);

  child.Kill();
  ASSERT_TRUE(WaitForState(pid, 'Z'));
  out = SampleOnce(PidParams(pid, "running"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, who + "zombie (exited)");
  EXPECT_TRUE(SampleOnce(PidParams(pid, "stopped")).passed);

  child.Reap();
  out = SampleOnce(PidParams(pid, "stopped"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, who + "gone");
}

TEST_F(ProcessProbeTest, PidfileIsReadRelativeToWorkdir) {
  Child child({"/bin/sleep", "30"}, false);
  ASSERT_GT(child.pid(), 0);
  std::ofstream(dir_.path() + "/app.pid") << child.pid() << "\n";
  auto out = SampleOnce(ProcessParams("pidfile", std::string("app.pid"), "running"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "PID " + std::to_string(child.pid()) + " (pidfile " + dir_.path() +
                            "/app.pid): running");
}

TEST_F(ProcessProbeTest, MissingPidfileIsNotRunning) {
  const std::string want = "not running (cannot read pidfile " + dir_.path() + "/none.pid)";
  auto running =
      SampleOnce(ProcessParams("pidfile", std::string("${workdir}/none.pid"), "running"));
  EXPECT_FALSE(running.passed);
  EXPECT_EQ(running.detail, want);
  auto stopped =
      SampleOnce(ProcessParams("pidfile", std::string("${workdir}/none.pid"), "stopped"));
  EXPECT_TRUE(stopped.passed);
  EXPECT_EQ(stopped.detail, want);
}

// Every process by that name counts. A symlink gives the children a name no other
// process has (/proc/PID/comm is the name the program was executed by).
TEST_F(ProcessProbeTest, NameCoversEveryProcessOfThatName) {
  const std::string name = "fdp" + std::to_string(getpid());
  const std::string exe = dir_.path() + "/" + name;
  ASSERT_EQ(::symlink("/bin/sleep", exe.c_str()), 0);
  Child a({exe, "30"}, false);
  Child b({exe, "30"}, false);
  ASSERT_GT(a.pid(), 0);
  ASSERT_GT(b.pid(), 0);
  const std::string who = "2 process(es) named " + name + ": ";

  auto out = SampleOnce(ProcessParams("name", name, "running"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, who + "2 running");
  b.Signal(SIGSTOP);
  ASSERT_TRUE(WaitForState(b.pid(), 'T'));
  out = SampleOnce(ProcessParams("name", name, "running"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, who + "1 running, 1 stopped");
  EXPECT_FALSE(SampleOnce(ProcessParams("name", name, "stopped")).passed);

  a.Kill();
  b.Kill();
  a.Reap();
  b.Reap();
  out = SampleOnce(ProcessParams("name", name, "stopped"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "not running (no process named " + name + ")");
}

TEST_F(ProcessProbeTest, ServiceProcessGroup) {
  // Two members: the shell (exec'd into sleep) and a background sleep.
  Child service({"/bin/sh", "-c", "sleep 30 & exec sleep 30"}, true);
  const pid_t pgid = service.pid();
  ASSERT_GT(pgid, 0);
  ASSERT_TRUE(WaitForGroupSize(pgid, 2));
  TestServices services;
  services.groups["web"] = pgid;
  ctx_.services = &services;
  const std::string who = "process group " + std::to_string(pgid) + " (service web): ";

  auto out = SampleOnce(ProcessParams("service", std::string("web"), "running"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, who + "2 running");

  // One member stopped: neither running nor stopped.
  ::kill(pgid, SIGSTOP);
  ASSERT_TRUE(WaitForState(pgid, 'T'));
  out = SampleOnce(ProcessParams("service", std::string("web"), "running"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, who + "1 running, 1 stopped");
  EXPECT_FALSE(SampleOnce(ProcessParams("service", std::string("web"), "stopped")).passed);

  service.Signal(SIGSTOP);
  out = SampleOnce(ProcessParams("service", std::string("web"), "stopped"));
  for (int i = 0; i < 500 && !out.passed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    out = SampleOnce(ProcessParams("service", std::string("web"), "stopped"));
  }
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, who + "2 stopped");

  service.Kill();
  service.Reap();
  ReapOrphans();  // the background sleep, if this process is a subreaper
  // The background sleep was killed with the group; its zombie is reaped by init (or
  // by a subreaper), which may take a moment.
  ASSERT_TRUE(WaitForGroupSize(pgid, 0));
  out = SampleOnce(ProcessParams("service", std::string("web"), "running"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, who + "gone");
}

TEST_F(ProcessProbeTest, UnknownServiceIsNotRunning) {
  TestServices services;
  ctx_.services = &services;
  auto out = SampleOnce(ProcessParams("service", std::string("db"), "running"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "not running (service db is not running)");
  ctx_.services = nullptr;
  out = SampleOnce(ProcessParams("service", std::string("db"), "stopped"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "not running (no services were started)");
}

// The same paths with states set by hand: what the engine's own tests rely on.
class ProcessProbeFakeEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.env = &env_;
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
    ctx_.services = &services_;
  }
  std::unique_ptr<Probe> Make(const Params& p) {
    auto probe = FindProbeKind("process")->make(p, ctx_);
    EXPECT_TRUE(probe.ok());
    return probe.ok() ? std::move(*probe) : nullptr;
  }

  FakeEnv env_;
  Expander expander_{"/tmp", {}};
  TestServices services_;
  RunContext ctx_;
};

TEST_F(ProcessProbeFakeEnvTest, PidFollowsTheEnvState) {
  auto running = Make(PidParams(4242, "running"));
  auto stopped = Make(PidParams(4242, "stopped"));
  ASSERT_TRUE(running && stopped);

  env_.SetState(4242, ProcState::kRunning);
  EXPECT_EQ(running->Sample({}).detail, "PID 4242: running");
  EXPECT_TRUE(running->Sample({}).passed);
  EXPECT_FALSE(stopped->Sample({}).passed);

  env_.SetState(4242, ProcState::kStopped);
  EXPECT_FALSE(running->Sample({}).passed);
  EXPECT_TRUE(stopped->Sample({}).passed);
  EXPECT_EQ(stopped->Sample({}).detail, "PID 4242: stopped");

  env_.SetState(4242, ProcState::kZombie);
  EXPECT_FALSE(running->Sample({}).passed);
  EXPECT_TRUE(stopped->Sample({}).passed);

  env_.SetState(4242, ProcState::kGone);
  EXPECT_EQ(running->Sample({}).detail, "PID 4242: gone");
  EXPECT_TRUE(stopped->Sample({}).passed);
  // A probe only looks.
  EXPECT_TRUE(env_.signals().empty());
}

// A process group ID no real process uses, so /proc adds no members: the leader's state
// (the group ID is its PID) comes from the fake.
TEST_F(ProcessProbeFakeEnvTest, ServiceGroupFollowsTheEnv) {
  constexpr pid_t kGroup = 3999999;
  ASSERT_FALSE(ReadProcStat(kGroup).has_value());
  services_.groups["web"] = kGroup;
  auto running = Make(ProcessParams("service", std::string("web"), "running"));
  auto stopped = Make(ProcessParams("service", std::string("web"), "stopped"));
  ASSERT_TRUE(running && stopped);
  const std::string who = "process group 3999999 (service web): ";

  env_.SetGroupAlive(kGroup, true);
  env_.SetState(kGroup, ProcState::kRunning);
  EXPECT_EQ(running->Sample({}).detail, who + "running");
  EXPECT_TRUE(running->Sample({}).passed);
  EXPECT_FALSE(stopped->Sample({}).passed);

  env_.SetState(kGroup, ProcState::kStopped);
  EXPECT_FALSE(running->Sample({}).passed);
  EXPECT_TRUE(stopped->Sample({}).passed);
  EXPECT_EQ(stopped->Sample({}).detail, who + "stopped");

  // The leader has exited but the group lives on, and no member is seen stopped.
  env_.SetState(kGroup, ProcState::kGone);
  EXPECT_TRUE(running->Sample({}).passed);
  EXPECT_FALSE(stopped->Sample({}).passed);

  env_.SetGroupAlive(kGroup, false);
  EXPECT_EQ(running->Sample({}).detail, who + "gone");
  EXPECT_FALSE(running->Sample({}).passed);
  EXPECT_TRUE(stopped->Sample({}).passed);
  EXPECT_TRUE(env_.signals().empty());
}

TEST(FakeEnvTest, ClockStatesGroupsAndSignals) {
  FakeEnv env;
  const int64_t t0 = env.NowMs();
  env.SleepMs(250);
  env.AdvanceMs(50);
  EXPECT_EQ(env.NowMs() - t0, 300);
  EXPECT_EQ(env.State(77), ProcState::kGone);
  env.SetState(77, ProcState::kStopped);
  EXPECT_EQ(env.State(77), ProcState::kStopped);
  EXPECT_FALSE(env.GroupAlive(88));
  env.SetGroupAlive(88, true);
  EXPECT_TRUE(env.GroupAlive(88));
  EXPECT_TRUE(env.Signal(-88, SIGSTOP).ok());
  env.SetSignalStatus(Status::Failed("no such process"));
  EXPECT_FALSE(env.Signal(77, SIGKILL).ok());
  std::vector<FakeEnv::SentSignal> want{{-88, SIGSTOP}, {77, SIGKILL}};
  EXPECT_EQ(env.signals(), want);
}

}  // namespace
}  // namespace firedrill
