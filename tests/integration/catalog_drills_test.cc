// Runs the shipped drills that use disk, file, config and load faults for real, through
// the binary: Redis on a tmpfs the drill mounts itself, HAProxy in front of two nginx, a
// Redis replica started from a config file. Each must pass as shipped, roll every fault
// back and leave nothing behind: no process, no mount, no damaged file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <ctime>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "injectors/support/tools.h"
#include "reports/json_report.h"
#include "runner/base/sha256.h"
#include "runner/loader/loader.h"
#include "tests/integration/harness.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

std::string Drill(const std::string& name) {
  return std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/" + name;
}

// Mount points (as /proc/mounts spells them) at or below `dir`.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/mounts");
  std::string source, point, rest;
  while (in >> source >> point && std::getline(in, rest)) {
    if (point == dir || point.starts_with(dir + "/")) out.push_back(point);
  }
  return out;
}

// Detaches whatever a failed drill left mounted in the test's directory, before TempDir
// removes it, so one failure cannot leak a tmpfs into the next test.
class MountGuard {
 public:
  explicit MountGuard(std::string dir) : dir_(std::move(dir)) {}
  ~MountGuard() {
    auto points = MountsUnder(dir_);
    for (auto it = points.rbegin(); it != points.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  }

 private:
  std::string dir_;
};

std::map<std::string, nlohmann::json> ByName(const nlohmann::json& list) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& x : list) out[x["name"]] = x;
  return out;
}

int CountEvents(const nlohmann::json& report, const std::string& type, const std::string& name) {
  int n = 0;
  for (const auto& e : report["timeline"]) n += e["type"] == type && e["name"] == name;
  return n;
}

std::string FileSha256(const std::string& path) { return Sha256::HexOf(ReadFile(path)); }

// One request of the drill's steady-state check, as HAProxy logged it: when it ended for
// the check on the run's clock (accept time + total time, at most the check's timeout,
// against report.json's started_at), whether it
// passed as the check judges it (200 within the check's 2 s timeout), and which server
// answered.
struct LoggedRequest {
  int64_t end_ms = 0;
  bool passed = false;
  std::string server;
};

std::vector<LoggedRequest> SteadyRequestsInHaproxyLog(const std::string& log,
                                                      const nlohmann::json& report) {
  std::tm tm{};
  const std::string started = report["started_at"];
  ::strptime(started.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  const int64_t start_ms =
      static_cast<int64_t>(::timegm(&tm)) * 1000 + std::stoll(started.substr(20, 3));
  std::vector<LoggedRequest> out;
  std::istringstream in(log);
  static const std::regex kLine(
      R"(^(\d+)\.(\d{3}) (-?\d+) (-?\d+) (\S+) "GET /index\.html\?firedrill-steady )");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, kLine)) continue;
    const int64_t accept = std::stoll(m[1]) * 1000 + std::stoll(m[2]);
    const int64_t total = std::stoll(m[4]);
    // A request the check gave up on at its 2 s timeout failed then, for the check; HAProxy
    // (without abortonclose) logs it later, when the server finally answered.
    out.push_back({accept + std::clamp<int64_t>(total, 0, 2000) - start_ms,
                   m[3] == "200" && total >= 0 && total < 2000, m[5]});
  }
  std::sort(out.begin(), out.end(),
            [](const LoggedRequest& a, const LoggedRequest& b) { return a.end_ms < b.end_ms; });
  return out;
}

// The report's fault window: the first injection until recovery, extended to the last
// rollback (runner/engine/score.cc).
std::pair<int64_t, int64_t> FaultWindow(const nlohmann::json& report) {
  int64_t first = INT64_MAX, end = 0;
  for (const auto& f : report["faults"]) {
    if (f["injected_at_ms"].is_number())
      first = std::min(first, f["injected_at_ms"].get<int64_t>());
    if (f["rolled_back_at_ms"].is_number())
      end = std::max(end, f["rolled_back_at_ms"].get<int64_t>());
  }
  if (report["metrics"]["recovered_after_ms"].is_number()) {
    end = std::max(end, first + report["metrics"]["recovered_after_ms"].get<int64_t>());
  }
  return {first, end};
}

