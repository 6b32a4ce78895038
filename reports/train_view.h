// What a trainee sees during `firedrill train`: only what an on-call engineer would get
// (the page, the hints, what their own keys did, recovery), never the drill's probes or
// faults, which would give the incident away; a status line below, redrawn in place on a
// terminal (elapsed time, what was done, the keys). Fed the run's timeline events, like
// the run's terminal view; the same lines go to `--observe` and to the debrief.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "runner/drill/scenario.h"
#include "runner/engine/timeline.h"

namespace firedrill {

class TrainView {
 public:
  // `out` is borrowed. With `live`, a status line is kept below the event lines (a
  // terminal); without, only the lines are printed (a pipe, a log).
  TrainView(FILE* out, bool live, bool colour, const Scenario& s);

  // Prints the event's line for the trainee, if it has one; rings the bell on a page.
  // Thread-safe, like every method.
  void OnEvent(const Event& e);
  // Prints `text` (the runbook, a prompt) above the status line.
  void Print(const std::string& text);
  // The note being typed, shown in the status line until Enter ("" when none).
  void SetTyping(const std::string& text, bool typing);
  // Redraws the status line for run time `now_ms`.
  void Tick(int64_t now_ms);
  // Erases the status line for good. Idempotent.
  void Finish();

  // The line OnEvent prints for `e`, without colour; "" for an event the trainee is not
  // shown.
  static std::string FormatEvent(const Event& e);
  // The status line at `now_ms`.
  std::string StatusText(int64_t now_ms) const;

 private:
  void EraseLocked();
  void DrawLocked(int64_t now_ms);

  FILE* out_;
  bool live_, colour_;
  size_t hints_total_;
  mutable std::mutex mu_;
  bool finished_ = false;
  bool paged_ = false, acknowledged_ = false;
  int hints_ = 0, notes_ = 0, declarations_false_ = 0;
  std::string typing_;
  bool typing_on_ = false;
  int64_t last_ms_ = 0;
};

}  // namespace firedrill
