#include "reports/postmortem.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reports/json_report.h"
#include "reports/report_reader.h"
#include "runner/base/values.h"

namespace firedrill {

using nlohmann::json;

namespace {

// A met figure this close to its target passed by a margin luck could have taken away.
constexpr double kNearMiss = 0.8;

// ---------------------------------------------------------------------------------------
// Reading the report: every key may be missing or null in a report from another version.

using report_json::Array;
using report_json::Bool;
using report_json::Field;
using report_json::Int;
using report_json::Text;
std::optional<double> Num(const json& j, const char* key) { return report_json::Number(j, key); }

// ---------------------------------------------------------------------------------------
// Markdown. Report text (details, reasons) is what commands printed: it is escaped so that
// it shows as written and cannot open a link, emphasis, HTML or a table cell.

std::string Flatten(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

std::string Esc(const std::string& s) {
  static const std::string kSpecial = "\\`*_[]<>|&~#";
  std::string out;
  for (char c : Flatten(s)) {
    if (kSpecial.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

// A code span whose fence is longer than any run of backticks inside.
std::string Code(const std::string& raw) {
  const std::string s = Flatten(raw);
  size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const bool pad = s.empty() || s.front() == '`' || s.back() == '`';
  return fence + (pad ? " " : "") + s + (pad ? " " : "") + fence;
}

// Report text as written, where the engine quoted a command in backticks
// ("`rm -f healthy`: exit 0") that part stays code, and the rest is escaped.
std::string Prose(const std::string& raw) {
  const std::string s = Flatten(raw);
  std::string out;
  size_t at = 0;
  while (at < s.size()) {
    const size_t open = s.find('`', at);
    const size_t close = open == std::string::npos ? open : s.find('`', open + 1);
    if (close == std::string::npos) {
      out += Esc(s.substr(at));
      break;
    }
    out += Esc(s.substr(at, open - at)) + Code(s.substr(open + 1, close - open - 1));
    at = close + 1;
  }
  return out;
}

// A table cell: every `|` escaped, inside code spans too (GitHub splits a row into cells
// before it reads code spans). Text already escaped keeps its escapes.
std::string InCell(const std::string& markdown) {
  std::string out;
  bool escaped = false;
  for (char c : markdown) {
    if (c == '|' && !escaped) out += '\\';
    escaped = c == '\\' && !escaped;
    out += c;
  }
  return out;
}

// A remediation event's words: "WHY: COMMAND" for remediation.run, the command as code.
std::string RemediationText(const std::string& type, const std::string& detail) {
  const size_t colon = detail.find(": ");
  if (type != "remediation.run" || colon == std::string::npos) return Prose(detail);
  return Prose(detail.substr(0, colon)) + ": " + Code(detail.substr(colon + 2));
}

std::string EventWords(const std::string& type) {
  if (type == "remediation.run") return "remediation started";
  if (type == "remediation.done") return "remediation succeeded";
  if (type == "remediation.failed") return "remediation failed";
  return Esc(type);
}

std::string Plural(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string Percent(double ratio) { return fmt::format("{:.2f}%", ratio * 100.0); }

std::string Target(int64_t ms) { return FormatDuration(Millis(ms)); }

// ---------------------------------------------------------------------------------------
// Times: started_at ("2026-11-21T23:18:00.632Z") plus a t_ms gives the wall clock.

std::optional<std::chrono::system_clock::time_point> ParseStartedAt(const std::string& s) {
  int y, mo, d, h, mi, sec, ms;
  char tail = 0;
  if (s.size() != 24 ||
      std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms,
                  &tail) != 8 ||
      tail != 'Z') {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{ms};
}

class Clock {
 public:
  explicit Clock(const json& report) : start_(ParseStartedAt(Text(report, "started_at"))) {}
  // The wall-clock time of `t_ms` from the run's start, as started_at is written; the
  // offset alone when started_at cannot be read.
  std::string At(int64_t t_ms) const {
    if (!start_) return "+" + HumanMillis(t_ms);
    return FormatUtcMillis(*start_ + std::chrono::milliseconds(t_ms));
  }

 private:
  std::optional<std::chrono::system_clock::time_point> start_;
};

// ---------------------------------------------------------------------------------------
// What was measured against what was wanted, in one phrase each, shared by the action
// items and the lessons so both say the same thing the same way.

struct Check {
  std::string phrase;  // "detection watch `alert` took 6.200s, target 5s"
  bool met = false;
  bool near_miss = false;  // met, but with little to spare
  std::string type;        // action item type: detect, mitigate, prevent
  std::string advice;      // report.json's advice, when it has one
};

bool NearMiss(std::optional<int64_t> actual, std::optional<int64_t> target) {
  return actual && target && *target > 0 &&
         static_cast<double>(*actual) >= kNearMiss * static_cast<double>(*target);
}

Check WatchCheck(const json& w) {
  Check c;
  const std::string kind = Text(w, "kind");
  const auto within = Int(w, "within_ms");
  const auto after = Int(w, "passed_after_ms");
  const std::string target = within ? ", target " + Target(*within) : "";
  c.met = Bool(w, "met").value_or(false);
  c.phrase = fmt::format("{} watch {} ", kind.empty() ? "the" : Esc(kind), Code(Text(w, "name")));
  c.phrase += after ? fmt::format("took {}{}", HumanMillis(*after), target)
                    : fmt::format("never passed{}", target);
  c.near_miss = c.met && NearMiss(after, within);
  c.type = kind == "detection" ? "detect" : "mitigate";
  c.advice = Text(w, "advice");
  return c;
}

Check ObjectiveCheck(const json& o) {
  Check c;
  const std::string name = Text(o, "name");
  c.met = Bool(o, "met").value_or(false);
  c.advice = Text(o, "advice");
  const bool writes =
      Text(o, "unit") == "writes" || (!o.contains("target_ms") && o.contains("target"));
  if (writes) {
    const auto target = Int(o, "target");
    const auto actual = Int(o, "actual");
    c.phrase =
        fmt::format("{}: {}", Code(name),
                    actual ? Plural(*actual, "acknowledged write lost", "acknowledged writes lost")
                           : std::string("data loss not measured"));
    if (target) c.phrase += fmt::format(", target at most {}", *target);
    c.type = "prevent";
    return c;
  }
  const auto target = Int(o, "target_ms");
  const auto actual = Int(o, "actual_ms");
  const std::string t = target ? ", target " + Target(*target) : "";
  if (name == "recovery.within") {
    c.phrase = actual ? fmt::format("{}: recovery took {}{}", Code(name), HumanMillis(*actual), t)
                      : fmt::format("{}: the steady state never recovered{}", Code(name), t);
  } else if (name == "rollback.verified") {
    c.phrase = actual
                   ? fmt::format("{}: the steady state held again {} after rollback{}", Code(name),
                                 HumanMillis(*actual), t)
                   : fmt::format("{}: the steady state was not seen holding again after rollback{}",
                                 Code(name), t);
  } else {
    c.phrase = fmt::format("{}: {}{}", Code(name),
                           actual ? HumanMillis(*actual) : std::string("never happened"), t);
  }
  c.near_miss = c.met && NearMiss(actual, target);
  c.type = "mitigate";
  return c;
}

std::vector<Check> Checks(const json& report) {
  std::vector<Check> out;
  for (const auto& o : Array(report, "objectives")) out.push_back(ObjectiveCheck(o));
  for (const auto& w : Array(report, "watches")) out.push_back(WatchCheck(w));
  return out;
}

// ---------------------------------------------------------------------------------------
// The sections.

bool IsLeftoverCommand(const std::string& line) {
  return line.rfind("firedrill rollback ", 0) == 0;
}

std::string Leftover(const std::string& line) {
  return IsLeftoverCommand(line) ? "run " + Code(line) : Prose(line);
}

void WriteHeader(std::string& md, const json& r) {
  const std::string name = Text(r, "name");
  const std::string started = Text(r, "started_at");
  const std::string date = started.size() >= 10 ? started.substr(0, 10) : "_TODO: date_";
  md += fmt::format("# Postmortem: drill {} ({})\n\n", Esc(name), date);
  md += fmt::format("- **Date:** {}", date);
  if (!started.empty()) md += fmt::format(" (the drill started at {})", Esc(started));
  md += "\n- **Authors:** _TODO: who wrote this postmortem_\n";
  md += "- **Status:** Draft\n";
  md += fmt::format("- **Drill:** {} from {}, mode {}\n", Code(name), Code(Text(r, "file")),
                    Code(Text(r, "mode")));
  const auto score = Int(r, "score");
  const auto exit = Int(r, "exit_code");
  md += fmt::format("- **Verdict:** {}", Esc(Text(r, "verdict")));
  if (score) md += fmt::format(", score {}/100", *score);
  if (exit) md += fmt::format(", exit code {}", *exit);
  md += "\n";
  if (const std::string d = Text(r, "description"); !d.empty()) {
    md += fmt::format("- **What the drill tests:** {}\n", Esc(d));
  }
  md += "\n";
}

std::optional<int64_t> Duration(const json& r) {
  const json& tl = Array(r, "timeline");
  if (tl.empty()) return std::nullopt;
  return Int(tl.back(), "t_ms");
}

std::vector<const json*> Injected(const json& r) {
  std::vector<const json*> out;
  for (const auto& f : Array(r, "faults")) {
    if (Int(f, "injected_at_ms")) out.push_back(&f);
  }
  return out;
}

std::string FaultNames(const std::vector<const json*>& faults) {
  std::string out;
  for (size_t i = 0; i < faults.size(); ++i) {
    if (i > 0) out += i + 1 == faults.size() ? " and " : ", ";
    out += Code(Text(*faults[i], "name"));
  }
  return out;
}

void WriteSummary(std::string& md, const json& r) {
  md += "## Summary\n\n";
  const auto duration = Duration(r);
  md += fmt::format("The drill {} ran", Code(Text(r, "name")));
  if (duration) md += " for " + HumanMillis(*duration);
  md += fmt::format(" and its verdict is **{}**", Esc(Text(r, "verdict")));
  if (const auto score = Int(r, "score")) md += fmt::format(" (score {}/100)", *score);
  md += ".";
  const auto injected = Injected(r);
  if (injected.empty()) {
    md += " No fault was injected.";
  } else {
    md += fmt::format(" It injected {}: {}.", Plural(injected.size(), "fault", "faults"),
                      FaultNames(injected));
  }
  const json& m = Field(r, "metrics");
  if (!injected.empty()) {
    const auto mttd = Int(m, "detected_after_ms");
    const auto mttr = Int(m, "recovered_after_ms");
    md += mttd ? " It was detected after " + HumanMillis(*mttd) + ";" : " Nothing detected it;";
    md += mttr ? " the steady state recovered after " + HumanMillis(*mttr) + "."
               : " the steady state did not recover during the fault phase.";
  }
  md += "\n";
  const json& reasons = Array(r, "reasons");
  if (!reasons.empty()) {
    md += "\nWhy it did not pass:\n\n";
    for (const auto& reason : reasons) {
      if (reason.is_string()) md += "- " + Prose(reason.get<std::string>()) + "\n";
    }
  }
  md += "\n";
}

void WriteImpact(std::string& md, const json& r) {
  md += "## Impact\n\n";
  md += "What the run measured (times from the first fault's injection):\n\n";
  md += "| Measure | Value |\n|---|---|\n";
  const json& m = Field(r, "metrics");
  if (const auto d = Duration(r)) md += "| Drill duration | " + HumanMillis(*d) + " |\n";
  auto ms_row = [&](const char* label, const char* key, const char* none) {
    const auto v = Int(m, key);
    md += fmt::format("| {} | {} |\n", label, v ? HumanMillis(*v) : std::string(none));
  };
  ms_row("Time to detect (MTTD)", "detected_after_ms", "not detected");
  ms_row("Time to fail over", "failed_over_after_ms", "no failover measured");
  ms_row("Time to recover (MTTR)", "recovered_after_ms", "did not recover");
  const auto avail = Num(m, "availability");
  md += fmt::format("| Availability | {} |\n",
                    avail ? Percent(*avail) + " of the steady-state samples passed"
                          : std::string("not measured"));
  const json& lost = Field(m, "data_lost");
  if (lost.is_object()) {
    const auto count = Int(lost, "count");
    const auto span = Int(lost, "span_ms");
    md += fmt::format("| Data lost | {}",
                      count ? Plural(*count, "acknowledged write", "acknowledged writes")
                            : std::string("unknown"));
    if (count && *count > 0 && span) md += fmt::format(" over {}", HumanMillis(*span));
    md += " |\n";
  } else {
    md += "| Data lost | not measured |\n";
  }
  const json& writes = Field(r, "data_writes");
  if (writes.is_object()) {
    md += fmt::format("| Writes | {} attempted, {} acknowledged, {} verified, {} lost |\n",
                      Int(writes, "attempted").value_or(0), Int(writes, "acknowledged").value_or(0),
                      Int(writes, "verified").value_or(0), Int(writes, "lost").value_or(0));
  }
  md +=
      "\n_TODO: what this would have meant in production: who would have been affected, "
      "how many, for how long._\n\n";
}

void WriteRootCauses(std::string& md, const json& r, const std::vector<Check>& checks) {
  md += "## Root causes\n\n";
  const auto injected = Injected(r);
  md += injected.empty() ? "The drill injected no fault."
                         : fmt::format("The outage was caused on purpose by the drill: {}.",
                                       FaultNames(injected));
  const std::string verdict = Text(r, "verdict");
  std::vector<std::string> missed;
  for (const auto& c : checks) {
    if (!c.met) missed.push_back(c.phrase);
  }
  if (verdict == "passed") {
    md += " No objective or watch was missed.\n\n";
    return;
  }
  md += "\n\n";
  if (const std::string e = Text(r, "error"); !e.empty()) {
    md += "The drill could not be carried out: " + Prose(e) + "\n\n";
  }
  if (const std::string a = Text(r, "aborted_reason"); !a.empty()) {
    md += "The drill was stopped: " + Prose(a) + "\n\n";
  }
  if (!missed.empty()) {
    md += "Missed:\n\n";
    for (const auto& p : missed) md += "- " + p + "\n";
    md += "\n";
  }
  md += "_TODO: why the system (or the drill) behaved so: the causes behind what was missed._\n\n";
}

void WriteTrigger(std::string& md, const json& r, const Clock& clock) {
  md += "## Trigger\n\n";
  const json& faults = Array(r, "faults");
  if (faults.empty()) {
    md += "The drill has no faults.\n\n";
    return;
  }
  for (const auto& f : faults) {
    md += fmt::format("- {} ({}): ", Code(Text(f, "name")), Code(Text(f, "action")));
    if (const auto at = Int(f, "injected_at_ms")) {
      md += fmt::format("injected at {} (+{})", clock.At(*at), HumanMillis(*at));
    } else if (Bool(f, "inject_failed").value_or(false)) {
      md += "its injection failed";
    } else {
      md += "not injected";
    }
    if (const std::string d = Text(f, "detail"); !d.empty()) md += ": " + Prose(d);
    md += "\n";
  }
  md += "\n";
}

void WriteResolution(std::string& md, const json& r, const Clock& clock) {
  md += "## Resolution\n\n";
  for (const auto& e : Array(r, "timeline")) {
    const std::string type = Text(e, "type");
    if (type.rfind("remediation.", 0) != 0) continue;
    md += fmt::format("- {}: {}: {}\n", clock.At(Int(e, "t_ms").value_or(0)), EventWords(type),
                      RemediationText(type, Text(e, "detail")));
  }
  const json& m = Field(r, "metrics");
  const bool injected = !Injected(r).empty();
  if (const auto mttr = Int(m, "recovered_after_ms")) {
    md += fmt::format("- The steady state was back {} after the first fault", HumanMillis(*mttr));
    for (const auto& e : Array(r, "timeline")) {
      if (Text(e, "type") == "recovered") {
        md += fmt::format(" (recorded at {}: {})", clock.At(Int(e, "t_ms").value_or(0)),
                          Prose(Text(e, "detail")));
        break;
      }
    }
    md += ".\n";
  } else if (injected) {
    md += "- The steady state did not recover during the fault phase.\n";
  }
  for (const auto& f : Array(r, "faults")) {
    const std::string rb = Text(f, "rollback");
    if (rb == "ok") {
      md += fmt::format("- {} was rolled back", Code(Text(f, "name")));
      if (const auto at = Int(f, "rolled_back_at_ms")) md += " at " + clock.At(*at);
      md += ".\n";
    } else if (rb == "failed") {
      md += fmt::format("- The rollback of {} did not complete.\n", Code(Text(f, "name")));
    }
  }
  if (const auto steady = Bool(r, "steady_after_rollback")) {
    md += *steady ? "- After rollback the steady state held again.\n"
                  : "- After rollback the steady state did not hold again.\n";
  } else {
    md += "- The steady state was not checked after rollback.\n";
  }
  if (const std::string a = Text(r, "aborted_reason"); !a.empty()) {
    md += "- The run was aborted: " + Prose(a) + "\n";
  }
  if (const std::string e = Text(r, "error"); !e.empty()) md += "- Error: " + Prose(e) + "\n";
  const json& left = Array(r, "leftovers");
  if (!left.empty()) {
    md += "- Left behind, needing a hand:\n";
    for (const auto& l : left) {
      if (l.is_string()) md += "  - " + Leftover(l.get<std::string>()) + "\n";
    }
  }
  md += "\n";
}

void WriteDetection(std::string& md, const json& r) {
  md += "## Detection\n\n";
  const json& m = Field(r, "metrics");
  const json& watches = Array(r, "watches");
  bool has_detection = false;
  for (const auto& w : watches) has_detection |= Text(w, "kind") == "detection";
  if (Injected(r).empty()) {
    md += "No fault was injected, so there was nothing to detect.\n\n";
  } else if (const auto mttd = Int(m, "detected_after_ms")) {
    md += fmt::format("First detected {} after the first fault.\n\n", HumanMillis(*mttd));
  } else if (has_detection) {
    md += "No detection watch passed: nothing detected the fault.\n\n";
  } else {
    md += "The drill has no detection watch. _TODO: how would on-call have noticed?_\n\n";
  }
  for (const auto& w : watches) {
    const Check c = WatchCheck(w);
    md += fmt::format("- {}: {}", c.phrase, c.met ? "met" : "**missed**");
    if (const std::string d = Text(w, "detail"); !d.empty()) md += "; last sample: " + Prose(d);
    md += "\n";
  }
  if (!watches.empty()) md += "\n";
}

std::string Row(const std::string& item, const std::string& type) {
  return fmt::format("| {} | {} | _TODO_ | _TODO_ |\n", item, type);
}

void WriteActionItems(std::string& md, const json& r, const std::vector<Check>& checks) {
  md += "## Action items\n\n";
  md += "| Action item | Type | Owner | Bug |\n|---|---|---|---|\n";
  size_t rows = 0;
  for (const auto& c : checks) {
    if (c.met) continue;
    std::string item = c.phrase;
    if (!c.advice.empty()) item += " (" + Prose(c.advice) + ")";
    md += Row(InCell(item) + ". _TODO: what to change_", c.type);
    ++rows;
  }
  if (const std::string e = Text(r, "error"); !e.empty()) {
    md += Row(InCell("Make the drill runnable: " + Prose(e)), "repair");
    ++rows;
  }
  if (const std::string a = Text(r, "aborted_reason"); !a.empty()) {
    md += Row(InCell("Find out why the drill was stopped: " + Prose(a)), "investigate");
    ++rows;
  }
  for (const auto& l : Array(r, "leftovers")) {
    if (!l.is_string()) continue;
    md += Row("Clean up what was left: " + InCell(Leftover(l.get<std::string>())), "repair");
    ++rows;
  }
  if (rows == 0) md += Row("_TODO: nothing was missed; add what the review finds_", "");
  md += "\n";
}

void WriteLessons(std::string& md, const json& r, const std::vector<Check>& checks) {
  md += "## Lessons learned\n\n";
  std::vector<std::string> well, wrong, lucky;
  for (const auto& c : checks) (c.met ? well : wrong).push_back(c.phrase);
  for (const auto& c : checks) {
    if (c.near_miss) lucky.push_back(c.phrase + ": met, with less than 20% to spare");
  }
  const json& m = Field(r, "metrics");
  const json& lost = Field(m, "data_lost");
  if (lost.is_object()) {
    const auto count = Int(lost, "count");
    if (count && *count == 0) well.push_back("no acknowledged write was lost");
    if (count && *count > 0) {
      wrong.push_back(
          Plural(*count, "acknowledged write was lost", "acknowledged writes were lost"));
    }
  }
  if (const auto steady = Bool(r, "steady_after_rollback")) {
    (*steady ? well : wrong)
        .push_back(*steady ? "the steady state held again after rollback"
                           : "the steady state did not hold again after rollback");
  }
  for (const auto& f : Array(r, "faults")) {
    if (Bool(f, "inject_failed").value_or(false)) {
      wrong.push_back(fmt::format("fault {} could not be injected: {}", Code(Text(f, "name")),
                                  Prose(Text(f, "detail"))));
    }
    if (Text(f, "rollback") == "failed") {
      wrong.push_back(fmt::format("the rollback of {} did not complete", Code(Text(f, "name"))));
    }
  }
  if (const std::string e = Text(r, "error"); !e.empty()) wrong.push_back("error: " + Prose(e));
  if (const std::string a = Text(r, "aborted_reason"); !a.empty()) {
    wrong.push_back("aborted: " + Prose(a));
  }
  if (!Array(r, "leftovers").empty()) wrong.push_back("something was left behind (see Resolution)");

  auto list = [&](const char* heading, const std::vector<std::string>& items, const char* todo) {
    md += fmt::format("### {}\n\n", heading);
    for (const auto& i : items) md += "- " + i + "\n";
    md += fmt::format("- _TODO: {}_\n\n", todo);
  };
  list("What went well", well, "what else went well (people, tools, runbooks)");
  list("What went wrong", wrong, "what else went wrong");
  list("Where we got lucky", lucky, "what went right by chance");
}

// The events a reader of a postmortem needs; the probe samples between them are in
// report.json. A check's first failure marks when the impact began, so it stays.
bool Important(const std::string& type) {
  static const std::set<std::string> kTypes = {"phase",
                                               "error",
                                               "abort",
                                               "steady.held",
                                               "recovered",
                                               "verify.passed",
                                               "verify.failed",
                                               "data.verified",
                                               "service.exited",
                                               "service.killed",
                                               "journal.undone",
                                               "journal.undo_failed",
                                               "service.restarted",
                                               "service.restart_failed"};
  return kTypes.count(type) || type.rfind("fault.", 0) == 0 || type.rfind("watch.", 0) == 0 ||
         type.rfind("remediation.", 0) == 0 || type.rfind("hint", 0) == 0 ||
         type.rfind("trainee.", 0) == 0 || type == "page";
}

void WriteTimeline(std::string& md, const json& r, const Clock& clock) {
  md += "## Timeline (UTC)\n\n";
  md += "| Time (UTC) | Since start | Event | Subject | Detail |\n|---|---|---|---|---|\n";
  std::set<std::string> failing_seen;
  for (const auto& e : Array(r, "timeline")) {
    const std::string type = Text(e, "type");
    const std::string name = Text(e, "name");
    bool keep = Important(type);
    if (type == "probe.fail") keep = failing_seen.insert(name).second;
    if (!keep) continue;
    const int64_t t = Int(e, "t_ms").value_or(0);
    const std::string detail = type.rfind("remediation.", 0) == 0
                                   ? RemediationText(type, Text(e, "detail"))
                                   : Prose(Text(e, "detail"));
    md += fmt::format("| {} | +{} | {} | {} | {} |\n", clock.At(t), HumanMillis(t), Esc(type),
                      name.empty() ? "" : InCell(Code(name)), InCell(detail));
  }
  md += "\n";
}

void WriteSupporting(std::string& md, const json& r) {
  md += "## Supporting information\n\n";
  md +=
      "- The full record: `report.json` in this directory (every probe sample's change is in "
      "its timeline); the services' output in `services/`.\n";
  const json& journal = Field(r, "journal");
  if (journal.is_object()) {
    md += fmt::format(
        "- Rollback journal: {} ({})\n", Code(Text(journal, "path")),
        Bool(journal, "closed").value_or(false) ? "closed: everything was undone" : "still open");
  }
  if (const std::string v = Text(r, "firedrill_version"); !v.empty()) {
    md += fmt::format("- firedrill {}\n", Esc(v));
  }
  const json& parts = Array(r, "score_parts");
  if (!parts.empty()) {
    md += "\nThe score, part by part:\n\n";
    md += "| Part | Weight | Value | Contribution |\n|---|---|---|---|\n";
    for (const auto& p : parts) {
      const auto fmt_num = [&](const char* key) {
        const auto v = Num(p, key);
        return v ? fmt::format("{:.4g}", *v) : std::string("-");
      };
      md += fmt::format("| {} | {} | {} | {} |\n", Esc(Text(p, "part")), fmt_num("weight"),
                        fmt_num("value"), fmt_num("contribution"));
    }
  }
  md += "\n";
}

}  // namespace

std::string PostmortemMarkdown(const json& report) {
  static const json kEmpty = json::object();
  const json& r = report.is_object() ? report : kEmpty;
  const Clock clock(r);
  const std::vector<Check> checks = Checks(r);
  std::string md;
  WriteHeader(md, r);
  WriteSummary(md, r);
  WriteImpact(md, r);
  WriteRootCauses(md, r, checks);
  WriteTrigger(md, r, clock);
  WriteResolution(md, r, clock);
  WriteDetection(md, r);
  WriteActionItems(md, r, checks);
  WriteLessons(md, r, checks);
  WriteTimeline(md, r, clock);
  WriteSupporting(md, r);
  while (md.size() >= 2 && md[md.size() - 1] == '\n' && md[md.size() - 2] == '\n') md.pop_back();
  return md;
}

}  // namespace firedrill
