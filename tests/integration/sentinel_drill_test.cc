// Runs the shipped demo drill for real: a Redis primary, a replica and three Sentinels on
// loopback; the primary is SIGKILLed and Sentinel must promote the replica.
#include <gtest/gtest.h>

#include <regex>

#include "reports/json_report.h"
#include "tests/integration/harness.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

TEST(SentinelDrillTest, PrimaryKilledSentinelPromotesReplicaAndWritesResume) {
  TempDir dir;
  const std::string drill =
      std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/redis-sentinel-failover.yaml";
  CliResult r = RunFiredrill({"run", drill, "--report-dir", dir / "report"}, dir.path());
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << "no report.json\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
  // Whatever the verdict, nothing the drill started may survive it.
  ExpectNothingSurvives(*report, 5);

  ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  EXPECT_EQ((*report)["verdict"], "passed");

  const auto& m = (*report)["metrics"];
  ASSERT_TRUE(m["failed_over_after_ms"].is_number()) << m.dump();
  ASSERT_TRUE(m["recovered_after_ms"].is_number()) << m.dump();
  ASSERT_TRUE(m["detected_after_ms"].is_number()) << m.dump();
  const int64_t failed_over = m["failed_over_after_ms"];
  const int64_t recovered = m["recovered_after_ms"];
  const int64_t detected = m["detected_after_ms"];
  // down-after-milliseconds is 2000: Sentinel cannot even suspect the primary sooner, and
  // on loopback the vote and promotion take a few hundred ms, so 8 s is a wide bound.
  EXPECT_GE(failed_over, 2000);
  EXPECT_LE(failed_over, 8000);
  EXPECT_GE(detected, 2000);
  EXPECT_LE(detected, failed_over);
  EXPECT_GE(recovered, failed_over - 400)  // writes resume once clients see the new master;
      << "recovered before failover";      // the probes sample every 200 ms
  EXPECT_TRUE(m["acknowledged_after_ms"].is_null());
  EXPECT_EQ(m["data_lost"]["count"], 0);
  ASSERT_TRUE(m["availability"].is_number());
  EXPECT_GT(m["availability"].get<double>(), 0.0);
  EXPECT_LT(m["availability"].get<double>(), 1.0);  // the primary really was gone for a while

  ASSERT_EQ((*report)["faults"].size(), 1u);
  EXPECT_EQ((*report)["faults"][0]["action"], "process.kill");
  EXPECT_EQ((*report)["faults"][0]["rollback"], "none");
  EXPECT_TRUE((*report)["faults"][0]["rolled_back_at_ms"].is_null());
}

}  // namespace
}  // namespace firedrill::testing