// Every watch met within its bound, and the run itself passed with a valid report.
void ExpectPassed(const DrillRun& run) {
  EXPECT_TRUE(CheckReportKeys(run.report).empty())
      << ::testing::PrintToString(CheckReportKeys(run.report));
  EXPECT_EQ(run.report["verdict"], "passed") << run.report["reasons"].dump();
  EXPECT_TRUE(run.report["leftovers"].empty()) << run.report["leftovers"].dump();
  EXPECT_EQ(run.report["steady_after_rollback"], true);
  for (const auto& w : run.report["watches"]) {
    EXPECT_EQ(w["met"], true) << w.dump();
    ASSERT_TRUE(w["passed_after_ms"].is_number()) << w.dump();
    EXPECT_LE(w["passed_after_ms"].get<int64_t>(), w["within_ms"].get<int64_t>()) << w.dump();
  }
  for (const auto& f : run.report["faults"]) {
    // A signal sent has nothing to undo; everything else was put back.
    EXPECT_EQ(f["rollback"], f["action"] == "process.kill" ? "none" : "ok") << f.dump();
    EXPECT_EQ(f["inject_failed"], false) << f.dump();
  }
}

TEST(CatalogDrillsTest, EveryShippedDrillValidatesAndNamesAnExistingRunbook) {
  TempDir dir;
  std::vector<std::string> args = {"validate"};
  for (const auto& entry : std::filesystem::directory_iterator(Drill(""))) {
    if (entry.path().extension() != ".yaml") continue;
    args.push_back(entry.path().string());
    LoadResult r = LoadScenarioFile(entry.path().string());
    ASSERT_TRUE(r.ok()) << entry.path();
    // A runbook path is relative to the repository, as `firedrill run` from a clone sees it.
    const std::string& runbook = r.scenario->recovery.runbook;
    if (!runbook.empty()) {
      EXPECT_TRUE(
          std::filesystem::is_regular_file(std::string(FIREDRILL_SOURCE_DIR) + "/" + runbook))
          << entry.path() << " names a missing runbook " << runbook;
    }
  }
  ASSERT_GE(args.size(), 6u);  // the three drills here and those before them
  CliResult r = RunFiredrill(args, dir.path());
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  // Every fault these drills use runs on this build: no "cannot run here" notes.
  EXPECT_EQ(r.out.find("note:"), std::string::npos) << Output(r);
  EXPECT_EQ(r.err.find("note:"), std::string::npos) << Output(r);
}

