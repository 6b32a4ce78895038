#include "reports/json_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/reports/report_contract.h"
#include "tests/reports/report_fixture.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using nlohmann::json;
using report_testing::FailedRun;
using report_testing::FixedStart;
using report_testing::PassedRun;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(JsonReportTest, PassedRunIsExactlyTheContract) {
  const auto f = PassedRun();
  const json got = ReportJson(f.scenario, f.run, f.outcome, "scenarios/redis.yaml");
  json want = json::parse(R"json({
    "format": "firedrill-report/v1",
    "name": "redis-sentinel-failover",
    "file": "scenarios/redis.yaml",
    "mode": "run",
    "started_at": "2026-11-21T23:18:00.632Z",
    "verdict": "passed",
    "score": 87,
    "metrics": {"detected_after_ms": 1520, "failed_over_after_ms": 2170,
                "recovered_after_ms": 4300, "acknowledged_after_ms": null,
                "availability": 0.93, "longest_outage_ms": 2000,
                "data_lost": {"count": 0, "span_ms": 0, "first_seqs": []}},
    "objectives": [
      {"name": "recovery.within", "target_ms": 60000, "actual_ms": 4300, "met": true,
       "unit": "ms", "advice": null},
      {"name": "recovery.max_data_loss", "target": 0, "actual": 0, "met": true,
       "unit": "writes", "advice": null}],
    "watches": [
      {"name": "replica-promoted", "kind": "failover", "within_ms": 15000,
       "passed_after_ms": 2170, "met": true, "advice": null, "detail": "16380"},
      {"name": "alert-fires", "kind": "detection", "within_ms": 30000,
       "passed_after_ms": 1520, "met": true, "advice": null, "detail": "firing"}],
    "faults": [
      {"name": "kill-primary", "action": "process.kill", "injected_at_ms": 5003,
       "rolled_back_at_ms": null, "rollback": "none",
       "detail": "SIGKILL to process group 4242 (service primary)", "figures": {},
       "inject_failed": false},
      {"name": "pause-replica", "action": "process.pause", "injected_at_ms": 6000,
       "rolled_back_at_ms": 8000, "rollback": "ok",
       "detail": "SIGSTOP to process group 4243", "figures": {}, "inject_failed": false}],
    "timeline": [
      {"t_ms": 0, "type": "phase", "name": "prepare", "detail": ""},
      {"t_ms": 5003, "type": "fault.injected", "name": "kill-primary",
       "detail": "SIGKILL to process group 4242 (service primary)"},
      {"t_ms": 6000, "type": "fault.injected", "name": "pause-replica",
       "detail": "SIGSTOP to process group 4243"},
      {"t_ms": 6523, "type": "watch.met", "name": "alert-fires", "detail": "firing"},
      {"t_ms": 7173, "type": "watch.met", "name": "replica-promoted", "detail": "16380"},
      {"t_ms": 8000, "type": "fault.rolled_back", "name": "pause-replica", "detail": "SIGCONT"},
      {"t_ms": 9303, "type": "recovered", "name": "steady-state", "detail": ""}],
    "started_monotonic_ms": 0,
    "description": "Kill the Redis primary; Sentinel must promote the replica.",
    "tags": ["redis", "failover"],
    "exit_code": 0,
    "probes": [
      {"name": "writes-accepted", "role": "steady_state", "interval_ms": 100, "samples": 96,
       "missed": 2, "late_ms": {"p50": 1, "p99": 7, "max": 12},
       "values": {"count": 96, "min": 0, "max": 1048576, "last": 0.5}},
      {"name": "data.writer", "role": "data_writer", "interval_ms": 50, "samples": 100,
       "missed": 0, "late_ms": {"p50": 0, "p99": 0, "max": 0}}],
    "reasons": [],
    "score_parts": [],
    "error": null,
    "aborted_reason": null,
    "leftovers": [],
    "journal": {"path": "/var/lib/firedrill/runs/redis-sentinel-failover-20261121T231800Z-4242/journal",
                "closed": true},
    "steady_after_rollback": true,
    "data_writes": {"attempted": 100, "acknowledged": 98, "verified": 98, "lost": 0}
  })json");
  want["firedrill_version"] = FIREDRILL_VERSION;
  EXPECT_EQ(got, want) << "got:\n" << got.dump(2);
}

