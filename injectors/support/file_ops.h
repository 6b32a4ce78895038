// What the file and disk faults share: the blast-radius checks around every path they
// touch, saving an original before damaging it, the `file.restore` undo, and filling a
// file with allocated space. Replacing a file atomically is base code
// (runner/base/atomic_file.h).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "runner/base/status.h"
#include "runner/base/unique_fd.h"
#include "runner/drill/context.h"

namespace firedrill {

// `raw` (a drill's `path`, ${} allowed) expanded, made absolute against the workdir and
// resolved inside ctx.allow_paths. The path need not exist yet.
Result<std::string> ExpandInside(const std::string& raw, const RunContext& ctx);

// Opens `path` (as returned by ExpandInside) without following a symlink at its end, then
// checks that what was opened still lies inside allow_paths: a parent directory swapped
// for a symlink since the path was resolved is caught here, after the fact but before
// anything is changed through the descriptor. Only a regular file is opened, or a
// directory when `flags` has O_DIRECTORY: never a FIFO or a device.
Result<UniqueFd> OpenInside(const std::string& path, int flags, const RunContext& ctx);

// `path` for a detail line: relative to the workdir when inside it.
std::string Shown(const std::string& path, const RunContext& ctx);

// Copies the regular file open as `fd` (read from offset 0) to a fresh saved path of the
// journal, fsync'd, and returns the arguments of its `file.restore` undo: path, saved,
// mode, uid, gid, mtime_ns, size, sha256. Fails without leaving a copy behind when the
// state directory has not room for it.
Result<nlohmann::json> SaveOriginal(int fd, const std::string& path, Journal& journal,
                                    const RunContext& ctx);

// SaveOriginal, then the journal entry that restores it; returns the entry's id.
Result<uint64_t> SaveAndJournal(int fd, const std::string& path, const std::string& owner,
                                const RunContext& ctx);
// For an injection that failed after SaveAndJournal, part-way through its change: puts the
// original back at once and says in the returned error whether that worked.
Status RestoreAfterFailure(Status why, uint64_t id, const RunContext& ctx);

// The `file.restore` undo: puts the saved copy back byte for byte (atomically) with mode,
// owner and mtime. Idempotent; refuses a saved copy whose checksum is not the recorded one.
Result<std::string> RestoreSaved(const nlohmann::json& args, const UndoContext& ctx);

// How FillFile allocates: fallocate(2) and, where the filesystem has none (EOPNOTSUPP),
// write(2) of zero blocks; kWrite goes straight to the second.
enum class FillMethod { kAuto, kWrite };

struct FillLimits {
  std::chrono::steady_clock::time_point deadline;
  const std::atomic<bool>* cancel = nullptr;  // may be null
};

struct Filled {
  uint64_t bytes = 0;      // file size reached
  bool wrote = false;      // zeros were written (no fallocate here, or kWrite)
  bool disk_full = false;  // stopped early by ENOSPC
};

// Grows the empty regular file `fd` to `bytes` of allocated space, in chunks, so that the
// deadline and `cancel` are looked at between them (kTimeout / kFailed "cancelled").
// ENOSPC is not an error: the filesystem is full, which is what a fill is for.
Result<Filled> FillFile(int fd, uint64_t bytes, FillMethod method, const FillLimits& limits);

}  // namespace firedrill
