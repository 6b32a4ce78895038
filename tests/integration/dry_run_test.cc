// `firedrill run --dry-run`: the services start, the steady state is checked, every watch
// and stop condition is sampled for as long as the fault phase would last, and nothing is
// injected. A thread of the test watches what the faults would change, from outside: the
// file's checksum and `nft list ruleset`. In the dry run they never change; in the same
// drill run normally (the control) both do.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "runner/base/sha256.h"
#include "runner/base/subprocess.h"
#include "tests/integration/harness.h"
#include "tests/nft_lock.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

std::string Drill(const std::string& work, const std::string& name) {
  return R"(apiVersion: firedrill/v1
name: )" +
         name + R"(
settings: {probe_interval: 100ms, settle: 5s, workdir: ")" +
         work + R"("}
services:
  - name: app
    run: printf 'precious data\n' > data.txt && exec sleep 300
    ready: {file: {path: "${workdir}/data.txt"}, within: 5s}
steady_state:
  - name: alive
    probe: {command: {run: "test -f data.txt"}}
faults:
  - {name: corrupt, at: 200ms, action: file.corrupt, with: {path: "${workdir}/data.txt", mode: zero}, duration: 1s}
  - {name: cut, at: 300ms, action: network.partition, with: {port: "${port:app}", mode: reject}, duration: 1s}
watches:
  # Passes with or without a fault: in a dry run it is flagged, it cannot detect anything.
  - {name: always, kind: detection, probe: {command: {run: "true"}}, within: 2s}
  - {name: zeroed, kind: custom, probe: {command: {run: "! grep -q precious data.txt"}}, within: 2s}
recovery: {within: 5s, steady_for: 300ms}
)";
}

std::string NftRuleset() {
  auto r = RunShell({.script = "nft list ruleset", .cwd = "/", .timeout = Millis(5000)});
  return r.ok() ? r->out : "(nft failed)";
}

// What the faults would change, sampled every 20 ms while `run` runs.
struct Observed {
  std::set<std::string> file_sums, rulesets;
};

Observed WhileRunning(const std::string& file, const std::function<void()>& run) {
  Observed seen;
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      std::error_code ec;
      if (std::filesystem::exists(file, ec)) seen.file_sums.insert(Sha256::HexOf(ReadFile(file)));
      seen.rulesets.insert(NftRuleset());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  run();
  done = true;
  watcher.join();
  return seen;
}

