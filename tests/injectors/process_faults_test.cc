// process.kill and process.pause against real processes, and (beside them) through
// FakeEnv to pin down exactly which signals go where.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "injectors/fault_registry.h"
#include "runner/drill/fault.h"
#include "runner/drill/process_target.h"
#include "tests/fake_env.h"
#include "tests/injectors/injector_fixture.h"
#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

// A `sleep` of our own, in its own process group, reaped when the test ends.
class Sleeper {
 public:
  Sleeper() {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
  }
  ~Sleeper() {
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  // Waits (bounded) for the state letter in /proc/PID/stat, without reaping.
  bool WaitState(char want) const {
    for (int i = 0; i < 300; ++i) {
      auto st = ReadProcStat(pid_);
      if (st && st->state == want) return true;
      usleep(10000);
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
};

FaultSpec Spec(const std::string& action, Target target, int64_t signal = SIGKILL) {
  FaultSpec f;
  f.name = "f";
  f.action = action;
  f.target = target;
  Param p;
  p.value = signal;
  f.with.Set("signal", p);
  return f;
}

Target ServiceTarget(const std::string& name) {
  Target t;
  t.service = name;
  return t;
}

struct Fixture : InjectorFixture {
  explicit Fixture(Env* env) : InjectorFixture(env) {}
};

TEST(ProcessFaultTest, PauseStopsARealProcessAndRollbackResumesIt) {
  Sleeper s;
  Fixture fx(Env::Default());
  fx.services.groups["db"] = s.pid();
  auto fault =
      FindFaultAction("process.pause")->make(Spec("process.pause", ServiceTarget("db")), fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected, "SIGSTOP to process group " + std::to_string(s.pid()) + " (service db)");
  EXPECT_TRUE(s.WaitState('T'));
  EXPECT_TRUE((*fault)->Reversible());
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(*rolled, "SIGCONT to process group " + std::to_string(s.pid()));
  EXPECT_TRUE(s.WaitState('S'));
}

TEST(ProcessFaultTest, KillByPidfileKillsARealProcess) {
  Sleeper s;
  Fixture fx(Env::Default());
  WriteFile(fx.workdir + "/app.pid", std::to_string(s.pid()) + "\n");
  Target t;
  t.pidfile = "app.pid";  // relative to the workdir
  auto fault = FindFaultAction("process.kill")->make(Spec("process.kill", t, SIGTERM), fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected,
            "SIGTERM to PID " + std::to_string(s.pid()) + " (pidfile " + fx.workdir + "/app.pid)");
  EXPECT_FALSE((*fault)->Reversible());
  int status = 0;
  ASSERT_EQ(waitpid(s.pid(), &status, 0), s.pid());
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(ProcessFaultTest, RefusesToSignalItselfOrPid1) {
  Fixture fx(Env::Default());
  for (pid_t p : {getpid(), getppid(), 1}) {
    Target t;
    t.pid = p;
    auto fault = FindFaultAction("process.kill")->make(Spec("process.kill", t, SIGCONT), fx.ctx);
    ASSERT_TRUE(fault.ok());
    auto r = (*fault)->Inject();
    EXPECT_FALSE(r.ok()) << p;
    EXPECT_NE(r.status().message().find("refusing"), std::string::npos) << r.status().message();
  }
}

TEST(ProcessFaultTest, ServiceThatIsNotRunningIsAnError) {
  Fixture fx(Env::Default());
  auto fault =
      FindFaultAction("process.kill")->make(Spec("process.kill", ServiceTarget("gone")), fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto r = (*fault)->Inject();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "service gone is not running");
}

// The same paths through FakeEnv: exactly which signal goes to which group.
TEST(ProcessFaultTest, FakeEnvSeesGroupSignalsInOrder) {
  FakeEnv env;
  Fixture fx(&env);
  fx.services.groups["db"] = 4242;
  env.SetGroupAlive(4242, true);
  env.SetStartTime(4242, 777);
  auto pause =
      FindFaultAction("process.pause")->make(Spec("process.pause", ServiceTarget("db")), fx.ctx);
  auto kill = FindFaultAction("process.kill")
                  ->make(Spec("process.kill", ServiceTarget("db"), SIGKILL), fx.ctx);
  ASSERT_TRUE(pause.ok() && kill.ok());
  ASSERT_TRUE((*pause)->Inject().ok());
  ASSERT_TRUE((*pause)->Rollback().ok());
  ASSERT_TRUE((*kill)->Inject().ok());
  std::vector<FakeEnv::SentSignal> want = {{-4242, SIGSTOP}, {-4242, SIGCONT}, {-4242, SIGKILL}};
  EXPECT_EQ(env.signals(), want);
}

// The journal keeps each paused PID with its start time: a PID that names another
// process by rollback time is left alone.
TEST(ProcessFaultTest, RollbackNeverSignalsAReusedPid) {
  FakeEnv env;
  Fixture fx(&env);
  env.SetStartTime(5000, 111);
  env.SetStartTime(5001, 222);
  env.SetOwnDescendant(5000);
  env.SetOwnDescendant(5001);
  Target t;
  t.name = "";
  t.pid = 5000;
  auto a = FindFaultAction("process.pause")->make(Spec("process.pause", t), fx.ctx);
  t.pid = 5001;
  auto b = FindFaultAction("process.pause")->make(Spec("process.pause", t), fx.ctx);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Inject().ok());
  ASSERT_TRUE((*b)->Inject().ok());
  env.SetStartTime(5000, 999);  // 5000 died and the number went to someone else
  auto ra = (*a)->Rollback();
  auto rb = (*b)->Rollback();
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(*ra, "PID 5000 reused since (start time differs), not signalled");
  EXPECT_EQ(*rb, "SIGCONT to PID 5001");
  std::vector<FakeEnv::SentSignal> want = {{5000, SIGSTOP}, {5001, SIGSTOP}, {5001, SIGCONT}};
  EXPECT_EQ(env.signals(), want);
  EXPECT_TRUE(fx.journal->Pending().empty());
}

// The blast radius at the moment of acting: a process the drill did not start is signalled
// only when its executable is listed in settings.allow_processes.
TEST(ProcessFaultTest, AProcessTheDrillDidNotStartIsRefusedUnlessItsNameIsListed) {
  FakeEnv env;
  Fixture fx(&env);
  env.SetStartTime(6000, 10);
  env.SetExecutableName(6000, "sshd");
  Target t;
  t.pid = 6000;
  auto kill = FindFaultAction("process.kill")->make(Spec("process.kill", t, SIGTERM), fx.ctx);
  ASSERT_TRUE(kill.ok());
  auto refused = (*kill)->Inject();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "refusing to signal PID 6000 (sshd): the drill did not start it, and "
            "settings.allow_processes does not list sshd");
  EXPECT_TRUE(env.signals().empty());

  fx.ctx.allow_processes = {"sshd"};
  auto allowed = (*kill)->Inject();
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  std::vector<FakeEnv::SentSignal> want = {{6000, SIGTERM}};
  EXPECT_EQ(env.signals(), want);
}

// Resolved, then reused before the signal: the start time taken at resolution no longer
// matches, and nothing is sent.
TEST(ProcessFaultTest, APidReusedBetweenResolutionAndSignalIsNotSignalled) {
  FakeEnv env;
  env.SetStartTime(7000, 1);
  env.SetOwnDescendant(7000);
  InjectorFixture fx(&env);
  TargetRef ref;
  ref.pid = 7000;
  auto t = ResolveTarget(ref, fx.ctx, TargetUse::kSignal);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  env.SetStartTime(7000, 2);
  Status st = SignalTarget(*t, SIGKILL, &env);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "PID 7000 names another process now (its start time changed): not signalled");
  EXPECT_TRUE(env.signals().empty());
}

// The real Env, on a real process the test did not start (its parent: ctest, or a shell):
// refused before any signal is attempted; and a real child of the test is the drill's own.
TEST(ProcessFaultTest, RealProcessesOutsideTheRunAreRefused) {
  Fixture fx(Env::Default());
  const pid_t parent = getppid();
  WriteFile(fx.workdir + "/parent.pid", std::to_string(parent) + "\n");
  Target t;
  t.pidfile = "parent.pid";
  auto kill = FindFaultAction("process.kill")->make(Spec("process.kill", t, SIGCONT), fx.ctx);
  ASSERT_TRUE(kill.ok());
  auto r = (*kill)->Inject();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("refusing to signal PID " + std::to_string(parent)),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("the drill did not start it"), std::string::npos);

