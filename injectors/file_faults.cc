// file.corrupt and file.delete: damage a file; the original is saved first (outside the
// target's directory, in the run's journal) and restored byte for byte.
//
// Reproducible damage: the random source is std::mt19937_64 seeded with `seed` (its
// output sequence is fixed by the C++ standard, so the same seed damages the same bytes
// on any machine). Over the range [offset, offset + length):
//   flip     draws bit = next() % (length * 8) until `count` distinct bits are chosen, and
//            flips bit (bit % 8) of byte offset + bit / 8 (bit 0 = least significant);
//   garbage  writes byte i of the range as byte (i % 8) of the (i / 8 + 1)-th output,
//            least significant byte first;
//   zero     writes zeros; truncate cuts the file at `offset`.
// Without a seed one is drawn, and the detail line shows it.
//
// `write: rename` damages a copy instead and renames it over the file, as dpkg installs
// one (a NAME.dpkg-new, then rename): the only way to overwrite a program that is running,
// since Linux refuses to open a running executable for writing (ETXTBSY). The running
// process keeps the old inode; the next start gets the damaged file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <random>
#include <unordered_set>
#include <vector>

#include "injectors/journaled_fault.h"
#include "injectors/support/file_ops.h"
#include "runner/base/atomic_file.h"
#include "runner/base/text.h"
#include "runner/drill/fault.h"

namespace firedrill {
namespace {

enum class Mode { kFlip, kZero, kGarbage, kTruncate };
constexpr const char* kModes[] = {"flip", "zero", "garbage", "truncate"};
constexpr const char* kWrites[] = {"in-place", "rename"};
constexpr size_t kChunk = 1 << 20;

struct Damage {
  Mode mode = Mode::kFlip;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
  uint64_t count = 1;
  std::optional<uint64_t> seed;
  bool rename = false;  // write: rename
};

Status PwriteAll(int fd, const char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::Io("write: " + ErrnoText(errno));
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

Status PreadAll(int fd, char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::Io("read: " + ErrnoText(errno));
    if (r == 0) return Status::Io("read: the file shrank meanwhile");
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return Status::Ok();
}

// Writes `length` bytes at `offset`, a chunk at a time, each made by `make`.
Status WriteRange(int fd, uint64_t offset, uint64_t length, const RunContext& ctx,
                  const std::function<void(char*, size_t)>& make) {
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(kChunk, length)));
  for (uint64_t done = 0; done < length;) {
    if (ctx.cancelled()) return Status::Failed("cancelled");
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    make(buf.data(), n);
    FD_RETURN_IF_ERROR(PwriteAll(fd, buf.data(), n, offset + done));
    done += n;
  }
  return Status::Ok();
}

Status FlipBits(int fd, uint64_t offset, uint64_t length, uint64_t count, std::mt19937_64& rng,
                const RunContext& ctx) {
  const uint64_t bits = length * 8;
  std::unordered_set<uint64_t> seen;
  std::vector<uint64_t> chosen;
  chosen.reserve(count);
  while (chosen.size() < count) {
    uint64_t b = rng() % bits;
    if (seen.insert(b).second) chosen.push_back(b);
  }
  std::sort(chosen.begin(), chosen.end());
  // Read-modify-write one window of at most kChunk bytes per run of nearby bits.
  std::vector<char> buf;
  for (size_t i = 0; i < chosen.size();) {
    if (ctx.cancelled()) return Status::Failed("cancelled");
    const uint64_t first = chosen[i] / 8;
    size_t j = i;
    while (j < chosen.size() && chosen[j] / 8 < first + kChunk) ++j;
    const uint64_t span = chosen[j - 1] / 8 - first + 1;
    buf.resize(static_cast<size_t>(span));
    FD_RETURN_IF_ERROR(PreadAll(fd, buf.data(), buf.size(), offset + first));
    for (size_t k = i; k < j; ++k) {
      buf[chosen[k] / 8 - first] ^= static_cast<char>(1u << (chosen[k] % 8));
    }
    FD_RETURN_IF_ERROR(PwriteAll(fd, buf.data(), buf.size(), offset + first));
    i = j;
  }
  return Status::Ok();
}

// Copies `size` bytes of `from` (from offset 0) to `to`.
Status CopyAll(int from, int to, uint64_t size, const RunContext& ctx) {
  std::vector<char> buf(
      static_cast<size_t>(std::min<uint64_t>(kChunk, std::max<uint64_t>(size, 1))));
  for (uint64_t done = 0; done < size;) {
    if (ctx.cancelled()) return Status::Failed("cancelled");
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    FD_RETURN_IF_ERROR(PreadAll(from, buf.data(), n, done));
    FD_RETURN_IF_ERROR(PwriteAll(to, buf.data(), n, done));
    done += n;
  }
  return Status::Ok();
}

class CorruptFault final : public JournaledFault {
 public:
  CorruptFault(std::string name, std::string path, Damage d, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), path_(std::move(path)), damage_(d) {}

