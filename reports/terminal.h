// The human view of a run: one live line per timeline event while the drill runs, and a
// summary table at the end. Plain text (no escape codes, ASCII symbols) when colour is
// off, so CI logs and pipes stay clean.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "runner/drill/scenario.h"
#include "runner/engine/run_record.h"
#include "runner/engine/score.h"
#include "runner/engine/timeline.h"

namespace firedrill {

class TerminalView {
 public:
  // `out` is borrowed and must outlive the view.
  TerminalView(FILE* out, bool colour) : out_(out), colour_(colour) {}

  TerminalView(const TerminalView&) = delete;
  TerminalView& operator=(const TerminalView&) = delete;

  // Colour only on a terminal, unless the user opted out: NO_COLOR set and non-empty
  // (https://no-color.org) or TERM=dumb.
  static bool WantColour(FILE* f);

  // Prints the event as one line. Safe to call from several threads (the timeline's sink
  // runs on whichever thread added the event); each line is written whole and flushed.
  void OnEvent(const Event& e);

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

  FILE* out_;
  const bool colour_;
  std::mutex mu_;
};

}  // namespace firedrill