TEST(DryRunTest, ChangesNothingWhileTheSameDrillRunForRealDoes) {
  if (geteuid() != 0) GTEST_SKIP() << "network faults need root (nftables)";
  NftLock nft;
  TempDir dir;
  const std::string work = dir / "work";
  const std::string file = work + "/data.txt";
  WriteFile(dir / "dry.yaml", Drill(work, "dry-run-check"));

  CliResult dry;
  Observed quiet = WhileRunning(file, [&] {
    dry = RunFiredrill({"run", "--dry-run", dir / "dry.yaml", "--report-dir", dir / "dry"},
                       dir.path());
  });
  // Flagged: the detection watch passes with no fault. Exit 1.
  EXPECT_EQ(dry.exit_code, 1) << dry.out << dry.err;
  auto report = ReadJson(dir / "dry/report.json");
  ASSERT_TRUE(report.has_value()) << dry.out << dry.err;
  EXPECT_EQ((*report)["mode"], "dry-run");
  EXPECT_EQ((*report)["verdict"], "failed");
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  for (const auto& f : (*report)["faults"]) {
    EXPECT_TRUE(f["injected_at_ms"].is_null()) << f.dump();
  }
  for (const auto& e : (*report)["timeline"]) {
    EXPECT_NE(e["type"], "fault.injected") << e.dump();
  }
  const auto& watches = (*report)["watches"];
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_EQ(watches[0]["flagged"], true);
  EXPECT_EQ(watches[0]["advice"], "passes with no fault injected: it cannot detect anything");
  EXPECT_EQ(watches[1]["flagged"], false);               // never passed
  EXPECT_TRUE(watches[1]["passed_after_ms"].is_null());  // nothing zeroed the file
  EXPECT_EQ((*report)["objectives"][0]["name"], "steady_state.held");
  EXPECT_EQ((*report)["objectives"][0]["met"], true);
  EXPECT_NE(dry.out.find("passes with no fault injected"), std::string::npos) << dry.out;
  // CI sees the flag as the failing case, and nothing else as failed.
  const std::string junit = ReadFile(dir / "dry/junit.xml");
  EXPECT_NE(junit.find("type=\"watch.passes_without_fault\""), std::string::npos) << junit;
  EXPECT_NE(junit.find("failures=\"1\""), std::string::npos) << junit;
  // The would-be fault phase lasted as long as the drill says: the last fault ends at
  // 1.3 s, the longest watch gives up 2 s after the first fault, at 2.2 s.
  int64_t from = -1, to = -1;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "phase" && e["name"] == "faults") from = e["t_ms"];
    if (e["type"] == "phase" && e["name"] == "rollback") to = e["t_ms"];
  }
  EXPECT_GE(to - from, 2200) << report->dump(2);
  EXPECT_LT(to - from, 4000) << report->dump(2);
  EXPECT_EQ(quiet.file_sums.size(), 1u) << "the dry run changed the file";
  EXPECT_EQ(quiet.rulesets.size(), 1u) << "the dry run changed the nftables ruleset";

  // The control: the same drill, run for real, changes both while its faults are on, and
  // puts them back.
  TempDir real_dir;
  const std::string real_work = real_dir / "work";
  WriteFile(real_dir / "real.yaml", Drill(real_work, "dry-run-control"));
  CliResult real;
  Observed changed = WhileRunning(real_work + "/data.txt", [&] {
    real = RunFiredrill({"run", real_dir / "real.yaml", "--report-dir", real_dir / "real"},
                        real_dir.path());
  });
  EXPECT_EQ(real.exit_code, 0) << real.out << real.err;
  EXPECT_GE(changed.file_sums.size(), 2u) << "the control never saw the file corrupted";
  EXPECT_GE(changed.rulesets.size(), 2u) << "the control never saw the partition's rules";
  EXPECT_EQ(NftRuleset(), *quiet.rulesets.begin()) << "the control left rules behind";
}

TEST(DryRunTest, AHealthyDrillWhoseWatchesWaitForAFaultPasses) {
  TempDir dir;
  const std::string work = dir / "work";
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: dry-healthy
settings: {probe_interval: 100ms, settle: 5s, workdir: ")" +
                                    work + R"("}
services:
  - name: app
    run: touch healthy && exec sleep 300
    ready: {file: {path: "${workdir}/healthy"}, within: 5s}
steady_state:
  - name: health
    probe: {command: {run: "test -f healthy"}}
faults:
  - {name: remove, at: 200ms, action: command, with: {run: "rm -f healthy"}}
watches:
  - {name: gone, kind: detection, probe: {command: {run: "test ! -f healthy"}}, within: 1s}
recovery:
  within: 3s
  remediation:
    - {after: 300ms, run: "touch remediated"}
)");
  CliResult r =
      RunFiredrill({"run", "--dry-run", dir / "drill.yaml", "--report-dir", dir / "r"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ReadJson(dir / "r/report.json");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ((*report)["mode"], "dry-run");
  EXPECT_EQ((*report)["verdict"], "passed");
  EXPECT_EQ((*report)["score"], 0);  // a rehearsal is not scored
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  EXPECT_EQ((*report)["watches"][0]["flagged"], false);
  EXPECT_TRUE((*report)["watches"][0]["passed_after_ms"].is_null());
  EXPECT_TRUE(std::filesystem::exists(work + "/healthy")) << "the fault ran";
  EXPECT_FALSE(std::filesystem::exists(work + "/remediated")) << "the remediation ran";
}

}  // namespace
}  // namespace firedrill::testing
