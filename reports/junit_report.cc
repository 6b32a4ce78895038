#include "reports/junit_report.h"

#include <fmt/format.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include "reports/report_reader.h"
#include "runner/base/utf8.h"
#include "runner/base/values.h"

namespace firedrill {

using nlohmann::json;

namespace {

// ---- reading report.json ----
// The renderer also reads reports written by other versions (`firedrill report DIR`), so
// every key may be missing or of another type: each read says what it found, never throws.

using report_json::Array;
using report_json::FindEvent;
using report_json::Int;
using report_json::Member;
using report_json::Text;

bool True(const json& j, const char* key) { return report_json::Bool(j, key).value_or(false); }

// How long a phase lasted: from its own `phase` event to the next one.
int64_t PhaseMillis(const json& report, const char* phase) {
  std::optional<int64_t> start;
  for (const json& e : Array(report, "timeline")) {
    if (Text(e, "type") != "phase") continue;
    const int64_t t = Int(e, "t_ms").value_or(0);
    if (start) return std::max<int64_t>(0, t - *start);
    if (Text(e, "name") == phase) start = t;
  }
  return 0;
}

// ---- writing XML ----

// Skips a terminal escape sequence starting at text[at] (an ESC): CSI ("ESC [ ... final")
// and OSC ("ESC ] ... BEL" or "ESC ] ... ESC \"); any other ESC takes the byte after it.
// A coloured summary would otherwise leave "[31m" behind once the ESC is stripped.
size_t SkipEscape(std::string_view text, size_t at) {
  size_t i = at + 1;
  if (i >= text.size()) return i;
  if (text[i] == '[') {
    for (++i; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x40 && c <= 0x7e) return i + 1;
    }
    return i;
  }
  if (text[i] == ']') {
    for (++i; i < text.size(); ++i) {
      if (text[i] == '\a') return i + 1;
      if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '\\') return i + 2;
    }
    return i;
  }
  return i + 1;
}

// Appends `text` as XML 1.0 character data: markup characters as references, and what
// XML 1.0 forbids (control characters from command output, U+FFFE, U+FFFF) or discourages
// (DEL, the C1 controls) left out, since no parser accepts the former as a reference either.
// In an attribute, tab and line breaks become references, else a parser turns them into
// spaces; a carriage return always does, as parsers fold CRLF into LF.
void AppendEscaped(std::string& out, std::string_view text, bool attribute) {
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\x1b') {
      i = SkipEscape(text, i);
      continue;
    }
    const Utf8Step step = NextUtf8(text, i);
    if (!step.valid) {
      out += "\xEF\xBF\xBD";  // U+FFFD, as report.json itself would have it
      i += step.length;
      continue;
    }
    const char32_t c = step.code_point;
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += attribute ? "&quot;" : "\"";
        break;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      case '\r':
        out += "&#13;";
        break;
      default: {
        const bool forbidden = c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xfffe || c == 0xffff;
        if (!forbidden) out.append(text.substr(i, step.length));
      }
    }
    i += step.length;
  }
}

std::string Escaped(std::string_view text, bool attribute) {
  std::string out;
  out.reserve(text.size());
  AppendEscaped(out, text, attribute);
  return out;
}

// name="value", escaped, with a leading space.
std::string Attr(std::string_view name, std::string_view value) {
  return fmt::format(" {}=\"{}\"", name, Escaped(value, /*attribute=*/true));
}

