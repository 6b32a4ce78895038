#include "runner/base/atomic_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "runner/base/text.h"
#include "runner/base/unique_fd.h"

namespace firedrill {

Result<FileMeta> FileMeta::Of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::Io("stat " + path + ": " + ErrnoText(errno));
  }
  return FileMeta{
      .mode = static_cast<mode_t>(st.st_mode & 07777),
      .uid = st.st_uid,
      .gid = st.st_gid,
      .keep_mtime = true,
      .mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

Status WriteAll(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::Io("write " + what + ": " + ErrnoText(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::Io("open " + dir + ": " + ErrnoText(errno));
  if (::fsync(fd.get()) != 0) return Status::Io("fsync " + dir + ": " + ErrnoText(errno));
  return Status::Ok();
}

Status ReplaceFileAtomically(const std::string& path, const std::function<Status(int)>& fill,
                             const FileMeta& meta) {
  const std::filesystem::path p(path);
  std::string dir = p.parent_path().string();
  if (dir.empty()) dir = ".";
  // Hidden, beside the target: the rename must stay within one filesystem.
  std::string tmp = dir + "/." + p.filename().string() + ".firedrill-XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return Status::Io("cannot create a temporary file beside " + path + ": " + ErrnoText(errno));
  }
  auto fail = [&](Status st) {
    ::unlink(tmp.c_str());
    return st;
  };
  if (Status st = fill(fd.get()); !st.ok()) return fail(st);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail(Status::Io("stat " + tmp + ": " + ErrnoText(errno)));
  }
  const uid_t uid = meta.uid == static_cast<uid_t>(-1) ? st.st_uid : meta.uid;
  const gid_t gid = meta.gid == static_cast<gid_t>(-1) ? st.st_gid : meta.gid;
  if ((st.st_uid != uid || st.st_gid != gid) && ::fchown(fd.get(), uid, gid) != 0) {
    return fail(Status::Io("cannot give " + path + " its owner " + std::to_string(uid) + ":" +
                           std::to_string(gid) + ": " + ErrnoText(errno)));
  }
  // After fchown, which clears set-user-ID and set-group-ID bits; mkostemp made it 0600.
  if (::fchmod(fd.get(), meta.mode & 07777) != 0) {
    return fail(Status::Io("chmod " + tmp + ": " + ErrnoText(errno)));
  }
  if (meta.keep_mtime) {
    struct timespec ts[2] = {{0, UTIME_OMIT},
                             {static_cast<time_t>(meta.mtime_ns / 1000000000),
                              static_cast<long>(meta.mtime_ns % 1000000000)}};
    if (::futimens(fd.get(), ts) != 0) {
      return fail(Status::Io("cannot set the mtime of " + tmp + ": " + ErrnoText(errno)));
    }
  }
  // Without it a crash after the rename could leave an empty file in the target's place.
  if (::fsync(fd.get()) != 0) return fail(Status::Io("fsync " + tmp + ": " + ErrnoText(errno)));
  if (::close(fd.Release()) != 0) return fail(Status::Io("close " + tmp + ": " + ErrnoText(errno)));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(Status::Io("cannot rename " + tmp + " to " + path + ": " + ErrnoText(errno)));
  }
  return FsyncDir(dir);
}

Status WriteFileAtomically(const std::string& path, std::string_view data, const FileMeta& meta) {
  return ReplaceFileAtomically(
      path, [&](int fd) { return WriteAll(fd, data.data(), data.size(), path); }, meta);
}

}  // namespace firedrill