TEST(JsonReportTest, WhatNeverHappenedIsNullNotZero) {
  const auto f = FailedRun();
  const json r = ReportJson(f.scenario, f.run, f.outcome, f.scenario.file);
  const json& m = r["metrics"];
  for (const char* key :
       {"detected_after_ms", "failed_over_after_ms", "recovered_after_ms", "acknowledged_after_ms",
        "availability", "longest_outage_ms", "data_lost"}) {
    EXPECT_TRUE(m.at(key).is_null()) << key << " = " << m.at(key);
  }
  EXPECT_TRUE(r["objectives"][0]["actual_ms"].is_null());
  EXPECT_EQ(r["objectives"][0]["target_ms"], 60000);
  EXPECT_TRUE(r["watches"][0]["passed_after_ms"].is_null());
  EXPECT_TRUE(r["faults"][1]["rolled_back_at_ms"].is_null());
  EXPECT_EQ(r["faults"][1]["rollback"], "failed");
  EXPECT_EQ(r["exit_code"], 4);
  EXPECT_EQ(r["verdict"], "failed");
  EXPECT_EQ(r["reasons"].size(), 2u);
  EXPECT_EQ(r["leftovers"], json::array({"process group 4243 may still be stopped (SIGSTOP)"}));
  EXPECT_TRUE(r["data_writes"].is_null());
  EXPECT_EQ(r["steady_after_rollback"], false);
}

TEST(JsonReportTest, ZeroValuesStayZero) {
  auto f = PassedRun();
  f.outcome.metrics.detected_after_ms = 0;
  f.outcome.metrics.availability = 0.0;
  const json m = ReportJson(f.scenario, f.run, f.outcome, "x")["metrics"];
  EXPECT_EQ(m["detected_after_ms"], 0);
  EXPECT_TRUE(m["availability"].is_number());
  EXPECT_EQ(m["availability"], 0.0);
}

TEST(JsonReportTest, DataLost) {
  auto f = PassedRun();
  // No loss with an unrecorded span is still a zero span.
  f.outcome.metrics.data_lost_span_ms.reset();
  EXPECT_EQ(ReportJson(f.scenario, f.run, f.outcome, "x")["metrics"]["data_lost"],
            json({{"count", 0}, {"span_ms", 0}, {"first_seqs", json::array()}}));

  f.outcome.metrics.data_lost_count = 3;
  f.outcome.metrics.data_lost_span_ms = 1200;
  f.outcome.metrics.data_lost_first_seqs = {17, 18, 40};
  EXPECT_EQ(ReportJson(f.scenario, f.run, f.outcome, "x")["metrics"]["data_lost"],
            json({{"count", 3}, {"span_ms", 1200}, {"first_seqs", {17, 18, 40}}}));

  f.outcome.metrics.data_lost_count.reset();
  f.outcome.metrics.data_lost_span_ms.reset();
  EXPECT_TRUE(ReportJson(f.scenario, f.run, f.outcome, "x")["metrics"]["data_lost"].is_null());
}

TEST(JsonReportTest, ErrorAndAbortReason) {
  auto f = FailedRun();
  f.run.error = "service primary did not become ready within 10s";
  f.run.aborted = true;
  f.run.abort_reason = "stop condition 1: free space below 5%";
  const json r = ReportJson(f.scenario, f.run, f.outcome, "x");
  EXPECT_EQ(r["error"], "service primary did not become ready within 10s");
  EXPECT_EQ(r["aborted_reason"], "stop condition 1: free space below 5%");
}

TEST(JsonReportTest, StartedMonotonicMsIsTheRunsOriginOnTheMonotonicClock) {
  auto f = PassedRun();
  f.run.started_monotonic_ms = 187043466;
  const json r = ReportJson(f.scenario, f.run, f.outcome, "x");
  EXPECT_EQ(r["started_monotonic_ms"], 187043466);
  EXPECT_THAT(CheckReportKeys(json::parse(r.dump())), IsEmpty());
}

