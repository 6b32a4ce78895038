#include "injectors/support/file_ops.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <vector>

#include "runner/base/atomic_file.h"
#include "runner/base/paths.h"
#include "runner/base/sha256.h"
#include "runner/base/text.h"
#include "runner/base/values.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace {

constexpr size_t kCopyChunk = 1 << 20;
// What a saved copy must leave free on the state directory's filesystem, so that the
// journal itself can still be written.
constexpr uint64_t kStateHeadroom = uint64_t{8} << 20;
// fallocate is cheap per call on most filesystems, but tmpfs zeroes every page it hands
// out: chunks keep a cancel or a deadline from waiting on one huge call.
constexpr uint64_t kFallocateChunk = uint64_t{128} << 20;
constexpr uint64_t kFallocateMin = 4096;
constexpr size_t kWriteChunk = 1 << 20;

// Reads `fd` from offset 0 to its end, a chunk at a time, into `sink`.
Result<uint64_t> CopyOut(int fd, const std::string& what,
                         const std::function<Status(const char*, size_t)>& sink,
                         const std::atomic<bool>* cancel) {
  std::vector<char> buf(kCopyChunk);
  uint64_t off = 0;
  while (true) {
    if (cancel && cancel->load()) return Status::Failed("cancelled while copying " + what);
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Io("read " + what + ": " + ErrnoText(errno));
    if (n == 0) return off;
    FD_RETURN_IF_ERROR(sink(buf.data(), static_cast<size_t>(n)));
    off += static_cast<uint64_t>(n);
  }
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

Result<std::string> ExpandInside(const std::string& raw, const RunContext& ctx) {
  std::string path = raw;
  if (ctx.expander) {
    auto e = ctx.expander->Expand(raw);
    if (!e.ok()) return e.status();
    path = *e;
  }
  return ResolveInside(path, ctx.workdir, ctx.allow_paths);
}

Result<UniqueFd> OpenInside(const std::string& path, int flags, const RunContext& ctx) {
  const bool dir = (flags & O_DIRECTORY) != 0;
  // Opening a FIFO would block and opening a device may act on it: look first. O_NONBLOCK
  // covers a swap between the look and the open; it changes nothing for regular files.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) &&
      !(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode))) {
    return Status::Invalid(path + (dir ? " is not a directory" : " is not a regular file"));
  }
  UniqueFd fd(::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ELOOP) return Status::Invalid(path + " is a symlink now: refused");
    if (err == ENOENT) return Status::NotFound(path + " does not exist");
    if (err == EISDIR) return Status::Invalid(path + " is not a regular file");
    if (err == ENOTDIR) return Status::Invalid(path + " is not a directory");
    return Status::Io("cannot open " + path + ": " + ErrnoText(err));
  }
  if (::fstat(fd.get(), &st) != 0) return Status::Io("stat " + path + ": " + ErrnoText(errno));
  if (!(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode))) {
    return Status::Invalid(path + (dir ? " is not a directory" : " is not a regular file"));
  }
  // The kernel's name for what was opened, symlinks in parent directories included.
  const std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  char buf[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return Status::Io("readlink " + link + " (is /proc mounted?): " + ErrnoText(errno));
  std::string real(buf, static_cast<size_t>(n));
  auto inside = ResolveInside(real, "/", ctx.allow_paths);
  if (!inside.ok()) {
    return Status::Invalid(path + " was swapped meanwhile: " + inside.status().message());
  }
  return fd;
}

std::string Shown(const std::string& path, const RunContext& ctx) {
  if (ctx.workdir.empty()) return path;
  std::error_code ec;
  fs::path root = fs::weakly_canonical(ctx.workdir, ec);
  if (ec) return path;
  fs::path rel = fs::path(path).lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return path;
  return rel.string();
}

