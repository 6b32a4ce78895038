// The prometheus probe against a real Prometheus (Debian's /usr/bin/prometheus) started on
// a free loopback port, and, beside it, a fake API (cpp-httplib) for the answers a healthy
// Prometheus never gives: malformed JSON, errors, NaN, matrices, oversized answers.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/base/net.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/integration/harness.h"
#include "tests/probes/daemon.h"
#include "tests/probes/sample_ways.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::Daemon;
using ::firedrill::testing::Failed;
using ::firedrill::testing::SampleBy;
using ::firedrill::testing::TempDir;
using ::firedrill::testing::TestLoop;
using ::firedrill::testing::Way;
using ::firedrill::testing::WayName;
using ::firedrill::testing::WriteFile;

constexpr const char* kPrometheus = "/usr/bin/prometheus";

struct PromSpec {
  std::string url;
  std::optional<std::string> query{};
  std::optional<std::string> value{};
  std::optional<std::string> alert{};
  std::string state = "firing";
  Millis timeout{5000};
};

// Params as the loader hands them over: validated, with every default filled in.
Params PromParams(const PromSpec& s) {
  Params p;
  p.Set("url", {s.url, {}});
  if (s.query) p.Set("query", {*s.query, {}});
  if (s.value) {
    auto expect = std::make_shared<Params>();
    expect->Set("value", {*s.value, {3, 14}});
    p.Set("expect", {expect, {3, 5}});
  }
  if (s.alert) p.Set("alert", {*s.alert, {}});
  p.Set("state", {s.state, {}});
  p.Set("timeout", {s.timeout, {}});
  return p;
}

// Makes probes and samples them `way`: Sample, or SampleAsync on an event loop of its own.
class ProbeRunner {
 public:
  explicit ProbeRunner(Way way = Way::kSample) : way_(way) {
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
    if (way_ == Way::kSampleAsync) loop_ = TestLoop();
  }

  Result<std::unique_ptr<Probe>> Make(const PromSpec& s) {
    const ProbeKind* kind = FindProbeKind("prometheus");
    if (!kind || !kind->make) return Status::Unsupported("prometheus probe has no runtime");
    return kind->make(PromParams(s), ctx_);
  }

  ProbeOutcome SampleOnce(const PromSpec& s) {
    auto probe = Make(s);
    if (!probe.ok()) return {false, "make: " + probe.status().ToString()};
    return Sample(**probe);
  }

  // Samples every 100 ms until the probe passes or `budget` runs out; the last outcome.
  ProbeOutcome SampleUntilPass(const PromSpec& s, Millis budget) {
    auto probe = Make(s);
    if (!probe.ok()) return {false, "make: " + probe.status().ToString()};
    const auto deadline = std::chrono::steady_clock::now() + budget;
    ProbeOutcome out = Sample(**probe);
    while (!out.passed && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      out = Sample(**probe);
    }
    return out;
  }

  RunContext& ctx() { return ctx_; }

 private:
  ProbeOutcome Sample(Probe& probe) {
    if (way_ == Way::kSampleAsync && !loop_) return Failed("no event loop");
    return SampleBy(way_, probe, loop_.get());
  }

  Way way_;
  Expander expander_{"/tmp", {}};
  RunContext ctx_;
  std::unique_ptr<EventLoop> loop_;
};

// ---------------------------------------------------------------------------------------
// The real Prometheus.

// One Prometheus per test, scraping itself every second and evaluating rules every second.
class RealPrometheusTest : public ::testing::TestWithParam<Way> {
 protected:
  void SetUp() override {
    if (::access(kPrometheus, X_OK) != 0)
      GTEST_FAIL() << kPrometheus << " missing: scripts/install-deps";
    auto port = PickFreePort({});
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
    const std::string self = "127.0.0.1:" + std::to_string(port_);
    WriteFile(dir_ / "prometheus.yml",
              "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
              "rule_files: [rules.yml]\n"
              "scrape_configs:\n"
              "  - job_name: self\n"
              "    static_configs: [{targets: ['" +
                  self + "']}]\n");
    WriteFile(dir_ / "rules.yml",
              "groups:\n"
              "  - name: test\n"
              "    rules:\n"
              "      - {alert: AlwaysFiring, expr: vector(1), for: 0s, labels: {severity: page}}\n"
              "      - {alert: NeverFiring, expr: vector(0) > 1}\n"
              "      - {alert: SlowFiring, expr: vector(1), for: 1h}\n");
    daemon_ = std::make_unique<Daemon>(
        std::vector<std::string>{kPrometheus, "--config.file=" + (dir_ / "prometheus.yml"),
                                 "--storage.tsdb.path=" + (dir_ / "data"),
                                 "--web.listen-address=" + self},
        dir_ / "prometheus.log");
    ASSERT_TRUE(daemon_->started());
    ASSERT_TRUE(daemon_->WaitReady(Url() + "/-/ready")) << daemon_->LogTail();
  }
  void TearDown() override { daemon_.reset(); }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Daemon> daemon_;
  ProbeRunner runner_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Ways, RealPrometheusTest,
                         ::testing::Values(Way::kSample, Way::kSampleAsync), WayName);

