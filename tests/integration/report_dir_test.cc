// Every run leaves the same files in its report directory, whatever its verdict, and
// `firedrill report DIR` renders them again from report.json alone.
#include <gtest/gtest.h>

#include <filesystem>

#include "reports/report_files.h"
#include "tests/integration/harness.h"
#include "tests/reports/real_runs.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

TEST(ReportDirTest, EveryVerdictLeavesEveryFile) {
  TempDir dir;
  for (const char* verdict : {"passed", "failed", "aborted", "error"}) {
    RealRun run = RunRealDrill(verdict, dir.path());
    ASSERT_EQ(run.report["verdict"], verdict) << run.result.out << run.result.err;
    for (const char* f : {kReportJsonFile, kJunitFile, kHtmlFile, kPostmortemFile, kSummaryFile}) {
      const std::string path = run.report_dir + "/" + f;
      EXPECT_TRUE(fs::is_regular_file(path)) << verdict << ": no " << f;
      EXPECT_GT(fs::file_size(path), 100u) << verdict << ": " << f << " is nearly empty";
    }
    EXPECT_TRUE(fs::is_directory(run.report_dir + "/services")) << verdict;
    // The summary file is what the terminal printed at the end, without colour.
    const std::string summary = ReadFile(run.report_dir + "/" + kSummaryFile);
    EXPECT_NE(run.result.out.find(summary), std::string::npos) << summary;
  }
}

TEST(ReportDirTest, ReportRendersTheFilesAgainFromReportJson) {
  TempDir dir;
  RealRun run = RunRealDrill("failed", dir.path());
  ASSERT_EQ(run.report["verdict"], "failed") << run.result.out << run.result.err;
  const std::string junit = ReadFile(run.report_dir + "/" + kJunitFile);
  const std::string html = ReadFile(run.report_dir + "/" + kHtmlFile);
  const std::string postmortem = ReadFile(run.report_dir + "/" + kPostmortemFile);
  for (const char* f : {kJunitFile, kHtmlFile, kPostmortemFile}) {
    fs::remove(run.report_dir + "/" + f);
  }
  CliResult r = RunFiredrill({"report", run.report_dir}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ReadFile(run.report_dir + "/" + kJunitFile), junit);
  EXPECT_EQ(ReadFile(run.report_dir + "/" + kHtmlFile), html);
  EXPECT_EQ(ReadFile(run.report_dir + "/" + kPostmortemFile), postmortem);

  // Not a report directory: exit 2, saying why.
  fs::create_directories(dir / "empty");
  r = RunFiredrill({"report", dir / "empty"}, dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
  WriteFile(dir / "empty/report.json", "{\"format\": \"something-else\"}");
  r = RunFiredrill({"report", dir / "empty"}, dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("is not a firedrill-report/v1 report"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace firedrill::testing