 private:
  Result<std::string> Apply() override {
    auto path = ExpandInside(path_, ctx());
    if (!path.ok()) return path.status();
    // A running executable cannot be opened for writing: rename only reads the original.
    auto fd = OpenInside(*path, damage_.rename ? O_RDONLY : O_RDWR, ctx());
    if (!fd.ok() && fd.status().message().ends_with(ErrnoText(ETXTBSY))) {
      return Status::Failed(
          fd.status().message() +
          ": it is a running program; `write: rename` overwrites it as dpkg does");
    }
    if (!fd.ok()) return fd.status();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return Status::Io("stat " + *path + ": " + ErrnoText(errno));
    const std::string shown = Shown(*path, ctx());
    const auto size = static_cast<uint64_t>(st.st_size);
    if (damage_.offset >= size) {
      return Status::Failed("offset " + std::to_string(damage_.offset) + " is not inside " + shown +
                            " (" + std::to_string(size) + " bytes)");
    }
    const uint64_t length = damage_.length.value_or(size - damage_.offset);
    if (length == 0 || length > size - damage_.offset) {
      return Status::Failed("bytes " + std::to_string(damage_.offset) + "+" +
                            std::to_string(length) + " are not inside " + shown + " (" +
                            std::to_string(size) + " bytes)");
    }
    if (damage_.mode == Mode::kFlip && damage_.count > length * 8) {
      return Status::Failed("cannot flip " + std::to_string(damage_.count) + " distinct bits in " +
                            std::to_string(length) + " bytes");
    }
    const uint64_t seed = damage_.seed ? *damage_.seed : std::random_device{}();

    auto saved = Adopt(SaveAndJournal(fd->get(), *path, owner(), ctx()));
    if (!saved.ok()) return saved.status();
    const std::string range =
        std::to_string(damage_.offset) + ".." + std::to_string(damage_.offset + length - 1);
    std::string detail;
    Status st_damage;
    if (damage_.rename) {
      // The new file gets the original's mode and owner; like any installed file, the time
      // of its writing.
      FileMeta meta{
          .mode = static_cast<mode_t>(st.st_mode & 07777), .uid = st.st_uid, .gid = st.st_gid};
      st_damage = ReplaceFileAtomically(
          *path,
          [&](int out) -> Status {
            FD_RETURN_IF_ERROR(CopyAll(fd->get(), out, size, ctx()));
            auto d = DamageAt(out, size, length, seed, range, shown);
            if (!d.ok()) return d.status();
            detail = *d + ", written as a new file renamed over it (as dpkg installs one)";
            return Status::Ok();
          },
          meta);
    } else {
      auto d = DamageAt(fd->get(), size, length, seed, range, shown);
      st_damage = d.status();
      if (d.ok()) detail = *d;
    }
    if (!st_damage.ok())
      return RestoreAfterFailure(st_damage.Annotate("corrupting " + shown), id(), ctx());
    if (damage_.mode == Mode::kFlip) {
      SetFigure("bits_flipped", static_cast<double>(damage_.count));
    } else if (damage_.mode == Mode::kTruncate) {
      SetFigure("bytes_cut", static_cast<double>(size - damage_.offset));
    } else {
      SetFigure("bytes_overwritten", static_cast<double>(length));
    }
    SetFigure("file_bytes", static_cast<double>(size));
    return detail;
  }

