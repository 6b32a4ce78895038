#include "reports/json_report.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "runner/base/atomic_file.h"
#include "runner/base/utf8.h"
#include "runner/base/values.h"

#ifndef FIREDRILL_VERSION
#define FIREDRILL_VERSION "unknown"
#endif

namespace firedrill {

using nlohmann::json;

namespace {

json OrNull(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }
json OrNull(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

// Counts and sizes come out as integers (`ballast_bytes: 5242880`, not 5242880.0); a
// fraction stays a number with its decimals.
// A name with a dot is one figure of a group (`latency_ms.p50`), written nested, as the
// contract writes http.load's `latency_ms: {p50, p99}`.
json Figures(const std::map<std::string, double>& figures) {
  json out = json::object();
  for (const auto& [name, v] : figures) {
    constexpr double kExact = 9007199254740992.0;  // 2^53: every integer below is a double
    json value =
        std::trunc(v) == v && std::fabs(v) < kExact ? json(static_cast<int64_t>(v)) : json(v);
    const size_t dot = name.find('.');
    if (dot == std::string::npos) {
      out[ValidUtf8(name)] = std::move(value);
    } else {
      out[ValidUtf8(name.substr(0, dot))][ValidUtf8(name.substr(dot + 1))] = std::move(value);
    }
  }
  return out;
}

json Strings(const std::vector<std::string>& v) {
  json out = json::array();
  for (const auto& s : v) out.push_back(ValidUtf8(s));
  return out;
}

json MetricsJson(const Metrics& m) {
  json out = json::object();
  out["detected_after_ms"] = OrNull(m.detected_after_ms);
  out["failed_over_after_ms"] = OrNull(m.failed_over_after_ms);
  out["recovered_after_ms"] = OrNull(m.recovered_after_ms);
  out["acknowledged_after_ms"] = OrNull(m.acknowledged_after_ms);
  out["availability"] = OrNull(m.availability);
  // No `data:` section means nothing was measured: null as a whole. With one, losing
  // nothing is a real measurement of zero over a zero span (as in the contract's example);
  // a span is null only if writes were lost but their times are unknown.
  if (!m.data_lost_count) {
    out["data_lost"] = nullptr;
  } else {
    json span = OrNull(m.data_lost_span_ms);
    if (*m.data_lost_count == 0 && span.is_null()) span = 0;
    out["data_lost"] = {{"count", *m.data_lost_count},
                        {"span_ms", std::move(span)},
                        {"first_seqs", m.data_lost_first_seqs}};
  }
  out["longest_outage_ms"] = OrNull(m.longest_outage_ms);
  return out;
}

// Objectives measured in time carry `target_ms`/`actual_ms` like every other duration in
// the report. Those measured in something else (unit "writes": recovery.max_data_loss)
// carry `target`/`actual` instead, so that a key ending in _ms always holds milliseconds;
// `unit` (an extension) says which. A target or actual that does not exist is null.
json ObjectiveJson(const Objective& o) {
  json out = {{"name", ValidUtf8(o.name)}, {"met", o.met}, {"unit", o.unit}};
  const bool in_ms = o.unit == "ms";
  out[in_ms ? "target_ms" : "target"] = OrNull(o.target);
  out[in_ms ? "actual_ms" : "actual"] = OrNull(o.actual);
  out["advice"] = o.advice.empty() ? json(nullptr) : json(ValidUtf8(o.advice));
  return out;
}

// The contract's training object, and what firedrill adds to it: when the page came and
// from what, each hint with its moment and whether it was asked for, and giving up.
json TrainingJson(const RunRecord& run, const Outcome& outcome) {
  const TrainingRecord& t = *run.training;
  auto after = [&](const std::optional<int64_t>& at) -> json {
    if (!at || !run.first_fault_ms) return nullptr;
    return *at - *run.first_fault_ms;
  };
  json notes = json::array();
  for (const auto& n : t.notes) notes.push_back({{"t_ms", n.t_ms}, {"text", ValidUtf8(n.text)}});
  json hints = json::array();
  for (const auto& h : t.hints) {
    hints.push_back({{"t_ms", h.t_ms}, {"hint", h.index + 1}, {"asked", h.asked}});
  }
  return {{"trainee", ValidUtf8(t.trainee)},
          {"hints_used", t.hints.size()},
          {"notes", std::move(notes)},
          {"declarations", {{"true", t.declarations_true}, {"false", t.declarations_false}}},
          {"acknowledged_after_ms", after(run.acknowledged_at_ms)},
          {"first_note_after_ms",
           after(t.notes.empty() ? std::nullopt : std::optional<int64_t>(t.notes.front().t_ms))},
          {"recovered_after_ms", OrNull(outcome.metrics.recovered_after_ms)},
          // Extensions.
          {"hints_total", t.hints_total},
          {"hints", std::move(hints)},
          {"paged_after_ms", after(t.paged_at_ms)},
          {"page_source", ValidUtf8(t.page_source)},
          {"page_detail", ValidUtf8(t.page_detail)},
          {"first_fault_planned_ms", t.first_fault_planned_ms},
          {"gave_up", t.gave_up}};
}

}  // namespace

std::string FormatUtcMillis(std::chrono::system_clock::time_point t) {
  // floor, not truncation, so instants before 1970 still get a 0..999 millisecond part.
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const int64_t frac = ms - secs * 1000;
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

nlohmann::json ReportJson(const Scenario& scenario, const RunRecord& run, const Outcome& outcome,
                          const std::string& file) {
  json r = json::object();
  // The contract's keys (docs/report-format.md).
  r["format"] = kReportFormat;
  r["name"] = ValidUtf8(scenario.name);
  r["file"] = ValidUtf8(file);
  r["mode"] = run.mode;
  r["started_at"] = FormatUtcMillis(run.started_at);
  r["verdict"] = outcome.verdict;
  r["score"] = outcome.score;
  r["metrics"] = MetricsJson(outcome.metrics);

  json objectives = json::array();
  for (const auto& o : outcome.objectives) objectives.push_back(ObjectiveJson(o));
  r["objectives"] = std::move(objectives);

  // The verdicts come from scoring; the last probe detail (extension) from the raw record.
  std::map<std::string, const WatchRecord*> raw_watches;
  for (const auto& w : run.watches) raw_watches.emplace(w.name, &w);
  json watches = json::array();
  for (const auto& w : outcome.watches) {
    auto raw = raw_watches.find(w.name);
    watches.push_back({{"name", ValidUtf8(w.name)},
                       {"kind", w.kind},
                       {"within_ms", w.within_ms},
                       {"passed_after_ms", OrNull(w.passed_after_ms)},
                       {"met", w.met},
                       {"advice", w.advice.empty() ? json(nullptr) : json(ValidUtf8(w.advice))},
                       {"detail", raw == raw_watches.end() ? std::string()
                                                           : ValidUtf8(raw->second->last_detail)}});
  }
  if (run.mode == "dry-run") {
    for (size_t i = 0; i < outcome.watches.size(); ++i) {
      watches[i]["flagged"] = outcome.watches[i].flagged;
    }
  }
  r["watches"] = std::move(watches);

  json faults = json::array();
  for (const auto& f : run.faults) {
    faults.push_back({{"name", ValidUtf8(f.name)},
                      {"action", f.action},
                      {"injected_at_ms", OrNull(f.injected_at_ms)},
                      {"rolled_back_at_ms", OrNull(f.rolled_back_at_ms)},
                      {"rollback", f.rollback},
                      {"detail", ValidUtf8(f.detail)},
                      {"figures", Figures(f.figures)},
                      {"inject_failed", f.inject_failed}});
  }
  r["faults"] = std::move(faults);

  json probes = json::array();
  // A whole number (bytes, a count) stays an integer; anything else is a double.
  auto number = [](double v) -> json {
    if (std::nearbyint(v) == v && std::fabs(v) < 9e15) return static_cast<int64_t>(v);
    return v;
  };
  for (const auto& p : run.probes) {
    json entry = {
        {"name", ValidUtf8(p.name)},
        {"role", p.role},
        {"interval_ms", p.interval_ms},
        {"samples", p.samples},
        {"missed", p.missed},
        {"late_ms", {{"p50", p.late_p50_ms}, {"p99", p.late_p99_ms}, {"max", p.late_max_ms}}}};
    if (p.values > 0) {
      entry["values"] = {{"count", p.values},
                         {"min", number(p.value_min)},
                         {"max", number(p.value_max)},
                         {"last", number(p.value_last)}};
    }
    probes.push_back(std::move(entry));
  }
  r["probes"] = std::move(probes);

  json timeline = json::array();
  for (const auto& e : run.timeline) {
    timeline.push_back({{"t_ms", e.t_ms},
                        {"type", e.type},
                        {"name", ValidUtf8(e.name)},
                        {"detail", ValidUtf8(e.detail)}});
  }
  r["timeline"] = std::move(timeline);

  // Extensions.
  r["started_monotonic_ms"] = run.started_monotonic_ms;
  r["firedrill_version"] = FIREDRILL_VERSION;
  r["description"] = ValidUtf8(scenario.description);
  r["tags"] = Strings(scenario.tags);
  r["exit_code"] = outcome.exit_code;
  r["reasons"] = Strings(outcome.reasons);
  json parts = json::array();
  for (const auto& p : outcome.score_parts) {
    parts.push_back({{"part", p.part},
                     {"weight", p.weight},
                     {"value", p.value},
                     {"contribution", p.contribution}});
  }
  r["score_parts"] = std::move(parts);
  r["error"] = run.error.empty() ? json(nullptr) : json(ValidUtf8(run.error));
  r["aborted_reason"] = run.aborted
                            ? json(run.abort_reason.empty() ? std::string("no reason recorded")
                                                            : ValidUtf8(run.abort_reason))
                            : json(nullptr);
  r["leftovers"] = Strings(run.leftovers);
  r["journal"] =
      run.journal_path.empty()
          ? json(nullptr)
          : json({{"path", ValidUtf8(run.journal_path)}, {"closed", run.journal_closed}});
  r["steady_after_rollback"] =
      run.steady_after_rollback ? json(*run.steady_after_rollback) : json(nullptr);
  if (run.data) {
    r["data_writes"] = {{"attempted", run.data->attempted},
                        {"acknowledged", run.data->acknowledged},
                        {"verified", run.data->verified},
                        {"lost", run.data->lost}};
  } else {
    r["data_writes"] = nullptr;
  }
  if (run.training) r["training"] = TrainingJson(run, outcome);
  return r;
}

namespace {

// People read report.json too: keys come out in the order the contract documents them,
// the most telling first and the long timeline last, instead of alphabetically. Keys not
// listed follow in alphabetical order.
nlohmann::ordered_json InReadingOrder(const json& j) {
  static const std::vector<std::string> kOrder = {
      // top level
      "format", "name", "file", "mode", "started_at", "verdict", "score", "exit_code", "reasons",
      "score_parts", "error", "aborted_reason", "leftovers", "metrics", "objectives", "watches",
      "faults", "probes",
      // metrics
      "detected_after_ms", "failed_over_after_ms", "recovered_after_ms", "acknowledged_after_ms",
      "availability", "longest_outage_ms", "data_lost", "count", "span_ms", "first_seqs",
      // objectives, watches, faults, timeline entries
      "t_ms", "type", "kind", "action", "target_ms", "actual_ms", "target", "actual", "unit",
      "within_ms", "passed_after_ms", "injected_at_ms", "rolled_back_at_ms", "rollback", "met",
      "advice", "flagged", "detail", "figures", "role", "interval_ms", "samples", "missed",
      "late_ms", "p50", "p99", "max",
      // score_parts entries
      "part", "weight", "value", "contribution",
      // training
      "trainee", "hints_used", "notes", "declarations", "first_note_after_ms", "text", "true",
      "false"};
  static const std::vector<std::string> kLast = {"timeline"};
  if (j.is_array()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& e : j) out.push_back(InReadingOrder(e));
    return out;
  }
  if (!j.is_object()) return j;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& k : kOrder) {
    if (j.contains(k)) out[k] = InReadingOrder(j[k]);
  }
  for (const auto& [k, v] : j.items()) {
    if (!out.contains(k) && std::find(kLast.begin(), kLast.end(), k) == kLast.end()) {
      out[k] = InReadingOrder(v);
    }
  }
  for (const auto& k : kLast) {
    if (j.contains(k)) out[k] = InReadingOrder(j[k]);
  }
  return out;
}

}  // namespace

Status WriteJsonReport(const std::string& path, const nlohmann::json& report) {
  std::string text;
  try {
    // `replace` keeps a stray invalid byte from costing the whole report.
    text = InReadingOrder(report).dump(2, ' ', false, json::error_handler_t::replace);
  } catch (const json::exception& e) {
    return Status::Internal(fmt::format("serialising the report for {}: {}", path, e.what()));
  }
  text.push_back('\n');

  // A reader sees no report or a whole one; 0644: a report is meant to be read by others,
  // like any file the user would have written.
  return WriteFileAtomically(path, text, FileMeta{.mode = 0644});
}

}  // namespace firedrill
