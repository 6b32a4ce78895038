// The history store is read back exactly as real runs wrote their reports: three runs of
// one drill and a failed run of another, in every format `firedrill history` offers; and
// it holds up under what a shared machine does to it (writers at once, a newer firedrill).
#include "reports/history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/values.h"
#include "tests/reports/real_runs.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testing::RealRun;
using testing::RealRunDrill;
using testing::ScopedEnvVar;
using testing::SharedRealRun;
using testing::TempDir;

// RFC 4180, as a reader of it would parse it: quoted fields may hold commas, quotes
// (doubled) and line breaks; records end with CRLF.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
      ++i;
    } else {
      field += c;
    }
  }
  EXPECT_TRUE(field.empty() && row.empty()) << "the last record does not end with CRLF";
  return rows;
}

// A metric as the CSV should hold it: empty for null, else the JSON number as written.
std::string CsvMetric(const json& v) { return v.is_null() ? "" : v.dump(); }

// The table's line whose first word is `id`, or "".
std::string RowOf(const std::string& table, const std::string& id) {
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string first;
    if (words >> first && first == id) return line;
  }
  return "";
}

int CountRows(const std::string& db) {
  auto runs = ReadHistory(db, "", 0);
  EXPECT_TRUE(runs.ok()) << runs.status().ToString();
  return runs.ok() ? static_cast<int>(runs->size()) : -1;
}

void SetUserVersion(const std::string& db_path, int version) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  const std::string sql = "PRAGMA user_version = " + std::to_string(version);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

