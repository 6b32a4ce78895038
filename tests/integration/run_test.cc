// `firedrill run` against real processes: what happens when the system is not healthy,
// when a service leaves grandchildren behind, and when a drill cannot run here.
#include <gtest/gtest.h>

#include "reports/json_report.h"
#include "tests/integration/harness.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

TEST(RunTest, SteadyStateNeverHoldsSoNothingIsInjected) {
  TempDir dir;
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: never-healthy
settings: {probe_interval: 100ms, settle: 1s, workdir: ")" +
                                    dir.path() + R"(/work"}
services:
  - name: idle
    run: exec sleep 300
steady_state:
  - name: always-down
    probe: {command: {run: "echo down; exit 3"}}
faults:
  - name: marker
    action: command
    with: {run: "touch )" + dir.path() +
                                    R"(/INJECTED"}
)");
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "INJECTED")) << "a fault was injected";
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << r.out << r.err;
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  EXPECT_EQ((*report)["verdict"], "error");
  EXPECT_EQ((*report)["score"], 0);
  EXPECT_TRUE((*report)["faults"][0]["injected_at_ms"].is_null());
  const std::string error = (*report)["error"];
  EXPECT_NE(error.find("steady state did not hold"), std::string::npos) << error;
  EXPECT_NE(error.find("always-down"), std::string::npos) << error;
  EXPECT_NE(error.find("exit 3"), std::string::npos) << error;
  for (const auto& k :
       {"detected_after_ms", "failed_over_after_ms", "recovered_after_ms", "availability"}) {
    EXPECT_TRUE((*report)["metrics"][k].is_null()) << k;
  }
  // The reason is also what a person reads at the end of the run.
  EXPECT_NE(r.out.find("steady state did not hold"), std::string::npos) << r.out;
}

// When the fault phase ends, samples still in flight are cut short. A cut-short sample
// says nothing about the system: it is neither a failure on the timeline nor a sample in
// availability. Five slow checks of a system that never fails: availability exactly 1.
// A check whose command prints a number keeps the least, greatest and last it read in the
// fault phase: 5 before and after a drift, 900 while it lasts (failing the check).
TEST(RunTest, AChecksNumbersAreKeptInItsProbeRecord) {
  TempDir dir;
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: lag-figure
settings: {probe_interval: 100ms, workdir: ")" +
                                    dir.path() + R"(/work"}
services:
  - {name: idle, run: "printf 'lag 5\n' > lag.conf && exec sleep 300"}
steady_state:
  - name: lag-bytes
    probe: {command: {run: "sed -n 's/^lag //p' lag.conf", expect: {stdout_matches: "^[0-9]$"}}}
faults:
  - {name: drift, at: 500ms, action: config.set, duration: 1s,
     with: {path: "${workdir}/lag.conf", match: "^lag 5$", replace: "lag 900"}}
recovery: {within: 10s, steady_for: 500ms}
)");
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << r.out << r.err;
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  const auto& probe = (*report)["probes"][0];
  ASSERT_EQ(probe["name"], "lag-bytes") << probe.dump();
  ASSERT_TRUE(probe.contains("values")) << probe.dump();
  // Every sample read one, but a last one cut short by the end of the phase.
  EXPECT_GE(probe["values"]["count"].get<int64_t>(), probe["samples"].get<int64_t>() - 1);
  EXPECT_EQ(probe["values"]["min"], 5);
  EXPECT_EQ(probe["values"]["max"], 900);
  EXPECT_EQ(probe["values"]["last"], 5);
}

TEST(RunTest, SamplesCutShortAtThePhaseEndAreNotFailures) {
  TempDir dir;
  std::string checks;
  for (int i = 1; i <= 5; ++i) {
    checks += "  - name: slow-" + std::to_string(i) +
              "\n    probe: {command: {run: \"sleep 0.25\", timeout: 5s}}\n";
  }
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: slow-checks
settings: {probe_interval: 100ms, settle: 5s, workdir: ")" +
                                    dir.path() + R"(/work"}
steady_state:
)" + checks + R"(faults:
  - name: harmless
    at: 100ms
    action: command
    with: {run: "true"}
recovery: {within: 5s, steady_for: 600ms}
)");
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& e : (*report)["timeline"]) {
    EXPECT_NE(e["type"], "probe.fail") << e.dump();
  }
  EXPECT_EQ((*report)["metrics"]["availability"], 1.0) << (*report)["metrics"].dump();
}

