// process.kill and process.pause against real processes, and (beside them) through
// FakeEnv to pin down exactly which signals go where.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "runner/drill/fault.h"
#include "tests/fake_env.h"
#include "tests/injectors/injector_fixture.h"
#include "tests/integration/harness.h"
#include "injectors/fault_registry.h"

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
