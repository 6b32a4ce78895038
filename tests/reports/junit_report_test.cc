// junit.xml as real runs render it: each verdict's run (and two more real runs, one that
// misses an objective, one whose rollback fails) validates against the permissive
// junit-10 rules and the strict Ant rules, with xmllint (Debian libxml2-utils), and says
// exactly what the run did. The facts are read back with xmllint's XPath, a real XML
// parser, so escaping is proven by the round trip.
#include "reports/junit_report.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runner/base/subprocess.h"
#include "runner/base/values.h"
#include "tests/reports/real_runs.h"

namespace firedrill::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const char* const kVerdicts[] = {"passed", "failed", "aborted", "error"};
constexpr const char* kHost = "ci-runner-1";

std::string Xsd(const std::string& name) {
  return std::string(FIREDRILL_SOURCE_DIR) + "/tests/reports/" + name;
}

struct Lint {
  bool valid = false;
  std::string output;  // xmllint's own words
};

// `xmllint --noout --schema XSD FILE`.
Lint Validate(const std::string& xsd, const std::string& file) {
  auto r = RunShell(
      {.script = "exec xmllint --noout --schema " + Quote(Xsd(xsd)) + " " + Quote(file) + " 2>&1",
       .cwd = "/",
       .timeout = Millis(30000)});
  if (!r.ok()) return {false, r.status().ToString()};
  return {r->exit_code == 0, r->out};
}

