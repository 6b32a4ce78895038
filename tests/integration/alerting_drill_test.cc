// Runs the shipped alerting drill for real: Redis, its exporter, Prometheus and
// Alertmanager on loopback. Redis is SIGKILLed; the RedisDown alert must fire, the page
// must reach the drill's webhook, and the all-clear must follow once on-call restarts it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>

#include "reports/json_report.h"
#include "tests/integration/harness.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

TEST(AlertingDrillTest, RedisKilledAlertFiresPagesOnCallAndClears) {
  TempDir dir;
  const std::string drill = std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/redis-alerting.yaml";
  CliResult r = RunFiredrill({"run", drill, "--report-dir", dir / "report"}, dir.path());
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << "no report.json\nstdout:\n" << r.out << "\nstderr:\n" << r.err;

  // Whatever the verdict, nothing the drill started may survive it: not the services, not
  // the Redis that remediation started as a daemon.
  ExpectNothingSurvives(*report, 6);

  ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  EXPECT_EQ((*report)["verdict"], "passed");

  std::map<std::string, nlohmann::json> watches;
  for (const auto& w : (*report)["watches"]) watches[w["name"]] = w;
  ASSERT_EQ(watches.size(), 3u) << (*report)["watches"].dump(2);
  for (const auto& [name, w] : watches) {
    EXPECT_EQ(w["met"], true) << name;
    ASSERT_TRUE(w["passed_after_ms"].is_number()) << name << ": " << w.dump();
    EXPECT_GT(w["passed_after_ms"].get<int64_t>(), 0) << name;
    EXPECT_LE(w["passed_after_ms"].get<int64_t>(), w["within_ms"].get<int64_t>()) << name;
  }
  // What the page shows: the alert's labels and its summary, from Prometheus and from
  // Alertmanager's own notification.
  for (const char* w : {"alert-fires", "on-call-paged"}) {
    const std::string d = watches[w]["detail"];
    EXPECT_NE(d.find("severity=\"page\""), std::string::npos) << w << ": " << d;
    EXPECT_NE(d.find(": Redis 127.0.0.1:"), std::string::npos) << w << ": " << d;
    EXPECT_NE(d.find(" is down"), std::string::npos) << w << ": " << d;
  }
  const int64_t fired = watches["alert-fires"]["passed_after_ms"];
  const int64_t paged = watches["on-call-paged"]["passed_after_ms"];
  const int64_t cleared = watches["all-clear-sent"]["passed_after_ms"];
  EXPECT_EQ(watches["alert-fires"]["within_ms"], 20000);
  EXPECT_EQ(watches["on-call-paged"]["within_ms"], 30000);
  // Redis is restarted only once the alert is seen, so the all-clear cannot come first.
  EXPECT_GT(cleared, std::min(fired, paged));

  const auto& m = (*report)["metrics"];
  ASSERT_TRUE(m["detected_after_ms"].is_number()) << m.dump();
  ASSERT_TRUE(m["recovered_after_ms"].is_number()) << m.dump();
  const int64_t detected = m["detected_after_ms"];
  const int64_t recovered = m["recovered_after_ms"];
  EXPECT_EQ(detected, std::min(fired, paged));
  EXPECT_GT(detected, 0);
  EXPECT_LE(detected, 20000);
  // Recovery needs Redis back, which remediation does only after detection.
  EXPECT_GE(recovered, detected);
  EXPECT_LE(recovered, 60000);
  EXPECT_TRUE(m["failed_over_after_ms"].is_null());
  ASSERT_TRUE(m["availability"].is_number());
  EXPECT_GT(m["availability"].get<double>(), 0.0);
  EXPECT_LT(m["availability"].get<double>(), 1.0);  // Redis really was gone for a while

  ASSERT_EQ((*report)["faults"].size(), 1u);
  EXPECT_EQ((*report)["faults"][0]["action"], "process.kill");
  EXPECT_EQ((*report)["faults"][0]["rollback"], "none");
}

}  // namespace
}  // namespace firedrill::testing
