#include "tests/reports/report_contract.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "reports/json_report.h"

namespace firedrill {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// CheckReportKeys

namespace {

enum class Kind { kString, kInteger, kNumber, kBool, kArray, kObject };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kString:
      return "a string";
    case Kind::kInteger:
      return "an integer";
    case Kind::kNumber:
      return "a number";
    case Kind::kBool:
      return "a boolean";
    case Kind::kArray:
      return "an array";
    case Kind::kObject:
      return "an object";
  }
  return "?";
}

bool IsKind(const json& v, Kind k) {
  switch (k) {
    case Kind::kString:
      return v.is_string();
    case Kind::kInteger:
      return v.is_number_integer();
    case Kind::kNumber:
      return v.is_number();
    case Kind::kBool:
      return v.is_boolean();
    case Kind::kArray:
      return v.is_array();
    case Kind::kObject:
      return v.is_object();
  }
  return false;
}

enum class Null { kNo, kYes };

class Checker {
 public:
  void Problem(const std::string& where, const std::string& what) {
    problems_.push_back(where + ": " + what);
  }

  // The value of `key` in `obj` if it is there with the right type (or null when that is
  // allowed; then the returned value is null), otherwise records why and returns nullptr.
  const json* Field(const json& obj, const std::string& where, const char* key, Kind kind,
                    Null nullable = Null::kNo) {
    const std::string at = Join(where, key);
    auto it = obj.find(key);
    if (it == obj.end()) {
      Problem(at, "missing");
      return nullptr;
    }
    if (it->is_null()) {
      if (nullable == Null::kYes) return &*it;
      Problem(at, fmt::format("is null; expected {}", KindName(kind)));
      return nullptr;
    }
    if (!IsKind(*it, kind)) {
      Problem(at, fmt::format("expected {}, got {}", KindName(kind), it->type_name()));
      return nullptr;
    }
    return &*it;
  }

  // Durations, offsets and counts: an integer >= 0 (or null when allowed).
  const json* NonNegative(const json& obj, const std::string& where, const char* key,
                          Null nullable) {
    const json* v = Field(obj, where, key, Kind::kInteger, nullable);
    if (v && v->is_number_integer() && v->get<int64_t>() < 0) {
      Problem(Join(where, key), fmt::format("is negative ({})", v->get<int64_t>()));
    }
    return v;
  }

  // An extension: checked only when present, since a report from another writer may lack it.
  const json* Optional(const json& obj, const std::string& where, const char* key, Kind kind,
                       Null nullable = Null::kNo) {
    if (!obj.contains(key)) return nullptr;
    return Field(obj, where, key, kind, nullable);
  }

  void OneOf(const json* v, const std::string& at, std::initializer_list<std::string_view> ok) {
    if (!v || !v->is_string()) return;
    const auto& s = v->get_ref<const std::string&>();
    for (auto o : ok) {
      if (s == o) return;
    }
    std::string list;
    for (auto o : ok) list += (list.empty() ? "" : "|") + std::string(o);
    Problem(at, fmt::format("\"{}\" is not one of {}", s, list));
  }

  void StringArray(const json* v, const std::string& at) {
    if (!v || !v->is_array()) return;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        Problem(fmt::format("{}[{}]", at, i),
                fmt::format("expected a string, got {}", (*v)[i].type_name()));
      }
    }
  }

  static std::string Join(const std::string& where, const char* key) {
    return where.empty() ? std::string(key) : where + "." + key;
  }

  std::vector<std::string> Take() { return std::move(problems_); }

 private:
  std::vector<std::string> problems_;
};

bool IsNum(const json* v) { return v && v->is_number(); }

// The exact shape FormatUtcMillis writes, with each field in range.
bool IsUtcMillis(std::string_view s) {
  static constexpr std::string_view kShape = "0000-00-00T00:00:00.000Z";  // 0: a digit
  if (s.size() != kShape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (kShape[i] == '0' ? !digit : s[i] != kShape[i]) return false;
  }
  auto num = [&](size_t pos, size_t len) { return std::stoi(std::string(s.substr(pos, len))); };
  const int month = num(5, 2), day = num(8, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && num(11, 2) <= 23 &&
         num(14, 2) <= 59 && num(17, 2) <= 60;  // 60: a leap second
}
bool IsNull(const json* v) { return v && v->is_null(); }

}  // namespace

