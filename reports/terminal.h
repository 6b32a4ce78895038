// The human view of a run: one live line per timeline event while the drill runs, and a
// summary table at the end. Plain text (no escape codes, ASCII symbols) when colour is
// off, so CI logs and pipes stay clean. On a terminal it can also keep a status line
// (reports/status_line.h) at the bottom, redrawn in place.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "reports/status_line.h"
#include "runner/drill/scenario.h"
#include "runner/engine/run_record.h"
#include "runner/engine/score.h"
#include "runner/engine/timeline.h"

namespace firedrill {

// `s` made safe and single-line for a terminal: valid UTF-8, newlines shown as " | ",
// every other control character (ESC and the C1 range included, which a terminal would
// obey) as '?', and at most `max` code points.
std::string TerminalSafe(std::string_view s, size_t max);

class TerminalView {
 public:
  // `out` is borrowed and must outlive the view. With `status` (read at construction, not
  // kept) and `out` a terminal whose TERM is not "dumb", the view keeps a status line for
  // that drill below the event lines, in colour only with `colour`; anywhere else the
  // output is the same as without it.
  TerminalView(FILE* out, bool colour, const Scenario* status = nullptr);
  // Finish()es.
  ~TerminalView();

  TerminalView(const TerminalView&) = delete;
  TerminalView& operator=(const TerminalView&) = delete;

  // Colour only on a terminal, unless the user opted out: NO_COLOR set and non-empty
  // (https://no-color.org) or TERM=dumb.
  static bool WantColour(FILE* f);

  // Prints the event as one line. Safe to call from several threads (the timeline's sink
  // runs on whichever thread added the event); each line is written whole and flushed.
  void OnEvent(const Event& e);

  // Erases the status line and stops redrawing it, for what comes after the live view (the
  // summary calls it). Idempotent.
  void Finish();

  // Whether this view keeps a status line.
  bool status_line() const { return status_ != nullptr; }

  // The line OnEvent prints for `e`, without the newline.
  std::string FormatEvent(const Event& e) const;

  // The end-of-run table: verdict and score, metrics, watches, objectives, faults, why the
  // run did not pass, anything left behind, and where the report is. `report_dir` may be
  // empty when no report was written.
  void PrintSummary(const Scenario& scenario, const RunRecord& run, const Outcome& outcome,
                    const std::string& report_dir);

  // The summary as PrintSummary writes it.
  std::string FormatSummary(const Scenario& scenario, const RunRecord& run, const Outcome& outcome,
                            const std::string& report_dir) const;

 private:
  void Write(const std::string& text);
  // REQUIRES: mu_ held.
  std::string StatusText();
  void Redraw();

  FILE* out_;
  const bool colour_;
  std::mutex mu_;

  // The status line: all under mu_, but for the thread itself (started and joined by the
  // owner only).
  std::unique_ptr<StatusLine> status_;
  bool status_shown_ = false;
  bool finished_ = false;
  // When the latest event came in: the run's clock is the engine's, so elapsed time
  // between events is counted from there.
  std::chrono::steady_clock::time_point last_event_at_;
  std::condition_variable cv_;
  std::thread redraw_;
};

}  // namespace firedrill
