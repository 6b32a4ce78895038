// Runs the shipped PostgreSQL restore drills for real (PostgreSQL 15 and pgBackRest, the
// Debian packages) and checks what firedrill reports against what the test finds itself:
// "acknowledged" is the drill's ledger (acked.seqs: the writer appends a seq only once
// PostgreSQL confirmed its INSERT), "missing" is the test's own SQL on the restored data
// directory, read through a server the test starts on it, on a port of its own, after the
// run. Then nothing may be left: no process in the workdir, no process group of the run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <set>

#include "runner/base/env.h"
#include "tests/integration/harness.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";

std::string Drill(const std::string& name) {
  return std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/" + name;
}

// Why these drills cannot run here, or "" when they can.
std::string Unsupported() {
  if (geteuid() != 0) return "needs root: PostgreSQL runs as the postgres user";
  if (!fs::exists(std::string(kPgBin) + "/postgres") || getpwnam("postgres") == nullptr) {
    return "PostgreSQL 15 is not installed (scripts/install-deps)";
  }
  if (!fs::exists("/usr/bin/pgbackrest")) return "pgBackRest is not installed";
  return "";
}

ShellResult Sh(const std::string& script, Millis timeout = Millis(90000)) {
  auto r = RunShell({.script = script, .cwd = "/", .timeout = timeout});
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return {};
  }
  return *r;
}

void ExpectNoProcessIn(const std::string& dir) {
  PidReaper reaper;
  for (pid_t p : ProcessesIn(dir)) {
    std::string comm;
    std::getline(std::ifstream("/proc/" + std::to_string(p) + "/comm"), comm);
    ADD_FAILURE() << "process " << p << " (" << comm << ") survived in " << dir;
    reaper.Watch(p);
  }
}

// What the test itself finds in a kept workdir.
struct Found {
  std::vector<int64_t> acked;    // the ledger, in the order PostgreSQL confirmed them
  std::vector<int64_t> missing;  // acknowledged, not in the restored table, in that order
  size_t rows = 0;
};

// Starts PostgreSQL on the data directory `data` the run left (as its user, on a free port
// of the test's own, archiving off), reads the table with the test's own query, and stops
// it. A standby serves the reads once it has replayed its own WAL.
std::optional<Found> ReadRestored(const std::string& workdir, const std::string& data = "pgdata") {
  const std::string home = workdir + "/users/postgres";
  Found f;
  {
    std::ifstream in(workdir + "/acked.seqs");
    int64_t seq = 0;
    while (in >> seq) f.acked.push_back(seq);
  }
  int port = 0;
  {
    ClosedPort p;  // released before the server binds it
    port = p.port();
  }
  const std::string pg_ctl =
      "runuser -u postgres -- " + std::string(kPgBin) + "/pg_ctl -D " + Quote(home + "/" + data);
  ShellResult start =
      Sh(pg_ctl + " -o " + Quote("-p " + std::to_string(port) + " -c archive_mode=off") + " -l " +
         Quote(home + "/test-read.log") + " -w -t 60 start");
  if (start.exit_code != 0) {
    ADD_FAILURE() << "cannot start the restored server: " << start.out << start.err
                  << ReadFile(home + "/test-read.log");
    return std::nullopt;
  }
  ShellResult q = Sh("psql -h 127.0.0.1 -p " + std::to_string(port) +
                     " -U postgres -tAc 'SELECT seq FROM ledger ORDER BY seq'");
  ShellResult stop = Sh(pg_ctl + " -m fast -w stop");
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  if (q.exit_code != 0) {
    ADD_FAILURE() << "query failed: " << q.err;
    return std::nullopt;
  }
  std::set<int64_t> rows;
  std::istringstream in(q.out);
  int64_t seq = 0;
  while (in >> seq) rows.insert(seq);
  f.rows = rows.size();
  for (int64_t s : f.acked) {
    if (!rows.count(s)) f.missing.push_back(s);
  }
  return f;
}

// The restored table holds every acknowledged write not missing, and besides those only
// writes that were sent but never acknowledged: one whose psql timed out after the commit,
// or the one in flight when the fault phase ended (cut short, it is not counted as
// attempted). The writer sends one write at a time.
void ExpectOnlyUnacknowledgedExtras(const nlohmann::json& report, const Found& f) {
  const size_t kept = f.acked.size() - f.missing.size();
  ASSERT_GE(f.rows, kept);
  const auto& w = report["data_writes"];
  ASSERT_TRUE(w.is_object()) << report.dump();
  const int64_t unacknowledged =
      w["attempted"].get<int64_t>() - w["acknowledged"].get<int64_t>() + 1;
  EXPECT_LE(static_cast<int64_t>(f.rows - kept), unacknowledged)
      << f.rows << " rows for " << kept << " acknowledged writes kept; " << w.dump();
}

// The report's data_lost is exactly what the test found missing.
void ExpectReportedLoss(const nlohmann::json& report, const Found& f) {
  const auto& lost = report["metrics"]["data_lost"];
  ASSERT_TRUE(lost.is_object()) << report["metrics"].dump();
  EXPECT_EQ(lost["count"], f.missing.size());
  std::vector<int64_t> first(f.missing.begin(),
                             f.missing.begin() + std::min<size_t>(100, f.missing.size()));
  EXPECT_EQ(lost["first_seqs"].get<std::vector<int64_t>>(), first);
}

