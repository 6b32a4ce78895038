// postmortem.md from the four real runs (passed, failed, aborted, error): the SRE
// template's fields are all there, what was measured is in it as report.json has it, what
// was missed is an action item, and the timeline's wall-clock times are started_at + t_ms.
#include "reports/postmortem.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runner/base/values.h"
#include "tests/reports/real_runs.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RealRun;
using testing::SharedRealRun;
using testing::TempDir;

const std::vector<std::string> kVerdicts = {"passed", "failed", "aborted", "error"};

// The text under `heading` (a whole line, "## Impact"), up to the next heading of the same
// or a higher level; "" when the heading is missing.
std::string Section(const std::string& md, const std::string& heading) {
  const size_t at = md.find("\n" + heading + "\n");
  if (at == std::string::npos) return "";
  const size_t body = at + heading.size() + 2;
  const std::string level = heading.substr(0, heading.find(' ') + 1);
  size_t end = md.size();
  for (size_t p = md.find("\n#", body); p != std::string::npos; p = md.find("\n#", p + 1)) {
    const size_t hashes = md.find_first_not_of('#', p + 1) - (p + 1);
    if (hashes <= level.size() - 1) {
      end = p;
      break;
    }
  }
  return md.substr(body, end - body);
}

// A table row's cells, split at the pipes that are not escaped.
std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {  // past the leading pipe
    if (row[i] == '\\' && i + 1 < row.size()) {
      cell += row.substr(i, 2);
      ++i;
    } else if (row[i] == '|') {
      const size_t b = cell.find_first_not_of(' ');
      const size_t e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return cells;
}

// The rows of every table in `md` below its header and separator, by table.
std::vector<std::vector<std::vector<std::string>>> Tables(const std::string& md) {
  std::vector<std::vector<std::vector<std::string>>> tables;
  std::istringstream in(md);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) != 0) {
      inside = false;
      continue;
    }
    if (!inside) tables.emplace_back();
    inside = true;
    tables.back().push_back(Cells(line));
  }
  return tables;
}

// started_at + t_ms in started_at's own shape, computed here rather than by the product.
std::string UtcPlus(const std::string& started_at, int64_t t_ms) {
  std::tm tm{};
  int ms = 0;
  EXPECT_EQ(std::sscanf(started_at.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
            7)
      << started_at;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const int64_t epoch_ms = static_cast<int64_t>(timegm(&tm)) * 1000 + ms + t_ms;
  const time_t secs = static_cast<time_t>(epoch_ms / 1000);
  std::tm out{};
  gmtime_r(&secs, &out);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", out.tm_year + 1900,
                out.tm_mon + 1, out.tm_mday, out.tm_hour, out.tm_min, out.tm_sec,
                static_cast<int>(epoch_ms % 1000));
  return buf;
}

class PostmortemTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    runs_ = new std::map<std::string, RealRun>;
    for (const auto& v : kVerdicts) (*runs_)[v] = SharedRealRun(v);
  }
  static void TearDownTestSuite() {
    delete runs_;
    delete dir_;
  }
  void SetUp() override {
    for (const auto& [v, run] : *runs_) {
      ASSERT_TRUE(run.report.is_object()) << v << run.result.out << run.result.err;
      ASSERT_EQ(run.report["verdict"], v) << run.result.out << run.result.err;
    }
  }
  static const json& Report(const std::string& verdict) { return (*runs_)[verdict].report; }

  static TempDir* dir_;
  static std::map<std::string, RealRun>* runs_;
};

TempDir* PostmortemTest::dir_ = nullptr;
std::map<std::string, RealRun>* PostmortemTest::runs_ = nullptr;

TEST_F(PostmortemTest, EveryFieldOfTheTemplateIsThere) {
  for (const auto& v : kVerdicts) {
    const std::string md = PostmortemMarkdown(Report(v));
    EXPECT_EQ(md.rfind("# Postmortem: drill report-" + v + " (", 0), 0u) << md;
    for (const char* field : {"- **Date:** ", "- **Authors:** _TODO: ", "- **Status:** Draft"}) {
      EXPECT_THAT(md, HasSubstr(field)) << v;
    }
    for (const char* h :
         {"## Summary", "## Impact", "## Root causes", "## Trigger", "## Resolution",
          "## Detection", "## Action items", "## Lessons learned", "### What went well",
          "### What went wrong", "### Where we got lucky", "## Timeline (UTC)"}) {
      EXPECT_NE(Section(md, h), "") << v << ": no " << h << "\n" << md;
    }
    EXPECT_EQ(md.back(), '\n');
    EXPECT_THAT(md, Not(HasSubstr("\n\n\n"))) << v;
  }
}