// `up` exists only once the first scrape happened (Prometheus delays target discovery by
// up to 5 s), so this is the one test that waits for data.
TEST_P(RealPrometheusTest, QueryUpComparesItsValue) {
  auto up = runner_.SampleUntilPass({.url = Url(), .query = "up", .value = "== 1"}, Millis(30000));
  EXPECT_TRUE(up.passed) << up.detail << "\n" << daemon_->LogTail();
  EXPECT_EQ(up.detail, "1 series, all == 1 (1)");
  auto above = runner_.SampleOnce({.url = Url(), .query = "up", .value = "> 1"});
  EXPECT_FALSE(above.passed);
  EXPECT_EQ(above.detail, "1 of 1 series not > 1: 1");
  EXPECT_EQ(above.value, std::optional<double>(1)) << "a failing sample still reads its value";
}

TEST_P(RealPrometheusTest, SeveralSeriesMustAllPass) {
  const std::string two = R"(label_replace(vector(1), "n", "a", "", "") or )"
                          R"(label_replace(vector(3), "n", "b", "", ""))";
  auto all = runner_.SampleOnce({.url = Url(), .query = two, .value = "> 0"});
  EXPECT_TRUE(all.passed) << all.detail;
  EXPECT_EQ(all.detail, "2 series, all > 0 (1, 3)");
  auto one = runner_.SampleOnce({.url = Url(), .query = two, .value = ">= 2"});
  EXPECT_FALSE(one.passed);
  EXPECT_EQ(one.detail, "1 of 2 series not >= 2: 1");
  EXPECT_EQ(one.value, std::nullopt) << "two series are not one value";
}

TEST_P(RealPrometheusTest, QueryWithoutSeriesFails) {
  auto out = runner_.SampleOnce({.url = Url(), .query = R"(up{job="x"})", .value = "> 0"});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, R"(no series for up{job="x"})");
}

TEST_P(RealPrometheusTest, ScalarQueryIsOneValue) {
  auto out =
      runner_.SampleOnce({.url = Url() + "/", .query = "scalar(vector(0.25))", .value = "< 0.5"});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "1 series, all < 0.5 (0.25)");
  EXPECT_EQ(out.value, std::optional<double>(0.25));
}

TEST_P(RealPrometheusTest, BadQueryFailsWithPrometheusMessage) {
  auto out = runner_.SampleOnce({.url = Url(), .query = "up{", .value = "> 0"});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail.rfind("HTTP 400: invalid parameter", 0), 0u) << out.detail;
}

TEST_P(RealPrometheusTest, AlertStates) {
  auto firing = runner_.SampleUntilPass({.url = Url(), .alert = "AlwaysFiring"}, Millis(30000));
  EXPECT_TRUE(firing.passed) << firing.detail << "\n" << daemon_->LogTail();
  EXPECT_EQ(firing.detail, R"(AlwaysFiring firing {severity="page"})");

  // Rules are evaluated together, so SlowFiring is pending by now, and stays so for an hour.
  auto pending = runner_.SampleOnce({.url = Url(), .alert = "SlowFiring", .state = "pending"});
  EXPECT_TRUE(pending.passed) << pending.detail;
  EXPECT_EQ(pending.detail, "SlowFiring pending");
  auto not_firing = runner_.SampleOnce({.url = Url(), .alert = "SlowFiring"});
  EXPECT_FALSE(not_firing.passed);
  EXPECT_EQ(not_firing.detail, "SlowFiring pending, not firing");

  auto inactive = runner_.SampleOnce({.url = Url(), .alert = "NeverFiring", .state = "inactive"});
  EXPECT_TRUE(inactive.passed) << inactive.detail;
  EXPECT_EQ(inactive.detail, "NeverFiring inactive (not pending or firing)");
  auto never = runner_.SampleOnce({.url = Url(), .alert = "NeverFiring"});
  EXPECT_FALSE(never.passed);
  EXPECT_EQ(never.detail, "no NeverFiring alert pending or firing (2 other alerts)");
  auto active = runner_.SampleOnce({.url = Url(), .alert = "AlwaysFiring", .state = "inactive"});
  EXPECT_FALSE(active.passed);
  EXPECT_EQ(active.detail, R"(AlwaysFiring firing {severity="page"}, not inactive)");
}