TEST(CatalogDrillsTest, DiskFullRedisStopsWithoutLosingAcknowledgedWritesAndComesBack) {
  TempDir dir;
  MountGuard mounts(dir.path());
  auto run = RunKept(Drill("disk-full.yaml"), dir);
  ASSERT_TRUE(run.has_value());
  ExpectNothingSurvives(run->report, 1);
  // The setup step mounted the tmpfs before Redis started and took it down after it
  // stopped.
  EXPECT_TRUE(MountsUnder(run->workdir).empty())
      << ::testing::PrintToString(MountsUnder(run->workdir));
  EXPECT_EQ(CountEvents(run->report, "setup.done", "disk"), 1);
  EXPECT_EQ(CountEvents(run->report, "setup.undone", "disk"), 1);

  ASSERT_EQ(run->cli.exit_code, 0) << Output(run->cli);
  ExpectPassed(*run);

  const auto& fault = run->report["faults"][0];
  ASSERT_EQ(run->report["faults"].size(), 1u);
  EXPECT_EQ(fault["action"], "disk.fill");
  // The whole 32 MiB tmpfs, nothing less: a partly filled disk would test nothing.
  EXPECT_NE(fault["detail"].get<std::string>().find(": 0B of 32.0MiB free"), std::string::npos)
      << fault.dump();
  const int64_t held =
      fault["rolled_back_at_ms"].get<int64_t>() - fault["injected_at_ms"].get<int64_t>();
  EXPECT_GE(held, 5000);  // duration 5s
  EXPECT_LE(held, 6000);

  // With appendfsync always, Redis exits at the first write it cannot log (exit 1) rather
  // than acknowledge it: that is the behaviour the drill documents.
  bool exited_1 = false;
  for (const auto& e : run->report["timeline"]) {
    exited_1 |= e["type"] == "service.exited" && e["name"] == "redis" && e["detail"] == "exit 1";
  }
  EXPECT_TRUE(exited_1) << run->report["timeline"].dump(2);
  EXPECT_EQ(CountEvents(run->report, "remediation.done", ""), 1);

  const auto& m = run->report["metrics"];
  ASSERT_TRUE(m["detected_after_ms"].is_number()) << m.dump();
  ASSERT_TRUE(m["recovered_after_ms"].is_number()) << m.dump();
  // The steady state writes 8 KiB every 200 ms, which cannot fit once the disk is full,
  // and the log probe reads every 200 ms: two intervals, with a wide margin.
  EXPECT_LE(m["detected_after_ms"].get<int64_t>(), 2000);
  // Redis can only come back once the ballast is gone, 5 s after the fill; then a start
  // and one probe interval.
  EXPECT_GE(m["recovered_after_ms"].get<int64_t>(), 5000);
  EXPECT_LE(m["recovered_after_ms"].get<int64_t>(), 9000);
  EXPECT_GT(m["availability"].get<double>(), 0.0);
  EXPECT_LT(m["availability"].get<double>(), 0.5);  // writes failed for ~5 s of ~5.5
  EXPECT_EQ(m["data_lost"]["count"], 0);
  const auto& writes = run->report["data_writes"];
  EXPECT_GT(writes["acknowledged"].get<int64_t>(), 0);
  EXPECT_LT(writes["acknowledged"], writes["attempted"]);  // refused while the disk was full
  EXPECT_EQ(writes["verified"], writes["acknowledged"]);
}

TEST(CatalogDrillsTest, LoadSpikeOverwrittenHealthFileTakesOneBackendOutAndBack) {
  TempDir dir;
  auto run = RunKept(Drill("load-spike-overwritten-file.yaml"), dir);
  ASSERT_TRUE(run.has_value());
  ExpectNothingSurvives(run->report, 4);

  ASSERT_EQ(run->cli.exit_code, 0) << Output(run->cli);
  ExpectPassed(*run);

  // Restored byte for byte, and the other backend's file never touched.
  const std::string ok_sha = Sha256::HexOf("OK\n");
  EXPECT_EQ(FileSha256(run->workdir + "/www-a/health"), ok_sha);
  EXPECT_EQ(FileSha256(run->workdir + "/www-b/health"), ok_sha);

  auto faults = ByName(run->report["faults"]);
  ASSERT_EQ(faults.size(), 2u);
  const auto& spike = faults["spike"];
  const auto& overwrite = faults["overwrite-health-a"];
  EXPECT_EQ(spike["action"], "http.load");
  EXPECT_EQ(overwrite["action"], "file.corrupt");
  // The overwrite happens during the spike and is undone before it ends.
  EXPECT_GT(overwrite["injected_at_ms"], spike["injected_at_ms"]);
  EXPECT_LT(overwrite["rolled_back_at_ms"], spike["rolled_back_at_ms"]);
  // Clients never saw an error: HAProxy had the other backend for every request. At
  // 500 req/s for 10 s, even a busy 2-core machine sends more than half of them.
  // The load's figures, measured over its whole duration, are the fault's `figures`.
  const auto& load = spike["figures"];
  ASSERT_TRUE(load["requests"].is_number_integer()) << spike.dump();
  EXPECT_GE(load["requests"].get<int64_t>(), 2500) << spike.dump();
  EXPECT_EQ(load["errors"], 0) << spike.dump();
  EXPECT_GT(load["rate"].get<double>(), 250) << spike.dump();
  EXPECT_LE(load["rate"].get<double>(), 550) << spike.dump();

  const auto& m = run->report["metrics"];
  ASSERT_TRUE(m["detected_after_ms"].is_number()) << m.dump();
  ASSERT_TRUE(m["recovered_after_ms"].is_number()) << m.dump();
  // Measured from the spike; the file is overwritten 3 s into it. HAProxy needs two
  // failed checks 200 ms apart, then one 200 ms probe interval: ~0.6 s, bound 2 s.
  const int64_t detected = m["detected_after_ms"];
  EXPECT_GE(detected, 2900);
  EXPECT_LE(detected, 5000);
  // The file comes back 4 s after the overwrite (7 s into the spike); two passing checks.
  EXPECT_GE(m["recovered_after_ms"].get<int64_t>(), 6900);
  EXPECT_LE(m["recovered_after_ms"].get<int64_t>(), 11000);
  EXPECT_GT(m["availability"].get<double>(), 0.0);
  EXPECT_LT(m["availability"].get<double>(), 1.0);  // backend a really was out of rotation
  EXPECT_TRUE(m["data_lost"].is_null() || m["data_lost"]["count"] == 0) << m.dump();
}

