// process.pause on a real Redis: the steady state breaks while it is frozen, comes back
// after SIGCONT, and an operator's Ctrl-C mid-fault still resumes it before exit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "reports/json_report.h"
#include "runner/base/net.h"
#include "runner/drill/expand.h"
#include "tests/integration/harness.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

std::string PauseDrill(const std::string& work, int port, const std::string& duration,
                       const std::string& within) {
  const std::string p = std::to_string(port);
  return R"(apiVersion: firedrill/v1
name: pause-redis
settings: {probe_interval: 100ms, settle: 10s, workdir: ")" +
         work + R"("}
services:
  - name: redis
    run: exec redis-server --port )" +
         p + R"( --bind 127.0.0.1 --save "" --appendonly no --pidfile ${workdir}/redis.pid
    ready: {tcp: {address: "127.0.0.1:)" +
         p + R"("}, within: 10s}
steady_state:
  - name: ping
    probe: {command: {run: "redis-cli -p )" +
         p + R"( PING", timeout: 300ms, expect: {stdout_matches: "^PONG$"}}}
faults:
  - name: freeze
    at: 300ms
    action: process.pause
    target: {service: redis}
    duration: )" +
         duration + R"(
recovery: {within: )" +
         within + R"(, steady_for: 500ms}
)";
}

TEST(PauseTest, FrozenServiceRecoversAfterSigcont) {
  TempDir dir;
  auto port = PickFreePort({});
  ASSERT_TRUE(port.ok());
  WriteFile(dir / "drill.yaml", PauseDrill(dir / "work", *port, "1500ms", "10s"));
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  const auto& f = (*report)["faults"][0];
  EXPECT_EQ(f["rollback"], "ok");
  const int64_t paused_for =
      f["rolled_back_at_ms"].get<int64_t>() - f["injected_at_ms"].get<int64_t>();
  // The fault is rolled back by a 5 ms scheduling loop: never early, and late only by a
  // scheduling hiccup; 1 s of slack is wide for a 2-core CI machine.
  EXPECT_GE(paused_for, 1500);
  EXPECT_LE(paused_for, 2500);
  const auto& m = (*report)["metrics"];
  ASSERT_TRUE(m["recovered_after_ms"].is_number()) << m.dump();
  // Redis answers again only after SIGCONT, so recovery cannot come before the pause ends.
  EXPECT_GE(m["recovered_after_ms"].get<int64_t>(), 1500);
  EXPECT_LE(m["recovered_after_ms"].get<int64_t>(), 4000);
  EXPECT_GT(m["availability"].get<double>(), 0.0);
  EXPECT_LT(m["availability"].get<double>(), 0.5);  // frozen for most of the window
  EXPECT_TRUE(m["detected_after_ms"].is_null());    // no detection watch in this drill
  EXPECT_TRUE(m["data_lost"].is_null());            // and no data check
}

TEST(PauseTest, InterruptDuringPauseResumesTheProcessAndExits3) {
  TempDir dir;
  auto port = PickFreePort({});
  ASSERT_TRUE(port.ok());
  const std::string work = dir / "work";
  WriteFile(dir / "drill.yaml", PauseDrill(work, *port, "60s", "2m"));
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    setenv("NO_COLOR", "1", 1);
    setenv("FIREDRILL_STATE_DIR", (dir / "state").c_str(), 1);
    execl(FIREDRILL_BIN, FIREDRILL_BIN, "run", (dir / "drill.yaml").c_str(), "--report-dir",
          (dir / "report").c_str(), "--no-history", static_cast<char*>(nullptr));
    _exit(127);
  }
  PidReaper reaper;
  reaper.Watch(pid);
  // Wait (bounded) until Redis is frozen, then interrupt the runner like Ctrl-C would.
  std::optional<pid_t> redis;
  bool frozen = false;
  for (int i = 0; i < 1500 && !frozen; ++i) {
    if (!redis) redis = ReadPid(work + "/redis.pid");
    if (redis) {
      auto st = ReadProcStat(*redis);
      frozen = st && st->state == 'T';
    }
    usleep(10000);
  }
  ASSERT_TRUE(frozen) << "redis was never paused";
  reaper.Watch(*redis);
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  for (int i = 0; i < 3000 && waitpid(pid, &status, WNOHANG) == 0; ++i) usleep(10000);
  ASSERT_TRUE(WIFEXITED(status)) << "firedrill did not exit after SIGINT";
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_TRUE(Gone(*redis));
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ((*report)["verdict"], "aborted");
  EXPECT_EQ((*report)["faults"][0]["rollback"], "ok");
  // The SIGCONT came before teardown stopped the service.
  int64_t rolled_back = -1, stopped = -1;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "fault.rolled_back" && rolled_back < 0) rolled_back = e["t_ms"];
    if (e["type"] == "service.stopped" && stopped < 0) stopped = e["t_ms"];
  }
  EXPECT_GE(rolled_back, 0);
  EXPECT_GE(stopped, rolled_back);
}

}  // namespace
}  // namespace firedrill::testing