// Prometheus gone: the probe fails at once, with the reason.
TEST_P(RealPrometheusTest, StoppedPrometheusIsRefused) {
  daemon_->Stop();
  auto out = runner_.SampleOnce({.url = Url(), .query = "up", .value = "> 0"});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "connection refused");
}

// ---------------------------------------------------------------------------------------
// A fake Prometheus API, for the edge cases.

class FakePrometheus {
 public:
  FakePrometheus() {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      last_query_ = req.get_param_value("query");
      if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
      res.status = status_;
      res.set_content(body_, "application/json");
    };
    server_.Get("/api/v1/query", handle);
    server_.Get("/api/v1/alerts", handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~FakePrometheus() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void Answer(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  void Delay(Millis d) {
    std::lock_guard<std::mutex> lock(mu_);
    delay_ = d;
  }
  std::string last_query() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_query_;
  }
  int port() const { return port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int status_ = 200;
  std::string body_;
  std::string last_query_;
  Millis delay_{0};
};

std::string Vector(const std::string& values_json) {
  return R"({"status":"success","data":{"resultType":"vector","result":[)" + values_json + "]}}";
}
std::string Series(const std::string& value) {
  return R"({"metric":{"job":"x"},"value":[1700000000.5,")" + value + R"("]})";
}

class FakePrometheusTest : public ::testing::TestWithParam<Way> {
 protected:
  void SetUp() override { ASSERT_GT(fake_.port(), 0); }

  ProbeOutcome Query(const std::string& value, const std::string& query = "up") {
    return runner_.SampleOnce({.url = fake_.Url(), .query = query, .value = value});
  }

  FakePrometheus fake_;
  ProbeRunner runner_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Ways, FakePrometheusTest,
                         ::testing::Values(Way::kSample, Way::kSampleAsync), WayName);

TEST_P(FakePrometheusTest, QueryIsUrlEncoded) {
  fake_.Answer(200, Vector(Series("1")));
  const std::string q = R"(sum by (job) (rate(x{job="a b",path=~"/x?&y=1"}[1m])) + 1)";
  auto out = Query("> 0", q);
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(fake_.last_query(), q);
}

TEST_P(FakePrometheusTest, MalformedJsonFails) {
  fake_.Answer(200, R"({"status":"success","data":)");
  auto out = Query("> 0");
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, R"(answer is not JSON: "{"status":"success","data":")");
}

TEST_P(FakePrometheusTest, ErrorStatusFails) {
  fake_.Answer(200, R"({"status":"error","errorType":"execution","error":"query timed out"})");
  auto out = Query("> 0");
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, R"(Prometheus answered "error": query timed out)");
}

TEST_P(FakePrometheusTest, HttpErrorFails) {
  fake_.Answer(503, "Service Unavailable");
  auto plain = Query("> 0");
  EXPECT_FALSE(plain.passed);
  EXPECT_EQ(plain.detail, "HTTP 503");
  fake_.Answer(422, R"({"status":"error","errorType":"execution","error":"too many samples"})");
  auto api = Query("> 0");
  EXPECT_FALSE(api.passed);
  EXPECT_EQ(api.detail, "HTTP 422: too many samples");
}

TEST_P(FakePrometheusTest, NanNeverSatisfiesAComparison) {
  fake_.Answer(200, Vector(Series("NaN")));
  for (const char* cmp : {"!= 0", "> 0", "< 0", "== 0"}) {
    auto out = Query(cmp);
    EXPECT_FALSE(out.passed) << cmp;
    EXPECT_EQ(out.detail, std::string("1 of 1 series not ") + cmp + ": NaN");
  }
}

TEST_P(FakePrometheusTest, InfinitiesCompare) {
  fake_.Answer(200, Vector(Series("+Inf") + "," + Series("-Inf")));
  auto out = Query("> 0");
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "1 of 2 series not > 0: -Inf");
  auto ne = Query("!= 0");
  EXPECT_TRUE(ne.passed) << ne.detail;
  EXPECT_EQ(ne.detail, "2 series, all != 0 (+Inf, -Inf)");
}

TEST_P(FakePrometheusTest, ManyValuesAreCutShort) {
  fake_.Answer(200, Vector(Series("1") + "," + Series("2") + "," + Series("3") + "," + Series("4") +
                           "," + Series("5") + "," + Series("6e+00")));
  auto out = Query(">= 1");
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, "6 series, all >= 1 (1, 2, 3, 4, 5, ...)");
}

TEST_P(FakePrometheusTest, MatrixAndStringResultsCannotBeCompared) {
  fake_.Answer(200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  auto matrix = Query("> 0", "up[5m]");
  EXPECT_FALSE(matrix.passed);
  EXPECT_EQ(matrix.detail,
            "result type \"matrix\" cannot be compared (write a query that returns an instant "
            "vector or a scalar)");
  fake_.Answer(200, R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})");
  EXPECT_FALSE(Query("> 0").passed);
}