// Where `missing` sits in the ledger: [begin, end) when it is one contiguous run of it.
std::optional<std::pair<size_t, size_t>> RunInLedger(const Found& f) {
  if (f.missing.empty()) return std::make_pair(size_t{0}, size_t{0});
  auto it = std::find(f.acked.begin(), f.acked.end(), f.missing.front());
  size_t begin = it - f.acked.begin();
  size_t end = begin + f.missing.size();
  if (end > f.acked.size() ||
      !std::equal(f.missing.begin(), f.missing.end(), f.acked.begin() + begin)) {
    return std::nullopt;
  }
  return std::make_pair(begin, end);
}

struct RestoreResult {
  DrillRun run;
  Found found;
};

std::optional<RestoreResult> RunRestoreDrill(const std::string& file, const TempDir& dir) {
  fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);  // postgres
  auto run = RunKept(Drill(file), dir);
  if (!run) return std::nullopt;
  EXPECT_TRUE(CheckReportKeys(run->report).empty())
      << ::testing::PrintToString(CheckReportKeys(run->report));
  EXPECT_TRUE(run->report["leftovers"].empty()) << run->report["leftovers"].dump();
  // The run stopped everything it started, the server its remediation started included.
  ExpectNothingSurvives(run->report, 1);
  ExpectNoProcessIn(run->workdir);
  auto found = ReadRestored(run->workdir);
  ExpectNoProcessIn(run->workdir);
  if (!found) return std::nullopt;
  // Enough writes to mean something: 15 s of them before the fault at one every 100 ms
  // (about 150 here; a loaded machine acknowledges fewer, never none).
  EXPECT_GE(found->acked.size(), 30u);
  return RestoreResult{std::move(*run), std::move(*found)};
}

// Restoring the newest set loses the writes after it, within the RPO; restoring the oldest
// by mistake loses every write before the fault, strictly more, and fails the drill.
TEST(PostgresDrillsTest, ARestoreLosesExactlyTheWritesItsBackupSetMisses) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir newest_dir, wrong_dir;
  auto newest = RunRestoreDrill("postgres-restore-from-backup.yaml", newest_dir);
  ASSERT_TRUE(newest);
  {
    SCOPED_TRACE("newest backup set");
    const Found& f = newest->found;
    EXPECT_EQ(newest->run.cli.exit_code, 0) << Output(newest->run.cli);
    EXPECT_EQ(newest->run.report["verdict"], "passed") << newest->run.report["reasons"].dump();
    ExpectReportedLoss(newest->run.report, f);
    EXPECT_LE(f.missing.size(), 50u);
    // What is lost is one run of writes: those after the newest backup, up to the fault.
    // The first write is in a differential backup, and the last, written after the
    // restore, is in the restored server.
    auto at = RunInLedger(f);
    ASSERT_TRUE(at) << ::testing::PrintToString(f.missing);
    EXPECT_GT(at->first, 0u);
    EXPECT_LT(at->second, f.acked.size());
  }
  auto wrong = RunRestoreDrill("postgres-restore-wrong-snapshot.yaml", wrong_dir);
  ASSERT_TRUE(wrong);
  {
    SCOPED_TRACE("oldest backup set, by mistake");
    const Found& f = wrong->found;
    EXPECT_EQ(wrong->run.cli.exit_code, 1) << Output(wrong->run.cli);
    EXPECT_EQ(wrong->run.report["verdict"], "failed");
    ExpectReportedLoss(wrong->run.report, f);
    // The oldest set was taken before the first write: everything up to the fault is gone,
    // from the very first write, and only what came after the restore is there.
    auto at = RunInLedger(f);
    ASSERT_TRUE(at) << ::testing::PrintToString(f.missing);
    EXPECT_EQ(at->first, 0u);
    EXPECT_LT(at->second, f.acked.size());
    ExpectOnlyUnacknowledgedExtras(wrong->run.report, f);
    // More than the RPO the drill states, whatever the writer managed before the fault.
    EXPECT_GT(f.missing.size(), 50u);
    EXPECT_GT(f.missing.size(), newest->found.missing.size());
    EXPECT_GT(wrong->run.report["metrics"]["data_lost"]["span_ms"].get<int64_t>(),
              newest->run.report["metrics"]["data_lost"]["span_ms"].get<int64_t>());
    bool said = false;
    for (const auto& o : wrong->run.report["objectives"]) {
      if (o["name"] == "recovery.max_data_loss") said = o["met"] == false;
    }
    EXPECT_TRUE(said) << wrong->run.report["objectives"].dump();
  }
}