// A store that keeps only writes 1-4 of however many it acknowledges: the count of lost
// writes is exact, and the timeline says why the first was judged lost, in the verifier's
// own words, so a lost write can be told from a verifier that could not ask.
TEST(RunTest, LostWritesAreCountedAndTheFirstIsExplained) {
  TempDir dir;
  const std::string store = dir.path() + "/store";
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: lossy-store
settings: {probe_interval: 100ms, settle: 2s, timeout: 1m}
steady_state:
  - name: store-exists
    probe: {command: {run: "mkdir -p )" +
                                    store + R"( && test -d )" + store + R"("}}
faults:
  - name: marker
    at: 1s
    action: command
    with: {run: "true"}
data:
  writer:
    command: {run: "if [ ${seq} -lt 5 ]; then echo ${seq} > )" +
                                    store + R"(/k${seq}; fi; echo OK"}
    every: 100ms
  verifier:
    command: {run: "cat )" + store + R"(/k${seq}", expect: {stdout_matches: "^${seq}$"}}
recovery: {within: 10s, steady_for: 1s, max_data_loss: 0}
)");
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << r.out << r.err;
  const auto& w = (*report)["data_writes"];
  ASSERT_GE(w["acknowledged"].get<int64_t>(), 5) << w.dump();
  EXPECT_EQ(w["verified"], 4) << w.dump();
  EXPECT_EQ(w["lost"], w["acknowledged"].get<int64_t>() - 4) << w.dump();
  EXPECT_EQ((*report)["metrics"]["data_lost"]["count"], w["lost"]);
  std::string detail;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "data.verified") detail = e["detail"];
  }
  const std::string lost = std::to_string(w["lost"].get<int64_t>());
  const std::string head = "4 of " + std::to_string(w["acknowledged"].get<int64_t>()) +
                           " acknowledged writes found, " + lost +
                           " lost; first lost: seq 5, acknowledged at +";
  EXPECT_EQ(detail.substr(0, head.size()), head) << detail;
  const std::string tail =
      "s: exit 1 (expected 0): cat: " + store + "/k5: No such file or directory";
  ASSERT_GE(detail.size(), tail.size()) << detail;
  EXPECT_EQ(detail.substr(detail.size() - tail.size()), tail) << detail;
}

// A service behind a shell wrapper starts a background child in its group and a daemon
// that escapes into a new session. The fault kills only the wrapper, orphaning both;
// teardown must still leave nothing alive.
TEST(RunTest, NoGrandchildSurvivesTeardown) {
  TempDir dir;
  const std::string work = dir / "work";
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: grandchildren
settings: {probe_interval: 100ms, settle: 5s, workdir: ")" +
                                    work + R"yaml(", stop_grace: 1s}
services:
  - name: wrapped
    run: |
      sleep 300 & echo $! > bg.pid
      setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' &
      echo $$ > wrapper.pid
      wait
    ready: {file: {path: "${workdir}/escaped.pid"}, within: 5s}
steady_state:
  - name: children-running
    probe: {command: {run: "test -s bg.pid && test -s escaped.pid && kill -0 $(cat bg.pid) $(cat escaped.pid)"}}
faults:
  - name: kill-wrapper
    at: 200ms
    action: process.kill
    target: {pidfile: wrapper.pid}
recovery: {within: 2s, steady_for: 300ms}
)yaml");
  PidReaper reaper;
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  auto wrapper = ReadPid(work + "/wrapper.pid");
  auto bg = ReadPid(work + "/bg.pid");
  auto escaped = ReadPid(work + "/escaped.pid");
  ASSERT_TRUE(wrapper && bg && escaped) << r.out << r.err;
  reaper.Watch(*bg);
  reaper.Watch(*escaped);
  EXPECT_TRUE(Gone(*wrapper));
  EXPECT_TRUE(Gone(*bg)) << "background child " << *bg << " survived";
  EXPECT_TRUE(Gone(*escaped)) << "setsid grandchild " << *escaped << " survived";
  // The children kept running after the wrapper died, so the steady state held: passed.
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ((*report)["faults"][0]["detail"].get<std::string>().find("SIGKILL to PID"), 0u)
      << (*report)["faults"][0].dump();
}

TEST(RunTest, WhatCannotRunHereIsUsageErrorAndStartsNothing) {
  // Without CAP_NET_ADMIN (dropped from the bounding set, so not even root has it),
  // nftables cannot be changed: a partition cannot run here, and the run says so at the
  // action before it starts anything.
  TempDir dir;
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: not-here
services:
  - name: marker
    run: touch )" + dir.path() + R"(/STARTED
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: cut
    action: network.partition
    with: {port: 6379}
    duration: 1s
)");
  auto r = RunShell({.script = "NO_COLOR=1 FIREDRILL_STATE_DIR=" + Quote(dir / "state") +
                               " exec setpriv --bounding-set=-net_admin " + Quote(FIREDRILL_BIN) +
                               " run " + Quote(dir / "drill.yaml") + " --report-dir " +
                               Quote(dir / "report") + " --no-history",
                     .cwd = dir.path(),
                     .timeout = Millis(30000)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 2) << r->out << r->err;
  EXPECT_NE(r->err.find("drill.yaml:11:13: error: action 'network.partition' cannot run here: "
                        "needs CAP_NET_ADMIN"),
            std::string::npos)
      << r->err;
  EXPECT_FALSE(std::filesystem::exists(dir / "STARTED"));
  EXPECT_FALSE(std::filesystem::exists(dir / "report/report.json"));
}