TEST(CatalogDrillsTest, ConfigDriftReplicaStopsSyncingAfterRestartAndCatchesUp) {
  TempDir dir;
  auto run = RunKept(Drill("config-drift.yaml"), dir);
  ASSERT_TRUE(run.has_value());
  ExpectNothingSurvives(run->report, 2);

  ASSERT_EQ(run->cli.exit_code, 0) << Output(run->cli);
  ExpectPassed(*run);

  // The file reads as it was written, and the supervisor restarted the replica twice:
  // once into the drift, once out of it.
  const std::string conf = ReadFile(run->workdir + "/replica.conf");
  EXPECT_NE(conf.find("\nreplicaof 127.0.0.1 " + PortOf(run->report, "primary") + "\n"),
            std::string::npos)
      << conf;
  EXPECT_EQ(conf.find("replicaof 127.0.0.1 1\n"), std::string::npos) << conf;
  EXPECT_EQ(CountEvents(run->report, "service.restarted", "replica"), 2);

  auto watches = ByName(run->report["watches"]);
  ASSERT_EQ(watches.size(), 2u);
  // Drift 1 s into the phase, restart 1 s later; the replica is back within ~0.2 s and
  // probes sample every 200 ms.
  for (const auto& [name, w] : watches) {
    EXPECT_GE(w["passed_after_ms"].get<int64_t>(), 900) << name;
    EXPECT_LE(w["passed_after_ms"].get<int64_t>(), 3000) << name;
  }

  const auto& m = run->report["metrics"];
  ASSERT_TRUE(m["recovered_after_ms"].is_number()) << m.dump();
  // The second restart comes 6 s after the drift (1 s after the file is restored).
  EXPECT_GE(m["recovered_after_ms"].get<int64_t>(), 5900);
  EXPECT_LE(m["recovered_after_ms"].get<int64_t>(), 10000);
  EXPECT_GT(m["availability"].get<double>(), 0.0);
  EXPECT_LT(m["availability"].get<double>(), 1.0);
  // Every write the primary acknowledged, including those made while the replica was
  // cut off, is readable on the replica afterwards.
  EXPECT_EQ(m["data_lost"]["count"], 0);
  const auto& writes = run->report["data_writes"];
  EXPECT_GT(writes["acknowledged"].get<int64_t>(), 30);
  EXPECT_EQ(writes["verified"], writes["acknowledged"]);
}

