// The command probe against real shell commands.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/probes/probe_test_base.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::ScopedEnvVar;
using ::firedrill::testing::TempDir;

// A fresh directory, removed with everything in it when the test ends, pass or fail.
// Sets an environment variable for one test and restores it afterwards.
// Params as the loader hands them over: validated, with every default filled in.
Params CommandParams(const std::string& run, int64_t exit_code = 0,
                     std::optional<std::string> stdout_re = {},
                     std::optional<std::string> stderr_re = {}, Millis timeout = Millis(5000)) {
  auto expect = std::make_shared<Params>();
  expect->Set("exit_code", {exit_code, {}});
  if (stdout_re) expect->Set("stdout_matches", {*stdout_re, {}});
  if (stderr_re) expect->Set("stderr_matches", {*stderr_re, {}});
  Params p;
  p.Set("run", {run, {}});
  p.Set("timeout", {timeout, {}});
  p.Set("expect", {expect, {}});
  return p;
}

class CommandProbeTest : public ::firedrill::testing::ProbeTestBase {
 protected:
  std::unique_ptr<Probe> Make(const Params& p) { return MakeProbe("command", p); }

  ProbeOutcome SampleOnce(const Params& p, std::optional<int64_t> seq = {}) {
    auto probe = Make(p);
    if (!probe) return {false, "no probe"};
    return probe->Sample({.seq = seq});
  }
};

TEST_F(CommandProbeTest, ExitZeroAndMatchingStdoutPasses) {
  auto out = SampleOnce(CommandParams("echo OK", 0, "OK"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 0, stdout \"OK\"");
}

TEST_F(CommandProbeTest, NoOutputDetailIsJustTheExit) {
  auto out = SampleOnce(CommandParams("true"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 0");
}

TEST_F(CommandProbeTest, WrongExitCodeNamesFirstStderrLine) {
  auto out = SampleOnce(CommandParams("echo boom >&2; echo second >&2; exit 1"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "exit 1 (expected 0): boom...");
}

TEST_F(CommandProbeTest, WrongExitCodeFallsBackToStdout) {
  auto out = SampleOnce(CommandParams("echo '(error) READONLY'; exit 2"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "exit 2 (expected 0): (error) READONLY");
}

TEST_F(CommandProbeTest, ExpectedNonZeroExitPasses) {
  auto out = SampleOnce(CommandParams("exit 3", 3));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 3");
}

TEST_F(CommandProbeTest, KilledBySignalFails) {
  auto out = SampleOnce(CommandParams("kill -TERM $$"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "killed by SIGTERM (expected exit 0)");
}

TEST_F(CommandProbeTest, StdoutMismatchQuotesOutputAndPattern) {
  auto out = SampleOnce(CommandParams("echo foo", 0, "bar"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "stdout \"foo\" does not match /bar/");
}

TEST_F(CommandProbeTest, StderrMatchesIsChecked) {
  auto pass = SampleOnce(CommandParams("echo warn >&2", 0, {}, "^warn$"));
  EXPECT_TRUE(pass.passed) << pass.detail;
  auto fail = SampleOnce(CommandParams("echo warn >&2", 0, {}, "^error"));
  EXPECT_FALSE(fail.passed);
  EXPECT_EQ(fail.detail, "stderr \"warn\" does not match /^error/");
}

// `^${seq}$` against "42\n" is the data verifier of docs/drill-format.md: anchors work per line.
TEST_F(CommandProbeTest, SeqExpandsInScriptAndPattern) {
  auto probe = Make(CommandParams("echo ${seq}", 0, "^${seq}$"));
  ASSERT_NE(probe, nullptr);
  auto first = probe->Sample({.seq = 42});
  EXPECT_TRUE(first.passed) << first.detail;
  EXPECT_EQ(first.detail, "exit 0, stdout \"42\"");
  auto second = probe->Sample({.seq = 7});
  EXPECT_TRUE(second.passed) << second.detail;
  EXPECT_EQ(second.detail, "exit 0, stdout \"7\"");

  auto stale = Make(CommandParams("echo 43", 0, "^${seq}$"));
  ASSERT_NE(stale, nullptr);
  auto out = stale->Sample({.seq = 42});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "stdout \"43\" does not match /^42$/");
}

TEST_F(CommandProbeTest, AnchorsMatchAtLineBreaks) {
  auto out = SampleOnce(CommandParams("printf 'a\\nOK\\nb\\n'", 0, "^OK$"));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "exit 0, stdout \"a...\"");
}

TEST_F(CommandProbeTest, RunsInTheWorkdir) {
  auto out = SampleOnce(CommandParams("pwd", 0, "firedrill-test-"));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail,
            "exit 0, stdout \"" + std::filesystem::canonical(dir_.path()).string() + "\"");
}

TEST_F(CommandProbeTest, TimeoutKillsTheCommand) {
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce(CommandParams("sleep 30", 0, {}, {}, Millis(200)));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "timed out after 200ms");
  // Far below the 30s sleep: the command was killed, not waited for. Wide for loaded CI.
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST_F(CommandProbeTest, LongOutputIsCutInTheDetail) {
  auto out = SampleOnce(CommandParams("printf '%0200d\\n' 0"));
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exit 0, stdout \"" + std::string(80, '0') + "...\"");
}

// libstdc++'s recursive regex matcher overflows the stack when one match attempt runs
// over a few tens of KiB (here `^a*` over a 60000-character line); the probe must not.
TEST_F(CommandProbeTest, LongLineDoesNotCrashTheMatcher) {
  const std::string line = "head -c 60000 /dev/zero | tr '\\0' a; echo; ";
  auto out = SampleOnce(CommandParams(line + "echo OK", 0, "^a*OK$"));
  EXPECT_TRUE(out.passed) << out.detail;
  auto miss = SampleOnce(CommandParams(line + "echo KO", 0, "^a*OK$"));
  EXPECT_FALSE(miss.passed);
  EXPECT_EQ(miss.detail, "stdout \"" + std::string(80, 'a') + "...\" does not match /^a*OK$/");
}

TEST_F(CommandProbeTest, PatternInvalidOnlyAfterExpansionFails) {
  ScopedEnvVar var("FD_PROBE_TEST_RE", "(");
  auto out = SampleOnce(CommandParams("echo x", 0, "${env:FD_PROBE_TEST_RE}"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail.rfind("bad regex /(/: ", 0), 0u) << out.detail;
}

TEST_F(CommandProbeTest, UnsetEnvironmentVariableFails) {
  auto out = SampleOnce(CommandParams("echo ${env:FD_PROBE_TEST_UNSET_VAR}"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "environment variable FD_PROBE_TEST_UNSET_VAR is not set");
}

TEST_F(CommandProbeTest, CancelledRunStopsTheCommand) {
  std::atomic<bool> cancel{true};
  ctx_.cancel = &cancel;
  auto out = SampleOnce(CommandParams("sleep 30"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "cancelled");
}

TEST_F(CommandProbeTest, RemoteHostIsUnsupported) {
  Params p = CommandParams("true");
  p.Set("host", {std::string("db1"), {}});
  auto probe = FindProbeKind("command")->make(p, ctx_);
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.status().code(), Status::Code::kUnsupported);
  EXPECT_EQ(probe.status().message(), "remote hosts (host:) are not supported yet");
}

}  // namespace
}  // namespace firedrill