  Sleeper s;
  EXPECT_TRUE(Env::Default()->IsOwnDescendant(s.pid()));
  EXPECT_FALSE(Env::Default()->IsOwnDescendant(getpid()));
  EXPECT_FALSE(Env::Default()->IsOwnDescendant(1));
  // The child is ours from its fork on; its name is sleep once it has run exec.
  std::string name;
  for (int i = 0; i < 300 && (name = Env::Default()->ExecutableName(s.pid())) != "sleep"; ++i) {
    usleep(10000);
  }
  EXPECT_EQ(name, "sleep");
}

TEST(CommandFaultTest, RunsAndRollsBackInTheWorkdir) {
  Fixture fx(Env::Default());
  FaultSpec f;
  f.name = "flag";
  f.action = "command";
  auto set = [&](const char* k, Param::Value v) {
    Param p;
    p.value = std::move(v);
    f.with.Set(k, p);
  };
  set("run", std::string("echo on > ${workdir}/flag"));
  set("rollback", std::string("rm flag"));
  set("timeout", Millis(5000));
  auto fault = FindFaultAction("command")->make(f, fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto r = (*fault)->Inject();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "`echo on > " + fx.workdir + "/flag`: exit 0");
  EXPECT_EQ(ReadFile(fx.workdir + "/flag"), "on\n");
  ASSERT_TRUE((*fault)->Rollback().ok());
  EXPECT_FALSE(std::filesystem::exists(fx.workdir + "/flag"));
}

TEST(CommandFaultTest, FailingCommandSaysWhy) {
  Fixture fx(Env::Default());
  FaultSpec f;
  f.action = "command";
  Param run, timeout;
  run.value = std::string("echo 'no such table' >&2; exit 2");
  timeout.value = Millis(5000);
  f.with.Set("run", run);
  f.with.Set("timeout", timeout);
  auto fault = FindFaultAction("command")->make(f, fx.ctx);
  ASSERT_TRUE(fault.ok());
  EXPECT_FALSE((*fault)->Reversible());
  auto r = (*fault)->Inject();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "`echo 'no such table' >&2; exit 2`: exit 2: no such table");
}

}  // namespace
}  // namespace firedrill::testing
