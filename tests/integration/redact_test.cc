// ${env:NAME} values never reach a report, the live view or a service log.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

TEST(RedactTest, EnvValuesAreRedactedFromReportsLogsAndOutput) {
  TempDir dir;
  const std::string secret = "s3cr3t-Pa55w0rd";
  ScopedEnvVar var("FD_TEST_SECRET", secret);
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: redact
settings: {probe_interval: 100ms, settle: 5s, workdir: ")" +
                                    dir.path() + R"(/work"}
services:
  - name: talker
    run: "echo starting with ${env:FD_TEST_SECRET}; echo err ${env:FD_TEST_SECRET} >&2; exec sleep 30"
steady_state:
  - name: echo
    probe: {command: {run: "echo the password is ${env:FD_TEST_SECRET}", expect: {stdout_matches: "password"}}}
faults:
  - name: leak
    at: 100ms
    action: command
    with: {run: "echo injecting ${env:FD_TEST_SECRET}", rollback: "echo undo ${env:FD_TEST_SECRET}; exit 1"}
    duration: 200ms
recovery: {within: 5s, steady_for: 200ms}
)");
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  // The rollback fails on purpose, so its message (with the command) is in the report.
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  const std::string report = ReadFile(dir / "report/report.json");
  ASSERT_FALSE(report.empty());
  EXPECT_EQ(report.find(secret), std::string::npos) << report;
  EXPECT_NE(report.find("echo injecting ${env:FD_TEST_SECRET}"), std::string::npos) << report;
  EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
  const std::string out_log = ReadFile(dir / "report/services/talker.out.log");
  const std::string err_log = ReadFile(dir / "report/services/talker.err.log");
  EXPECT_EQ(out_log, "starting with ${env:FD_TEST_SECRET}\n");
  EXPECT_EQ(err_log, "err ${env:FD_TEST_SECRET}\n");
}

}  // namespace
}  // namespace firedrill::testing
