// The log probe against real files appended to, truncated and rotated here.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/probes/probe_test_base.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::TempDir;

Params LogParams(const std::string& path, const std::string& matches) {
  Params p;
  p.Set("path", {path, {}});
  p.Set("matches", {matches, {}});
  return p;
}

class LogProbeTest : public ::firedrill::testing::ProbeTestBase {
 protected:
  // Made now: this is "the drill start" for the probe.
  std::unique_ptr<Probe> Make(const std::string& matches, const std::string& path = "app.log") {
    return MakeProbe("log", LogParams(path, matches));
  }

  std::string Path(const std::string& name = "app.log") const { return dir_.path() + "/" + name; }
  void Append(const std::string& text, const std::string& name = "app.log") {
    std::ofstream(Path(name), std::ios::binary | std::ios::app) << text;
  }
  void Replace(const std::string& text, const std::string& name = "app.log") {
    std::ofstream(Path(name), std::ios::binary | std::ios::trunc) << text;
  }
};

TEST_F(LogProbeTest, OnlyLinesAppendedAfterTheStartCount) {
  Append("ERROR before the drill\n");
  auto probe = Make("ERROR");
  ASSERT_NE(probe, nullptr);
  auto out = probe->Sample({});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "no new line matches /ERROR/ (0 new lines)");

  Append("info: fine\n");
  out = probe->Sample({});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "no new line matches /ERROR/ (1 new line)");

  Append("info: still fine\nERROR: primary down\ninfo: later\n");
  out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"ERROR: primary down\"");
}

// The observation is "such a line was appended": it stays true whatever the file does.
TEST_F(LogProbeTest, AMatchIsLatched) {
  auto probe = Make("failover");
  ASSERT_NE(probe, nullptr);
  Append("+switch-master failover done\n");
  EXPECT_TRUE(probe->Sample({}).passed);
  std::filesystem::remove(Path());
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"+switch-master failover done\"");
}

TEST_F(LogProbeTest, FileCreatedAfterTheStartIsReadFromItsBeginning) {
  auto probe = Make("ready", "${workdir}/late.log");
  ASSERT_NE(probe, nullptr);
  auto out = probe->Sample({});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "no new line matches /ready/ (no file)");
  Append("server ready\n", "late.log");
  out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"server ready\"");
}

TEST_F(LogProbeTest, UnfinishedLineWaitsForItsEnd) {
  auto probe = Make("^ERROR done$");
  ASSERT_NE(probe, nullptr);
  Append("ERROR do");
  EXPECT_FALSE(probe->Sample({}).passed);
  Append("ne\n");
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"ERROR done\"");
}

TEST_F(LogProbeTest, CarriageReturnsAreNotPartOfTheLine) {
  auto probe = Make("^ready$");
  ASSERT_NE(probe, nullptr);
  Append("ready\r\n");
  EXPECT_TRUE(probe->Sample({}).passed);
}

TEST_F(LogProbeTest, TruncatedFileIsReadFromTheStart) {
  Append(std::string(200, '.') + "\n");
  auto probe = Make("restarted");
  ASSERT_NE(probe, nullptr);
  EXPECT_FALSE(probe->Sample({}).passed);
  Replace("restarted\n");  // shorter than what was there
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"restarted\"");
}

TEST_F(LogProbeTest, RotatedFileIsReadFromTheStart) {
  Append("old line\n");
  auto probe = Make("rotated");
  ASSERT_NE(probe, nullptr);
  Append("noise\n");
  EXPECT_FALSE(probe->Sample({}).passed);
  std::filesystem::rename(Path(), Path("app.log.1"));
  // Longer than the old file: only the new inode tells that this is a new file.
  Replace(std::string(100, '-') + "\nrotated\n");
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "matched \"rotated\"");
}

TEST_F(LogProbeTest, LongLineIsCutInTheDetail) {
  auto probe = Make("needle");
  ASSERT_NE(probe, nullptr);
  Append(std::string(100, 'x') + " needle\n");
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"" + std::string(80, 'x') + "...\"");
}

TEST_F(LogProbeTest, ManyLinesInOneSample) {
  auto probe = Make("^line 4999$");
  ASSERT_NE(probe, nullptr);
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  Append(text);
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "matched \"line 4999\"");
}

}  // namespace
}  // namespace firedrill