Result<nlohmann::json> SaveOriginal(int fd, const std::string& path, Journal& journal,
                                    const RunContext& ctx) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::Io("stat " + path + ": " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return Status::Invalid(path + " is not a regular file");
  auto saved = journal.SavedPath(fs::path(path).filename().string());
  if (!saved.ok()) return saved.status();
  const std::string dir = fs::path(*saved).parent_path().string();
  struct statvfs vs {};
  if (::statvfs(dir.c_str(), &vs) != 0)
    return Status::Io("statvfs " + dir + ": " + ErrnoText(errno));
  const uint64_t room = static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize;
  const uint64_t need = static_cast<uint64_t>(st.st_size) + kStateHeadroom;
  if (need > room) {
    return Status::Failed("no room to save a copy of " + path + " (" + FormatBytes(st.st_size) +
                          ") in " + dir + ": " + FormatBytes(room) + " free");
  }
  UniqueFd out(::open(saved->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.get() < 0) return Status::Io("cannot create " + *saved + ": " + ErrnoText(errno));
  auto fail = [&](Status s) {
    ::unlink(saved->c_str());
    return s;
  };
  Sha256 hash;
  auto copied = CopyOut(
      fd, path,
      [&](const char* p, size_t n) {
        hash.Update(p, n);
        return WriteAll(out.get(), p, n, *saved);
      },
      ctx.cancel);
  if (!copied.ok()) return fail(copied.status());
  if (::fsync(out.get()) != 0) return fail(Status::Io("fsync " + *saved + ": " + ErrnoText(errno)));
  if (Status s = FsyncDir(dir); !s.ok()) return fail(s);
  auto sha256 = hash.FinishHex();
  if (!sha256.ok()) return fail(sha256.status());
  return nlohmann::json{{"path", path},     {"saved", *saved},  {"mode", st.st_mode & 07777},
                        {"uid", st.st_uid}, {"gid", st.st_gid}, {"mtime_ns", MtimeNs(st)},
                        {"size", *copied},  {"sha256", *sha256}};
}

Result<uint64_t> SaveAndJournal(int fd, const std::string& path, const std::string& owner,
                                const RunContext& ctx) {
  auto args = SaveOriginal(fd, path, *ctx.journal, ctx);
  if (!args.ok()) return args.status();
  return ctx.journal->Intend(owner, "file.restore", *args);
}

Status RestoreAfterFailure(Status why, uint64_t id, const RunContext& ctx) {
  auto r = ctx.journal->Undo(id, ctx.undo());
  if (r.ok()) return Status::Failed(why.message() + " (the original is back)");
  return Status::Failed(why.message() +
                        "; putting the original back failed too: " + r.status().message());
}

Result<std::string> RestoreSaved(const nlohmann::json& a, const UndoContext&) {
  const std::string path = a.value("path", "");
  const std::string saved = a.value("saved", "");
  const std::string want = a.value("sha256", "");
  if (path.empty() || saved.empty() || want.empty()) {
    return Status::Invalid("file.restore: path, saved copy or checksum missing from the journal");
  }
  UniqueFd in(::open(saved.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (in.get() < 0) {
    return Status::Failed("the saved copy of " + path + " (" + saved +
                          ") cannot be read: " + ErrnoText(errno));
  }
  FileMeta meta{.mode = static_cast<mode_t>(a.value("mode", 0600)),
                .uid = a.value("uid", static_cast<uid_t>(0)),
                .gid = a.value("gid", static_cast<gid_t>(0)),
                .keep_mtime = a.contains("mtime_ns"),
                .mtime_ns = a.value("mtime_ns", int64_t{0})};
  uint64_t size = 0;
  Status st = ReplaceFileAtomically(
      path,
      [&](int out) -> Status {
        Sha256 hash;
        auto n = CopyOut(
            in.get(), saved,
            [&](const char* p, size_t len) {
              hash.Update(p, len);
              return WriteAll(out, p, len, path);
            },
            nullptr);
        if (!n.ok()) return n.status();
        size = *n;
        // A damaged saved copy must not replace what is there now.
        auto hex = hash.FinishHex();
        if (!hex.ok()) return hex.status();
        const std::string& got = *hex;
        if (got != want) {
          return Status::Failed("the saved copy " + saved + " is damaged (sha256 " + got +
                                ", recorded " + want + "): " + path + " left as it is");
        }
        return Status::Ok();
      },
      meta);
  if (!st.ok()) return st;
  return "restored " + path + " (" + FormatBytes(size) + ", sha256 " + want.substr(0, 12) + "...)";
}

Result<Filled> FillFile(int fd, uint64_t bytes, FillMethod method, const FillLimits& limits) {
  Filled out;
  out.wrote = method == FillMethod::kWrite;
  std::vector<char> zeros;
  uint64_t off = 0;
  uint64_t chunk = kFallocateChunk;
  while (off < bytes) {
    if (limits.cancel && limits.cancel->load()) {
      return Status::Failed("cancelled after " + FormatBytes(off) + " of " + FormatBytes(bytes));
    }
    if (std::chrono::steady_clock::now() > limits.deadline) {
      return Status::Timeout("gave up after " + FormatBytes(off) + " of " + FormatBytes(bytes) +
                             (out.wrote ? " (writing zeros)" : ""));
    }
    if (!out.wrote) {
      const uint64_t n = std::min(chunk, bytes - off);
      if (::fallocate(fd, 0, static_cast<off_t>(off), static_cast<off_t>(n)) == 0) {
        off += n;
        continue;
      }
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EOPNOTSUPP) {
        out.wrote = true;
        continue;
      }
      if (err == ENOSPC) {
        // A failed call may allocate nothing at all (tmpfs takes it all back), and less
        // may be free than statvfs said a moment ago (the service writes too): smaller
        // steps, down to one page, take what is left.
        struct stat st {};
        if (::fstat(fd, &st) == 0) off = std::max(off, static_cast<uint64_t>(st.st_size));
        if (n <= kFallocateMin) {
          out.disk_full = true;
          break;
        }
        chunk = n / 2;
        continue;
      }
      return Status::Io("fallocate: " + ErrnoText(err));
    }
    if (zeros.empty()) zeros.assign(kWriteChunk, 0);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kWriteChunk, bytes - off));
    ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == ENOSPC) {
      out.disk_full = true;
      break;
    }
    if (w < 0) return Status::Io("write: " + ErrnoText(errno));
    off += static_cast<uint64_t>(w);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::Io("stat: " + ErrnoText(errno));
  out.bytes = static_cast<uint64_t>(st.st_size);
  return out;
}

}  // namespace firedrill