// What `xmllint --xpath EXPR FILE` prints, without the newline it adds.
std::string XPath(const std::string& file, const std::string& expr) {
  auto r = RunShell({.script = "exec xmllint --xpath " + Quote(expr) + " " + Quote(file),
                     .cwd = "/",
                     .timeout = Millis(30000)});
  if (!r.ok() || r->exit_code != 0) return "<xpath failed: " + expr + ">";
  std::string out = r->out;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string Seconds(int64_t ms) { return fmt::format("{}.{:03}", ms / 1000, ms % 1000); }

// `text` with `from` replaced by `to`, which must be there.
std::string Edit(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no '" << from << "' in:\n" << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// `text` without the first span from `begin` to `end` (both included), which must be there.
std::string Erase(std::string text, const std::string& begin, const std::string& end) {
  const size_t b = text.find(begin);
  const size_t e = b == std::string::npos ? b : text.find(end, b);
  EXPECT_NE(e, std::string::npos) << "no '" << begin << "'...'" << end << "' in:\n" << text;
  if (e != std::string::npos) text.erase(b, e + end.size() - b);
  return text;
}

class JunitRealRunsTest : public ::testing::Test {
 protected:
  // The runs take about ten seconds: every test reads the same six.
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    runs_ = std::make_unique<std::map<std::string, RealRun>>();
    for (const char* v : kVerdicts) (*runs_)[v] = SharedRealRun(v);
    // A real run that misses an objective by a figure: the remediation comes at 700ms, so
    // it cannot recover within 400ms. Its watches: one whose probe prints markup and misses
    // within 1s, and one that passes after 3s (its first sample takes that long), which
    // keeps the fault phase going until the recovery is seen and the miss is recorded.
    (*runs_)["missed"] = RunVariant("missed", "passed", [](std::string d) {
      d = Edit(d, "name: report-passed", "name: report-missed");
      // Detection that cannot come late, so only the markup watch misses.
      d = Edit(d, "{run: \"test ! -f healthy\"}", "{run: \"true\"}");
      d = Edit(d, "  within: 3s\n", "  within: 400ms\n");
      d = Edit(d, "{after: detection, run: \"touch healthy\"}",
               "{after: 700ms, run: \"touch healthy\"}");
      return Edit(d, "recovery:\n",
                  "  - name: markup\n"
                  "    kind: custom\n"
                  "    probe: {command: {run: \"echo '<b> & \\\"q\\\" ]]>'; exit 1\"}}\n"
                  "    within: 1s\n"
                  "  - name: late\n"
                  "    kind: custom\n"
                  "    probe: {command: {run: \"sleep 3\"}}\n"
                  "    within: 5s\n"
                  "recovery:\n");
    });
    // A real run whose rollback fails: verdict error with nothing missing but the undo.
    (*runs_)["rollback"] = RunVariant("rollback", "passed", [](std::string d) {
      d = Edit(d, "name: report-passed", "name: report-rollback");
      return Edit(d, "with: {run: \"rm -f healthy\"}",
                  "with: {run: \"rm -f healthy\", rollback: \"echo cannot undo; exit 1\"}");
    });
  }
  static void TearDownTestSuite() {
    runs_.reset();
    dir_.reset();
  }

  template <typename F>
  static RealRun RunVariant(const std::string& name, const std::string& base, F edit) {
    return SharedRealRun("junit-" + name, name, [base, edit](const std::string& dir) {
      return edit(RealRunDrill(base, dir));
    });
  }

  void SetUp() override {
    for (const auto& [name, run] : *runs_) {
      ASSERT_TRUE(run.report.is_object()) << name << "\n" << run.result.out << run.result.err;
    }
  }

  static const RealRun& Run(const std::string& name) { return runs_->at(name); }
  static JunitSuite Suite(const std::string& name) {
    return {Run(name).report, Run(name).result.out};
  }

  // The run's junit.xml, written in this process's directory (the runs are shared, read
  // only); returns the path.
  static std::string Render(const std::string& name) {
    const std::string path = dir_->path() + "/" + name + ".junit.xml";
    WriteFile(path, JunitXml({Suite(name)}, {.hostname = kHost}));
    return path;
  }

  static std::string Write(const std::string& file, const std::string& xml) {
    const std::string path = dir_->path() + "/" + file;
    WriteFile(path, xml);
    return path;
  }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<std::map<std::string, RealRun>> runs_;
};

TEST(JunitTimestampTest, UtcWithoutFractionOrZone) {
  EXPECT_EQ(JunitTimestamp("2026-11-22T00:03:23.466Z"), "2026-11-22T00:03:23");
  // Not report.json's shape: no timestamp rather than a made-up one.
  EXPECT_EQ(JunitTimestamp("2026-11-22T00:03:23+01:00"), "");
  EXPECT_EQ(JunitTimestamp("2026-11-22 00:03:23.466Z"), "");
  EXPECT_EQ(JunitTimestamp(""), "");
}

TEST_F(JunitRealRunsTest, EachRunValidatesAgainstBothSchemas) {
  for (const auto& [name, run] : *runs_) {
    const std::string file = Render(name);
    for (const char* xsd : {"junit-10.xsd", "ant-junit.xsd"}) {
      const Lint lint = Validate(xsd, file);
      EXPECT_TRUE(lint.valid) << name << " against " << xsd << ":\n"
                              << lint.output << ReadFile(file);
    }
  }
}

// The objectives and watches a run did not meet, as its report says.
int Unmet(const json& report) {
  int n = 0;
  for (const char* key : {"objectives", "watches"}) {
    for (const auto& item : report[key]) n += !item["met"].get<bool>();
  }
  return n;
}

TEST_F(JunitRealRunsTest, CountsFollowTheVerdict) {
  struct Want {
    int tests;
    bool unmet_are_errors;  // the run stopped before it could judge what it had not met
    int unmet;              // as the drill is written to go
    int other_errors;       // rollback and teardown
  };
  // A case per objective (two: these drills have no `data:`), per watch, then rollback and
  // teardown.
  const std::map<std::string, Want> want = {
      {"passed", {5, false, 0, 0}},    // everything met
      {"failed", {5, false, 1, 0}},    // the watch missed
      {"aborted", {5, true, 2, 0}},    // the watch met; recovery and the verify never came
      {"error", {5, true, 3, 0}},      // nothing injected: nothing decided
      {"missed", {7, false, 2, 0}},    // recovery too slow, the markup watch missed
      {"rollback", {5, false, 0, 2}},  // the rollback failed and left the fault behind
  };
  for (const auto& [name, w] : want) {
    const json& report = Run(name).report;
    const std::string file = Render(name);
    // Real runs on a busy machine: a sample can come late enough to miss one more target
    // than the drill is written for. The counts follow the report either way.
    const int unmet = Unmet(report);
    if (unmet != w.unmet) {
      std::cerr << name << ": " << unmet << " unmet, not " << w.unmet << "\n" << report.dump(2);
    }
    EXPECT_GE(unmet, w.unmet) << name;
    const int failures = w.unmet_are_errors ? 0 : unmet;
    const int errors = (w.unmet_are_errors ? unmet : 0) + w.other_errors;
    const std::string why = name + "\n" + ReadFile(file);
    EXPECT_EQ(XPath(file, "string(/testsuites/testsuite/@tests)"), std::to_string(w.tests)) << why;
    EXPECT_EQ(XPath(file, "count(//testcase)"), std::to_string(w.tests)) << why;
    EXPECT_EQ(XPath(file, "string(//testsuite/@failures)"), std::to_string(failures)) << why;
    EXPECT_EQ(XPath(file, "count(//testcase/failure)"), std::to_string(failures)) << why;
    EXPECT_EQ(XPath(file, "string(//testsuite/@errors)"), std::to_string(errors)) << why;
    EXPECT_EQ(XPath(file, "count(//testcase/error)"), std::to_string(errors)) << why;
    EXPECT_EQ(XPath(file, "string(//testsuite/@skipped)"), "0") << why;
    EXPECT_EQ(XPath(file, "count(//testcase[count(*) > 1])"), "0") << why;
    EXPECT_EQ(XPath(file, "count(//failure[not(@type)] | //error[not(@type)])"), "0") << why;
  }
}

TEST_F(JunitRealRunsTest, OneCasePerObjectiveWatchRollbackAndTeardownClassedByTheDrill) {
  for (const char* v : kVerdicts) {
    const std::string file = Render(v);
    const std::string drill = Run(v).report["name"];
    EXPECT_EQ(drill, std::string("report-") + v);
    EXPECT_EQ(XPath(file, "count(//testcase[@classname='" + drill + "'])"), "5") << v;
    std::string names;
    for (int i = 1; i <= 5; ++i) {
      names += XPath(file, "string(//testcase[" + std::to_string(i) + "]/@name)") + " ";
    }
    EXPECT_EQ(names, "recovery.within rollback.verified watch.health-gone rollback teardown ") << v;
  }
}

TEST_F(JunitRealRunsTest, MissedObjectiveSaysActualAndTarget) {
  const RealRun& run = Run("missed");
  ASSERT_EQ(run.report["verdict"], "failed") << run.result.out;
  const json& obj = run.report["objectives"][0];
  ASSERT_EQ(obj["name"], "recovery.within");
  ASSERT_FALSE(obj["met"].get<bool>());
  const int64_t actual = obj["actual_ms"];
  const std::string file = Render("missed");
  const std::string c = "//testcase[@name='recovery.within']";
  EXPECT_EQ(XPath(file, "string(" + c + "/failure/@type)"), "objective.missed");
  EXPECT_EQ(XPath(file, "string(" + c + "/failure/@message)"),
            "recovered after " + FormatDuration(Millis(actual)) + ", target 400ms");
  EXPECT_EQ(XPath(file, "string(" + c + "/@time)"), Seconds(actual));
}

TEST_F(JunitRealRunsTest, MissedWatchSaysWhatItWaitedFor) {
  const std::string file = Render("failed");
  const std::string c = "//testcase[@name='watch.health-gone']";
  EXPECT_EQ(XPath(file, "string(" + c + "/failure/@type)"), "watch.missed");
  EXPECT_EQ(XPath(file, "string(" + c + "/failure/@message)"), "did not pass within 1s");
  // The text ends with the report's advice for this watch, word for word.
  const json& failed = Run("failed").report;
  EXPECT_EQ(XPath(file, "string(" + c + "/failure)"),
            "kind detection\nlast result: exit 1 (expected 0)\nadvice: " +
                failed["watches"][0]["advice"].get<std::string>() + "\n");
  // Judged when its `within` ran out: the watch.missed event, from the fault.
  const json& report = Run("failed").report;
  int64_t missed_at = -1;
  for (const auto& ev : report["timeline"]) {
    if (ev["type"] == "watch.missed") missed_at = ev["t_ms"];
  }
  ASSERT_GE(missed_at, 1000);
  const int64_t fault_at = report["faults"][0]["injected_at_ms"];
  EXPECT_EQ(XPath(file, "string(" + c + "/@time)"), Seconds(missed_at - fault_at));
  // The objectives it met have no child.
  EXPECT_EQ(XPath(file, "count(//testcase[@name='recovery.within']/*)"), "0");
}

TEST_F(JunitRealRunsTest, WhatARunStoppedBeforeDecidingCarriesAnError) {
  const std::string aborted = Render("aborted");
  const std::string why =
      "not evaluated: the run was aborted (stop condition operator-stop: exit 0)";
  for (const char* name : {"recovery.within", "rollback.verified"}) {
    const std::string c = std::string("//testcase[@name='") + name + "']";
    EXPECT_EQ(XPath(aborted, "string(" + c + "/error/@type)"), "run.aborted") << name;
    EXPECT_EQ(XPath(aborted, "string(" + c + "/error/@message)"), why) << name;
  }
  // A watch met before the stop condition fired stays a pass; one that had not yet seen the
  // fault is undecided.
  const bool met = Run("aborted").report["watches"][0]["met"];
  EXPECT_EQ(XPath(aborted, "count(//testcase[@name='watch.health-gone']/*)"), met ? "0" : "1");
  EXPECT_EQ(XPath(aborted, "count(//testcase[@name='watch.health-gone']/error)"), met ? "0" : "1");

  const std::string error = Render("error");
  const std::string reason = Run("error").report["error"];
  EXPECT_THAT(reason, StartsWith("steady state did not hold"));
  for (const char* name : {"recovery.within", "rollback.verified", "watch.health-gone"}) {
    const std::string c = std::string("//testcase[@name='") + name + "']";
    EXPECT_EQ(XPath(error, "string(" + c + "/error/@type)"), "run.error") << name;
    EXPECT_EQ(XPath(error, "string(" + c + "/error/@message)"), "not evaluated: " + reason) << name;
  }
}

TEST_F(JunitRealRunsTest, FailedRollbackAndLeftoversAreErrors) {
  const RealRun& run = Run("rollback");
  ASSERT_EQ(run.report["verdict"], "error") << run.result.out;
  const std::string file = Render("rollback");
  EXPECT_EQ(XPath(file, "string(//testcase[@name='rollback']/error/@type)"), "rollback.failed");
  EXPECT_EQ(XPath(file, "string(//testcase[@name='rollback']/error/@message)"),
            "rollback did not complete for 1 fault: remove-health");
  EXPECT_EQ(XPath(file, "string(//testcase[@name='rollback']/error)"),
            "remove-health: `echo cannot undo; exit 1`: exit 1\n");
  EXPECT_EQ(XPath(file, "string(//testcase[@name='teardown']/error/@type)"), "teardown.leftovers");
  const std::string first = run.report["leftovers"][0];
  EXPECT_THAT(XPath(file, "string(//testcase[@name='teardown']/error/@message)"),
              StartsWith("left behind: " + first));
  // The last leftover is the command that finishes the job.
  EXPECT_THAT(XPath(file, "string(//testcase[@name='teardown']/error)"),
              HasSubstr("firedrill rollback "));
  // What it measured before the rollback failed still counts.
  EXPECT_EQ(XPath(file, "count(//testcase[@name='recovery.within']/*)"), "0");
}

TEST_F(JunitRealRunsTest, SuiteSaysWhichDrillWhereAndWhen) {
  for (const char* v : kVerdicts) {
    const RealRun& run = Run(v);
    const std::string file = Render(v);
    const std::string s = "string(/testsuites/testsuite/@";
    EXPECT_EQ(XPath(file, s + "name)"), run.report["name"]) << v;
    EXPECT_EQ(XPath(file, s + "package)"), run.report["file"]) << v;
    EXPECT_EQ(XPath(file, s + "id)"), "0") << v;
    EXPECT_EQ(XPath(file, s + "hostname)"), kHost) << v;
    const std::string started = run.report["started_at"];
    EXPECT_EQ(XPath(file, s + "timestamp)"), started.substr(0, 19)) << v;
    EXPECT_EQ(XPath(file, s + "time)"), Seconds(run.report["timeline"].back()["t_ms"])) << v;
  }
}

TEST_F(JunitRealRunsTest, PropertiesHoldVerdictScoreFileAndEachMetric) {
  for (const char* v : kVerdicts) {
    const json& r = Run(v).report;
    const std::string file = Render(v);
    auto prop = [&](const std::string& name) {
      return XPath(file, "string(//property[@name='" + name + "']/@value)");
    };
    EXPECT_EQ(prop("verdict"), v);
    EXPECT_EQ(prop("score"), std::to_string(r["score"].get<int>())) << v;
    EXPECT_EQ(prop("file"), r["file"]) << v;
    EXPECT_EQ(prop("exit_code"), std::to_string(r["exit_code"].get<int>())) << v;
    EXPECT_EQ(prop("started_at"), r["started_at"]) << v;
    for (const char* m : {"detected_after_ms", "failed_over_after_ms", "recovered_after_ms",
                          "acknowledged_after_ms", "availability"}) {
      const json& value = r["metrics"][m];
      EXPECT_EQ(prop(std::string("metrics.") + m), value.is_null() ? "" : value.dump())
          << v << " " << m;
    }
    // No data: in these drills, so data_lost is null: one empty property.
    EXPECT_TRUE(r["metrics"]["data_lost"].is_null());
    EXPECT_EQ(XPath(file, "count(//property[@name='metrics.data_lost'])"), "1") << v;
  }
  EXPECT_EQ(Run("passed").report["metrics"]["detected_after_ms"].is_number(), true);
}

TEST_F(JunitRealRunsTest, SystemOutIsTheSummaryAndSystemErrTheReasons) {
  for (const char* v : kVerdicts) {
    const RealRun& run = Run(v);
    const std::string file = Render(v);
    EXPECT_EQ(XPath(file, "string(//system-out)"), run.result.out) << v;
    std::string reasons;
    for (const auto& r : run.report["reasons"]) reasons += r.get<std::string>() + "\n";
    EXPECT_EQ(XPath(file, "string(//system-err)"), reasons) << v;
    EXPECT_EQ(XPath(file, "count(//system-out)"), "1") << v;
    EXPECT_EQ(XPath(file, "count(//system-err)"), "1") << v;
  }
  EXPECT_THAT(Run("failed").result.out, HasSubstr("FAILED  score"));
  EXPECT_EQ(XPath(Render("failed"), "string(//system-err)"),
            "watch health-gone (detection) not met within 1s\n");
  EXPECT_EQ(XPath(Render("passed"), "string(//system-err)"), "");
}

TEST_F(JunitRealRunsTest, MarkupFromCommandOutputSurvivesTheRoundTrip) {
  const json& watch = Run("missed").report["watches"][1];
  ASSERT_EQ(watch["name"], "markup");
  const std::string detail = watch["detail"];
  EXPECT_EQ(detail, "exit 1 (expected 0): <b> & \"q\" ]]>");
  const std::string file = Render("missed");
  EXPECT_EQ(XPath(file, "string(//testcase[@name='watch.markup']/failure)"),
            "kind custom\nlast result: " + detail +
                "\nadvice: " + watch["advice"].get<std::string>() + "\n");
}

TEST_F(JunitRealRunsTest, CharactersXmlForbidsAreLeftOut) {
  // A summary as a coloured terminal and a command's raw output could make it.
  JunitSuite suite = Suite("failed");
  suite.summary =
      "a\x01"
      "b\x1b[1;31mFAILED\x1b[0m c\x7f\r\nd\x1b]0;title\a<&>\xef\xbf\xbe";
  const std::string file = Write("forbidden.xml", JunitXml({suite}, {.hostname = kHost}));
  for (const char* xsd : {"junit-10.xsd", "ant-junit.xsd"}) {
    EXPECT_TRUE(Validate(xsd, file).valid) << xsd << ReadFile(file);
  }
  EXPECT_EQ(XPath(file, "string(//system-out)"), "abFAILED c\r\nd<&>");
}

TEST_F(JunitRealRunsTest, SeveralRunsMakeOneDocument) {
  std::vector<JunitSuite> suites;
  for (const char* v : kVerdicts) suites.push_back(Suite(v));
  const std::string file = Write("gate.xml", JunitXml(suites, {.hostname = kHost}));
  for (const char* xsd : {"junit-10.xsd", "ant-junit.xsd"}) {
    const Lint lint = Validate(xsd, file);
    EXPECT_TRUE(lint.valid) << xsd << ":\n" << lint.output;
  }
  EXPECT_EQ(XPath(file, "count(/testsuites)"), "1");
  EXPECT_EQ(XPath(file, "count(/testsuites/@*)"), "0");
  EXPECT_EQ(XPath(file, "count(/testsuites/testsuite)"), "4");
  for (int i = 0; i < 4; ++i) {
    const std::string s = "/testsuites/testsuite[" + std::to_string(i + 1) + "]";
    EXPECT_EQ(XPath(file, "string(" + s + "/@id)"), std::to_string(i));
    EXPECT_EQ(XPath(file, "string(" + s + "/@name)"), std::string("report-") + kVerdicts[i]);
    EXPECT_EQ(XPath(file, "count(" + s + "/testcase[@classname='report-" + kVerdicts[i] + "'])"),
              "5");
  }
  // Each suite counts what its own run did (as CountsFollowTheVerdict checks).
  int failures = 0, errors = 0;
  for (const char* v : kVerdicts) {
    const bool stopped = std::string(v) == "aborted" || std::string(v) == "error";
    (stopped ? errors : failures) += Unmet(Run(v).report);
  }
  EXPECT_EQ(XPath(file, "sum(//testsuite/@failures)"), std::to_string(failures));
  EXPECT_EQ(XPath(file, "sum(//testsuite/@errors)"), std::to_string(errors));
}

TEST_F(JunitRealRunsTest, HostnameDefaultsToThisMachine) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  const std::string file = Write("host.xml", JunitXml({Suite("passed")}));
  EXPECT_EQ(XPath(file, "string(//testsuite/@hostname)"), host);
}