// With WAL on a volume the fault leaves alone, replaying the archive and then the surviving
// segments brings back every acknowledged write.
TEST(PostgresDrillsTest, PointInTimeRecoveryLosesNoAcknowledgedWrite) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  auto pitr = RunRestoreDrill("postgres-pitr.yaml", dir);
  ASSERT_TRUE(pitr);
  EXPECT_EQ(pitr->run.cli.exit_code, 0) << Output(pitr->run.cli);
  EXPECT_EQ(pitr->run.report["verdict"], "passed") << pitr->run.report["reasons"].dump();
  EXPECT_TRUE(pitr->found.missing.empty()) << ::testing::PrintToString(pitr->found.missing);
  ExpectReportedLoss(pitr->run.report, pitr->found);
  ExpectOnlyUnacknowledgedExtras(pitr->run.report, pitr->found);
  // The restore really went through the surviving WAL, and the fault left it alone.
  const std::string log = ReadFile(dir / "report/artifacts/users/postgres/restored.log");
  EXPECT_NE(log.find("restored log file"), std::string::npos) << log;
  EXPECT_FALSE(ReadFile(dir / "report/artifacts/users/postgres/survived-wal.txt").empty());
}

// The standby's primary_conninfo drifts and a restart picks it up: replication stops while
// the primary acknowledges writes; after the fix every one of them is on the standby (the
// test reads the standby's own data directory), and the report has the largest lag seen.
TEST(PostgresDrillsTest, AfterTheFixTheStandbyHoldsEveryAcknowledgedWrite) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);  // postgres
  auto run = RunKept(Drill("postgres-replication-misconfig.yaml"), dir);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->cli.exit_code, 0) << Output(run->cli);
  EXPECT_EQ(run->report["verdict"], "passed") << run->report["reasons"].dump();
  EXPECT_TRUE(CheckReportKeys(run->report).empty())
      << ::testing::PrintToString(CheckReportKeys(run->report));
  ExpectNothingSurvives(run->report, 3);
  ExpectNoProcessIn(run->workdir);
  for (const auto& f : run->report["faults"]) {
    EXPECT_NE(f["rollback"], "failed") << f.dump();
  }
  // The drift was rolled back: the standby's settings read as the base backup wrote them.
  const std::string conf = ReadFile(run->workdir + "/users/postgres/standby/postgresql.auto.conf");
  EXPECT_NE(conf.find("port=" + PortOf(run->report, "primary") + " "), std::string::npos) << conf;
  auto found = ReadRestored(run->workdir, "standby");
  ExpectNoProcessIn(run->workdir);
  ASSERT_TRUE(found);
  EXPECT_GE(found->acked.size(), 30u);
  EXPECT_TRUE(found->missing.empty()) << ::testing::PrintToString(found->missing);
  ExpectReportedLoss(run->report, *found);
  // Replication really stopped: the standby fell behind while the primary took writes.
  bool lag = false;
  for (const auto& p : run->report["probes"]) {
    if (p["name"] != "replication-lag-bytes") continue;
    ASSERT_TRUE(p.contains("values")) << p.dump();
    EXPECT_GT(p["values"]["max"].get<int64_t>(), 2000) << p.dump();
    lag = true;
  }
  EXPECT_TRUE(lag) << run->report["probes"].dump();
}

// The runner is killed once its remediation has restored and started a server (a daemon
// of its own, not a service): `firedrill rollback` stops it and every service.
TEST(PostgresDrillsTest, SigkillAfterTheRestoreThenRollbackLeavesNoPostgres) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  const std::string state = dir / "state";
  fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);  // postgres
  pid_t pid = StartRun(Drill("postgres-restore-from-backup.yaml"), dir.path(), state, dir.path());
  PidReaper reaper;
  reaper.Watch(pid);
  // Bounded: the drill injects at 15 s and restores within seconds.
  const nlohmann::json intent = WaitForIntent(state, "orphan ", 90);
  const pid_t restored = intent.is_object() ? intent.value("pid", 0) : 0;
  ASSERT_GT(restored, 1) << "the restored server was never journaled\n"
                         << ReadFile(dir / "run.log");
  reaper.Watch(restored);
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string workdir;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    if (e.path().filename().string().starts_with("firedrill-postgres-")) workdir = e.path();
  }
  ASSERT_FALSE(workdir.empty());
  ASSERT_FALSE(ProcessesIn(workdir).empty()) << "nothing ran when the runner died";
  EXPECT_FALSE(Gone(restored));
  CliResult r = RunFiredrill({"rollback", "--state-dir", state}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << Output(r);
  // Each process that survives SIGKILL's teardown-less end is re-parented to init or to
  // this test, which may not have reaped it yet: Gone counts a zombie as gone.
  for (int i = 0; i < 300 && !ProcessesIn(workdir).empty(); ++i) usleep(10000);
  ExpectNoProcessIn(workdir);
  for (const auto& l : JournalLines(state)) {
    if (l.value("op", "") != "intend" || l.value("kind", "") != "process.group") continue;
    pid_t pgid = l["args"].value("pid", 0);
    EXPECT_FALSE(Env::Default()->GroupAlive(pgid)) << "process group " << pgid << " survived";
  }
  CliResult again = RunFiredrill({"rollback", "--state-dir", state}, dir.path());
  EXPECT_NE(again.out.find("nothing to roll back"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace firedrill::testing