// The Redis package overwritten under load: node A's binary is replaced as dpkg writes a
// file, node A keeps serving until it crashes, then cannot start; Sentinel fails over,
// remediation reinstalls the package and node A comes back as a replica. Checked by the
// test itself: the package is whole again (its manifest and the pristine bytes), node A
// really could not start, Sentinel really switched, and the drill's ledger of
// acknowledged writes is what the run verified.
TEST(CatalogDrillsTest, PackageOverwrittenUnderLoadFailsOverAndIsReinstalled) {
  TempDir dir;
  auto run = RunKept(Drill("package-corrupted-under-load.yaml"), dir);
  ASSERT_TRUE(run);
  ExpectPassed(*run);
  ExpectNothingSurvives(run->report, 5);
  EXPECT_EQ(run->cli.exit_code, 0) << Output(run->cli);
  const auto faults = ByName(run->report["faults"]);
  const std::string detail = faults.at("overwrite-package")["detail"];
  EXPECT_NE(detail.find("renamed over it"), std::string::npos) << detail;
  EXPECT_EQ(faults.at("overwrite-package")["rollback"], "ok");
  // Node A could not start again: each of the supervisor's 5 restarts died at once.
  EXPECT_EQ(CountEvents(run->report, "service.restarted", "node-a"), 5);
  int crashed_at_start = 0;
  for (const auto& e : run->report["timeline"]) {
    const std::string d = e["detail"];
    crashed_at_start += e["type"] == "service.exited" && e["name"] == "node-a" &&
                        d.starts_with("killed by SIG") && d != "killed by SIGKILL";
  }
  EXPECT_EQ(crashed_at_start, 5) << run->report["timeline"].dump(1);
  // The package is whole again: its manifest checks, and the bytes are the pristine ones.
  const std::string prefix = run->workdir + "/node-a";
  auto check = RunShell({.script = "md5sum --check var/lib/dpkg/info/redis-server.md5sums",
                         .cwd = prefix,
                         .timeout = Millis(10000)});
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->exit_code, 0) << check->out << check->err;
  EXPECT_EQ(FileSha256(prefix + "/usr/bin/redis-check-rdb"),
            FileSha256("/usr/bin/redis-check-rdb"));
  // Sentinel's own log: node A down, node B promoted.
  const std::string log = ReadFile(dir / "report/artifacts/sentinel-1.log");
  EXPECT_NE(log.find("+switch-master m 127.0.0.1 " + PortOf(run->report, "a") + " 127.0.0.1 " +
                     PortOf(run->report, "b")),
            std::string::npos)
      << log;
  // Every write the drill's own ledger holds was verified, none lost. The ledger may hold
  // one more: a write that completed just after the fault phase ended, whose sample the
  // run had already cut short (never acknowledged to firedrill, so never verified).
  std::ifstream ledger(run->workdir + "/acked.seqs");
  size_t acked = 0;
  for (int64_t seq = 0; ledger >> seq;) ++acked;
  EXPECT_GE(acked, 50u);
  size_t verified = 0;
  for (const auto& e : run->report["timeline"]) {
    std::smatch m;
    const std::string d = e["detail"];
    if (e["type"] == "data.verified" &&
        std::regex_search(d, m,
                          std::regex(R"(^(\d+) of (\d+) acknowledged writes found, 0 lost$)")) &&
        m[1] == m[2]) {
      verified = std::stoul(m[1]);
    }
  }
  EXPECT_TRUE(verified == acked || verified + 1 == acked)
      << verified << " verified, " << acked << " in the ledger";
  EXPECT_EQ(run->report["metrics"]["data_lost"]["count"], 0);
}

