// `firedrill run` adds every run to the history, and `firedrill history` reads it back:
// three runs of one drill, in json, csv and the table, through the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"
#include "tests/reports/real_runs.h"

namespace firedrill::testing {
namespace {

TEST(HistoryCliTest, ThreeRunsOfOneDrillInEveryFormat) {
  TempDir dir;
  const std::string db = dir / "history.db";
  WriteFile(dir / "passed.yaml", RealRunDrill("passed", dir.path()));
  std::vector<nlohmann::json> reports;
  for (int i = 0; i < 3; ++i) {
    const std::string out = dir / ("run" + std::to_string(i));
    CliResult r = RunFiredrill(
        {"run", dir / "passed.yaml", "--report-dir", out, "--history", db, "-q"}, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    reports.push_back(*ReadJson(out + "/report.json"));
  }
  // --no-history leaves it alone.
  ASSERT_EQ(RunFiredrill({"run", dir / "passed.yaml", "--report-dir", dir / "run-x", "--history",
                          db, "--no-history", "-q"},
                         dir.path())
                .exit_code,
            0);

  CliResult json = RunFiredrill({"history", "--history", db, "--format", "json"}, dir.path());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json runs = nlohmann::json::parse(json.out);
  ASSERT_EQ(runs.size(), 3u) << json.out;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(runs[i]["name"], "report-passed");
    EXPECT_EQ(runs[i]["started_at"], reports[i]["started_at"]);
    EXPECT_EQ(runs[i]["score"], reports[i]["score"]);
    EXPECT_EQ(runs[i]["verdict"], "passed");
    EXPECT_EQ(runs[i]["exit_code"], 0);
    EXPECT_EQ(runs[i]["metrics"], reports[i]["metrics"]);
    EXPECT_EQ(runs[i]["report_dir"], dir / ("run" + std::to_string(i)));
  }

  CliResult csv = RunFiredrill({"history", "--history", db, "--format", "csv"}, dir.path());
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  size_t lines = 0;
  for (char c : csv.out) lines += c == '\n';
  EXPECT_EQ(lines, 4u) << csv.out;  // the header and three runs
  EXPECT_NE(csv.out.find(reports[2]["started_at"].get<std::string>()), std::string::npos);

  CliResult table = RunFiredrill({"history", "report-passed", "--history", db}, dir.path());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("report-passed"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("MTTD"), std::string::npos) << table.out;

  CliResult last =
      RunFiredrill({"history", "--history", db, "--format", "json", "--last", "1"}, dir.path());
  ASSERT_EQ(last.exit_code, 0) << last.err;
  const nlohmann::json one = nlohmann::json::parse(last.out);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["started_at"], reports[2]["started_at"]);

  EXPECT_EQ(RunFiredrill({"history", "nope", "--history", db}, dir.path()).exit_code, 2);
  EXPECT_EQ(RunFiredrill({"history", "--history", dir / "missing.db"}, dir.path()).exit_code, 2);
}

}  // namespace
}  // namespace firedrill::testing
