// The live status line a terminal keeps at the bottom of the run's event lines: where the
// run is (phase, elapsed time), what comes next (the next fault and when, or how long the
// fault phase may still run) and what is wrong now (steady-state checks failing, watches
// missed). Built from the drill and fed the run's timeline events in order; it only reads
// them, so what it says is what the timeline said.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runner/drill/scenario.h"
#include "runner/engine/timeline.h"

namespace firedrill {

class StatusLine {
 public:
  // `scenario` is copied from (the names, times and bounds it needs), not kept.
  explicit StatusLine(const Scenario& scenario);

  // Takes the next timeline event. Events must come in timeline order.
  void OnEvent(const Event& e);

  // True once any event came in: before that there is nothing to say.
  bool started() const { return started_; }
  // The time of the latest event, ms since the run started.
  int64_t last_event_ms() const { return last_ms_; }

  // The line at run time `now_ms` (at least the latest event's time is assumed), at most
  // `width` code points (a cut line ends in "..."; 0 means no limit). With `colour`, ANSI
  // styles, which take no width.
  //
  //   phase faults | +3.2s | next: kill-primary in 0.7s | failing: writes | waiting: odown
  //
  // "next" in the fault phase is the next fault by `at` from the phase's start, until all
  // are in; then "fault phase: N left at most", the latest of the bounds the engine still
  // waits for (a timed fault's at+duration, a pending watch's `within` and, until the
  // steady state is back, recovery.within, all from the first injection). settings.timeout
  // may end it sooner; it is left out, as the drill's own bounds are what the reader wants.
  std::string Render(int64_t now_ms, size_t width, bool colour = false) const;

 private:
  struct FaultInfo {
    std::string name;
    int64_t at_ms = 0;
    std::optional<int64_t> duration_ms;
    std::optional<int64_t> injected_ms;
    bool done = false;  // failed or rolled back: nothing more to wait for
  };
  struct WatchInfo {
    std::string name;
    int64_t within_ms = 0;
    enum class State { kPending, kMet, kMissed } state = State::kPending;
  };

  std::optional<int64_t> FaultPhaseBound() const;

  std::vector<FaultInfo> faults_;  // in `at` order, stable, as the engine injects them
  std::vector<WatchInfo> watches_;
  std::vector<std::string> checks_;  // steady_state names, in drill order
  std::set<std::string> failing_;
  int64_t recovery_within_ms_ = 0;

  bool started_ = false;
  int64_t last_ms_ = 0;
  std::string phase_;
  std::optional<int64_t> faults_start_ms_;
  std::optional<int64_t> first_fault_ms_;
  bool recovered_ = false;
  bool in_faults_ = false;
};

}  // namespace firedrill
