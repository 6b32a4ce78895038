// The rollback journal. Before an injector changes anything it records here what it is
// about to change and how to undo it, and that line is on disk (fsync'd) before the change
// is made. A run that ends any way but cleanly (kill -9, power loss, a third Ctrl-C) leaves
// an unfinished journal behind, and `firedrill rollback` replays it.
//
// On disk: STATE_DIR/runs/RUN_ID/journal, JSON lines, append only:
//   {"op":"open", "run":..., "drill":..., "file":..., "pid":..., "pid_start":..., ...}
//   {"op":"intend", "id":1, "owner":"fault fill-disk", "kind":"file.remove", "args":{...}}
//   {"op":"done", "id":1, "detail":"removed ..."}
//   {"op":"close"}                      (everything undone; the run is over)
// Saved copies of files live in RUN_DIR/saved/ and go when the journal closes.
//
// The running process holds an exclusive flock on the journal, so `firedrill rollback`
// can tell a live run (locked) from a dead one (the kernel drops the lock with the process)
// without trusting PIDs.
//
// Undo is the same code path whether the run itself rolls back or `firedrill rollback`
// replays a dead run's journal: each kind of change has one UndoKind (a name and an
// idempotent function of the recorded arguments). The journal knows no kind itself: the
// plugins' registry hands it the list (injectors/fault_registry.h), so the journal links
// without them.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/status.h"

namespace firedrill {

struct UndoContext {
  Env* env = nullptr;
};

struct UndoKind {
  const char* name;  // "file.restore", "process.cont", ...
  const char* doc;   // one line: what undoing means
  // Undoes one recorded change and says what it did. Must be idempotent: it may run
  // again after a crash between the undo and its "done" line, and it may run for a change
  // that was recorded but never made (the run died between the two).
  Result<std::string> (*undo)(const nlohmann::json& args, const UndoContext& ctx);
};

// Every kind of change a journal can undo.
using UndoKinds = std::span<const UndoKind* const>;
const UndoKind* FindUndoKind(UndoKinds kinds, std::string_view name);

struct JournalEntry {
  uint64_t id = 0;
  std::string owner;  // "fault fill-disk", "service primary"
  std::string kind;
  nlohmann::json args;
  bool done = false;
  std::string detail;  // of the done line
};

class Journal {
 public:
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Creates RUN_DIR (0700) and RUN_DIR/journal, writes the open line with `header`'s
  // fields and holds the lock until this object dies. `kinds` must outlive the journal.
  static Result<std::unique_ptr<Journal>> Create(const std::string& run_dir,
                                                 const nlohmann::json& header, UndoKinds kinds);
  // Opens a journal left by another run, locking it. kFailed "still running" when a live
  // run holds it; kInvalid when it is not a journal.
  static Result<std::unique_ptr<Journal>> Open(const std::string& path, UndoKinds kinds);

  const std::string& path() const { return path_; }
  const std::string& run_dir() const { return run_dir_; }
  const nlohmann::json& header() const { return header_; }
  bool closed() const;

  // A fresh path under RUN_DIR/saved for a copy of something (created 0700 on demand).
  Result<std::string> SavedPath(std::string_view hint);

  // Records, durably, that `owner` is about to make a change that `kind` undoes with
  // `args`. REQUIRES: `kind` is one of the journal's kinds. Returns the entry's id.
  Result<uint64_t> Intend(std::string owner, std::string kind, nlohmann::json args);
  // Runs the undo of entry `id` now; on success records it done. Done entries are not
  // undone twice: the recorded detail comes back instead.
  Result<std::string> Undo(uint64_t id, const UndoContext& ctx);
  // Records entry `id` done without running its undo (it was undone another way, e.g. a
  // service that teardown stopped).
  Status Done(uint64_t id, std::string detail);

  std::vector<JournalEntry> Entries() const;
  // Entries not yet done, newest first (the order to undo them in).
  std::vector<JournalEntry> Pending() const;

  // Records that nothing is left to undo and removes saved copies.
  // REQUIRES: Pending() is empty.
  Status Close();

 private:
  Journal(std::string path, int fd, UndoKinds kinds);
  Status Append(const nlohmann::json& line);  // under mu_
  Status Load();                              // parses the file into entries_

  std::string path_;
  std::string run_dir_;
  int fd_ = -1;
  UndoKinds kinds_;
  mutable std::mutex mu_;
  nlohmann::json header_;
  std::vector<JournalEntry> entries_;
  uint64_t next_id_ = 1;
  uint64_t next_saved_ = 1;
  bool closed_ = false;
};

// The default state directory: $FIREDRILL_STATE_DIR, else $XDG_STATE_HOME/firedrill, else
// $HOME/.local/state/firedrill.
std::string DefaultStateDir();

// Every journal under STATE_DIR/runs that is not closed, oldest first.
std::vector<std::string> UnfinishedJournals(const std::string& state_dir);

// Removes the run directories under STATE_DIR/runs of runs that died before their journal
// existed (killed between creating its directory and writing its header): nothing can
// have been changed by them. A run still starting is left alone. Returns what it removed.
std::vector<std::string> RemoveAbandonedRuns(const std::string& state_dir);

struct ReplayResult {
  bool complete = false;           // nothing left to undo; the journal is now closed
  bool skipped_live = false;       // a live run holds it: untouched
  std::vector<std::string> lines;  // what was done or found, one line per entry
  std::vector<std::string> left;   // what could not be undone
};

// Undoes every pending entry of the journal at `path`, newest first, and closes it when
// nothing is left. Idempotent: a closed journal replays to "nothing to do".
ReplayResult ReplayJournal(const std::string& path, UndoKinds kinds, const UndoContext& ctx);

}  // namespace firedrill
