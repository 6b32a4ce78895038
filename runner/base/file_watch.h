// Following one file by name through the run's loop with inotify: a callback as soon as the
// file may have changed (written to, truncated, created, replaced by a rename, removed), so
// that a reader reads what was written when it is written instead of at its next poll.
//
// The watch is on the name, as a log reader needs it: the directory is watched for the name
// coming and going, and whichever file the name points at (through symlinks) for writes.
// Reading is left to the caller, who must still cope with a change it was not told about
// (the kernel merges events; a write can land between a read and the next event): the
// callback says "look now", never what changed.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "runner/base/event_loop.h"
#include "runner/base/status.h"

namespace firedrill {

class FileWatch {
 public:
  // Starts watching `path` (absolute). `on_change` runs on a loop thread, never two at
  // once, each time the kernel reports a change to the file or its name (a burst of writes
  // handled together is one call). The file need not exist; its directory must.
  // kIo when inotify cannot watch it: no such directory, or no inotify instance left (the
  // per-user limit, often 128). The caller then reads on its own schedule.
  // REQUIRES: `path` is absolute; `loop` outlives the watch.
  static Result<std::unique_ptr<FileWatch>> Start(EventLoop& loop, const std::string& path,
                                                  std::function<void()> on_change);
  // When this returns, `on_change` is not running and never runs again.
  // REQUIRES: not called from inside `on_change`.
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

 private:
  struct Impl;
  explicit FileWatch(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace firedrill
