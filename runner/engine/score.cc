#include "runner/engine/score.h"

#include <algorithm>
#include <cmath>

#include "runner/base/values.h"

namespace firedrill {

const char* const kScoreFormula =
    R"(score = round(100 * sum(weight * part) / sum(weight)), over the parts that apply:
  objectives  weight 40  share of objectives met (recovery.within, recovery.max_data_loss, rollback.verified)
  watches     weight 30  share of watches met within their `within` (left out when there are none)
  availability weight 20 share of steady-state samples that passed while faults were active
                         (left out when no sample fell in that window)
  speed       weight 10  1 - recovered_after / recovery.within, clamped to 0..1 (0 when not recovered)
In `firedrill train`, two parts more, for the trainee:
  acknowledgement weight 10  1 - acknowledged_after / recovery.within, clamped to 0..1
                             (0 when the page was never acknowledged)
  hints       weight 10  1 - hints used / the drill's hints (left out when it has none)
A run whose verdict is error or aborted scores 0.)";

namespace {

std::optional<int64_t> After(const std::optional<int64_t>& at,
                             const std::optional<int64_t>& origin) {
  if (!at || !origin) return std::nullopt;
  return *at - *origin;
}

// A run that could not be carried out, or was stopped, is judged on that alone: verdict
// error (something failed or was left behind) before aborted, each with its reasons, and no
// advice (nothing was judged). Returns false, changing nothing, for a run that went through.
bool StoppedVerdict(const RunRecord& run, Outcome& o) {
  if (!run.error.empty() || !run.leftovers.empty()) {
    o.verdict = "error";
    o.exit_code = 4;
    o.reasons.clear();
    if (!run.error.empty()) o.reasons.push_back(run.error);
    for (const auto& l : run.leftovers) o.reasons.push_back("left behind: " + l);
  } else if (run.aborted) {
    o.verdict = "aborted";
    o.exit_code = 3;
    o.reasons.assign({"aborted: " + run.abort_reason});
  } else {
    return false;
  }
  for (auto& obj : o.objectives) obj.advice.clear();
  for (auto& w : o.watches) w.advice.clear();
  return true;
}

// A dry run injects nothing, so there is nothing to measure a recovery from. It is judged
// on what it is for: did the steady state hold throughout the would-be fault phase, and
// does any detection watch already pass without a fault (then it cannot detect one)? It is
// not scored (score 0, no parts): a rehearsal of the drill is not a result of the system.
// The longest stretch in [from, to] during which some check's latest sample failed: from
// the sample that made the first check fail to the one that made the last pass again (or
// the last sample seen, if none did).
int64_t LongestOutage(const std::vector<SteadyRecord>& steady, int64_t from, int64_t to) {
  struct Change {
    int64_t t;
    size_t check;
    bool passed;
  };
  std::vector<Change> samples;
  for (size_t i = 0; i < steady.size(); ++i) {
    for (const auto& s : steady[i].samples) {
      if (s.t_ms >= from && s.t_ms <= to) samples.push_back({s.t_ms, i, s.passed});
    }
  }
  std::stable_sort(samples.begin(), samples.end(),
                   [](const Change& a, const Change& b) { return a.t < b.t; });
  std::vector<bool> failing(steady.size(), false);
  size_t down = 0;
  int64_t since = 0, longest = 0;
  for (const auto& c : samples) {
    if (failing[c.check] == !c.passed) continue;
    failing[c.check] = !c.passed;
    if (!c.passed && down++ == 0) since = c.t;
    if (c.passed && --down == 0) longest = std::max(longest, c.t - since);
  }
  if (down > 0 && !samples.empty()) longest = std::max(longest, samples.back().t - since);
  return longest;
}

Outcome ScoreDryRun(const Scenario& s, const RunRecord& run) {
  Outcome o;
  const int64_t from = run.dry_run_from_ms.value_or(0);
  const int64_t planned = run.dry_run_planned_ms;
  // How long the steady state held: until its first failing sample in the phase.
  std::optional<int64_t> first_fail;
  std::string failed_check;
  for (const auto& c : run.steady) {
    for (const auto& smp : c.samples) {
      if (smp.passed || smp.t_ms < from) continue;
      if (!first_fail || smp.t_ms < *first_fail) {
        first_fail = smp.t_ms;
        failed_check = c.name;
      }
      break;
    }
  }
  const bool reached = run.dry_run_from_ms.has_value() && run.fault_phase_end_ms.has_value();
  Objective held{"steady_state.held", planned, std::nullopt, false, "ms", ""};
  if (reached) {
    held.actual = first_fail ? *first_fail - from : planned;
    held.met = !first_fail;
    if (first_fail) {
      held.advice =
          "check " + failed_check + " failed " + FormatDuration(Millis(held.actual.value())) +
          " into the dry run, with nothing injected: the drill's hypothesis does not hold "
          "by itself";
    }
  }
  o.objectives.push_back(held);
  for (const auto& w : run.watches) {
    WatchVerdict v{w.name, w.kind, w.within_ms, std::nullopt, false, "", false};
    if (w.passed_at_ms && run.dry_run_from_ms) v.passed_after_ms = *w.passed_at_ms - from;
    v.met = v.passed_after_ms && *v.passed_after_ms <= v.within_ms;
    if (w.kind == "detection" && v.passed_after_ms) {
      v.flagged = true;
      v.advice = "passes with no fault injected: it cannot detect anything";
    }
    o.watches.push_back(v);
  }
  for (const auto& w : o.watches) {
    if (w.flagged) o.reasons.push_back("watch " + w.name + " (detection) " + w.advice);
  }
  if (reached && first_fail) {
    o.reasons.push_back("steady state did not hold during the dry run: " + held.advice);
  }
  if (!StoppedVerdict(run, o)) {
    o.verdict = o.reasons.empty() ? "passed" : "failed";
    o.exit_code = o.reasons.empty() ? 0 : 1;
  }
  (void)s;
  return o;
}

}  // namespace

