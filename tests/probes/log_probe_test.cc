// The log probe against real files appended to, truncated and rotated here.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "runner/base/env.h"
#include "runner/base/event_loop.h"
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

// Every case runs twice: read only at samples (no loop), and also followed through a loop
// with inotify. What a sample says must not depend on which read found the line.
class LogProbeTest : public ::firedrill::testing::ProbeTestBase,
                     public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    ProbeTestBase::SetUp();
    if (!GetParam()) return;
    auto loop = EventLoop::Start(Env::Default(), 2, 1);
    ASSERT_TRUE(loop.ok()) << loop.status().ToString();
    loop_ = std::move(*loop);
    ctx_.loop = loop_.get();
  }

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

  std::unique_ptr<EventLoop> loop_;
};

INSTANTIATE_TEST_SUITE_P(Reads, LogProbeTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Watched" : "Polled";
                         });

TEST_P(LogProbeTest, OnlyLinesAppendedAfterTheStartCount) {
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
  // Read by a sample or by the watch, the line was read by now.
  if (GetParam()) {
    ASSERT_TRUE(out.observed_at_ms.has_value());
    EXPECT_LE(*out.observed_at_ms, Env::Default()->NowMs());
  } else {
    EXPECT_FALSE(out.observed_at_ms.has_value()) << "a polled match is as of its sample";
  }
}

// The observation is "such a line was appended": it stays true whatever the file does.
TEST_P(LogProbeTest, AMatchIsLatched) {
  auto probe = Make("failover");
  ASSERT_NE(probe, nullptr);
  Append("+switch-master failover done\n");
  EXPECT_TRUE(probe->Sample({}).passed);
  std::filesystem::remove(Path());
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"+switch-master failover done\"");
}

TEST_P(LogProbeTest, FileCreatedAfterTheStartIsReadFromItsBeginning) {
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

TEST_P(LogProbeTest, UnfinishedLineWaitsForItsEnd) {
  auto probe = Make("^ERROR done$");
  ASSERT_NE(probe, nullptr);
  Append("ERROR do");
  EXPECT_FALSE(probe->Sample({}).passed);
  Append("ne\n");
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"ERROR done\"");
}

TEST_P(LogProbeTest, CarriageReturnsAreNotPartOfTheLine) {
  auto probe = Make("^ready$");
  ASSERT_NE(probe, nullptr);
  Append("ready\r\n");
  EXPECT_TRUE(probe->Sample({}).passed);
}

TEST_P(LogProbeTest, TruncatedFileIsReadFromTheStart) {
  Append(std::string(200, '.') + "\n");
  auto probe = Make("restarted");
  ASSERT_NE(probe, nullptr);
  EXPECT_FALSE(probe->Sample({}).passed);
  Replace("restarted\n");  // shorter than what was there
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"restarted\"");
}

TEST_P(LogProbeTest, RotatedFileIsReadFromTheStart) {
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

TEST_P(LogProbeTest, LongLineIsCutInTheDetail) {
  auto probe = Make("needle");
  ASSERT_NE(probe, nullptr);
  Append(std::string(100, 'x') + " needle\n");
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "matched \"" + std::string(80, 'x') + "...\"");
}

TEST_P(LogProbeTest, ManyLinesInOneSample) {
  auto probe = Make("^line 4999$");
  ASSERT_NE(probe, nullptr);
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  Append(text);
  auto out = probe->Sample({});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "matched \"line 4999\"");
}