// Seconds with millisecond precision, as JUnit's `time` (xs:decimal) wants them.
std::string Seconds(int64_t ms) {
  ms = std::max<int64_t>(0, ms);
  return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

std::string Hostname(const JunitOptions& options) {
  if (!options.hostname.empty()) return options.hostname;
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// ---- the cases ----

struct Case {
  enum class Outcome { kPassed, kFailure, kError };
  std::string name;
  int64_t time_ms = 0;
  Outcome outcome = Outcome::kPassed;
  std::string type;     // failure/error type
  std::string message;  // failure/error message
  std::string body;     // failure/error text
};

// Whether the run stopped before its fault phase could end by itself: aborted, or it could
// not go on. (A run whose only trouble is a leftover went through every phase.)
bool StoppedEarly(const json& report) {
  return Text(report, "verdict") == "aborted" || !Text(report, "error").empty();
}

// What a run that stopped early left undecided says about why.
std::string NotEvaluated(const json& report) {
  if (Text(report, "verdict") == "aborted") {
    const std::string why = Text(report, "aborted_reason");
    return "not evaluated: the run was aborted" + (why.empty() ? "" : " (" + why + ")");
  }
  const std::string error = Text(report, "error");
  return "not evaluated: " + (error.empty() ? "the run ended in error" : error);
}

std::string ErrorType(const json& report) {
  return Text(report, "verdict") == "aborted" ? "run.aborted" : "run.error";
}

// A figure of an objective, in its unit: "2.4s", "3 writes".
std::string Figure(int64_t v, bool in_ms) {
  return in_ms ? FormatDuration(Millis(v)) : fmt::format("{} write{}", v, v == 1 ? "" : "s");
}

Case ObjectiveCase(const json& report, const json& o) {
  Case c;
  c.name = Text(o, "name");
  // docs/report-format.md: read `unit` when present, else whichever pair is there.
  const std::string unit = Text(o, "unit");
  const bool in_ms = unit == "ms" || (unit.empty() && Member(o, "target_ms"));
  const std::optional<int64_t> target = Int(o, in_ms ? "target_ms" : "target");
  const std::optional<int64_t> actual = Int(o, in_ms ? "actual_ms" : "actual");
  if (in_ms && actual) c.time_ms = *actual;
  if (True(o, "met")) return c;

  // An objective with nothing measured was judged only if the phase measuring it ran: the
  // fault phase to its end for recovery.within, the verify phase for the others.
  const bool measured_in_verify = c.name != "recovery.within";
  const bool judged =
      actual || (measured_in_verify ? FindEvent(report, "phase", "verify") != nullptr
                                    : !StoppedEarly(report));
  if (!judged) {
    c.outcome = Case::Outcome::kError;
    c.type = ErrorType(report);
    c.message = NotEvaluated(report);
    return c;
  }
  const std::string t = target ? Figure(*target, in_ms) : "none";
  c.outcome = Case::Outcome::kFailure;
  c.type = "objective.missed";
  if (c.name == "recovery.within") {
    c.message = actual ? "recovered after " + Figure(*actual, true) + ", target " + t
                       : "did not recover, target " + t;
  } else if (c.name == "recovery.max_data_loss") {
    c.message = actual ? "lost " + Figure(*actual, false) + ", target at most " + t
                       : "data loss not measured, target at most " + t;
  } else if (c.name == "rollback.verified") {
    c.message =
        actual ? "steady state held again " + Figure(*actual, true) + " after rollback, target " + t
               : "steady state did not hold again after rollback, target " + t;
  } else {
    c.message = "actual " + (actual ? Figure(*actual, in_ms) : "none") + ", target " + t;
  }
  const std::string advice = Text(o, "advice");
  if (!advice.empty()) c.body = "advice: " + advice + "\n";
  return c;
}

Case WatchCase(const json& report, const json& w, std::optional<int64_t> first_fault_ms) {
  Case c;
  const std::string name = Text(w, "name");
  // Watches are named by the drill: the prefix keeps them apart from the fixed cases.
  c.name = "watch." + name;
  const std::optional<int64_t> passed = Int(w, "passed_after_ms");
  const std::optional<int64_t> within = Int(w, "within_ms");
  const json* missed = FindEvent(report, "watch.missed", name.c_str());
  if (passed) {
    c.time_ms = *passed;
  } else if (missed && first_fault_ms) {
    c.time_ms = Int(*missed, "t_ms").value_or(0) - *first_fault_ms;
  }
  // A dry run injects nothing: a watch there is judged only on whether it passes without a
  // fault (a detection watch that does cannot detect anything).
  if (Text(report, "mode") == "dry-run") {
    if (!True(w, "flagged")) return c;
    c.outcome = Case::Outcome::kFailure;
    c.type = "watch.passes_without_fault";
    c.message = "passed " + FormatDuration(Millis(passed.value_or(0))) +
                " into the dry run with no fault injected: it cannot detect anything";
    return c;
  }
  if (True(w, "met")) return c;

  if (!passed && !missed && StoppedEarly(report)) {
    c.outcome = Case::Outcome::kError;
    c.type = ErrorType(report);
    c.message = NotEvaluated(report);
    return c;
  }
  // Judged missed: it was watched for its whole `within` (a run can end that very moment,
  // before the watch.missed event is written).
  if (!passed && !missed && within) c.time_ms = *within;
  const std::string w_text = within ? FormatDuration(Millis(*within)) : "none";
  c.outcome = Case::Outcome::kFailure;
  c.type = "watch.missed";
  c.message = passed ? "passed after " + FormatDuration(Millis(*passed)) + ", within " + w_text
                     : "did not pass within " + w_text;
  const std::string kind = Text(w, "kind");
  const std::string detail = Text(w, "detail");
  const std::string advice = Text(w, "advice");
  c.body = (kind.empty() ? "" : "kind " + kind + "\n") +
           (detail.empty() ? "" : "last result: " + detail + "\n") +
           (advice.empty() ? "" : "advice: " + advice + "\n");
  return c;
}

Case RollbackCase(const json& report) {
  Case c;
  c.name = "rollback";
  c.time_ms = PhaseMillis(report, "rollback");
  std::vector<std::string> failed;
  for (const json& f : Array(report, "faults")) {
    if (Text(f, "rollback") != "failed") continue;
    const std::string name = Text(f, "name");
    failed.push_back(name);
    const json* e = FindEvent(report, "fault.rollback_failed", name.c_str());
    c.body += name + ": " + (e ? Text(*e, "detail") : Text(f, "detail")) + "\n";
  }
  if (failed.empty()) return c;
  // Not a missed target: something the drill did could not be undone, which is why the
  // verdict is error.
  c.outcome = Case::Outcome::kError;
  c.type = "rollback.failed";
  std::string names;
  for (const auto& n : failed) names += (names.empty() ? "" : ", ") + n;
  c.message = fmt::format("rollback did not complete for {} fault{}: {}", failed.size(),
                          failed.size() == 1 ? "" : "s", names);
  return c;
}

Case TeardownCase(const json& report) {
  Case c;
  c.name = "teardown";
  c.time_ms = PhaseMillis(report, "teardown");
  std::vector<std::string> left;
  for (const json& l : Array(report, "leftovers")) {
    if (l.is_string()) left.push_back(l.get<std::string>());
  }
  if (left.empty()) return c;
  c.outcome = Case::Outcome::kError;
  c.type = "teardown.leftovers";
  c.message = "left behind: " + left.front() +
              (left.size() > 1 ? fmt::format(" (and {} more)", left.size() - 1) : "");
  for (const auto& l : left) c.body += l + "\n";
  return c;
}

std::vector<Case> Cases(const json& report) {
  std::optional<int64_t> first_fault;
  for (const json& f : Array(report, "faults")) {
    if (auto t = Int(f, "injected_at_ms")) first_fault = std::min(first_fault.value_or(*t), *t);
  }
  std::vector<Case> cases;
  for (const json& o : Array(report, "objectives")) cases.push_back(ObjectiveCase(report, o));
  for (const json& w : Array(report, "watches")) cases.push_back(WatchCase(report, w, first_fault));
  cases.push_back(RollbackCase(report));
  cases.push_back(TeardownCase(report));
  return cases;
}

// ---- properties ----

std::string PropertyValue(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Nested objects (metrics.data_lost) become dotted names, one property per value.
void Flatten(const std::string& prefix, const json& v,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [k, item] : v.items()) Flatten(prefix + "." + k, item, out);
  } else {
    out.emplace_back(prefix, PropertyValue(v));
  }
}

std::vector<std::pair<std::string, std::string>> Properties(const json& report) {
  std::vector<std::pair<std::string, std::string>> props;
  for (const char* key :
       {"verdict", "score", "exit_code", "file", "mode", "started_at", "firedrill_version"}) {
    if (const json* v = Member(report, key)) props.emplace_back(key, PropertyValue(*v));
  }
  std::string tags;
  for (const json& t : Array(report, "tags")) {
    if (t.is_string()) tags += (tags.empty() ? "" : ",") + t.get<std::string>();
  }
  props.emplace_back("tags", tags);
  // The score's parts: the points each term of the formula added (score_parts).
  for (const json& p : Array(report, "score_parts")) {
    const std::string part = Text(p, "part");
    const json* points = Member(p, "contribution");
    if (part.empty() || !points || !points->is_number()) continue;
    props.emplace_back("score." + part, fmt::format("{:.2f}", points->get<double>()));
  }
  // The metrics in report-format.md's order, then any a later version adds.
  const json* metrics = Member(report, "metrics");
  if (metrics && metrics->is_object()) {
    static constexpr const char* kOrder[] = {"detected_after_ms",  "failed_over_after_ms",
                                             "recovered_after_ms", "acknowledged_after_ms",
                                             "availability",       "data_lost"};
    for (const char* key : kOrder) {
      if (const json* v = Member(*metrics, key)) Flatten(std::string("metrics.") + key, *v, props);
    }
    for (const auto& [k, v] : metrics->items()) {
      if (std::find(std::begin(kOrder), std::end(kOrder), k) == std::end(kOrder)) {
        Flatten("metrics." + k, v, props);
      }
    }
  }
  return props;
}

// ---- one suite ----

// <system-err>: why the run did not pass. `reasons` already holds the error and the abort;
// they are added only if a report lacks them there.
std::string SystemErr(const json& report) {
  std::string out;
  for (const json& r : Array(report, "reasons")) {
    if (r.is_string()) out += r.get<std::string>() + "\n";
  }
  for (const char* key : {"error", "aborted_reason"}) {
    const std::string v = Text(report, key);
    if (!v.empty() && out.find(v) == std::string::npos) out += v + "\n";
  }
  return out;
}

void AppendSuite(std::string& out, const JunitSuite& suite, size_t id,
                 const std::string& hostname) {
  const json& r = suite.report;
  const std::string name = Text(r, "name");
  const std::vector<Case> cases = Cases(r);
  const auto count = [&](Case::Outcome o) {
    return std::count_if(cases.begin(), cases.end(), [o](const Case& c) { return c.outcome == o; });
  };
  int64_t duration_ms = 0;
  for (const json& e : Array(r, "timeline"))
    duration_ms = std::max(duration_ms, Int(e, "t_ms").value_or(0));
  const std::string timestamp = JunitTimestamp(Text(r, "started_at"));

  out += "  <testsuite" + Attr("name", name) + Attr("package", Text(r, "file")) +
         Attr("id", std::to_string(id)) + Attr("hostname", hostname) +
         (timestamp.empty() ? "" : Attr("timestamp", timestamp)) +
         Attr("tests", std::to_string(cases.size())) +
         Attr("failures", std::to_string(count(Case::Outcome::kFailure))) +
         Attr("errors", std::to_string(count(Case::Outcome::kError))) +
         // Every case is judged or carries <error>: nothing is ever skipped.
         Attr("skipped", "0") + Attr("time", Seconds(duration_ms)) + ">\n";

  out += "    <properties>\n";
  for (const auto& [k, v] : Properties(r)) {
    out += "      <property" + Attr("name", k) + Attr("value", v) + "/>\n";
  }
  out += "    </properties>\n";

  for (const Case& c : cases) {
    out += "    <testcase" + Attr("name", c.name) + Attr("classname", name) +
           Attr("time", Seconds(c.time_ms));
    if (c.outcome == Case::Outcome::kPassed) {
      out += "/>\n";
      continue;
    }
    const char* element = c.outcome == Case::Outcome::kFailure ? "failure" : "error";
    out +=
        fmt::format(">\n      <{}{}{}", element, Attr("type", c.type), Attr("message", c.message));
    if (c.body.empty()) {
      out += "/>\n";
    } else {
      out += fmt::format(">{}</{}>\n", Escaped(c.body, false), element);
    }
    out += "    </testcase>\n";
  }
  out += "    <system-out>" + Escaped(suite.summary, false) + "</system-out>\n";
  out += "    <system-err>" + Escaped(SystemErr(r), false) + "</system-err>\n";
  out += "  </testsuite>\n";
}

bool Digits(std::string_view s, size_t from, size_t n) {
  for (size_t i = from; i < from + n; ++i) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

}  // namespace

std::string JunitTimestamp(const std::string& started_at) {
  // report.json's one shape: YYYY-MM-DDTHH:MM:SS.mmmZ.
  const std::string_view s = started_at;
  const bool ok = s.size() == 24 && Digits(s, 0, 4) && s[4] == '-' && Digits(s, 5, 2) &&
                  s[7] == '-' && Digits(s, 8, 2) && s[10] == 'T' && Digits(s, 11, 2) &&
                  s[13] == ':' && Digits(s, 14, 2) && s[16] == ':' && Digits(s, 17, 2) &&
                  s[19] == '.' && Digits(s, 20, 3) && s[23] == 'Z';
  return ok ? started_at.substr(0, 19) : std::string();
}

std::string JunitXml(const std::vector<JunitSuite>& suites, const JunitOptions& options) {
  const std::string hostname = Hostname(options);
  // No attributes on the root: the strict Ant schema allows none, and junit-10's totals
  // are what every reader adds up from the suites anyway.
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  for (size_t i = 0; i < suites.size(); ++i) AppendSuite(out, suites[i], i, hostname);
  out += "</testsuites>\n";
  return out;
}

}  // namespace firedrill
