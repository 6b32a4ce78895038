// A drill's work directory and its rollback journal, the two things a run makes before
// anything else. A workdir is the drill's own: a fresh temporary directory, or
// settings.workdir, which is emptied first only if firedrill made it (it holds a marker
// file) or it is empty. The journal goes to STATE_DIR/runs/NAME-UTCTIME-PID/journal.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runner/base/status.h"
#include "runner/drill/scenario.h"
#include "runner/journal/journal.h"

namespace firedrill {

struct Workdir {
  std::string path;
  bool temporary = false;  // made under $TMPDIR for this run: removed when it ends
};

// Makes the drill's workdir and writes the marker into it; a temporary one is named
// $TMPDIR/firedrill-LABEL-XXXXXX.
Result<Workdir> MakeWorkdir(const Scenario& drill, const std::string& label);

struct RunIdentity {
  std::string drill_name;
  std::string drill_file;  // as the operator gave it, made absolute
  std::chrono::system_clock::time_point started_at;
  std::string workdir;
};

// Creates the run's journal under `state_dir`, its header naming the run, the drill and
// this process (PID and start time, so that `firedrill rollback` can tell it from a reuse).
Result<std::unique_ptr<Journal>> CreateRunJournal(const std::string& state_dir,
                                                  const RunIdentity& run, UndoKinds kinds);

}  // namespace firedrill