// Three real runs of one drill (report-passed), one after the other, and one failed run of
// another (report-failed), each in its own directory; appended in the order they ran.
class HistoryRealRunsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    runs_ = new std::vector<RealRun>;
    // A comma in one directory's name, so the CSV must quote a real field.
    // (Shared with other test processes: read only.)
    for (const std::string sub : {"run,1", "run-2", "run-3"}) {
      runs_->push_back(SharedRealRun("history-" + sub, "passed", [](const std::string& dir) {
        return RealRunDrill("passed", dir);
      }));
    }
    runs_->push_back(SharedRealRun("history-other", "failed", [](const std::string& dir) {
      return RealRunDrill("failed", dir);
    }));
  }
  static void TearDownTestSuite() {
    delete runs_;
    delete dir_;
  }

  void SetUp() override {
    for (const auto& r : *runs_) {
      ASSERT_TRUE(r.report.is_object()) << r.result.out << r.result.err;
      ASSERT_EQ(r.report["verdict"], r.verdict) << r.result.out << r.result.err;
    }
    db_ = tmp_ / "history.db";
    for (const auto& r : *runs_) {
      Status s = AppendRun(db_, r.report, r.report_dir);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

  const RealRun& Passed(int i) const { return (*runs_)[i]; }
  const RealRun& Failed() const { return (*runs_)[3]; }

  static TempDir* dir_;
  static std::vector<RealRun>* runs_;
  TempDir tmp_;
  std::string db_;
};

TempDir* HistoryRealRunsTest::dir_ = nullptr;
std::vector<RealRun>* HistoryRealRunsTest::runs_ = nullptr;

TEST_F(HistoryRealRunsTest, JsonHoldsExactlyTheReportsFields) {
  auto runs = ReadHistory(db_, "", 0);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const json got = json::parse(HistoryJson(*runs));
  ASSERT_TRUE(got.is_array());
  ASSERT_EQ(got.size(), 4u) << got.dump(2);
  // Grouped by drill (report-failed sorts first), each drill's runs oldest first; the ids
  // are the order of appending.
  const std::vector<const RealRun*> want = {&Failed(), &Passed(0), &Passed(1), &Passed(2)};
  const std::vector<int64_t> ids = {4, 1, 2, 3};
  for (size_t i = 0; i < want.size(); ++i) {
    const json& row = got[i];
    const json& report = want[i]->report;
    std::vector<std::string> keys;
    for (const auto& [k, v] : row.items()) keys.push_back(k);
    EXPECT_THAT(
        keys, ::testing::UnorderedElementsAre("id", "name", "file", "mode", "started_at", "verdict",
                                              "score", "exit_code", "metrics", "report_dir"));
    EXPECT_EQ(row["id"], ids[i]);
    for (const char* k :
         {"name", "file", "mode", "started_at", "verdict", "score", "exit_code", "metrics"}) {
      EXPECT_EQ(row[k], report[k]) << k << " of run " << i;
    }
    EXPECT_EQ(row["report_dir"], want[i]->report_dir);
  }
  EXPECT_EQ(got[0]["verdict"], "failed");
  EXPECT_EQ(got[0]["exit_code"], 1);
  EXPECT_LT(got[1]["started_at"].get<std::string>(), got[2]["started_at"].get<std::string>());
  EXPECT_LT(got[2]["started_at"].get<std::string>(), got[3]["started_at"].get<std::string>());
}

TEST_F(HistoryRealRunsTest, CsvParsesBackToTheReports) {
  auto runs = ReadHistory(db_, "report-passed", 0);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const std::string csv = HistoryCsv(*runs);
  const auto rows = ParseCsv(csv);
  ASSERT_EQ(rows.size(), 4u) << csv;
  const std::vector<std::string> header = {"id",
                                           "name",
                                           "file",
                                           "mode",
                                           "started_at",
                                           "verdict",
                                           "score",
                                           "exit_code",
                                           "detected_after_ms",
                                           "failed_over_after_ms",
                                           "recovered_after_ms",
                                           "availability",
                                           "data_lost_count",
                                           "report_dir"};
  EXPECT_EQ(rows[0], header);
  for (int i = 0; i < 3; ++i) {
    const json& r = Passed(i).report;
    const json& m = r["metrics"];
    const std::vector<std::string> want = {
        std::to_string(i + 1),
        r["name"],
        r["file"],
        r["mode"],
        r["started_at"],
        r["verdict"],
        std::to_string(r["score"].get<int>()),
        std::to_string(r["exit_code"].get<int>()),
        CsvMetric(m["detected_after_ms"]),
        CsvMetric(m["failed_over_after_ms"]),
        CsvMetric(m["recovered_after_ms"]),
        CsvMetric(m["availability"]),
        m["data_lost"].is_null() ? "" : CsvMetric(m["data_lost"]["count"]),
        Passed(i).report_dir};
    EXPECT_EQ(rows[i + 1], want) << csv;
  }
  // The real runs measured detection and recovery; the drill has no failover or data.
  EXPECT_NE(rows[1][8], "");
  EXPECT_NE(rows[1][10], "");
  EXPECT_EQ(rows[1][9], "");
  EXPECT_EQ(rows[1][12], "");
  EXPECT_THAT(csv, HasSubstr("\"" + Passed(0).report_dir + "\"")) << "the comma was not quoted";
}

TEST_F(HistoryRealRunsTest, TableShowsEachRunAndTheTrend) {
  auto runs = ReadHistory(db_, "", 0);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  for (bool unicode : {true, false}) {
    const std::string table = HistoryTable(*runs, unicode);
    EXPECT_THAT(table, HasSubstr("report-passed (3 runs)")) << table;
    EXPECT_THAT(table, HasSubstr("report-failed (1 run)")) << table;
    std::vector<std::optional<double>> mttd, mttr;
    for (int i = 0; i < 3; ++i) {
      const json& m = Passed(i).report["metrics"];
      ASSERT_TRUE(m["detected_after_ms"].is_number());
      ASSERT_TRUE(m["recovered_after_ms"].is_number());
      mttd.push_back(m["detected_after_ms"].get<double>());
      mttr.push_back(m["recovered_after_ms"].get<double>());
      // The run's own line: its id, verdict, score, MTTD and MTTR.
      const std::string row = RowOf(table, std::to_string(i + 1));
      ASSERT_NE(row, "") << "no row for run " << i + 1 << "\n" << table;
      std::string when = Passed(i).report["started_at"].get<std::string>().substr(0, 19);
      when[10] = ' ';
      EXPECT_THAT(row, HasSubstr(when));
      EXPECT_THAT(row, HasSubstr("passed"));
      EXPECT_THAT(row, HasSubstr(std::to_string(Passed(i).report["score"].get<int>())));
      EXPECT_THAT(row, HasSubstr(HumanMillis(m["detected_after_ms"].get<int64_t>())));
      EXPECT_THAT(row, HasSubstr(HumanMillis(m["recovered_after_ms"].get<int64_t>())));
    }
    const std::string mttd_spark = Sparkline(mttd, unicode);
    const std::string mttr_spark = Sparkline(mttr, unicode);
    // Three points: three marks (each block character is three bytes in UTF-8).
    EXPECT_EQ(mttd_spark.size(), unicode ? 9u : 3u) << mttd_spark;
    EXPECT_THAT(table, HasSubstr("MTTD trend  " + mttd_spark + "  first")) << table;
    EXPECT_THAT(table, HasSubstr("MTTR trend  " + mttr_spark + "  first")) << table;
    // The failed run never detected anything: a dash in its row, a gap in its trend.
    EXPECT_THAT(table, HasSubstr("failed")) << table;
    EXPECT_THAT(table, HasSubstr("MTTD trend     (never measured)")) << table;
    if (!unicode) {
      for (unsigned char c : table) EXPECT_LT(c, 0x80) << "not ASCII:\n" << table;
    }
  }
}

TEST_F(HistoryRealRunsTest, LastKeepsEachDrillsNewestRuns) {
  auto ids = [&](const std::string& drill, int last) {
    std::vector<int64_t> out;
    auto runs = ReadHistory(db_, drill, last);
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    if (runs.ok()) {
      for (const auto& r : *runs) out.push_back(r.id);
    }
    return out;
  };
  EXPECT_EQ(ids("", 0), (std::vector<int64_t>{4, 1, 2, 3}));
  EXPECT_EQ(ids("", 2), (std::vector<int64_t>{4, 2, 3}));  // per drill, not overall
  EXPECT_EQ(ids("", 1), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(ids("report-passed", 2), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ids("report-passed", 10), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(ids("report-failed", 0), (std::vector<int64_t>{4}));
  EXPECT_TRUE(ids("no-such-drill", 0).empty());
}

TEST_F(HistoryRealRunsTest, ConcurrentAppendsFromThreadsAllLand) {
  TempDir dir;
  const std::string db = dir / "fresh/history.db";  // created by the race itself
  constexpr int kThreads = 6, kEach = 10;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Status s = AppendRun(db, Passed(t % 3).report, Passed(t % 3).report_dir);
        if (!s.ok()) errors[t] += s.ToString() + "\n";
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(CountRows(db), kThreads * kEach);
}

TEST_F(HistoryRealRunsTest, ConcurrentAppendsFromProcessesAllLand) {
  TempDir dir;
  const std::string db = dir / "history.db";
  constexpr int kProcs = 4, kEach = 15;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failed = 0;
      for (int i = 0; i < kEach; ++i) {
        Status s = AppendRun(db, Failed().report, "x");
        if (!s.ok()) {
          ++failed;
          std::fprintf(stderr, "writer %d: %s\n", p, s.ToString().c_str());
        }
      }
      _exit(failed == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer failed";
  }
  EXPECT_EQ(CountRows(db), kProcs * kEach);
}

TEST_F(HistoryRealRunsTest, NewerSchemaIsRefusedWithAClearMessage) {
  SetUserVersion(db_, kHistorySchemaVersion + 1);
  Status s = AppendRun(db_, Failed().report, Failed().report_dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr(db_));
  EXPECT_THAT(s.message(),
              HasSubstr("schema version " + std::to_string(kHistorySchemaVersion + 1) +
                        ", newer than the version " + std::to_string(kHistorySchemaVersion)));
  EXPECT_THAT(s.message(), HasSubstr("newer firedrill"));
  auto read = ReadHistory(db_, "", 0);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kUnsupported);
  // Nothing was written to the file it refused.
  SetUserVersion(db_, kHistorySchemaVersion);
  EXPECT_EQ(CountRows(db_), 4);
}

TEST_F(HistoryRealRunsTest, AnEmptyDatabaseIsMigrated) {
  TempDir dir;
  const std::string db = dir / "history.db";
  SetUserVersion(db, 0);  // a SQLite file with no schema yet
  ASSERT_TRUE(AppendRun(db, Failed().report, Failed().report_dir).ok());
  EXPECT_EQ(CountRows(db), 1);
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kHistorySchemaVersion);
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(h);
}

TEST_F(HistoryRealRunsTest, AReportWithoutItsKeysIsRefused) {
  json report = Failed().report;
  report.erase("name");
  Status s = AppendRun(db_, report, "x");
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_THAT(s.message(), HasSubstr("`name`"));
  EXPECT_EQ(CountRows(db_), 4);
}

TEST_F(HistoryRealRunsTest, ARelativeReportDirIsKeptAbsolute) {
  TempDir dir;
  ASSERT_TRUE(AppendRun(dir / "history.db", Failed().report, "firedrill-out/x").ok());
  auto runs = ReadHistory(dir / "history.db", "", 0);
  ASSERT_TRUE(runs.ok() && runs->size() == 1) << runs.status().ToString();
  EXPECT_EQ((*runs)[0].report_dir, (std::filesystem::current_path() / "firedrill-out/x").string());
}

// A file written by a version-1 firedrill (before training sessions) is migrated in place:
// its runs stay, and a session recorded after it is found by its trainee. (The real
// sessions' path is tests/integration/train_test.cc.)
TEST_F(HistoryRealRunsTest, AVersionOneFileGainsTrainingSessions) {
  TempDir dir;
  const std::string db_path = dir / "v1.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, file TEXT NOT NULL,
        mode TEXT NOT NULL, started_at TEXT NOT NULL, verdict TEXT NOT NULL, score INTEGER,
        exit_code INTEGER, metrics TEXT NOT NULL, report_dir TEXT NOT NULL,
        recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
      CREATE INDEX runs_by_drill ON runs (name, started_at, id);
      PRAGMA user_version = 1;)sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  // A run into the old file, then a training session, made from that run's report.
  ASSERT_TRUE(AppendRun(db_path, Passed(0).report, Passed(0).report_dir).ok());
  json session = Passed(1).report;
  session["mode"] = "train";
  session["training"] = {{"trainee", "ada"},
                         {"hints_used", 1},
                         {"declarations", {{"true", 1}, {"false", 2}}},
                         {"gave_up", false}};
  ASSERT_TRUE(AppendRun(db_path, session, Passed(1).report_dir).ok());

  auto all = ReadHistory(db_path, "", 0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].trainee, "");
  EXPECT_TRUE((*all)[0].training.is_null());
  auto ada = ReadHistory(db_path, "", 0, "ada");
  ASSERT_TRUE(ada.ok());
  ASSERT_EQ(ada->size(), 1u);
  EXPECT_EQ((*ada)[0].trainee, "ada");
  EXPECT_EQ((*ada)[0].training["hints_used"], 1);
  EXPECT_TRUE(ReadHistory(db_path, "", 0, "bo")->empty());
  // JSON gives a session its trainee and training; a run keeps exactly its old keys.
  const json rows = json::parse(HistoryJson(*all));
  EXPECT_FALSE(rows[0].contains("trainee"));
  EXPECT_EQ(rows[1]["training"]["declarations"]["false"], 2);
  const std::string table = TraineeTable("ada", *ada, false);
  EXPECT_THAT(table, HasSubstr("ada: 1 training session\n"));
  EXPECT_THAT(table, HasSubstr(Passed(1).report["name"].get<std::string>()));
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 2);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