TEST_P(FakePrometheusTest, OddShapesFailWithoutCrashing) {
  const char* bodies[] = {
      R"([])",
      R"({"status":1})",
      R"({"status":"success"})",
      R"({"status":"success","data":[]})",
      R"({"status":"success","data":{"resultType":"vector"}})",
      R"({"status":"success","data":{"resultType":"vector","result":{}}})",
      R"({"status":"success","data":{"resultType":"vector","result":[1]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}})",
      R"({"status":"success","data":{"resultType":"scalar","result":"1"}})",
      R"({"status":"success","data":{"resultType":7,"result":[]}})",
  };
  for (const char* body : bodies) {
    fake_.Answer(200, body);
    auto out = Query("> 0");
    EXPECT_FALSE(out.passed) << body;
    EXPECT_FALSE(out.detail.empty()) << body;
  }
  fake_.Answer(200, R"({"status":"success","data":{"alerts":{}}})");
  auto alerts = runner_.SampleOnce({.url = fake_.Url(), .alert = "X"});
  EXPECT_FALSE(alerts.passed);
  EXPECT_EQ(alerts.detail, "answer has no `data.alerts` list");
}

TEST_P(FakePrometheusTest, AlertDetailsAreBrief) {
  fake_.Answer(200, R"({"status":"success","data":{"alerts":[
      {"labels":{"alertname":"Other"},"state":"firing"},
      {"labels":{"alertname":"RedisDown","instance":"127.0.0.1:9121","job":"redis",
                 "a_very_long_label_name":"with a very long value that goes on and on"},
       "state":"firing"},
      {"labels":{"alertname":"RedisDown","instance":"127.0.0.1:9122"},"state":"firing"},
      {"labels":"odd"},
      {"state":"firing"}]}})");
  auto out = runner_.SampleOnce({.url = fake_.Url(), .alert = "RedisDown"});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail,
            "RedisDown firing {a_very_long_label_name=\"with a very long value that goes on ...} "
            "(and 1 more)");
}

TEST_P(FakePrometheusTest, OversizedAnswerIsNotJudged) {
  fake_.Answer(200, Vector(Series("1")) + std::string(9 << 20, ' '));
  auto out = Query("> 0");
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "answer larger than 8.0MiB, not judged");
}

TEST_P(FakePrometheusTest, SlowAnswerTimesOut) {
  fake_.Answer(200, Vector(Series("1")));
  fake_.Delay(Millis(300));
  auto out = runner_.SampleOnce(
      {.url = fake_.Url(), .query = "up", .value = "> 0", .timeout = Millis(100)});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "timed out after 100ms");
}

// ---------------------------------------------------------------------------------------
// Validation: the comparison is checked when the drill is loaded, at the value's position.

TEST(PrometheusCheckTest, ComparisonsAreValidatedAtLoadTime) {
  const ProbeKind* kind = FindProbeKind("prometheus");
  ASSERT_NE(kind, nullptr);
  ASSERT_NE(kind->check, nullptr);
  for (const char* good :
       {"> 0", ">=1", "== 1", "!= 0", "< 0.5", "<= 2", " > -1.5 ", "== 1e3", "> +2"}) {
    auto e = kind->check(PromParams({.url = "http://127.0.0.1:1", .query = "up", .value = good}),
                         {1, 1});
    EXPECT_FALSE(e.has_value()) << good << ": " << e->message;
  }
  for (const char* bad :
       {"", "0", ">", "=> 1", "= 1", "> abc", "> inf", "> nan", ">> 1", "> 1 2", "1 > 0"}) {
    auto e =
        kind->check(PromParams({.url = "http://127.0.0.1:1", .query = "up", .value = bad}), {1, 1});
    ASSERT_TRUE(e.has_value()) << bad;
    EXPECT_EQ(e->mark.line, 3) << bad;
    EXPECT_EQ(e->mark.column, 14) << bad;
    EXPECT_NE(e->message.find("is not a comparison"), std::string::npos) << e->message;
  }
}

TEST(PrometheusCheckTest, MakeRefusesWhatCheckRefuses) {
  ProbeRunner runner;
  auto bad = runner.Make({.url = "http://127.0.0.1:1", .query = "up", .value = "=> 1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalid);
  EXPECT_NE(bad.status().message().find("\"=> 1\" is not a comparison"), std::string::npos)
      << bad.status().message();
  auto both =
      runner.Make({.url = "http://127.0.0.1:1", .query = "up", .value = "> 0", .alert = "A"});
  EXPECT_FALSE(both.ok());
  auto alert_with_value = runner.Make({.url = "http://127.0.0.1:1", .value = "> 0", .alert = "A"});
  EXPECT_FALSE(alert_with_value.ok());
}

}  // namespace
}  // namespace firedrill