TEST(JsonReportTest, FiguresAreNumbersWithCountsAsIntegers) {
  auto f = PassedRun();
  f.run.faults[1].figures = {{"requests", 19998}, {"rate", 1999.8}, {"bytes", 5242880}};
  const json r = ReportJson(f.scenario, f.run, f.outcome, "x");
  const json& figs = r["faults"][1]["figures"];
  EXPECT_EQ(figs, json({{"requests", 19998}, {"rate", 1999.8}, {"bytes", 5242880}}));
  // Integers in the text, as a reader of a count expects: not 19998.0.
  EXPECT_TRUE(figs["requests"].is_number_integer());
  EXPECT_TRUE(figs["bytes"].is_number_integer());
  EXPECT_TRUE(figs["rate"].is_number_float());
  EXPECT_EQ(r["faults"][0]["figures"], json::object());
  EXPECT_THAT(CheckReportKeys(json::parse(r.dump())), IsEmpty());
}

TEST(JsonReportTest, StartedAtIsUtcWithMilliseconds) {
  using namespace std::chrono;
  const auto epoch = system_clock::time_point{};
  EXPECT_EQ(FormatUtcMillis(FixedStart()), "2026-11-21T23:18:00.632Z");
  EXPECT_EQ(FormatUtcMillis(epoch), "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are dropped, not rounded up into the next second.
  EXPECT_EQ(FormatUtcMillis(epoch + seconds{59} + microseconds{999999}),
            "1970-01-01T00:00:59.999Z");
  EXPECT_EQ(FormatUtcMillis(epoch - milliseconds{1}), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatUtcMillis(sys_days{year{2024} / February / 29} + hours{1} + milliseconds{7}),
            "2024-02-29T01:00:00.007Z");
}

TEST(JsonReportTest, InvalidUtf8IsReplacedSoDumpNeverThrows) {
  auto f = PassedRun();
  f.run.timeline.push_back({9400, "probe.fail", "writes-accepted", "bad \xff\xfe bytes"});
  const json r = ReportJson(f.scenario, f.run, f.outcome, "x");
  std::string text;
  ASSERT_NO_THROW(text = r.dump());
  EXPECT_EQ(r["timeline"].back()["detail"], "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

class WriteJsonReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("firedrill-report-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

  std::filesystem::path dir_;
};

using firedrill::testing::ReadFile;

TEST_F(WriteJsonReportTest, WritesAWholeParsableReportAndNoTemporaryFile) {
  const auto f = PassedRun();
  const json r = ReportJson(f.scenario, f.run, f.outcome, "x");
  const auto path = dir_ / "report.json";
  ASSERT_TRUE(WriteJsonReport(path.string(), r).ok());
  ASSERT_TRUE(std::filesystem::exists(path));
  const std::string text = ReadFile(path);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(json::parse(text), r);
  EXPECT_EQ(Entries(), std::vector<std::string>{"report.json"});
  const auto perms = std::filesystem::status(path).permissions();
  EXPECT_NE(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
}

TEST_F(WriteJsonReportTest, KeysComeInReadingOrderWithTheTimelineLast) {
  const auto f = PassedRun();
  const auto path = dir_ / "report.json";
  ASSERT_TRUE(WriteJsonReport(path.string(), ReportJson(f.scenario, f.run, f.outcome, "x")).ok());
  const nlohmann::ordered_json written = nlohmann::ordered_json::parse(ReadFile(path));
  std::vector<std::string> keys;
  for (const auto& [k, v] : written.items()) keys.push_back(k);
  ASSERT_GE(keys.size(), 16u);
  const std::vector<std::string> head(keys.begin(), keys.begin() + 7);
  EXPECT_EQ(head, (std::vector<std::string>{"format", "name", "file", "mode", "started_at",
                                            "verdict", "score"}));
  EXPECT_EQ(keys.back(), "timeline");
  std::vector<std::string> metrics;
  for (const auto& [k, v] : written["metrics"].items()) metrics.push_back(k);
  EXPECT_EQ(metrics, (std::vector<std::string>{"detected_after_ms", "failed_over_after_ms",
                                               "recovered_after_ms", "acknowledged_after_ms",
                                               "availability", "longest_outage_ms", "data_lost"}));
}

TEST_F(WriteJsonReportTest, ReplacesAnOldReport) {
  const auto path = dir_ / "report.json";
  ASSERT_TRUE(WriteJsonReport(path.string(), json{{"old", true}}).ok());
  const auto f = FailedRun();
  const json r = ReportJson(f.scenario, f.run, f.outcome, "x");
  ASSERT_TRUE(WriteJsonReport(path.string(), r).ok());
  EXPECT_EQ(json::parse(ReadFile(path)), r);
  EXPECT_EQ(Entries(), std::vector<std::string>{"report.json"});
}

TEST_F(WriteJsonReportTest, MissingDirectoryIsAnIoError) {
  const Status st = WriteJsonReport((dir_ / "no" / "such" / "report.json").string(), json{});
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kIo);
  EXPECT_THAT(st.message(), HasSubstr("report.json"));
}

TEST_F(WriteJsonReportTest, InvalidUtf8InAHandBuiltJsonDoesNotThrow) {
  const auto path = dir_ / "report.json";
  const Status st = WriteJsonReport(path.string(), json{{"detail", "\xff"}});
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(json::parse(ReadFile(path))["detail"], "\xEF\xBF\xBD");
}

// ---- CheckReportKeys

json GoodReport() {
  const auto f = PassedRun();
  // Through text and back, as the integration tests will see it.
  return json::parse(ReportJson(f.scenario, f.run, f.outcome, "x").dump());
}

// Every key the contract documents, as a JSON pointer into GoodReport().
const std::vector<std::string>& DocumentedKeys() {
  static const std::vector<std::string> keys = {
      "/format",
      "/name",
      "/file",
      "/mode",
      "/started_at",
      "/verdict",
      "/score",
      "/metrics",
      "/metrics/detected_after_ms",
      "/metrics/failed_over_after_ms",
      "/metrics/recovered_after_ms",
      "/metrics/acknowledged_after_ms",
      "/metrics/availability",
      "/metrics/data_lost",
      "/metrics/data_lost/count",
      "/metrics/data_lost/span_ms",
      "/objectives",
      "/objectives/0/name",
      "/objectives/0/target_ms",
      "/objectives/0/actual_ms",
      "/objectives/0/met",
      "/objectives/1/target",
      "/objectives/1/actual",
      "/watches",
      "/watches/0/name",
      "/watches/0/kind",
      "/watches/0/within_ms",
      "/watches/0/passed_after_ms",
      "/watches/0/met",
      "/faults",
      "/faults/0/name",
      "/faults/0/action",
      "/faults/0/injected_at_ms",
      "/faults/0/rolled_back_at_ms",
      "/faults/0/rollback",
      "/timeline",
      "/timeline/0/t_ms",
      "/timeline/0/type",
      "/timeline/0/name",
      "/timeline/0/detail",
  };
  return keys;
}

// "/watches/0/within_ms" -> "watches[0].within_ms", the form problems are reported in.
std::string Dotted(const std::string& pointer) {
  std::string out;
  std::stringstream ss(pointer.substr(1));
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (!part.empty() && std::isdigit(static_cast<unsigned char>(part[0]))) {
      out += "[" + part + "]";
    } else {
      out += (out.empty() ? "" : ".") + part;
    }
  }
  return out;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "  " + x + "\n";
  return s;
}

TEST(CheckReportKeysTest, GoodReportsPass) {
  EXPECT_THAT(CheckReportKeys(GoodReport()), IsEmpty());
  const auto f = FailedRun();
  EXPECT_THAT(CheckReportKeys(json::parse(ReportJson(f.scenario, f.run, f.outcome, "x").dump())),
              IsEmpty());
}

TEST(CheckReportKeysTest, TheContractExampleShapePassesWithoutExtensions) {
  // A report from another writer need not carry firedrill's extensions.
  json r = json::parse(R"({
    "format": "firedrill-report/v1", "name": "n", "file": "f.yaml", "mode": "run",
    "started_at": "2026-11-21T23:18:00.632Z", "verdict": "passed", "score": 87,
    "metrics": {"detected_after_ms": 1520, "failed_over_after_ms": 2170,
                "recovered_after_ms": 4300, "acknowledged_after_ms": null,
                "availability": 0.93, "data_lost": {"count": 0, "span_ms": 0}},
    "objectives": [{"name": "recovery.within", "target_ms": 60000, "actual_ms": 4300,
                    "met": true}],
    "watches": [{"name": "w", "kind": "failover", "within_ms": 15000, "passed_after_ms": 2170,
                 "met": true},
                {"name": "d", "kind": "detection", "within_ms": 15000, "passed_after_ms": 1520,
                 "met": true}],
    "faults": [{"name": "k", "action": "process.kill", "injected_at_ms": 5003,
                "rolled_back_at_ms": null, "rollback": "none"}],
    "timeline": [{"t_ms": 5003, "type": "fault.injected", "name": "k", "detail": "..."}]
  })");
  EXPECT_THAT(CheckReportKeys(r), IsEmpty()) << Joined(CheckReportKeys(r));
}

TEST(CheckReportKeysTest, EveryDocumentedKeyIsRequired) {
  for (const auto& key : DocumentedKeys()) {
    json r = GoodReport();
    const json::json_pointer ptr(key);
    r[ptr.parent_pointer()].erase(ptr.back());
    const auto problems = CheckReportKeys(r);
    EXPECT_THAT(problems, Contains(Dotted(key) + ": missing")) << "removed " << key << ":\n"
                                                               << Joined(problems);
  }
}

TEST(CheckReportKeysTest, RenamingAnyDocumentedKeyFails) {
  for (const auto& key : DocumentedKeys()) {
    json r = GoodReport();
    const json::json_pointer ptr(key);
    json& parent = r[ptr.parent_pointer()];
    parent[ptr.back() + "_renamed"] = parent[ptr.back()];
    parent.erase(ptr.back());
    EXPECT_THAT(CheckReportKeys(r), Contains(HasSubstr(Dotted(key)))) << "renamed " << key << ":\n"
                                                                      << Joined(CheckReportKeys(r));
  }
}

TEST(CheckReportKeysTest, NullOnlyWhereTheContractAllowsIt) {
  const std::vector<std::string> nullable = {
      "/metrics/detected_after_ms",  "/metrics/failed_over_after_ms",
      "/metrics/recovered_after_ms", "/metrics/acknowledged_after_ms",
      "/metrics/availability",       "/metrics/data_lost",
      "/objectives/0/target_ms",     "/objectives/0/actual_ms",
      "/objectives/1/target",        "/objectives/1/actual",
      "/watches/0/passed_after_ms",  "/faults/0/injected_at_ms",
      "/faults/0/rolled_back_at_ms"};
  for (const auto& key : DocumentedKeys()) {
    const bool may_be_null = std::find(nullable.begin(), nullable.end(), key) != nullable.end();
    json r = GoodReport();
    r[json::json_pointer(key)] = nullptr;
    const auto problems = CheckReportKeys(r);
    if (may_be_null) continue;  // may still break a cross-check; covered below
    EXPECT_THAT(problems, Contains(HasSubstr(Dotted(key) + ": is null")))
        << "nulled " << key << ":\n"
        << Joined(problems);
  }
  // Nulls that are consistent with the rest of the report.
  json r = GoodReport();
  r["faults"][0]["rolled_back_at_ms"] = nullptr;
  r["objectives"][0]["target_ms"] = nullptr;
  r["metrics"]["availability"] = nullptr;
  EXPECT_THAT(CheckReportKeys(r), IsEmpty()) << Joined(CheckReportKeys(r));
}

TEST(CheckReportKeysTest, WrongTypesAndValuesFail) {
  struct Case {
    const char* pointer;
    json value;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"/format", "firedrill-report/v2", "format: is \"firedrill-report/v2\""},
      {"/score", "87", "score: expected an integer, got string"},
      {"/score", 87.5, "score: expected an integer, got number"},
      {"/score", 101, "score: 101 is outside 0..100"},
      {"/verdict", "ok", "verdict: \"ok\" is not one of passed|failed|aborted|error"},
      {"/mode", "rehearsal", "mode: \"rehearsal\" is not one of run|train|dry-run"},
      {"/started_at", "2026-11-21T23:18:00Z", "started_at: \"2026-11-21T23:18:00Z\" is not"},
      {"/started_at", "2026-11-21 23:18:00.632", "started_at:"},
      {"/started_at", "2026-11-21T23:18:00.632+00:00", "started_at:"},
      {"/started_at", "2026-13-21T23:18:00.632Z", "started_at:"},
      {"/started_at", "2026-11-21T24:18:00.632Z", "started_at:"},
      {"/metrics/availability", 1.5, "metrics.availability: 1.5 is outside 0..1"},
      {"/metrics/recovered_after_ms", "4300", "metrics.recovered_after_ms: expected an integer"},
      {"/metrics/recovered_after_ms", -1, "metrics.recovered_after_ms: is negative (-1)"},
      {"/watches/0/kind", "alerting", "watches[0].kind: \"alerting\" is not one of"},
      {"/watches/0/met", "true", "watches[0].met: expected a boolean, got string"},
      {"/faults/0/rollback", "skipped", "faults[0].rollback: \"skipped\" is not one of"},
      {"/faults/0/figures", json::array(), "faults[0].figures: expected an object, got array"},
      {"/faults/0/figures/requests", "12", "faults[0].figures.requests: expected a number"},
      {"/faults/0/figures/latency_ms", json({{"p50", "1"}}),
       "faults[0].figures.latency_ms.p50: expected a number"},
      {"/started_monotonic_ms", 1.5, "started_monotonic_ms: expected an integer, got number"},
      {"/timeline", json::object(), "timeline: expected an array, got object"},
      {"/timeline/0", "phase", "timeline[0]: expected an object, got string"},
      {"/timeline/3/t_ms", 5, "timeline[3].t_ms: 5 is earlier than the event before it (6000)"},
      {"/exit_code", 1, "exit_code: 1 does not go with verdict \"passed\""},
      {"/reasons", json::array({1}), "reasons[0]: expected a string, got number"},
  };
  for (const auto& c : cases) {
    json r = GoodReport();
    r[json::json_pointer(c.pointer)] = c.value;
    EXPECT_THAT(CheckReportKeys(r), Contains(HasSubstr(c.expect)))
        << c.pointer << " = " << c.value << ":\n"
        << Joined(CheckReportKeys(r));
  }
  EXPECT_THAT(CheckReportKeys(json::array()), Contains("report: expected an object, got array"));
}