// The stamp is the point of the watch. The line is written at a known moment and the probe
// sampled only once, half a second later: the match still carries the moment of the write.
// 50 ms is a wide bound: the watch's read follows the write by well under a millisecond on
// an idle machine, but on a loaded 2-core CI machine a loop thread can wait for a core for
// tens of ms. A polled probe would be 500 ms late here.
class LogProbeStampTest : public ::firedrill::testing::ProbeTestBase {
 protected:
  void SetUp() override {
    ProbeTestBase::SetUp();
    auto loop = EventLoop::Start(Env::Default(), 2, 1);
    ASSERT_TRUE(loop.ok()) << loop.status().ToString();
    loop_ = std::move(*loop);
    ctx_.loop = loop_.get();
  }
  std::string Path() const { return dir_.path() + "/sentinel.log"; }
  // One write(2) per call: the stream's buffer is flushed once, as it closes.
  void Append(const std::string& text) {
    std::ofstream(Path(), std::ios::binary | std::ios::app) << text;
  }
  static void Pause(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  std::unique_ptr<EventLoop> loop_;
};

TEST_F(LogProbeStampTest, AMatchIsStampedWhenItsLineIsWritten) {
  Append("1:X 02 Dec 2026 01:00:00.000 # +monitor master mymaster 127.0.0.1 6379 quorum 1\n");
  auto probe = MakeProbe("log", LogParams("${workdir}/sentinel.log", "\\+odown master"));
  ASSERT_NE(probe, nullptr);
  Pause(100);
  const int64_t written_at = Env::Default()->NowMs();
  Append("1:X 02 Dec 2026 01:00:05.123 # +odown master mymaster 127.0.0.1 6379 #quorum 1/1\n");
  Pause(500);
  auto out = probe->Sample({});
  ASSERT_TRUE(out.passed) << out.detail;
  ASSERT_TRUE(out.observed_at_ms.has_value());
  // Never before the write (it is taken after the read that found the line).
  EXPECT_GE(*out.observed_at_ms, written_at);
  EXPECT_LE(*out.observed_at_ms, written_at + 50);
  // Latched with its stamp.
  auto again = probe->Sample({});
  EXPECT_EQ(again.observed_at_ms, out.observed_at_ms);
}

// A line written in two parts matched when its end was written, not its start.
TEST_F(LogProbeStampTest, TheStampIsTheWriteThatEndedTheLine) {
  auto probe = MakeProbe("log", LogParams("${workdir}/sentinel.log", "odown master$"));
  ASSERT_NE(probe, nullptr);
  Append("+odown mas");
  Pause(200);
  const int64_t ended_at = Env::Default()->NowMs();
  Append("ter\n");
  Pause(300);
  auto out = probe->Sample({});
  ASSERT_TRUE(out.passed) << out.detail;
  ASSERT_TRUE(out.observed_at_ms.has_value());
  EXPECT_GE(*out.observed_at_ms, ended_at);
  EXPECT_LE(*out.observed_at_ms, ended_at + 50);  // wide: as above
}

// A file that appears after the start (the service creates its log) is watched too.
TEST_F(LogProbeStampTest, AFileCreatedLaterIsStamped) {
  auto probe = MakeProbe("log", LogParams("${workdir}/sentinel.log", "ready"));
  ASSERT_NE(probe, nullptr);
  Pause(100);
  const int64_t written_at = Env::Default()->NowMs();
  Append("ready\n");
  Pause(300);
  auto out = probe->Sample({});
  ASSERT_TRUE(out.passed) << out.detail;
  ASSERT_TRUE(out.observed_at_ms.has_value());
  EXPECT_GE(*out.observed_at_ms, written_at);
  EXPECT_LE(*out.observed_at_ms, written_at + 50);  // wide: as above
}

// A data verifier's pattern holds ${seq}, known only at its sample: it is not watched, and
// its match is as of the sample.
TEST_F(LogProbeStampTest, APatternWithSeqIsJudgedOnlyBySamples) {
  auto probe = MakeProbe("log", LogParams("${workdir}/sentinel.log", "^${seq}$"));
  ASSERT_NE(probe, nullptr);
  Append("41\n42\n");
  Pause(100);
  auto out = probe->Sample({.seq = 42});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "matched \"42\"");
  EXPECT_FALSE(out.observed_at_ms.has_value());
}

}  // namespace
}  // namespace firedrill
