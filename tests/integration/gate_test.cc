// `firedrill run` over several drills: a CI gate. Everything is validated before anything
// runs, each drill reports into DIR/NAME, one junit.xml covers them all, and the exit
// code is the most severe of the drills'.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/harness.h"
#include "tests/reports/real_runs.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST(GateTest, DirectoryWithOneFailingDrillExitsOneWithOneJunit) {
  TempDir dir;
  fs::create_directories(dir / "drills");
  WriteFile(dir / "drills/a-passed.yaml", RealRunDrill("passed", dir.path()));
  WriteFile(dir / "drills/b-failed.yaml", RealRunDrill("failed", dir.path()));
  WriteFile(dir / "drills/notes.txt", "not a drill: ignored");
  CliResult r = RunFiredrill({"run", dir / "drills", "--report-dir", dir / "gate"}, dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;

  auto passed = ReadJson(dir / "gate/report-passed/report.json");
  auto failed = ReadJson(dir / "gate/report-failed/report.json");
  ASSERT_TRUE(passed && failed) << r.out << r.err;
  EXPECT_EQ((*passed)["verdict"], "passed");
  EXPECT_EQ((*failed)["verdict"], "failed");
  for (const char* f : {"summary.txt", "junit.xml"}) {
    EXPECT_TRUE(fs::exists(dir / (std::string("gate/report-passed/") + f))) << f;
  }

  const std::string junit = ReadFile(dir / "gate/junit.xml");
  EXPECT_EQ(Count(junit, "<testsuite "), 2u) << junit;
  EXPECT_NE(junit.find("name=\"report-passed\""), std::string::npos) << junit;
  EXPECT_NE(junit.find("name=\"report-failed\""), std::string::npos) << junit;
  EXPECT_NE(junit.find("<failure"), std::string::npos) << junit;

  // The summary table: one row per drill, in file order.
  const size_t a = r.out.find("report-passed  passed");
  const size_t b = r.out.find("report-failed  failed");
  EXPECT_NE(a, std::string::npos) << r.out;
  EXPECT_NE(b, std::string::npos) << r.out;
  EXPECT_LT(a, b) << r.out;
  EXPECT_NE(r.out.find("gate: 2 drill(s)"), std::string::npos) << r.out;
}

TEST(GateTest, MostSevereExitCodeWins) {
  TempDir dir;
  WriteFile(dir / "error.yaml", RealRunDrill("error", dir.path()));
  WriteFile(dir / "aborted.yaml", RealRunDrill("aborted", dir.path()));
  WriteFile(dir / "passed.yaml", RealRunDrill("passed", dir.path()));
  CliResult r = RunFiredrill(
      {"run", dir / "passed.yaml", dir / "aborted.yaml", "--report-dir", dir / "gate"}, dir.path());
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;  // aborted outranks passed
  r = RunFiredrill({"run", dir / "aborted.yaml", dir / "error.yaml", dir / "passed.yaml",
                    "--report-dir", dir / "gate2"},
                   dir.path());
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;  // error outranks aborted
  EXPECT_EQ(Count(ReadFile(dir / "gate2/junit.xml"), "<testsuite "), 3u);
}

TEST(GateTest, OneInvalidDrillRunsNothing) {
  TempDir dir;
  WriteFile(dir / "passed.yaml", RealRunDrill("passed", dir.path()));
  WriteFile(dir / "bad.yaml", "apiVersion: firedrill/v1\nname: bad\nsteady_state: 3\n");
  CliResult r = RunFiredrill(
      {"run", dir / "passed.yaml", dir / "bad.yaml", "--report-dir", dir / "gate"}, dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("bad.yaml:3:"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "gate")) << "a drill ran although another was invalid";
  EXPECT_FALSE(fs::exists(dir / "work-passed")) << "the valid drill's service started";
}

TEST(GateTest, TwoDrillsOfOneNameAreRefused) {
  TempDir dir;
  WriteFile(dir / "one.yaml", RealRunDrill("passed", dir.path()));
  WriteFile(dir / "two.yaml", RealRunDrill("passed", dir.path()));
  CliResult r = RunFiredrill({"run", dir / "one.yaml", dir / "two.yaml"}, dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("drill name 'report-passed' is also the name of"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace firedrill::testing
