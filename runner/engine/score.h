// From raw facts to judgement: metrics, objectives, verdict, score and exit code.
// A pure function of the scenario and the run record, so every figure is testable exactly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runner/drill/scenario.h"
#include "runner/engine/run_record.h"

namespace firedrill {

struct Objective {
  std::string name;               // recovery.within, recovery.max_data_loss, rollback.verified
  std::optional<int64_t> target;  // ms, or a count for data loss
  std::optional<int64_t> actual;
  bool met = false;
  std::string unit = "ms";  // "ms" or "writes"
  std::string advice;       // one line from what was measured, when missed
};

struct WatchVerdict {
  std::string name;
  std::string kind;
  int64_t within_ms = 0;
  std::optional<int64_t> passed_after_ms;
  bool met = false;
  std::string advice;  // one line from what was measured, when missed
  // Mode dry-run only: a detection watch that passed with no fault injected (it cannot
  // detect anything). The dry run's verdict fails on it; `met` keeps its meaning.
  bool flagged = false;
};

// One term of the score formula (kScoreFormula): `value` is the part's 0..1 figure and
// `contribution` the points it adds, weight * value * 100 / (sum of the weights that apply),
// so the contributions add up to the score before it is rounded.
struct ScorePart {
  std::string part;  // objectives | watches | availability | speed
  double weight = 0;
  double value = 0;
  double contribution = 0;
};

struct Metrics {
  std::optional<int64_t> detected_after_ms;
  std::optional<int64_t> failed_over_after_ms;
  std::optional<int64_t> recovered_after_ms;
  std::optional<int64_t> acknowledged_after_ms;
  std::optional<double> availability;  // 0..1
  std::optional<int64_t> data_lost_count;
  std::optional<int64_t> data_lost_span_ms;
  // The first lost writes' sequence numbers (at most kFirstLostSeqs), in order.
  std::vector<int64_t> data_lost_first_seqs;
  // The longest stretch, between the first fault and recovery (or the end of observation),
  // during which some steady-state check's latest sample was failing; null with no fault.
  std::optional<int64_t> longest_outage_ms;
};

struct Outcome {
  Metrics metrics;
  std::vector<Objective> objectives;
  std::vector<WatchVerdict> watches;
  std::string verdict;                 // passed | failed | aborted | error
  int score = 0;                       // 0..100
  std::vector<ScorePart> score_parts;  // empty when the verdict is error or aborted
  int exit_code = 0;  // 0 passed, 1 failed, 3 aborted, 4 error or rollback incomplete
  std::vector<std::string> reasons;  // why not passed, one line each
};

Outcome Score(const Scenario& scenario, const RunRecord& run);

// The written form of the score formula, printed by `firedrill score` and the README.
extern const char* const kScoreFormula;

}  // namespace firedrill