TEST_F(PostmortemTest, WhatWasMeasuredIsInItAsTheReportSaysIt) {
  for (const auto& v : kVerdicts) {
    const json& r = Report(v);
    const std::string md = PostmortemMarkdown(r);
    const json& m = r["metrics"];
    const std::string impact = Section(md, "## Impact");
    SCOPED_TRACE(v + "\n" + md);
    EXPECT_THAT(md, HasSubstr("- **Date:** " + r["started_at"].get<std::string>().substr(0, 10)));
    EXPECT_THAT(
        md, HasSubstr("- **Verdict:** " + v + ", score " + std::to_string(r["score"].get<int>()) +
                      "/100, exit code " + std::to_string(r["exit_code"].get<int>())));
    EXPECT_THAT(impact, HasSubstr("| Drill duration | " +
                                  HumanMillis(r["timeline"].back()["t_ms"].get<int64_t>()) + " |"));
    auto ms_row = [&](const std::string& label, const char* key, const std::string& none) {
      const json& x = m[key];
      EXPECT_THAT(impact, HasSubstr("| " + label + " | " +
                                    (x.is_null() ? none : HumanMillis(x.get<int64_t>())) + " |"));
    };
    ms_row("Time to detect (MTTD)", "detected_after_ms", "not detected");
    ms_row("Time to fail over", "failed_over_after_ms", "no failover measured");
    ms_row("Time to recover (MTTR)", "recovered_after_ms", "did not recover");
    if (m["availability"].is_null()) {
      EXPECT_THAT(impact, HasSubstr("| Availability | not measured |"));
    } else {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.2f%%", m["availability"].get<double>() * 100);
      EXPECT_THAT(impact, HasSubstr(std::string("| Availability | ") + pct));
    }
    ASSERT_TRUE(m["data_lost"].is_null());  // these drills have no data: section
    EXPECT_THAT(impact, HasSubstr("| Data lost | not measured |"));
    // Every fault, as injected, with its action and what it did.
    for (const auto& f : r["faults"]) {
      const std::string trigger = Section(md, "## Trigger");
      std::string line =
          "- `" + f["name"].get<std::string>() + "` (`" + f["action"].get<std::string>() + "`): ";
      if (f["injected_at_ms"].is_number()) {
        const int64_t at = f["injected_at_ms"];
        line += "injected at " + UtcPlus(r["started_at"], at) + " (+" + HumanMillis(at) + ")";
      } else if (f["inject_failed"] == true) {
        line += "its injection failed";
      } else {
        line += "not injected";
      }
      EXPECT_THAT(trigger, HasSubstr(line));
    }
    // Why it did not pass, word for word (these reasons hold no Markdown characters).
    for (const auto& reason : r["reasons"]) {
      ASSERT_EQ(reason.get<std::string>().find_first_of("\\`*_[]<>|&~#"), std::string::npos);
      EXPECT_THAT(Section(md, "## Summary"), HasSubstr("- " + reason.get<std::string>() + "\n"));
    }
    for (const char* key : {"error", "aborted_reason"}) {
      if (r[key].is_string()) {
        EXPECT_THAT(Section(md, "## Resolution"), HasSubstr(r[key].get<std::string>()));
      }
    }
  }
}

TEST_F(PostmortemTest, MissedWatchesAndObjectivesBecomeActionItems) {
  for (const auto& v : kVerdicts) {
    const json& r = Report(v);
    const std::string md = PostmortemMarkdown(r);
    SCOPED_TRACE(v + "\n" + md);
    const auto tables = Tables(Section(md, "## Action items"));
    ASSERT_EQ(tables.size(), 1u);
    const auto& rows = tables[0];
    ASSERT_GE(rows.size(), 3u);  // header, separator, at least one row
    EXPECT_EQ(rows[0], (std::vector<std::string>{"Action item", "Type", "Owner", "Bug"}));
    std::vector<std::string> items;
    for (size_t i = 2; i < rows.size(); ++i) items.push_back(rows[i][0]);
    size_t want = 0;
    for (const auto& w : r["watches"]) {
      if (w["met"]) continue;
      ++want;
      const std::string within = FormatDuration(Millis(w["within_ms"].get<int64_t>()));
      const std::string phrase =
          w["kind"].get<std::string>() + " watch `" + w["name"].get<std::string>() + "` " +
          (w["passed_after_ms"].is_null()
               ? "never passed"
               : "took " + HumanMillis(w["passed_after_ms"].get<int64_t>())) +
          ", target " + within;
      EXPECT_THAT(items, ::testing::Contains(HasSubstr(phrase)));
    }
    for (const auto& o : r["objectives"]) {
      if (o["met"]) continue;
      ++want;
      EXPECT_THAT(items, ::testing::Contains(HasSubstr("`" + o["name"].get<std::string>() + "`")));
    }
    want += r["error"].is_string() + r["aborted_reason"].is_string() + r["leftovers"].size();
    if (v == "passed") {
      EXPECT_EQ(want, 0u);
      ASSERT_EQ(items.size(), 1u);
      EXPECT_THAT(items[0], HasSubstr("_TODO: "));
    } else {
      EXPECT_EQ(items.size(), want);
    }
    // What went wrong repeats the misses; what went well holds what was met.
    const std::string wrong = Section(md, "### What went wrong");
    const std::string well = Section(md, "### What went well");
    for (const auto& w : r["watches"]) {
      EXPECT_THAT(w["met"] ? well : wrong, HasSubstr("`" + w["name"].get<std::string>() + "`"));
    }
  }
  // The failed drill's detection watch looked for a file that never appears.
  EXPECT_THAT(Section(PostmortemMarkdown(Report("failed")), "## Action items"),
              HasSubstr("| detection watch `health-gone` never passed, target 1s"));
}

