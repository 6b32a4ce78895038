// Replacing a file so that a reader sees either the old one or the new one whole, never
// half of either, and so that the new one survives a crash right after: a temporary file
// in the same directory (rename is atomic only within one filesystem), written, given its
// mode and owner, fsync'd, renamed over the target, and the directory fsync'd. Reports,
// restored originals, drifted configuration and redacted logs all go through here.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "runner/base/status.h"

namespace firedrill {

// How the new file looks. The defaults are a file this process would have written itself.
struct FileMeta {
  mode_t mode = 0644;
  // Unset: the process's own; set to give the file back to whoever owned the original.
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  bool keep_mtime = false;  // else the write's own time stands
  int64_t mtime_ns = 0;

  // The mode, owner and mtime of the file at `path`, to write it back as it was; kNotFound
  // when it does not exist.
  static Result<FileMeta> Of(const std::string& path);
};

// Replaces `path` with what `fill` writes to the descriptor it is given. The temporary
// file goes on any failure, and `path` is then untouched.
Status ReplaceFileAtomically(const std::string& path, const std::function<Status(int fd)>& fill,
                             const FileMeta& meta = {});
Status WriteFileAtomically(const std::string& path, std::string_view data,
                           const FileMeta& meta = {});

// write(2) until all of it is written; `what` names the file in the error.
Status WriteAll(int fd, const char* data, size_t size, const std::string& what);

// Makes a rename or a creation in `dir` durable.
Status FsyncDir(const std::string& dir);

}  // namespace firedrill