  // Damages the file open as `fd` (`size` bytes) as the drill says; returns the detail.
  Result<std::string> DamageAt(int fd, uint64_t size, uint64_t length, uint64_t seed,
                               const std::string& range, const std::string& shown) {
    std::mt19937_64 rng(seed);
    Status st_damage;
    std::string detail;
    switch (damage_.mode) {
      case Mode::kFlip:
        st_damage = FlipBits(fd, damage_.offset, length, damage_.count, rng, ctx());
        detail = "flipped " + std::to_string(damage_.count) + " bit(s) in bytes " + range + " of " +
                 shown + " (seed " + std::to_string(seed) + ")";
        break;
      case Mode::kZero:
        st_damage = WriteRange(fd, damage_.offset, length, ctx(),
                               [](char* p, size_t n) { std::fill(p, p + n, 0); });
        detail = "zeroed bytes " + range + " of " + shown;
        break;
      case Mode::kGarbage: {
        uint64_t word = 0;
        uint64_t i = 0;
        st_damage = WriteRange(fd, damage_.offset, length, ctx(), [&](char* p, size_t n) {
          for (size_t k = 0; k < n; ++k, ++i) {
            if (i % 8 == 0) word = rng();
            p[k] = static_cast<char>((word >> (8 * (i % 8))) & 0xff);
          }
        });
        detail =
            "random bytes over " + range + " of " + shown + " (seed " + std::to_string(seed) + ")";
        break;
      }
      case Mode::kTruncate:
        if (::ftruncate(fd, static_cast<off_t>(damage_.offset)) != 0) {
          st_damage = Status::Io("truncate: " + ErrnoText(errno));
        }
        detail = "truncated " + shown + " from " + std::to_string(size) + " to " +
                 std::to_string(damage_.offset) + " bytes";
        break;
    }
    if (!st_damage.ok()) return st_damage;
    return detail;
  }

  std::string path_;
  Damage damage_;
};

class DeleteFault final : public JournaledFault {
 public:
  DeleteFault(std::string name, std::string path, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), path_(std::move(path)) {}

 private:
  Result<std::string> Apply() override {
    auto path = ExpandInside(path_, ctx());
    if (!path.ok()) return path.status();
    auto fd = OpenInside(*path, O_RDONLY, ctx());
    if (!fd.ok()) return fd.status();
    auto saved = Adopt(SaveAndJournal(fd->get(), *path, owner(), ctx()));
    if (!saved.ok()) return saved.status();
    const std::string shown = Shown(*path, ctx());
    if (::unlink(path->c_str()) != 0 && errno != ENOENT) {
      return RestoreAfterFailure(Status::Io("cannot delete " + shown + ": " + ErrnoText(errno)),
                                 id(), ctx());
    }
    if (struct stat st{}; ::fstat(fd->get(), &st) == 0) {
      SetFigure("file_bytes", static_cast<double>(st.st_size));
    }
    return "deleted " + shown + " (a copy is saved in the journal)";
  }

