// The raw facts of one run, as the engine observed them. Scoring (runner/score.h) turns
// them into metrics and a verdict; reports only read both. All *_ms values count from the
// timeline origin (the start of the run); nullopt means "never happened".
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/engine/timeline.h"

namespace firedrill {

struct FaultRecord {
  std::string name;
  std::string action;
  std::optional<int64_t> injected_at_ms;
  std::optional<int64_t> rolled_back_at_ms;
  // none: nothing to undo (or never injected); ok; failed: rollback did not complete.
  std::string rollback = "none";
  std::string detail;  // what was done, or why it failed
  bool inject_failed = false;
  // What the fault measured: after injection, then after rollback (Fault::figures). The
  // initializer spares aggregate initialisers a trailing {} (-Wmissing-field-initializers).
  std::map<std::string, double> figures = {};
};

struct WatchRecord {
  std::string name;
  std::string kind;  // detection | failover | custom
  int64_t within_ms = 0;
  std::optional<int64_t> passed_at_ms;  // first passing sample at or after the first fault
  std::string last_detail;
};

struct Sample {
  int64_t t_ms = 0;
  bool passed = false;
};

struct SteadyRecord {
  std::string name;
  std::vector<Sample> samples;  // every sample taken during the fault phase
};

// How one sampled probe kept its schedule in the fault phase (runner/engine/scheduler.h).
struct ProbeRecord {
  std::string name;  // the check's, watch's or stop condition's; "data.writer"
  std::string role;  // steady_state | watch | abort_when | data_writer
  int64_t interval_ms = 0;
  int64_t samples = 0;  // started
  int64_t missed = 0;   // slots that passed with no sample started
  int64_t late_p50_ms = 0;
  int64_t late_p99_ms = 0;
  int64_t late_max_ms = 0;
  // The numbers its samples read (ProbeOutcome::value): how many, least, greatest, last.
  int64_t values = 0;
  double value_min = 0;
  double value_max = 0;
  double value_last = 0;
};

struct DataRecord {
  int64_t attempted = 0;
  int64_t acknowledged = 0;
  int64_t verified = 0;
  int64_t lost = 0;
  // Acknowledgement times (ms) of the first and last write found missing.
  std::optional<int64_t> first_lost_ack_ms;
  std::optional<int64_t> last_lost_ack_ms;
  // The sequence numbers of the first lost writes, at most kFirstLostSeqs of them.
  std::vector<int64_t> first_lost_seqs;
};

inline constexpr size_t kFirstLostSeqs = 100;

// What happened between the trainee and the run (mode "train"). Times are timeline ms.
struct TrainingRecord {
  struct Note {
    int64_t t_ms = 0;
    std::string text;
  };
  struct HintShown {
    int64_t t_ms = 0;
    size_t index = 0;    // into recovery.hints
    bool asked = false;  // on `h`, not at its `after`
  };
  std::string trainee;
  int64_t first_fault_planned_ms = 0;  // the random moment, from the steady state holding
  std::optional<int64_t> paged_at_ms;
  std::string page_source;  // the detection watch that paged, or "fault" with none
  std::string page_detail;  // what it saw
  std::vector<Note> notes;
  std::vector<HintShown> hints;
  size_t hints_total = 0;  // the drill's
  int64_t declarations_true = 0;
  int64_t declarations_false = 0;
  bool gave_up = false;
};

struct RunRecord {
  std::string mode = "run";
  std::chrono::system_clock::time_point started_at;
  // Env::NowMs at the timeline's origin (CLOCK_MONOTONIC for the real Env): origin plus a
  // *_ms value is the moment on that clock, to line the run up with other monotonic logs.
  int64_t started_monotonic_ms = 0;
  std::vector<Event> timeline;

  // Phases reached.
  bool steady_state_held = false;  // before faults
  std::optional<int64_t> first_fault_ms;
  std::optional<int64_t> last_fault_ms;       // last injection
  std::optional<int64_t> faults_ended_ms;     // last rollback of any fault
  std::optional<int64_t> recovered_at_ms;     // start of the streak that held steady_for
  std::optional<int64_t> acknowledged_at_ms;  // train mode
  std::optional<int64_t> fault_phase_end_ms;
  std::optional<bool> steady_after_rollback;  // verify phase; nullopt if not reached
  std::optional<int64_t> verify_took_ms;      // how long until it held after rollback
  // Mode "dry-run": when the fault phase began (watches count from it, as nothing is
  // injected) and how long it was planned to last.
  std::optional<int64_t> dry_run_from_ms;
  int64_t dry_run_planned_ms = 0;

  std::vector<FaultRecord> faults;
  std::vector<WatchRecord> watches;
  std::vector<SteadyRecord> steady;
  std::vector<ProbeRecord> probes;  // in the order they were scheduled
  std::optional<DataRecord> data;
  std::optional<TrainingRecord> training;  // mode "train"

  // Why the run ended early, when it did.
  bool aborted = false;  // stop condition or operator
  std::string abort_reason;
  std::string error;                   // non-empty: the drill could not be carried out
  std::vector<std::string> leftovers;  // what a failed rollback or teardown left behind
  std::string journal_path;            // the run's rollback journal ("" if none was made)
  bool journal_closed = false;         // everything it recorded was undone
};

}  // namespace firedrill