TEST(HistoryTest, AMissingFileIsAnEmptyHistoryAndIsNotCreated) {
  TempDir dir;
  auto runs = ReadHistory(dir / "none/history.db", "", 0);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_TRUE(runs->empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "none"));
  EXPECT_EQ(HistoryTable(*runs, true), "no runs recorded\n");
  EXPECT_EQ(HistoryJson(*runs), "[]\n");
}

TEST(HistoryTest, NotADatabaseIsAnError) {
  TempDir dir;
  testing::WriteFile(dir / "history.db",
                     "this is not SQLite, but long enough to be read as a header");
  auto runs = ReadHistory(dir / "history.db", "", 0);
  ASSERT_FALSE(runs.ok());
  EXPECT_THAT(runs.status().message(), HasSubstr(dir / "history.db"));
}

TEST(HistoryTest, DefaultPathFollowsXdg) {
  {
    ScopedEnvVar xdg("XDG_DATA_HOME", "/data/me");
    ScopedEnvVar home("HOME", "/home/me");
    EXPECT_EQ(DefaultHistoryPath(), "/data/me/firedrill/history.db");
  }
  {
    // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
    ScopedEnvVar xdg("XDG_DATA_HOME", "relative/data");
    ScopedEnvVar home("HOME", "/home/me");
    EXPECT_EQ(DefaultHistoryPath(), "/home/me/.local/share/firedrill/history.db");
  }
  {
    ScopedEnvVar xdg("XDG_DATA_HOME", std::nullopt);
    ScopedEnvVar home("HOME", "/home/me");
    EXPECT_EQ(DefaultHistoryPath(), "/home/me/.local/share/firedrill/history.db");
  }
  {
    ScopedEnvVar xdg("XDG_DATA_HOME", std::nullopt);
    ScopedEnvVar home("HOME", std::nullopt);
    const std::string p = DefaultHistoryPath();
    EXPECT_THAT(p, ::testing::EndsWith("/.local/share/firedrill/history.db")) << p;
  }
}

TEST(HistoryTest, SparklineScalesAndLeavesGaps) {
  EXPECT_EQ(Sparkline({1.0, 2.0, std::nullopt, 8.0}, true), "▁▂ █");
  EXPECT_EQ(Sparkline({1.0, 2.0, std::nullopt, 8.0}, false), "_. #");
  EXPECT_EQ(Sparkline({5.0, 5.0}, true), "▄▄");
  EXPECT_EQ(Sparkline({std::nullopt}, true), " ");
  EXPECT_EQ(Sparkline({}, true), "");
}

}  // namespace
}  // namespace firedrill