  std::string path_;
};

constexpr FieldSpec kCorruptFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "file to corrupt (inside allow_paths)",
     .required = true},
    {.name = "mode",
     .type = FieldType::kEnum,
     .doc = "flip: random bits; zero/garbage: a byte range; truncate: cut at offset",
     .default_value = "flip",
     .choices = kModes},
    {.name = "offset",
     .type = FieldType::kSize,
     .doc = "start of the damaged range (must lie inside the file)",
     .default_value = "0B"},
    {.name = "length",
     .type = FieldType::kSize,
     .doc = "length of the range (default: to the end of the file)"},
    {.name = "count",
     .type = FieldType::kInt,
     .doc = "distinct bits to flip (mode flip)",
     .default_value = "1",
     .min = 1,
     .max = 1000000},
    {.name = "seed",
     .type = FieldType::kInt,
     .doc = "makes flip/garbage reproducible (default: drawn, and shown in the detail)",
     .min = 0,
     .max = 4294967295.0},
    {.name = "write",
     .type = FieldType::kEnum,
     .doc = "in-place: through the file itself; rename: a damaged copy renamed over it, as "
            "dpkg installs a file (how a running program's executable is overwritten: it "
            "cannot be opened for writing, ETXTBSY; the process keeps the old one)",
     .default_value = "in-place",
     .choices = kWrites},
};

constexpr FieldSpec kDeleteFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "file to delete (inside allow_paths)",
     .required = true},
};

std::optional<FieldError> CheckCorrupt(const FaultSpec& f) {
  if (f.with.String("mode") == "truncate" && f.with.Has("length")) {
    return FieldError{f.with.MarkOf("length"),
                      "mode truncate cuts at `offset`; it takes no length"};
  }
  if (f.with.Has("length") && f.with.Size("length").bytes == 0) {
    return FieldError{f.with.MarkOf("length"), "a range of 0 bytes damages nothing"};
  }
  return std::nullopt;
}

Result<std::unique_ptr<Fault>> MakeCorrupt(const FaultSpec& f, const RunContext& ctx) {
  auto path = ExpandInside(f.with.String("path"), ctx);
  if (!path.ok()) return path.status();
  Damage d;
  const std::string& mode = f.with.String("mode");
  d.mode = mode == "zero"       ? Mode::kZero
           : mode == "garbage"  ? Mode::kGarbage
           : mode == "truncate" ? Mode::kTruncate
                                : Mode::kFlip;
  d.offset = f.with.Size("offset").bytes;
  if (f.with.Has("length")) d.length = f.with.Size("length").bytes;
  d.count = static_cast<uint64_t>(f.with.Int("count"));
  if (f.with.Has("seed")) d.seed = static_cast<uint64_t>(f.with.Int("seed"));
  d.rename = f.with.String("write") == "rename";
  return std::unique_ptr<Fault>(new CorruptFault(f.name, f.with.String("path"), d, ctx));
}

Result<std::unique_ptr<Fault>> MakeDelete(const FaultSpec& f, const RunContext& ctx) {
  auto path = ExpandInside(f.with.String("path"), ctx);
  if (!path.ok()) return path.status();
  return std::unique_ptr<Fault>(new DeleteFault(f.name, f.with.String("path"), ctx));
}

}  // namespace

extern const UndoKind kUndoFileRestore = {
    .name = "file.restore",
    .doc = "put a saved original back byte for byte (atomically), with mode, owner and mtime",
    .undo = RestoreSaved,
};

extern const FaultAction kFileCorrupt = {
    .name = "file.corrupt",
    .doc =
        "corrupt a file in place, or as dpkg overwrites one (bit flips, zeroed or random "
        "range, truncation); restored byte for byte",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kCorruptFields,
    .example =
        R"({name: corrupt, at: 1s, action: file.corrupt, with: {path: "${workdir}/app.db", mode: flip, count: 8, seed: 42}})",
    .check = CheckCorrupt,
    .make = MakeCorrupt,
    .unsupported = nullptr,
};

extern const FaultAction kFileDelete = {
    .name = "file.delete",
    .doc = "delete a file (restored byte for byte, with its mode, owner and mtime)",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kDeleteFields,
    .example =
        R"({name: rm-config, at: 1s, action: file.delete, with: {path: "${workdir}/app.conf"}, duration: 10s})",
    .check = nullptr,
    .make = MakeDelete,
    .unsupported = nullptr,
};

}  // namespace firedrill