TEST(CheckReportKeysTest, ObjectiveKeysFollowTheUnit) {
  json r = GoodReport();
  // A time objective written with count keys.
  r["objectives"][0].erase("target_ms");
  r["objectives"][0].erase("actual_ms");
  r["objectives"][0]["target"] = 60000;
  r["objectives"][0]["actual"] = 4300;
  EXPECT_THAT(CheckReportKeys(r), Contains("objectives[0].target_ms: missing"));

  r = GoodReport();
  r["objectives"][1]["target_ms"] = 0;
  EXPECT_THAT(CheckReportKeys(r),
              Contains("objectives[1]: has both target_ms/actual_ms and target/actual"));
}

// A 0 written where the contract says null: detectable whenever the rest of the report
// shows the thing never happened.
TEST(CheckReportKeysTest, ZeroForNullIsCaught) {
  const auto f = FailedRun();
  const json failed = json::parse(ReportJson(f.scenario, f.run, f.outcome, "x").dump());
  ASSERT_THAT(CheckReportKeys(failed), IsEmpty()) << Joined(CheckReportKeys(failed));

  struct Case {
    const char* pointer;
    const char* expect;
  };
  const std::vector<Case> on_failed = {
      {"/metrics/detected_after_ms", "metrics.detected_after_ms: is 0 but no detection watch"},
      {"/metrics/failed_over_after_ms",
       "metrics.failed_over_after_ms: is 0 but not every failover watch passed"},
      {"/metrics/recovered_after_ms",
       "metrics.recovered_after_ms: is 0 but objective recovery.within has actual null"},
      {"/metrics/acknowledged_after_ms", "metrics.acknowledged_after_ms: is 0 in mode \"run\""},
      {"/faults/0/rolled_back_at_ms", "faults[0].rolled_back_at_ms: is 0 but rollback is \"none\""},
  };
  for (const auto& c : on_failed) {
    json r = failed;
    r[json::json_pointer(c.pointer)] = 0;
    EXPECT_THAT(CheckReportKeys(r), Contains(HasSubstr(c.expect))) << c.pointer << ":\n"
                                                                   << Joined(CheckReportKeys(r));
  }

  // Nothing injected: nothing counted from the first fault can exist.
  json r = failed;
  for (auto& fault : r["faults"]) {
    fault["injected_at_ms"] = nullptr;
    fault["rollback"] = "none";
  }
  r["leftovers"] = json::array();
  r["exit_code"] = 1;
  ASSERT_THAT(CheckReportKeys(r), IsEmpty()) << Joined(CheckReportKeys(r));
  r["metrics"]["availability"] = 0;
  r["watches"][1]["passed_after_ms"] = 0;
  EXPECT_THAT(CheckReportKeys(r),
              AllOf(Contains(HasSubstr("metrics.availability: is 0 but no fault was injected")),
                    Contains(HasSubstr("watches[1].passed_after_ms: is 0 but no fault"))));

  // The null side of the same checks.
  r = GoodReport();
  r["metrics"]["detected_after_ms"] = nullptr;
  r["metrics"]["failed_over_after_ms"] = nullptr;
  r["faults"][1]["rolled_back_at_ms"] = nullptr;
  EXPECT_THAT(CheckReportKeys(r),
              AllOf(Contains("metrics.detected_after_ms: is null but a detection watch passed"),
                    Contains("metrics.failed_over_after_ms: is null but every failover watch "
                             "passed"),
                    Contains("faults[1].rolled_back_at_ms: is null but rollback is \"ok\"")));

  r = GoodReport();
  r["metrics"]["data_lost"]["span_ms"] = nullptr;
  EXPECT_THAT(CheckReportKeys(r), Contains("metrics.data_lost.span_ms: is null but count is 0"));
  r["metrics"]["data_lost"] = nullptr;
  EXPECT_THAT(CheckReportKeys(r),
              Contains("metrics.data_lost: is null but objective recovery.max_data_loss has an "
                       "actual value"));
}

TEST(CheckReportKeysTest, VerdictsMustAgreeWithTheirEvidence) {
  json r = GoodReport();
  r["watches"][0]["passed_after_ms"] = 20000;  // within_ms is 15000
  r["objectives"][0]["actual_ms"] = 70000;     // target_ms is 60000
  EXPECT_THAT(CheckReportKeys(r),
              AllOf(Contains("watches[0].met: is true but passed_after_ms 20000 > within_ms 15000"),
                    Contains("objectives[0].met: is true but actual 70000 > target 60000")));

  const auto f = FailedRun();
  r = json::parse(ReportJson(f.scenario, f.run, f.outcome, "x").dump());
  r["leftovers"] = json::array();
  r["exit_code"] = 1;
  EXPECT_THAT(CheckReportKeys(r),
              AllOf(Contains("leftovers: is empty but a rollback failed (say what was left "
                             "behind)"),
                    Contains("exit_code: is 1 but a rollback failed (must be 4)")));
}

}  // namespace
}  // namespace firedrill