// A fault's Prepare runs while the run prepares: when it fails, the run ends there, as
// for a fault that cannot be built (verdict error, exit 4), with nothing started and
// nothing injected. Here an http.load URL that an ${env:...} made unusable (a space).
TEST(RunTest, AFaultThatCannotBePreparedEndsTheRunBeforeAnythingStarts) {
  TempDir dir;
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: bad-load-url
settings: {probe_interval: 100ms, settle: 1s}
services:
  - name: marker
    run: touch )" + dir.path() + R"(/STARTED; exec sleep 300
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: spike
    action: http.load
    with: {url: "http://127.0.0.1:9/${env:FD_TEST_LOAD_PATH}"}
    duration: 1s
)");
  ASSERT_EQ(setenv("FD_TEST_LOAD_PATH", "a b", 1), 0);
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  unsetenv("FD_TEST_LOAD_PATH");
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "STARTED")) << "a service was started";
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << r.out << r.err;
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  EXPECT_EQ((*report)["verdict"], "error");
  const std::string error = (*report)["error"];
  EXPECT_TRUE(error.starts_with("fault spike: URL http://127.0.0.1:9/a b ")) << error;
  const auto& fault = (*report)["faults"][0];
  EXPECT_TRUE(fault["injected_at_ms"].is_null()) << fault.dump();
  EXPECT_EQ(fault["inject_failed"], false) << fault.dump();
  for (const auto& e : (*report)["timeline"]) {
    EXPECT_NE(e["name"], "services") << "the run went on past prepare: " << e.dump();
  }
}

TEST(RunTest, ValidateReportsEveryErrorWithPositionAndExit2) {
  TempDir dir;
  WriteFile(dir / "bad.yaml", R"(apiVersion: firedrill/v1
name: typo
settings: {timout: 5s}
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: k
    at: 5
    action: process.kil
)");
  CliResult r = RunFiredrill({"validate", dir / "bad.yaml"}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(
      r.err.find("bad.yaml:3:12: error: unknown key 'timout' in settings; did you mean 'timeout'?"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("bad.yaml:9:9: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("needs a unit"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:10:13: error: unknown action 'process.kil'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("did you mean 'process.kill'?"), std::string::npos) << r.err;
}

TEST(RunTest, UnknownCommandSuggestsTheNearestAndExits2) {
  TempDir dir;
  CliResult r = RunFiredrill({"valdate", "x.yaml"}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(
      r.err,
      "firedrill: unknown command 'valdate'; did you mean 'validate'?\n"
      "commands: run, train, ctl, rollback, validate, report, history, faults, probes, score, "
      "agent "
      "(firedrill --help)\n");
  EXPECT_EQ(RunFiredrill({}, dir.path()).exit_code, 2);
  EXPECT_EQ(RunFiredrill({"run", "missing.yaml"}, dir.path()).exit_code, 2);
}

TEST(RunTest, FaultsListsEveryActionOfTheRegistry) {
  TempDir dir;
  CliResult r = RunFiredrill({"faults"}, dir.path());
  EXPECT_EQ(r.exit_code, 0);
  for (const char* a : {"process.kill", "process.pause", "disk.fill", "file.corrupt", "file.delete",
                        "config.set", "cpu.stress", "memory.stress", "http.load", "network.loss",
                        "network.partition", "network.delay", "command"}) {
    EXPECT_NE(r.out.find(std::string(a) + "  ["), std::string::npos) << a;
  }
  // This machine has what scripts/install-deps installs (nftables) and runs as root, as
  // CI does: every action runs here.
  EXPECT_EQ(r.out.find("[not"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("network.delay  [supported here]"), std::string::npos);
}

// A load of more connections than the process may ever open is refused at load, at the
// value, with the figures, and exit 2: never a run whose "errors" look like the server's.
TEST(ValidateTest, ConcurrencyBeyondTheHardDescriptorLimitIsRefusedAtTheValue) {
  TempDir dir;
  WriteFile(dir / "load.yaml", R"(apiVersion: firedrill/v1
name: big-load
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - {name: spike, at: 0s, action: http.load, with: {url: "http://127.0.0.1:9/", concurrency: 10000}, duration: 5s}
)");
  auto r = RunShell({.script = "exec prlimit --nofile=4096:4096 " + Quote(FIREDRILL_BIN) +
                               " validate " + Quote(dir / "load.yaml"),
                     .cwd = dir.path(),
                     .timeout = Millis(30000)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 2) << r->out << r->err;
  EXPECT_NE(r->err.find("load.yaml:7:94: error:"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("10000 connections need"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("may open at most 4,096 (RLIMIT_NOFILE hard limit)"), std::string::npos)
      << r->err;
}

}  // namespace
}  // namespace firedrill::testing