// The overwritten disk image of a running server: server a keeps serving from memory, the
// integrity check notices, a fresh server is added through HAProxy's runtime API and a is
// drained, with no downtime. HAProxy's own log says the same: every request of the check
// answered, c took traffic, a none once drained. The image's loop device and mount are
// gone afterwards.
TEST(CatalogDrillsTest, DiskImageOverwrittenIsNoticedAndReplacedWithoutDowntime) {
  TempDir dir;
  MountGuard mounts(dir.path());
  auto run = RunKept(Drill("disk-image-overwritten.yaml"), dir);
  ASSERT_TRUE(run);
  ExpectPassed(*run);
  ExpectNothingSurvives(run->report, 5);
  EXPECT_TRUE(MountsUnder(run->workdir).empty())
      << ::testing::PrintToString(MountsUnder(run->workdir));
  auto loops = RunShell(
      {.script = FindTool("losetup") + " --list --noheadings --output BACK-FILE", .cwd = "/"});
  ASSERT_TRUE(loops.ok());
  EXPECT_EQ(loops->out.find(run->workdir), std::string::npos) << loops->out;
  EXPECT_EQ(run->report["metrics"]["availability"], 1.0);
  EXPECT_EQ(run->report["metrics"]["longest_outage_ms"], 0);
  const auto requests =
      SteadyRequestsInHaproxyLog(ReadFile(dir / "report/services/haproxy.out.log"), run->report);
  ASSERT_GE(requests.size(), 20u);
  int64_t drained_at = 0;
  for (const auto& w : run->report["watches"]) {
    if (w["name"] == "a-drained") drained_at = w["passed_after_ms"].get<int64_t>();
  }
  auto [first, end] = FaultWindow(run->report);
  drained_at += first;
  int served_by_c = 0, a_after_drain = 0;
  for (const auto& r : requests) {
    EXPECT_TRUE(r.passed) << "a request failed at +" << r.end_ms << " ms";
    served_by_c += r.server == "c";
    // One interval of grace: a request already on its way to a when the drain came.
    a_after_drain += r.server == "a" && r.end_ms > drained_at + 200;
  }
  EXPECT_GT(served_by_c, 0);
  EXPECT_EQ(a_after_drain, 0);
}

// A variant with a real outage: a and b paused for 3 s, longer than the check's 2 s
// timeout (a shorter stall is a slow answer, not a failed one, to HAProxy and firedrill
// alike), the overwrite moved after it, and only the frontend check kept. The report's
// availability and longest outage agree with HAProxy's own log of the check's requests,
// within one sample.
TEST(CatalogDrillsTest, AvailabilityAndLongestOutageAgreeWithHaproxysLog) {
  TempDir dir;
  MountGuard mounts(dir.path());
  std::string yaml = ReadFile(Drill("disk-image-overwritten.yaml"));
  const size_t from = yaml.find("  # Redundancy: at least two servers");
  const size_t to = yaml.find("\nfaults:\n");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  yaml.erase(from, to - from);
  yaml.replace(yaml.find("\nfaults:\n"), 9,
               "\nfaults:\n"
               "  - {name: a-stops, at: 1s, action: process.pause, target: {service: web-a}, "
               "duration: 3s}\n"
               "  - {name: b-stops, at: 1s, action: process.pause, target: {service: web-b}, "
               "duration: 3s}\n");
  const std::string at = "    at: 2s\n    action: file.corrupt";
  ASSERT_NE(yaml.find(at), std::string::npos);
  yaml.replace(yaml.find(at), at.size(), "    at: 6s\n    action: file.corrupt");
  WriteFile(dir / "outage.yaml", yaml);
  auto run = RunKept(dir / "outage.yaml", dir);
  ASSERT_TRUE(run);
  ExpectNothingSurvives(run->report, 5);
  const auto& m = run->report["metrics"];
  ASSERT_TRUE(m["availability"].is_number()) << m.dump();
  ASSERT_TRUE(m["longest_outage_ms"].is_number()) << m.dump();
  EXPECT_GT(m["longest_outage_ms"].get<int64_t>(), 500) << "a real outage, or this proves nothing";

  auto [first, end] = FaultWindow(run->report);
  const auto requests =
      SteadyRequestsInHaproxyLog(ReadFile(dir / "report/services/haproxy.out.log"), run->report);
  int total = 0, passed = 0;
  int64_t longest = 0, since = -1;
  for (const auto& r : requests) {
    if (r.end_ms < first || r.end_ms > end) continue;
    ++total;
    passed += r.passed;
    if (!r.passed && since < 0) since = r.end_ms;
    if (r.passed && since >= 0) {
      longest = std::max(longest, r.end_ms - since);
      since = -1;
    }
  }
  ASSERT_GE(total, 10);
  const double availability = static_cast<double>(passed) / total;
  std::printf(
      "firedrill: availability %.4f, longest outage %lld ms; HAProxy's log: %d of %d "
      "requests passed (%.4f), longest outage %lld ms\n",
      m["availability"].get<double>(),
      static_cast<long long>(m["longest_outage_ms"].get<int64_t>()), passed, total, availability,
      static_cast<long long>(longest));
  EXPECT_NEAR(m["availability"].get<double>(), availability, 1.0 / total + 1e-9)
      << passed << " of " << total << " requests passed in HAProxy's log";
  // Within one sample: the check's interval, 200 ms (measured here: 0 to 2 ms apart).
  EXPECT_NEAR(static_cast<double>(m["longest_outage_ms"].get<int64_t>()),
              static_cast<double>(longest), 200)
      << "HAProxy's log: " << longest << " ms";
}