Outcome Score(const Scenario& s, const RunRecord& run) {
  if (run.mode == "dry-run") return ScoreDryRun(s, run);
  Outcome o;
  const auto& first = run.first_fault_ms;

  // ---- metrics ----
  for (const auto& w : run.watches) {
    if (w.kind == "detection" && w.passed_at_ms) {
      auto a = After(w.passed_at_ms, first);
      if (a && (!o.metrics.detected_after_ms || *a < *o.metrics.detected_after_ms))
        o.metrics.detected_after_ms = a;
    }
  }
  bool any_failover = false, all_failover = true;
  int64_t failover_at = 0;
  for (const auto& w : run.watches) {
    if (w.kind != "failover") continue;
    any_failover = true;
    if (!w.passed_at_ms)
      all_failover = false;
    else
      failover_at = std::max(failover_at, *w.passed_at_ms);
  }
  if (any_failover && all_failover) o.metrics.failed_over_after_ms = After(failover_at, first);
  o.metrics.recovered_after_ms = After(run.recovered_at_ms, first);
  o.metrics.acknowledged_after_ms = After(run.acknowledged_at_ms, first);

  if (first) {
    // The fault window: from the first injection until the system recovered and every
    // timed fault was over (or, if it never recovered, until observation stopped).
    int64_t end =
        run.recovered_at_ms ? *run.recovered_at_ms : run.fault_phase_end_ms.value_or(*first);
    if (run.faults_ended_ms) end = std::max(end, *run.faults_ended_ms);
    int64_t total = 0, passed = 0;
    for (const auto& c : run.steady) {
      for (const auto& smp : c.samples) {
        if (smp.t_ms < *first || smp.t_ms > end) continue;
        ++total;
        passed += smp.passed ? 1 : 0;
      }
    }
    if (total > 0)
      o.metrics.availability = static_cast<double>(passed) / static_cast<double>(total);
    o.metrics.longest_outage_ms = LongestOutage(run.steady, *first, end);
  }
  if (run.data && run.steady_after_rollback) {
    o.metrics.data_lost_count = run.data->lost;
    o.metrics.data_lost_span_ms =
        (run.data->lost > 0 && run.data->first_lost_ack_ms && run.data->last_lost_ack_ms)
            ? *run.data->last_lost_ack_ms - *run.data->first_lost_ack_ms
            : 0;
    o.metrics.data_lost_first_seqs = run.data->first_lost_seqs;
  }

  // ---- objectives ----
  {
    Objective rto{"recovery.within",
                  s.recovery.within.count(),
                  o.metrics.recovered_after_ms,
                  false,
                  "ms",
                  ""};
    rto.met = rto.actual && *rto.actual <= *rto.target;
    o.objectives.push_back(rto);
  }
  if (s.data && s.recovery.max_data_loss) {
    Objective rpo{"recovery.max_data_loss",
                  *s.recovery.max_data_loss,
                  o.metrics.data_lost_count,
                  false,
                  "writes",
                  ""};
    rpo.met = rpo.actual && *rpo.actual <= *rpo.target;
    o.objectives.push_back(rpo);
  }
  {
    Objective verify{
        "rollback.verified", s.settings.settle.count(), run.verify_took_ms, false, "ms", ""};
    verify.met = run.steady_after_rollback.value_or(false);
    o.objectives.push_back(verify);
  }

  // ---- watches ----
  for (const auto& w : run.watches) {
    WatchVerdict v{w.name, w.kind, w.within_ms, After(w.passed_at_ms, first), false, "", false};
    v.met = v.passed_after_ms && *v.passed_after_ms <= v.within_ms;
    o.watches.push_back(v);
  }

  // ---- advice: one line per missed item, from what was measured ----
  for (size_t i = 0; i < o.watches.size(); ++i) {
    WatchVerdict& v = o.watches[i];
    if (v.met) continue;
    if (v.passed_after_ms) {
      v.advice = "passed after " + FormatDuration(Millis(*v.passed_after_ms)) + ", " +
                 FormatDuration(Millis(*v.passed_after_ms - v.within_ms)) +
                 " later than its within " + FormatDuration(Millis(v.within_ms)) + ": the " +
                 v.kind + " is slower than the drill allows";
    } else {
      const std::string& last = run.watches[i].last_detail;
      v.advice = "never passed" +
                 (run.fault_phase_end_ms && first
                      ? " in the " + FormatDuration(Millis(*run.fault_phase_end_ms - *first)) +
                            " watched after the first fault"
                      : std::string()) +
                 (last.empty() ? std::string() : "; its last sample: " + last);
    }
  }
  for (Objective& obj : o.objectives) {
    if (obj.met) continue;
    if (obj.name == "recovery.within") {
      obj.advice = obj.actual ? "recovered " + FormatDuration(Millis(*obj.actual - *obj.target)) +
                                    " after the target " + FormatDuration(Millis(*obj.target))
                              : "the steady state never held for steady_for " +
                                    FormatDuration(s.recovery.steady_for) + " within the target " +
                                    FormatDuration(Millis(*obj.target));
    } else if (obj.name == "recovery.max_data_loss") {
      if (!obj.actual) {
        obj.advice = "no verification: the steady state did not hold after rollback";
      } else {
        obj.advice = std::to_string(*obj.actual - *obj.target) + " write(s) over the target " +
                     std::to_string(*obj.target);
        if (run.data && run.data->first_lost_ack_ms && first) {
          // A restore from an old backup loses writes acknowledged before the fault too.
          const int64_t d = *run.data->first_lost_ack_ms - *first;
          obj.advice += "; the first lost write was acknowledged " +
                        FormatDuration(Millis(d < 0 ? -d : d)) +
                        (d < 0 ? " before the first fault" : " after the first fault");
        }
      }
    } else {
      obj.advice = "the steady state did not hold within settle " +
                   FormatDuration(s.settings.settle) + " after rollback: something stayed broken";
    }
  }

  // ---- verdict ----
  for (const auto& w : o.watches) {
    if (!w.met) {
      o.reasons.push_back("watch " + w.name + " (" + w.kind + ") not met within " +
                          FormatDuration(Millis(w.within_ms)));
    }
  }
  for (const auto& obj : o.objectives) {
    if (obj.met) continue;
    if (obj.name == "recovery.within") {
      o.reasons.push_back(obj.actual ? "recovered after " + FormatDuration(Millis(*obj.actual)) +
                                           ", later than recovery.within " +
                                           FormatDuration(Millis(*obj.target))
                                     : "steady state did not come back (and hold for " +
                                           FormatDuration(s.recovery.steady_for) + ") within " +
                                           FormatDuration(Millis(*obj.target)));
    } else if (obj.name == "recovery.max_data_loss") {
      o.reasons.push_back(obj.actual ? std::to_string(*obj.actual) +
                                           " acknowledged writes lost, more than max_data_loss " +
                                           std::to_string(*obj.target)
                                     : "data loss could not be measured");
    } else {
      o.reasons.push_back("steady state did not hold again after rollback");
    }
  }
  if (!StoppedVerdict(run, o)) {
    const bool all_met = o.reasons.empty();
    o.verdict = all_met ? "passed" : "failed";
    o.exit_code = all_met ? 0 : 1;
    // A trainee is judged on the recovery: the watches judge the monitoring, which is not
    // theirs to fix in a session.
    if (run.training) {
      o.exit_code =
          o.metrics.recovered_after_ms && *o.metrics.recovered_after_ms <= s.recovery.within.count()
              ? 0
              : 1;
    }
  }

  // ---- score ----
  if (o.verdict == "passed" || o.verdict == "failed") {
    auto part = [&](const char* name, double weight, double value) {
      o.score_parts.push_back({name, weight, std::clamp(value, 0.0, 1.0), 0});
    };
    int met = 0;
    for (const auto& obj : o.objectives) met += obj.met;
    part("objectives", 40,
         o.objectives.empty() ? 1.0 : static_cast<double>(met) / o.objectives.size());
    if (!o.watches.empty()) {
      int wm = 0;
      for (const auto& w : o.watches) wm += w.met;
      part("watches", 30, static_cast<double>(wm) / o.watches.size());
    }
    if (o.metrics.availability) part("availability", 20, *o.metrics.availability);
    double speed = 0;
    if (o.metrics.recovered_after_ms) {
      speed = 1.0 - static_cast<double>(*o.metrics.recovered_after_ms) /
                        static_cast<double>(s.recovery.within.count());
    }
    part("speed", 10, speed);
    if (run.training) {
      double ack = 0;
      if (o.metrics.acknowledged_after_ms) {
        ack = 1.0 - static_cast<double>(*o.metrics.acknowledged_after_ms) /
                        static_cast<double>(s.recovery.within.count());
      }
      part("acknowledgement", 10, ack);
      if (run.training->hints_total > 0) {
        part("hints", 10,
             1.0 - static_cast<double>(run.training->hints.size()) /
                       static_cast<double>(run.training->hints_total));
      }
    }
    double weights = 0, sum = 0;
    for (const auto& p : o.score_parts) weights += p.weight;
    for (auto& p : o.score_parts) {
      p.contribution = 100.0 * p.weight * p.value / weights;
      sum += p.contribution;
    }
    o.score = static_cast<int>(std::lround(sum));
  }
  return o;
}

}  // namespace firedrill