TEST_F(PostmortemTest, TimelineTimesAreStartedAtPlusTMs) {
  for (const auto& v : kVerdicts) {
    const json& r = Report(v);
    const std::string md = PostmortemMarkdown(r);
    SCOPED_TRACE(v + "\n" + md);
    const auto tables = Tables(Section(md, "## Timeline (UTC)"));
    ASSERT_EQ(tables.size(), 1u);
    const auto& rows = tables[0];
    EXPECT_EQ(rows[0], (std::vector<std::string>{"Time (UTC)", "Since start", "Event", "Subject",
                                                 "Detail"}));
    // Each row is one of the report's events, in order, at started_at + t_ms.
    std::multiset<std::string> shown;
    size_t next = 0;
    const json& events = r["timeline"];
    for (size_t i = 2; i < rows.size(); ++i) {
      ASSERT_EQ(rows[i].size(), 5u);
      while (next < events.size() && events[next]["type"] != rows[i][2]) ++next;
      ASSERT_LT(next, events.size()) << "row " << i << " is no event of the report, in order";
      const int64_t t = events[next]["t_ms"];
      EXPECT_EQ(rows[i][0], UtcPlus(r["started_at"], t));
      EXPECT_EQ(rows[i][1], "+" + HumanMillis(t));
      shown.insert(rows[i][2]);
      ++next;
    }
    // The events that matter are all there; the samples between them are not.
    std::multiset<std::string> important;
    for (const auto& e : events) {
      const std::string type = e["type"];
      for (const char* prefix : {"phase", "fault.", "watch.", "recovered", "remediation.", "hint",
                                 "error", "abort", "verify."}) {
        if (type.rfind(prefix, 0) == 0) important.insert(type);
      }
    }
    for (const auto& type : important) {
      EXPECT_EQ(shown.count(type), important.count(type)) << type;
    }
    EXPECT_EQ(shown.count("probe.pass"), 0u);
    EXPECT_EQ(shown.count("service.started"), 0u);
  }
}

TEST_F(PostmortemTest, TablesKeepTheirColumns) {
  for (const auto& v : kVerdicts) {
    const std::string md = PostmortemMarkdown(Report(v));
    for (const auto& table : Tables(md)) {
      for (const auto& row : table) {
        EXPECT_EQ(row.size(), table[0].size()) << v << ": a cell holds a bare |\n" << md;
      }
    }
  }
}

// Commands print anything, pipes included: a real report with a pipe put into its texts
// (no drill here prints one) still gives tables of the right shape, the command as code.
TEST_F(PostmortemTest, APipeInReportTextStaysInItsCell) {
  json r = Report("failed");
  for (auto& e : r["timeline"]) {
    if (e["type"] == "fault.injected") e["detail"] = "`ps | grep x`: exit 0 | 1";
  }
  r["watches"][0]["advice"] = "a|b";
  const std::string md = PostmortemMarkdown(r);
  for (const auto& table : Tables(md)) {
    for (const auto& row : table) EXPECT_EQ(row.size(), table[0].size()) << md;
  }
  EXPECT_THAT(Section(md, "## Timeline (UTC)"), HasSubstr("| `ps \\| grep x`: exit 0 \\| 1 |"));
  EXPECT_THAT(Section(md, "## Action items"), HasSubstr("(a\\|b)"));
}

TEST_F(PostmortemTest, OnlyWhatPeopleMustWriteIsLeftToDo) {
  const std::string md = PostmortemMarkdown(Report("passed"));
  // Measured sections carry no placeholder when the drill measured them.
  for (const char* h :
       {"## Summary", "## Trigger", "## Resolution", "## Detection", "## Timeline (UTC)"}) {
    EXPECT_THAT(Section(md, h), Not(HasSubstr("_TODO"))) << h << "\n" << md;
  }
  // What only people know is asked for, clearly.
  EXPECT_THAT(Section(md, "## Impact"), HasSubstr("_TODO: what this would have meant"));
  EXPECT_THAT(Section(md, "### Where we got lucky"), HasSubstr("_TODO: "));
}

}  // namespace
}  // namespace firedrill