// SIGKILL once the new server is up (a daemon of the remediation's, not a service): then
// `firedrill rollback` leaves no haproxy or nginx in the workdir, no mount, and no loop
// device on the image.
TEST(CatalogDrillsTest, DiskImageDrillKilledThenRolledBackLeavesNothing) {
  TempDir dir;
  MountGuard mounts(dir.path());
  const std::string state = dir / "state";
  pid_t pid = StartRun(Drill("disk-image-overwritten.yaml"), dir.path(), state, dir.path());
  PidReaper reaper;
  reaper.Watch(pid);
  ASSERT_TRUE(WaitForIntent(state, "orphan ", 12).is_object())
      << "the new server was never journaled\n"
      << ReadFile(dir / "run.log");
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string workdir;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().filename().string().starts_with("firedrill-disk-image-")) workdir = e.path();
  }
  ASSERT_FALSE(workdir.empty());
  // haproxy's command line does not name the workdir; its working directory is it.
  auto alive = [&] {
    auto in = ProcessesIn(workdir);
    for (pid_t p : ProcessesWithArg(workdir)) {
      if (std::find(in.begin(), in.end(), p) == in.end()) in.push_back(p);
    }
    return in;
  };
  auto loop_on_image = [&] {
    auto r = RunShell(
        {.script = FindTool("losetup") + " --list --noheadings --output BACK-FILE", .cwd = "/"});
    return r.ok() && r->out.find(workdir) != std::string::npos;
  };
  ASSERT_FALSE(alive().empty()) << "nothing ran when the runner died";
  ASSERT_FALSE(MountsUnder(workdir).empty());
  ASSERT_TRUE(loop_on_image());
  CliResult r = RunFiredrill({"rollback", "--state-dir", state}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  for (int i = 0; i < 300 && !alive().empty(); ++i) usleep(10000);
  PidReaper left;
  for (pid_t p : alive()) {
    std::string comm;
    std::getline(std::ifstream("/proc/" + std::to_string(p) + "/comm"), comm);
    ADD_FAILURE() << "process " << p << " (" << comm << ") survived";
    left.Watch(p);
  }
  EXPECT_TRUE(MountsUnder(workdir).empty()) << ::testing::PrintToString(MountsUnder(workdir));
  EXPECT_FALSE(loop_on_image());
  EXPECT_FALSE(std::filesystem::exists(workdir + "/a.img"));
}

}  // namespace
}  // namespace firedrill::testing