// The schemas are only worth something if they refuse what a CI server would refuse:
// each break of a valid rendering is caught by the strict schema, and the permissive one
// catches what Jenkins itself rejects.
TEST_F(JunitRealRunsTest, SchemasRejectBrokenFiles) {
  const std::string good = JunitXml({Suite("failed")}, {.hostname = kHost});
  const std::string drill_file = Run("failed").report["file"];
  const std::string started = Run("failed").report["started_at"];
  const std::string stamp = "timestamp=\"" + started.substr(0, 19) + "\"";
  struct Break {
    std::string what;
    std::string xml;
    bool junit10_rejects;
  };
  const std::vector<Break> breaks = {
      {"a testcase without classname", Edit(good, " classname=\"report-failed\"", ""), false},
      {"a zoned timestamp", Edit(good, stamp, "timestamp=\"" + started.substr(0, 19) + "Z\""),
       false},
      {"an offset timestamp",
       Edit(good, stamp, "timestamp=\"" + started.substr(0, 19) + "+00:00\""), false},
      {"a timestamp with a fraction", Edit(good, stamp, "timestamp=\"" + started + "\""), false},
      {"no timestamp", Edit(good, " " + stamp, ""), false},
      {"a failure without type", Edit(good, "<failure type=\"watch.missed\"", "<failure"), false},
      {"two children in a testcase", Edit(good, "<failure type=", "<skipped/><failure type="),
       false},
      {"no system-err", Erase(good, "<system-err>", "</system-err>"), false},
      {"system-out before the properties",
       Edit(good, "<properties>", "<system-out></system-out><properties>"), false},
      {"no properties", Erase(good, "<properties>", "</properties>"), false},
      {"no package", Edit(good, " package=\"" + drill_file + "\"", ""), false},
      {"no hostname", Edit(good, " hostname=\"ci-runner-1\"", ""), false},
      {"totals on testsuites", Edit(good, "<testsuites>", "<testsuites tests=\"5\">"), false},
      {"an attribute junit-10 does not know on testsuites",
       Edit(good, "<testsuites>", "<testsuites skipped=\"0\">"), true},
      {"a testcase without name", Edit(good, "<testcase name=\"recovery.within\"", "<testcase"),
       true},
      {"a testsuite without tests", Edit(good, " tests=\"5\"", ""), true},
  };
  const std::string ok = Write("good.xml", good);
  ASSERT_TRUE(Validate("ant-junit.xsd", ok).valid) << Validate("ant-junit.xsd", ok).output;
  ASSERT_TRUE(Validate("junit-10.xsd", ok).valid) << Validate("junit-10.xsd", ok).output;
  for (size_t i = 0; i < breaks.size(); ++i) {
    const Break& b = breaks[i];
    const std::string file = Write("broken-" + std::to_string(i) + ".xml", b.xml);
    EXPECT_FALSE(Validate("ant-junit.xsd", file).valid) << "ant-junit.xsd accepts " << b.what;
    EXPECT_EQ(Validate("junit-10.xsd", file).valid, !b.junit10_rejects)
        << "junit-10.xsd on " << b.what << ": " << Validate("junit-10.xsd", file).output;
  }
}

}  // namespace
}  // namespace firedrill::testing