std::vector<std::string> CheckReportKeys(const nlohmann::json& report) {
  Checker c;
  if (!report.is_object()) {
    c.Problem("report", fmt::format("expected an object, got {}", report.type_name()));
    return c.Take();
  }
  const json& r = report;

  if (const json* v = c.Field(r, "", "format", Kind::kString); v && *v != kReportFormat) {
    c.Problem("format", fmt::format("is {}; expected \"{}\"", v->dump(), kReportFormat));
  }
  if (const json* v = c.Field(r, "", "name", Kind::kString); v && v->get<std::string>().empty()) {
    c.Problem("name", "is empty");
  }
  c.Field(r, "", "file", Kind::kString);
  const json* mode = c.Field(r, "", "mode", Kind::kString);
  c.OneOf(mode, "mode", {"run", "train", "dry-run"});
  const bool dry_run = mode && mode->is_string() && *mode == "dry-run";
  if (const json* v = c.Field(r, "", "started_at", Kind::kString)) {
    if (!IsUtcMillis(v->get_ref<const std::string&>())) {
      c.Problem("started_at",
                fmt::format("{} is not UTC ISO-8601 with milliseconds (2026-11-21T23:18:00.632Z)",
                            v->dump()));
    }
  }
  c.Optional(r, "", "started_monotonic_ms", Kind::kInteger);
  const json* verdict = c.Field(r, "", "verdict", Kind::kString);
  c.OneOf(verdict, "verdict", {"passed", "failed", "aborted", "error"});
  if (const json* v = c.Field(r, "", "score", Kind::kInteger)) {
    const auto s = v->get<int64_t>();
    if (s < 0 || s > 100) c.Problem("score", fmt::format("{} is outside 0..100", s));
  }

  // Arrays first: the metrics are cross-checked against them.
  const json* faults = c.Field(r, "", "faults", Kind::kArray);
  bool any_injected = false;
  bool any_rollback_failed = false;
  if (faults) {
    for (size_t i = 0; i < faults->size(); ++i) {
      const std::string at = fmt::format("faults[{}]", i);
      const json& f = (*faults)[i];
      if (!f.is_object()) {
        c.Problem(at, fmt::format("expected an object, got {}", f.type_name()));
        continue;
      }
      c.Field(f, at, "name", Kind::kString);
      c.Field(f, at, "action", Kind::kString);
      const json* inj = c.NonNegative(f, at, "injected_at_ms", Null::kYes);
      const json* back = c.NonNegative(f, at, "rolled_back_at_ms", Null::kYes);
      const json* rb = c.Field(f, at, "rollback", Kind::kString);
      c.OneOf(rb, at + ".rollback", {"none", "ok", "failed"});
      c.Optional(f, at, "detail", Kind::kString);
      c.Optional(f, at, "inject_failed", Kind::kBool);
      // Numbers only, or groups of numbers (`latency_ms: {p50, p99}`): a figure that was not
      // measured is left out, never null or text.
      if (const json* figs = c.Optional(f, at, "figures", Kind::kObject)) {
        for (const auto& [k, v] : figs->items()) {
          if (v.is_object()) {
            for (const auto& [k2, v2] : v.items()) {
              if (!v2.is_number()) {
                c.Problem(at + ".figures." + k + "." + k2,
                          fmt::format("expected a number, got {}", v2.type_name()));
              }
            }
          } else if (!v.is_number()) {
            c.Problem(at + ".figures." + k,
                      fmt::format("expected a number, got {}", v.type_name()));
          }
        }
      }
      if (IsNum(inj)) any_injected = true;
      if (rb && rb->is_string()) {
        if (*rb == "none" && IsNum(back)) {
          c.Problem(at + ".rolled_back_at_ms",
                    fmt::format("is {} but rollback is \"none\" (nothing rolled back: null)",
                                back->dump()));
        }
        if (*rb == "ok" && IsNull(back)) {
          c.Problem(at + ".rolled_back_at_ms", "is null but rollback is \"ok\"");
        }
        if (*rb == "failed") any_rollback_failed = true;
      }
      if (IsNum(inj) && IsNum(back) && back->get<int64_t>() < inj->get<int64_t>()) {
        c.Problem(at + ".rolled_back_at_ms",
                  fmt::format("{} is before injected_at_ms {}", back->dump(), inj->dump()));
      }
    }
  }

  const json* watches = c.Field(r, "", "watches", Kind::kArray);
  bool any_detection_passed = false;
  int failover_watches = 0;
  int failover_passed = 0;
  if (watches) {
    for (size_t i = 0; i < watches->size(); ++i) {
      const std::string at = fmt::format("watches[{}]", i);
      const json& w = (*watches)[i];
      if (!w.is_object()) {
        c.Problem(at, fmt::format("expected an object, got {}", w.type_name()));
        continue;
      }
      c.Field(w, at, "name", Kind::kString);
      const json* kind = c.Field(w, at, "kind", Kind::kString);
      c.OneOf(kind, at + ".kind", {"detection", "failover", "custom"});
      const json* within = c.NonNegative(w, at, "within_ms", Null::kNo);
      const json* passed = c.NonNegative(w, at, "passed_after_ms", Null::kYes);
      const json* met = c.Field(w, at, "met", Kind::kBool);
      c.Optional(w, at, "detail", Kind::kString);
      const json* flagged = c.Optional(w, at, "flagged", Kind::kBool);
      if (flagged && !dry_run) c.Problem(at + ".flagged", "is only written in mode dry-run");
      if (flagged && flagged->is_boolean() && flagged->get<bool>() && IsNull(passed)) {
        c.Problem(at + ".flagged", "is true but the watch never passed");
      }
      const bool is_flagged = flagged && flagged->is_boolean() && flagged->get<bool>();
      const json* advice = c.Optional(w, at, "advice", Kind::kString, Null::kYes);
      if (met && met->is_boolean() && advice && met->get<bool>() && !advice->is_null() &&
          !is_flagged) {
        c.Problem(at + ".advice", "is given for a watch that was met");
      }
      if (kind && kind->is_string()) {
        if (*kind == "detection" && IsNum(passed)) any_detection_passed = true;
        if (*kind == "failover") {
          ++failover_watches;
          if (IsNum(passed)) ++failover_passed;
        }
      }
      // A dry run injects nothing: its watches count from the start of its fault phase.
      if (IsNum(passed) && !any_injected && faults && !dry_run) {
        c.Problem(at + ".passed_after_ms",
                  fmt::format("is {} but no fault was injected (counts from the first fault: "
                              "must be null)",
                              passed->dump()));
      }
      if (met && met->is_boolean() && met->get<bool>()) {
        if (IsNull(passed)) {
          c.Problem(at + ".met", "is true but passed_after_ms is null");
        } else if (IsNum(passed) && IsNum(within) &&
                   passed->get<int64_t>() > within->get<int64_t>()) {
          c.Problem(at + ".met", fmt::format("is true but passed_after_ms {} > within_ms {}",
                                             passed->dump(), within->dump()));
        }
      }
    }
  }

  // score_parts: the formula's terms; their contributions add up to the score.
  if (const json* parts = c.Optional(r, "", "score_parts", Kind::kArray)) {
    double sum = 0;
    for (size_t i = 0; i < parts->size(); ++i) {
      const std::string at = fmt::format("score_parts[{}]", i);
      const json& p = (*parts)[i];
      if (!p.is_object()) {
        c.Problem(at, fmt::format("expected an object, got {}", p.type_name()));
        continue;
      }
      const json* part = c.Field(p, at, "part", Kind::kString);
      c.OneOf(part, at + ".part", {"objectives", "watches", "availability", "speed"});
      c.Field(p, at, "weight", Kind::kNumber);
      const json* value = c.Field(p, at, "value", Kind::kNumber);
      if (value && value->is_number() && (value->get<double>() < 0 || value->get<double>() > 1)) {
        c.Problem(at + ".value", fmt::format("{} is outside 0..1", value->dump()));
      }
      const json* contribution = c.Field(p, at, "contribution", Kind::kNumber);
      if (contribution && contribution->is_number()) sum += contribution->get<double>();
    }
    const json& score = r.contains("score") ? r["score"] : json();
    if (score.is_number_integer() && !parts->empty() && std::lround(sum) != score.get<int64_t>()) {
      c.Problem("score_parts", fmt::format("contributions add up to {:.2f}, score is {}", sum,
                                           score.get<int64_t>()));
    }
  }

  const json* objectives = c.Field(r, "", "objectives", Kind::kArray);
  std::optional<bool> recovery_actual_null;
  std::optional<bool> data_loss_actual_null;
  if (objectives) {
    for (size_t i = 0; i < objectives->size(); ++i) {
      const std::string at = fmt::format("objectives[{}]", i);
      const json& o = (*objectives)[i];
      if (!o.is_object()) {
        c.Problem(at, fmt::format("expected an object, got {}", o.type_name()));
        continue;
      }
      const json* name = c.Field(o, at, "name", Kind::kString);
      const json* met = c.Field(o, at, "met", Kind::kBool);
      const json* unit = c.Optional(o, at, "unit", Kind::kString);
      const json* advice = c.Optional(o, at, "advice", Kind::kString, Null::kYes);
      if (met && met->is_boolean() && advice && met->get<bool>() && !advice->is_null()) {
        c.Problem(at + ".advice", "is given for an objective that was met");
      }
      // Time objectives use target_ms/actual_ms; the others (unit "writes") target/actual.
      // Without `unit` (another writer) the keys present decide.
      const bool has_ms = o.contains("target_ms") || o.contains("actual_ms");
      const bool has_plain = o.contains("target") || o.contains("actual");
      if (has_ms && has_plain) c.Problem(at, "has both target_ms/actual_ms and target/actual");
      const bool want_ms = unit && unit->is_string() ? *unit == "ms" : !has_plain;
      const json* target = c.NonNegative(o, at, want_ms ? "target_ms" : "target", Null::kYes);
      const json* actual = c.NonNegative(o, at, want_ms ? "actual_ms" : "actual", Null::kYes);
      if (met && met->is_boolean() && met->get<bool>() && IsNum(target)) {
        if (IsNull(actual)) {
          c.Problem(at + ".met", "is true but the actual value is null");
        } else if (IsNum(actual) && actual->get<int64_t>() > target->get<int64_t>()) {
          c.Problem(at + ".met", fmt::format("is true but actual {} > target {}", actual->dump(),
                                             target->dump()));
        }
      }
      if (name && name->is_string() && actual && (actual->is_null() || actual->is_number())) {
        if (*name == "recovery.within") recovery_actual_null = actual->is_null();
        if (*name == "recovery.max_data_loss") data_loss_actual_null = actual->is_null();
      }
    }
  }

  const json* timeline = c.Field(r, "", "timeline", Kind::kArray);
  if (timeline) {
    int64_t last = 0;
    for (size_t i = 0; i < timeline->size(); ++i) {
      const std::string at = fmt::format("timeline[{}]", i);
      const json& e = (*timeline)[i];
      if (!e.is_object()) {
        c.Problem(at, fmt::format("expected an object, got {}", e.type_name()));
        continue;
      }
      const json* t = c.NonNegative(e, at, "t_ms", Null::kNo);
      c.Field(e, at, "type", Kind::kString);
      c.Field(e, at, "name", Kind::kString);
      c.Field(e, at, "detail", Kind::kString);
      if (IsNum(t)) {
        if (t->get<int64_t>() < last) {
          c.Problem(at + ".t_ms",
                    fmt::format("{} is earlier than the event before it ({})", t->dump(), last));
        }
        last = t->get<int64_t>();
      }
    }
  }

  if (const json* m = c.Field(r, "", "metrics", Kind::kObject)) {
    const json* detected = c.NonNegative(*m, "metrics", "detected_after_ms", Null::kYes);
    const json* failed_over = c.NonNegative(*m, "metrics", "failed_over_after_ms", Null::kYes);
    const json* recovered = c.NonNegative(*m, "metrics", "recovered_after_ms", Null::kYes);
    const json* acked = c.NonNegative(*m, "metrics", "acknowledged_after_ms", Null::kYes);
    const json* avail = c.Field(*m, "metrics", "availability", Kind::kNumber, Null::kYes);
    if (IsNum(avail) && (avail->get<double>() < 0 || avail->get<double>() > 1)) {
      c.Problem("metrics.availability", fmt::format("{} is outside 0..1", avail->dump()));
    }
    const json* lost = c.Field(*m, "metrics", "data_lost", Kind::kObject, Null::kYes);
    if (lost && lost->is_object()) {
      const json* count = c.NonNegative(*lost, "metrics.data_lost", "count", Null::kNo);
      // An unknown span is tolerated only when something was lost; no loss spans 0 ms.
      const json* span = c.NonNegative(*lost, "metrics.data_lost", "span_ms", Null::kYes);
      if (IsNum(count) && count->get<int64_t>() == 0) {
        if (IsNull(span)) c.Problem("metrics.data_lost.span_ms", "is null but count is 0");
        if (IsNum(span) && span->get<int64_t>() != 0) {
          c.Problem("metrics.data_lost.span_ms", fmt::format("is {} but count is 0", span->dump()));
        }
      }
    }

    // Everything *_after_ms counts from the first fault: with none injected, none can exist.
    if (faults && !any_injected) {
      for (const char* key : {"detected_after_ms", "failed_over_after_ms", "recovered_after_ms",
                              "acknowledged_after_ms", "availability"}) {
        const json* v = m->contains(key) ? &(*m)[key] : nullptr;
        if (IsNum(v)) {
          c.Problem(
              std::string("metrics.") + key,
              fmt::format("is {} but no fault was injected (never happened: null)", v->dump()));
        }
      }
    }
    if (watches && any_injected) {
      if (IsNum(detected) && !any_detection_passed) {
        c.Problem("metrics.detected_after_ms",
                  fmt::format("is {} but no detection watch passed (never happened: null)",
                              detected->dump()));
      }
      if (IsNull(detected) && any_detection_passed) {
        c.Problem("metrics.detected_after_ms", "is null but a detection watch passed");
      }
      const bool all_failed_over = failover_watches > 0 && failover_passed == failover_watches;
      if (IsNum(failed_over) && !all_failed_over) {
        c.Problem("metrics.failed_over_after_ms",
                  fmt::format("is {} but not every failover watch passed ({} of {}; never "
                              "happened: null)",
                              failed_over->dump(), failover_passed, failover_watches));
      }
      if (IsNull(failed_over) && all_failed_over) {
        c.Problem("metrics.failed_over_after_ms", "is null but every failover watch passed");
      }
    }
    if (recovery_actual_null && recovered && *recovery_actual_null != recovered->is_null()) {
      c.Problem("metrics.recovered_after_ms",
                fmt::format("is {} but objective recovery.within has actual {}", recovered->dump(),
                            *recovery_actual_null ? "null" : "a value"));
    }
    if (mode && *mode == "run" && IsNum(acked)) {
      c.Problem(
          "metrics.acknowledged_after_ms",
          fmt::format("is {} in mode \"run\" (no trainee acknowledges: null)", acked->dump()));
    }
    if (IsNull(lost) && data_loss_actual_null && !*data_loss_actual_null) {
      c.Problem("metrics.data_lost",
                "is null but objective recovery.max_data_loss has an actual value");
    }
  }

  // Extensions (ReportJson writes them; another writer may not).
  const json* exit_code = c.Optional(r, "", "exit_code", Kind::kInteger);
  if (IsNum(exit_code) && verdict && verdict->is_string()) {
    const auto code = exit_code->get<int64_t>();
    static const std::map<std::string, std::set<int64_t>> kCodes = {
        {"passed", {0, 4}}, {"failed", {1, 4}}, {"aborted", {3, 4}}, {"error", {2, 4}}};
    auto it = kCodes.find(verdict->get<std::string>());
    // 4 goes with any verdict: a rollback that did not complete overrides it.
    if (it != kCodes.end() && !it->second.count(code)) {
      c.Problem("exit_code", fmt::format("{} does not go with verdict {}", code, verdict->dump()));
    }
    if (any_rollback_failed && code != 4) {
      c.Problem("exit_code", fmt::format("is {} but a rollback failed (must be 4)", code));
    }
  }
  c.StringArray(c.Optional(r, "", "reasons", Kind::kArray), "reasons");
  c.Optional(r, "", "error", Kind::kString, Null::kYes);
  c.Optional(r, "", "aborted_reason", Kind::kString, Null::kYes);
  const json* leftovers = c.Optional(r, "", "leftovers", Kind::kArray);
  c.StringArray(leftovers, "leftovers");
  if (any_rollback_failed && leftovers && leftovers->is_array() && leftovers->empty()) {
    c.Problem("leftovers", "is empty but a rollback failed (say what was left behind)");
  }
  c.Optional(r, "", "description", Kind::kString);
  c.StringArray(c.Optional(r, "", "tags", Kind::kArray), "tags");
  c.Optional(r, "", "firedrill_version", Kind::kString);
  c.Optional(r, "", "steady_after_rollback", Kind::kBool, Null::kYes);
  if (const json* j = c.Optional(r, "", "journal", Kind::kObject, Null::kYes);
      j && j->is_object()) {
    c.Optional(*j, "journal", "path", Kind::kString);
    c.Optional(*j, "journal", "closed", Kind::kBool);
  }
  if (const json* d = c.Optional(r, "", "data_writes", Kind::kObject, Null::kYes);
      d && d->is_object()) {
    for (const char* key : {"attempted", "acknowledged", "verified", "lost"}) {
      c.NonNegative(*d, "data_writes", key, Null::kNo);
    }
  }
  return c.Take();
}

}  // namespace firedrill
