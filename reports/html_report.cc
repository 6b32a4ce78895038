#include "reports/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include "reports/html_common.h"
#include "reports/html_timeline.h"
#include "runner/base/atomic_file.h"
#include "runner/base/values.h"

namespace firedrill {

namespace {

using html::Array;
using html::Bool;
using html::Escape;
using html::Int;
using html::Number;
using html::Object;
using html::Offset;
using html::Text;
using nlohmann::json;

constexpr const char* kNull = "—";
// Code points past which a detail scrolls in its cell (command output can be long).
constexpr size_t kLongDetail = 400;

// default-src 'none': the browser itself refuses anything the page would load (a font, an
// image, a script), so the report stays self-contained even if a renderer bug let a tag
// through; a refused load shows up as a console error, which the tests look for.
constexpr const char* kHead =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"color-scheme\" content=\"light\">\n";

constexpr const char* kStyle = R"css(<style>
:root{--pass:#1a7f37;--fail:#cf222e;--abort:#9a6700;--error:#8250df;--fault:#d4680b;
--rollback:#0969da;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--text:#1f2328}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--text);background:#fff;margin:0 auto;max-width:1240px;padding:24px}
h1{font-size:22px;margin:4px 0}
h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
code,.mono,td.detail,td.t{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.verdict{border-left:10px solid var(--v);background:var(--vbg);padding:16px 20px;border-radius:6px}
.v-passed{--v:var(--pass);--vbg:#dafbe1}.v-failed{--v:var(--fail);--vbg:#ffebe9}
.v-aborted{--v:var(--abort);--vbg:#fff8c5}.v-error{--v:var(--error);--vbg:#fbefff}
.verdict-line{display:flex;align-items:baseline;gap:28px;flex-wrap:wrap}
.verdict-word{font-size:52px;font-weight:800;letter-spacing:2px;color:var(--v);line-height:1}
.score{font-size:22px;color:var(--muted)}.score b{font-size:44px;color:var(--v)}
.desc{margin:4px 0;max-width:80ch}.meta{color:var(--muted);margin:6px 0 0;font-size:13px}
.tag{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 7px;margin-right:4px;background:#fff}
.reasons{border:1px solid var(--line);border-radius:6px;padding:10px 16px 10px 32px;margin:16px 0 0}
.reasons li{margin:2px 0}
.leftovers{border:2px solid var(--fail);background:#ffebe9;border-radius:6px;padding:10px 16px;margin:16px 0 0}
.leftovers h2{border:0;margin:0 0 4px;color:var(--fail)}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{font-size:12px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.detail{white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}
.ok{color:var(--pass);font-weight:700}.bad{color:var(--fail);font-weight:700}.none{color:var(--muted)}
.advice{color:var(--muted);font-size:12.5px;margin-top:2px}
.meter{width:120px;height:10px;vertical-align:middle}.meter-bg{fill:#eaeef2}.meter-fg{fill:var(--v,#0969da)}
figure.chart{margin:8px 0;border:1px solid var(--line);border-radius:6px;padding:6px 6px 2px}
svg.timeline{width:100%;height:auto;display:block;font-size:11px}
.lane-bg{fill:#fff}.lane-bg.odd{fill:var(--soft)}
.lane-label{fill:var(--text)}.group{font-weight:700;fill:var(--text);font-size:12px}
.note{fill:var(--muted);font-style:italic}
.bar-pass{fill:#aceebb}.bar-fail{fill:var(--fail)}.bar-flap{fill:#f5a4a9;stroke:var(--fail);stroke-width:.8}.bar-window{fill:#ddf4ff;stroke:#54aeff;stroke-width:.6}
.bar-fault{fill:#ffd8b5;stroke:var(--fault);stroke-width:.6}
.ph-a{fill:#eaeef2}.ph-b{fill:#d1d9e0}.ph-label{fill:var(--text);font-size:10.5px}
.mark{stroke:#fff;stroke-width:1}.m-fault{fill:var(--fault)}.m-rollback{fill:var(--rollback)}
.m-good{fill:var(--pass)}.m-bad{fill:none;stroke:var(--fail);stroke-width:2.4}
.m-response{fill:#8250df}.m-hint{fill:#d4a72c}.hint-q{font-size:10px;font-weight:700;fill:#fff;text-anchor:middle}
.count{font-size:10px;fill:var(--muted)}
.moment{stroke-width:1.2;stroke-dasharray:4 3}.mo-fault{stroke:var(--fault);fill:var(--fault)}
.mo-good{stroke:var(--pass);fill:var(--pass)}.mo-bad{stroke:var(--fail);fill:var(--fail)}
.mo-label{stroke:none;font-size:11px;font-weight:600}
.axis-line{stroke:var(--muted)}.grid{stroke:#d1d9e0;stroke-width:.6}.tick{fill:var(--muted);text-anchor:middle;font-size:10.5px}
ul.legend{list-style:none;padding:0;margin:6px 4px;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:var(--muted)}
ul.legend li{display:flex;align-items:center;gap:5px}
tr.t-phase td{background:var(--soft);font-weight:600}
tr.t-bad td.type{color:var(--fail);font-weight:700}tr.t-good td.type{color:var(--pass)}
tr.t-fault td.type{color:var(--fault);font-weight:700}tr.t-hint td.type{color:#9a6700;font-weight:700}
tr.t-response td.type{color:#8250df}
.long{max-height:7.5em;overflow:auto}
footer{margin-top:28px;color:var(--muted);font-size:12px}
@media print{
body{max-width:none;padding:0;font-size:11px}
.verdict,.leftovers,tr,svg,.bar-fail,.bar-pass{-webkit-print-color-adjust:exact;print-color-adjust:exact}
h2{break-after:avoid}tr,figure.chart{break-inside:avoid}
.long{max-height:none;overflow:visible}
}
</style>
)css";

std::string Ms(const std::optional<int64_t>& v) { return v ? HumanMillis(*v) : kNull; }

std::string Within(const std::optional<int64_t>& v) {
  return v ? FormatDuration(Millis(*v)) : kNull;
}

std::string MetCell(const std::optional<bool>& met) {
  if (!met) return fmt::format("<span class=\"none\">{}</span>", kNull);
  return *met ? "<span class=\"ok\">met</span>" : "<span class=\"bad\">missed</span>";
}

std::string Advice(const std::string& advice) {
  return advice.empty() ? "" : fmt::format("<div class=\"advice\">{}</div>", Escape(advice));
}

std::string Table(std::string_view head, const std::string& rows) {
  return fmt::format("<table><thead><tr>{}</tr></thead><tbody>\n{}</tbody></table>\n", head, rows);
}

// ---- the head of the page: verdict, score, what ran ----

std::string MetaLine(const json& r) {
  std::vector<std::string> parts;
  if (auto file = Text(r, "file"); !file.empty())
    parts.push_back("<code>" + Escape(file) + "</code>");
  if (auto mode = Text(r, "mode"); !mode.empty()) parts.push_back("mode " + Escape(mode));
  if (auto at = Text(r, "started_at"); !at.empty()) parts.push_back("started " + Escape(at));
  if (auto code = Int(r, "exit_code")) parts.push_back(fmt::format("exit code {}", *code));
  std::string tags;
  for (const auto& t : Array(r, "tags")) {
    if (t.is_string()) tags += "<span class=\"tag\">" + Escape(t.get<std::string>()) + "</span>";
  }
  if (!tags.empty()) parts.push_back(tags);
  std::string line;
  for (const auto& p : parts) line += (line.empty() ? "" : " · ") + p;
  return line;
}

std::string Header(const json& r) {
  const std::string verdict = Text(r, "verdict");
  const auto score = Int(r, "score");
  std::string s = fmt::format("<header class=\"verdict {}\">\n<div class=\"verdict-line\">",
                              html::VerdictClass(verdict));
  std::string word = verdict.empty() ? "no verdict" : verdict;
  for (auto& c : word) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  s += fmt::format("<span class=\"verdict-word\" id=\"verdict\">{}</span>", Escape(word));
  s += fmt::format("<span class=\"score\">score <b>{}</b>/100</span></div>\n",
                   score ? std::to_string(*score) : kNull);
  s += fmt::format("<h1>{}</h1>\n", Escape(Text(r, "name")));
  if (auto d = Text(r, "description"); !d.empty()) {
    s += fmt::format("<p class=\"desc\">{}</p>\n", Escape(d));
  }
  return s + fmt::format("<p class=\"meta\">{}</p>\n</header>\n", MetaLine(r));
}

std::string Reasons(const json& r) {
  std::string items;
  for (const auto& reason : Array(r, "reasons")) {
    if (reason.is_string()) items += "<li>" + Escape(reason.get<std::string>()) + "</li>\n";
  }
  if (items.empty()) {
    // An older report may say why only here.
    for (const char* key : {"error", "aborted_reason"}) {
      if (auto t = Text(r, key); !t.empty()) items += "<li>" + Escape(t) + "</li>\n";
    }
  }
  if (items.empty()) return "";
  return "<section id=\"reasons\"><h2>Why it did not pass</h2>\n<ul class=\"reasons\">\n" + items +
         "</ul></section>\n";
}

std::string Leftovers(const json& r) {
  std::string items;
  for (const auto& l : Array(r, "leftovers")) {
    if (l.is_string()) items += "<li><code>" + Escape(l.get<std::string>()) + "</code></li>\n";
  }
  if (items.empty()) return "";
  return "<section class=\"leftovers\" id=\"leftovers\"><h2>Left behind: clean up by hand</h2>"
         "<p>The rollback did not complete.</p><ul>\n" +
         items + "</ul></section>\n";
}

// ---- metrics against their objectives ----

struct MetricRow {
  MetricRow(std::string label, std::string measured)
      : label(std::move(label)), measured(std::move(measured)) {}
  std::string label;
  std::string measured;
  std::string objective = kNull;
  std::optional<bool> met;
  std::string advice;
};

const json* FindObjective(const json& r, std::string_view name) {
  for (const auto& o : Array(r, "objectives")) {
    if (Text(o, "name") == name) return &o;
  }
  return nullptr;
}

// "≤ 3s" or "≤ 0 writes": the target as the drill set it.
std::string Target(const json& o) {
  if (auto t = Int(o, "target_ms")) return "≤ " + FormatDuration(Millis(*t));
  if (auto t = Int(o, "target")) return fmt::format("≤ {} {}", *t, Text(o, "unit"));
  return kNull;
}

std::string Actual(const json& o) {
  if (auto a = Int(o, "actual_ms")) return HumanMillis(*a);
  if (auto a = Int(o, "actual")) return fmt::format("{} {}", *a, Text(o, "unit"));
  return kNull;
}

// MTTD and failover are measured by the watches of that kind: the objective is each one's
// `within`, met when all of them were.
MetricRow WatchMetric(const json& r, const char* label, const char* key, std::string_view kind) {
  MetricRow row(label, Ms(Int(Object(r, "metrics"), key)));
  std::string objective;
  for (const auto& w : Array(r, "watches")) {
    if (Text(w, "kind") != kind) continue;
    objective += fmt::format("{}{} ≤ {}", objective.empty() ? "" : ", ", Text(w, "name"),
                             Within(Int(w, "within_ms")));
    const bool met = Bool(w, "met").value_or(false);
    row.met = row.met.value_or(true) && met;
    if (auto a = Text(w, "advice"); !met && !a.empty()) {
      row.advice += (row.advice.empty() ? "" : "; ") + Text(w, "name") + ": " + a;
    }
  }
  if (!objective.empty()) row.objective = objective;
  return row;
}

MetricRow ObjectiveMetric(const json& r, const char* label, std::string measured,
                          std::string_view objective) {
  MetricRow row(label, std::move(measured));
  if (const json* o = FindObjective(r, objective)) {
    row.objective = fmt::format("{} {}", objective, Target(*o));
    row.met = Bool(*o, "met");
    row.advice = Text(*o, "advice");
  }
  return row;
}

std::string DataLost(const json& metrics) {
  const json& lost = Object(metrics, "data_lost");
  const auto count = Int(lost, "count");
  if (!count) return kNull;
  if (*count == 0) return "none";
  std::string s = fmt::format("{} {}", *count, *count == 1 ? "write" : "writes");
  if (auto span = Int(lost, "span_ms")) s += " over " + HumanMillis(*span);
  return s;
}

std::vector<MetricRow> MetricRows(const json& r) {
  const json& m = Object(r, "metrics");
  std::vector<MetricRow> rows;
  rows.push_back(WatchMetric(r, "Detected (MTTD)", "detected_after_ms", "detection"));
  rows.push_back(WatchMetric(r, "Failed over", "failed_over_after_ms", "failover"));
  rows.push_back(
      ObjectiveMetric(r, "Recovered (MTTR)", Ms(Int(m, "recovered_after_ms")), "recovery.within"));
  if (Int(m, "acknowledged_after_ms") || Text(r, "mode") == "train") {
    rows.emplace_back("Acknowledged (MTTA)", Ms(Int(m, "acknowledged_after_ms")));
  }
  const auto availability = Number(m, "availability");
  rows.emplace_back("Availability", availability ? html::Percent(*availability) : kNull);
  rows.push_back(ObjectiveMetric(r, "Data lost (RPO)", DataLost(m), "recovery.max_data_loss"));
  const json* rollback = FindObjective(r, "rollback.verified");
  rows.push_back(ObjectiveMetric(r, "Steady again after rollback",
                                 rollback ? Actual(*rollback) : kNull, "rollback.verified"));
  // Objectives this version has no row for still count.
  for (const auto& o : Array(r, "objectives")) {
    const std::string name = Text(o, "name");
    if (name == "recovery.within" || name == "recovery.max_data_loss" ||
        name == "rollback.verified") {
      continue;
    }
    MetricRow& row = rows.emplace_back(name, Actual(o));
    row.objective = name + " " + Target(o);
    row.met = Bool(o, "met");
    row.advice = Text(o, "advice");
  }
  return rows;
}

std::string Count(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : kNull; }

// What the data check counted, under the metrics it explains.
std::string DataWrites(const json& r) {
  const json& d = Object(r, "data_writes");
  if (d.empty()) return "";
  return fmt::format(
      "<p id=\"data-writes\">Data writes: {} attempted, {} acknowledged, {} verified, "
      "<b>{} lost</b>.</p>\n",
      Count(Int(d, "attempted")), Count(Int(d, "acknowledged")), Count(Int(d, "verified")),
      Count(Int(d, "lost")));
}

std::string MetricsSection(const json& r) {
  std::string rows;
  for (const auto& row : MetricRows(r)) {
    rows += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}{}</td></tr>\n",
                        Escape(row.label), Escape(row.measured), Escape(row.objective),
                        MetCell(row.met), Advice(row.advice));
  }
  return "<section id=\"metrics\"><h2>Metrics and objectives</h2>\n" +
         Table("<th>metric</th><th>measured</th><th>objective</th><th>status</th>", rows) +
         DataWrites(r) + "</section>\n";
}

// ---- the score's parts ----

std::string Meter(double value) {
  const double v = std::clamp(value, 0.0, 1.0);
  return fmt::format(
      "<svg viewBox=\"0 0 100 10\" class=\"meter\" aria-hidden=\"true\">"
      "<rect width=\"100\" height=\"10\" class=\"meter-bg\"/>"
      "<rect width=\"{:.1f}\" height=\"10\" class=\"meter-fg\"/></svg>",
      v * 100);
}

std::string ScoreSection(const json& r) {
  const json& parts = Array(r, "score_parts");
  if (parts.empty()) return "";
  std::string rows;
  double total = 0;
  for (const auto& p : parts) {
    const double value = Number(p, "value").value_or(0);
    const double contribution = Number(p, "contribution").value_or(0);
    total += contribution;
    rows += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{:g}</td><td>{} {}</td><td class=\"num\">{:.1f}</td>"
        "</tr>\n",
        Escape(Text(p, "part")), Number(p, "weight").value_or(0), Meter(value),
        html::Percent(value), contribution);
  }
  rows += fmt::format(
      "<tr><td><b>score</b></td><td></td><td></td><td class=\"num\"><b>{:.1f}</b></td></tr>\n",
      total);
  return "<section id=\"score\"><h2>The score's parts</h2>\n" +
         Table("<th>part</th><th>weight</th><th>value</th><th>points</th>", rows) + "</section>\n";
}

// ---- watches and faults ----

std::string WatchesSection(const json& r) {
  std::string rows;
  for (const auto& w : Array(r, "watches")) {
    rows += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"detail\">{}{}</td></tr>\n",
        MetCell(Bool(w, "met")), Escape(Text(w, "name")), Escape(Text(w, "kind")),
        Escape(Within(Int(w, "within_ms"))), Escape(Ms(Int(w, "passed_after_ms"))),
        Escape(Text(w, "detail")), Advice(Text(w, "advice")));
  }
  if (rows.empty()) return "";
  return "<section id=\"watches\"><h2>Watches</h2>\n" +
         Table(
             "<th>status</th><th>watch</th><th>kind</th><th>within</th><th>passed after</th>"
             "<th>last result</th>",
             rows) +
         "</section>\n";
}

std::string Injected(const json& f) {
  if (Bool(f, "inject_failed").value_or(false)) return "<span class=\"bad\">failed</span>";
  if (auto t = Int(f, "injected_at_ms")) return Escape(Offset(*t));
  return "<span class=\"none\">not injected</span>";
}

std::string Rollback(const json& f) {
  const std::string rollback = Text(f, "rollback");
  if (rollback == "failed") return "<span class=\"bad\">FAILED</span>";
  std::string s = Escape(rollback.empty() ? kNull : rollback);
  if (auto t = Int(f, "rolled_back_at_ms")) s += " at " + Escape(Offset(*t));
  return s;
}

std::string FaultsSection(const json& r) {
  std::string rows;
  for (const auto& f : Array(r, "faults")) {
    rows += fmt::format(
        "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td>"
        "<td class=\"detail\">{}</td></tr>\n",
        Escape(Text(f, "name")), Escape(Text(f, "action")), Injected(f), Rollback(f),
        Escape(Text(f, "detail")));
  }
  if (rows.empty()) return "";
  return "<section id=\"faults\"><h2>Faults</h2>\n" +
         Table("<th>fault</th><th>action</th><th>injected</th><th>rollback</th><th>detail</th>",
               rows) +
         "</section>\n";
}

// ---- the timeline ----

std::string ChartSection(const json& r) {
  return "<section id=\"timeline\"><h2>Timeline</h2>\n<figure class=\"chart\">" +
         html::TimelineSvg(r) + "\n<figcaption>" + html::TimelineLegend() +
         "</figcaption></figure>\n</section>\n";
}

// A long detail (command output) scrolls in its cell on screen, so one event does not push
// the rest of the table away; printed, it is shown whole (a folded <details> would print
// folded).
std::string DetailCell(const std::string& detail) {
  const std::string text = Escape(detail);
  if (html::Shorten(detail, kLongDetail).size() == detail.size()) return text;
  return "<div class=\"long\">" + text + "</div>";
}

std::string EventsSection(const json& r) {
  std::string rows;
  for (const auto& e : Array(r, "timeline")) {
    const std::string type = Text(e, "type");
    const auto t = Int(e, "t_ms");
    rows += fmt::format(
        "<tr class=\"{}\"><td class=\"t num\">{}</td><td class=\"type\">{}</td><td>{}</td>"
        "<td class=\"detail\">{}</td></tr>\n",
        html::ToneClass(html::ToneOf(type)), t ? Escape(Offset(*t)) : kNull, Escape(type),
        Escape(Text(e, "name")), DetailCell(Text(e, "detail")));
  }
  return "<section id=\"events\"><h2>Every event</h2>\n" +
         Table("<th>time</th><th>type</th><th>name</th><th>detail</th>", rows) + "</section>\n";
}

std::string Footer(const json& r) {
  std::string s = "<footer>";
  const json& journal = Object(r, "journal");
  if (auto path = Text(journal, "path"); !path.empty()) {
    s += fmt::format("Journal <code>{}</code> ({}). ", Escape(path),
                     Bool(journal, "closed").value_or(false) ? "closed" : "still open");
  }
  if (auto steady = Bool(r, "steady_after_rollback")) {
    s += *steady ? "The steady state held again after rollback. "
                 : "The steady state did not hold again after rollback. ";
  }
  s += fmt::format("Rendered from report.json ({}) written by firedrill {}.",
                   Escape(Text(r, "format")), Escape(Text(r, "firedrill_version")));
  return s + "</footer>\n";
}

}  // namespace

std::string HtmlReport(const json& report) {
  std::string s = kHead;
  s += fmt::format("<title>{} — {}</title>\n", Escape(Text(report, "name")),
                   Escape(Text(report, "verdict")));
  s += kStyle;
  s += "</head>\n<body>\n";
  s += Header(report);
  s += Reasons(report);
  s += Leftovers(report);
  s += MetricsSection(report);
  s += ScoreSection(report);
  s += WatchesSection(report);
  s += FaultsSection(report);
  s += ChartSection(report);
  s += EventsSection(report);
  s += Footer(report);
  return s + "</body>\n</html>\n";
}

Status WriteHtmlReport(const std::string& path, const json& report) {
  return WriteFileAtomically(path, HtmlReport(report), FileMeta{.mode = 0644});
}

}  // namespace firedrill
