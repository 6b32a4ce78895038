// --push-metrics against a real Debian prometheus-pushgateway on a free loopback port: the
// run's figures arrive under job="firedrill", drill="NAME"; a second run of the drill that
// lacks a figure removes it (PUT replaces the group); a gateway that is down is a warning,
// never a change of verdict.
#include "reports/push_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "probes/http_client.h"
#include "runner/base/net.h"
#include "tests/probes/daemon.h"
#include "tests/reports/real_runs.h"

namespace firedrill::testing {
namespace {

constexpr const char* kPushgateway = "/usr/bin/prometheus-pushgateway";

// The value of the series `name{drill="DRILL",...}` on the gateway's /metrics, if any.
std::optional<double> SeriesValue(const std::string& metrics, const std::string& name,
                                  const std::string& drill) {
  size_t at = 0;
  while ((at = metrics.find("\n" + name + "{", at)) != std::string::npos) {
    ++at;
    const size_t eol = metrics.find('\n', at);
    const std::string line = metrics.substr(at, eol - at);
    if (line.find("drill=\"" + drill + "\"") != std::string::npos &&
        line.find("job=\"firedrill\"") != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return std::nullopt;
}

class PushMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPushgateway, X_OK) != 0) GTEST_SKIP() << kPushgateway << " is not installed";
    auto port = PickFreePort({});
    ASSERT_TRUE(port.ok());
    url_ = "http://127.0.0.1:" + std::to_string(*port);
    gateway_ = std::make_unique<Daemon>(
        std::vector<std::string>{kPushgateway,
                                 "--web.listen-address=127.0.0.1:" + std::to_string(*port),
                                 "--persistence.file=" + dir_ / "pushgateway.data"},
        dir_ / "pushgateway.log");
    ASSERT_TRUE(gateway_->WaitReady(url_ + "/-/ready")) << gateway_->LogTail();
  }

  std::string Metrics() {
    auto r = HttpRequest({.url = url_ + "/metrics", .timeout = Millis(5000)}, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? "\n" + r->body : "";
  }

  TempDir dir_;
  std::string url_;
  std::unique_ptr<Daemon> gateway_;
};

TEST_F(PushMetricsTest, RunFiguresArriveAndAMissingOneIsRemovedNextTime) {
  RealRun run = RunRealDrill("passed", dir_.path(), {"--push-metrics", url_});
  ASSERT_EQ(run.result.exit_code, 0) << run.result.out << run.result.err;
  const nlohmann::json& m = run.report["metrics"];
  std::string metrics = Metrics();

  auto detected = SeriesValue(metrics, "firedrill_detected_seconds", "report-passed");
  ASSERT_TRUE(detected.has_value()) << metrics;
  EXPECT_DOUBLE_EQ(*detected, m["detected_after_ms"].get<double>() / 1000.0);
  EXPECT_DOUBLE_EQ(*SeriesValue(metrics, "firedrill_recovered_seconds", "report-passed"),
                   m["recovered_after_ms"].get<double>() / 1000.0);
  EXPECT_DOUBLE_EQ(*SeriesValue(metrics, "firedrill_availability_ratio", "report-passed"),
                   m["availability"].get<double>());
  EXPECT_EQ(*SeriesValue(metrics, "firedrill_score", "report-passed"),
            run.report["score"].get<double>());
  EXPECT_EQ(*SeriesValue(metrics, "firedrill_passed", "report-passed"), 1.0);
  EXPECT_TRUE(SeriesValue(metrics, "firedrill_last_run_timestamp_seconds", "report-passed"));
  // No failover watch, no data check: nothing pushed for them.
  EXPECT_FALSE(SeriesValue(metrics, "firedrill_failed_over_seconds", "report-passed"));
  EXPECT_FALSE(SeriesValue(metrics, "firedrill_data_lost_writes", "report-passed"));
  // The push is on the timeline of the report.
  EXPECT_EQ(run.report["timeline"].back()["type"], "metrics.pushed") << run.report.dump();

  // The same drill again, now never healthy: no detection this time, so the gauge goes.
  std::string drill = RealRunDrill("error", dir_.path());
  drill.replace(drill.find("name: report-error"), 18, "name: report-passed");
  WriteFile(dir_ / "again.yaml", drill);
  CliResult again = RunFiredrill(
      {"run", dir_ / "again.yaml", "--report-dir", dir_ / "again", "--push-metrics", url_},
      dir_.path());
  ASSERT_EQ(again.exit_code, 4) << again.out << again.err;
  metrics = Metrics();
  EXPECT_FALSE(SeriesValue(metrics, "firedrill_detected_seconds", "report-passed")) << metrics;
  EXPECT_EQ(*SeriesValue(metrics, "firedrill_passed", "report-passed"), 0.0);
  EXPECT_EQ(*SeriesValue(metrics, "firedrill_score", "report-passed"), 0.0);
}

TEST_F(PushMetricsTest, GatewayDownIsAWarningNotAVerdict) {
  gateway_->Stop();
  RealRun run = RunRealDrill("passed", dir_.path(), {"--push-metrics", url_});
  EXPECT_EQ(run.result.exit_code, 0) << run.result.out << run.result.err;
  EXPECT_EQ(run.report["verdict"], "passed");
  EXPECT_NE(run.result.err.find("warning: metrics not pushed"), std::string::npos)
      << run.result.err;
  EXPECT_EQ(run.report["timeline"].back()["type"], "metrics.push_failed");
}

// The body alone, from a real report: every figure the report has, in seconds.
TEST(PushgatewayBodyTest, FiguresOfARealRun) {
  TempDir dir;
  RealRun run = RunRealDrill("failed", dir.path());
  ASSERT_TRUE(run.report.is_object()) << run.result.out << run.result.err;
  const std::string body = PushgatewayBody(run.report);
  EXPECT_NE(body.find("# TYPE firedrill_score gauge\nfiredrill_score " +
                      std::to_string(run.report["score"].get<int>()) + "\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("\nfiredrill_passed 0\n"), std::string::npos) << body;
  // The failed drill's watch never passed: no detection figure at all, not a zero.
  EXPECT_EQ(body.find("firedrill_detected_seconds"), std::string::npos) << body;
}

TEST(PushMetricsUrlTest, AnotherHostThanTheOneNamedIsNeverReached) {
  // A user name before the host is refused by the URL parser, before any connection.
  Status st = PushMetrics("http://127.0.0.1:9091@10.0.0.1:9091/", {{"name", "x"}});
  EXPECT_FALSE(st.ok());
  st = PushMetrics("ftp://127.0.0.1/", {{"name", "x"}});
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace firedrill::testing
