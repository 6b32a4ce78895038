// disk.fill: a ballast file fills the filesystem holding `path`.
//
// Figures come from statvfs as an unprivileged process sees them: free is f_bavail and
// total f_blocks (times f_frsize), so "90%" means 90 % of the filesystem is not available
// to ordinary writers, and blocks reserved for root count as used. A filesystem already
// at or past what is asked is left alone, and the detail says so: the condition the drill
// wants already holds, and piling more on would only change the drill's meaning.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>

#include "injectors/journaled_fault.h"
#include "injectors/support/file_ops.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"

namespace firedrill {
namespace {

// A fill slower than this (zeros written to a slow disk) is not worth waiting for: the
// fault fails and its ballast goes.
constexpr std::chrono::seconds kFillBudget{60};
constexpr const char* kBallastPrefix = ".firedrill-ballast-";

std::atomic<uint64_t> ballast_serial{0};

struct Space {
  uint64_t free = 0;
  uint64_t total = 0;
  uint64_t block = 0;
  double used_percent() const {
    return total ? 100.0 * static_cast<double>(total - free) / static_cast<double>(total) : 0;
  }
};

Result<Space> SpaceOf(int fd, const std::string& path) {
  struct statvfs vs {};
  if (::fstatvfs(fd, &vs) != 0) return Status::Io("statvfs " + path + ": " + ErrnoText(errno));
  return Space{.free = static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize,
               .total = static_cast<uint64_t>(vs.f_blocks) * vs.f_frsize,
               .block = vs.f_frsize};
}

std::string Describe(const Space& s) {
  return fmt::format("{} of {} free ({:.1f}% used)", FormatBytes(s.free), FormatBytes(s.total),
                     s.used_percent());
}

// What the drill asks for, as a ballast size given what is free now; 0 when the
// filesystem is already there.
struct Goal {
  std::optional<uint64_t> size;
  std::optional<double> percent;
  std::optional<uint64_t> leave_free;

  std::string Asked() const {
    if (size) return FormatBytes(*size) + " of ballast";
    if (percent) return fmt::format("{:g}% used", *percent);
    return FormatBytes(*leave_free) + " left free";
  }
  Result<uint64_t> Ballast(const Space& s) const {
    if (size) {
      if (*size > s.free) {
        return Status::Failed("asked for " + FormatBytes(*size) + " of ballast, but only " +
                              FormatBytes(s.free) + " is free (size: 100% fills whatever is free)");
      }
      return *size;
    }
    uint64_t keep = *leave_free;
    if (percent) {
      const auto used = static_cast<uint64_t>(
          std::llround(static_cast<long double>(s.total) * *percent / 100.0L));
      keep = s.total - std::min(used, s.total);
    }
    return s.free > keep ? s.free - keep : 0;
  }
};

class FillFault final : public JournaledFault {
 public:
  FillFault(std::string name, std::string path, Goal goal, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), path_(std::move(path)), goal_(goal) {}

 private:
  Result<std::string> Apply() override {
    auto dir_path = ExpandInside(path_, ctx());
    if (!dir_path.ok()) return dir_path.status();
    auto dir = OpenInside(*dir_path, O_RDONLY | O_DIRECTORY, ctx());
    if (!dir.ok()) return dir.status();
    auto before = SpaceOf(dir->get(), *dir_path);
    if (!before.ok()) return before.status();
    auto bytes = goal_.Ballast(*before);
    if (!bytes.ok()) return bytes.status();
    if (*bytes == 0) {
      RecordSpace(0, *before);
      return "nothing to fill: " + Shown(*dir_path, ctx()) + " has " + Describe(*before) +
             ", already past " + goal_.Asked();
    }

    const std::string name =
        kBallastPrefix + std::to_string(::getpid()) + "-" + std::to_string(++ballast_serial);
    const std::string ballast = *dir_path + "/" + name;
    auto recorded = Record("disk.ballast", {{"path", ballast}, {"bytes", *bytes}});
    if (!recorded.ok()) return recorded.status();
    auto filled = Fill(dir->get(), name, *bytes);
    if (!filled.ok()) {
      auto undone = Undo();
      return filled.status().Annotate(
          undone.ok() ? "filling " + Shown(*dir_path, ctx())
                      : "filling " + Shown(*dir_path, ctx()) +
                            " (and the ballast stays: " + undone.status().message() + ")");
    }
    auto after = SpaceOf(dir->get(), *dir_path);
    if (!after.ok()) return after.status();
    RecordSpace(filled->bytes, *after);
    std::string how = filled->wrote ? "zeros written: no fallocate here" : "fallocate";
    if (filled->disk_full) how += "; the filesystem filled up first";
    return "ballast " + Shown(ballast, ctx()) + " of " + FormatBytes(filled->bytes) + " (" + how +
           "): " + Describe(*after);
  }

  std::string NothingRecorded() const override { return "nothing was filled"; }

  // "Ballast", not "written": fallocate reserves the blocks without writing them.
  void RecordSpace(uint64_t ballast, const Space& now) {
    SetFigure("ballast_bytes", static_cast<double>(ballast));
    SetFigure("free_bytes", static_cast<double>(now.free));
    SetFigure("used_percent", now.used_percent());
  }

  Result<Filled> Fill(int dir, const std::string& name, uint64_t bytes) {
    UniqueFd fd(
        ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Status::Io("cannot create " + name + ": " + ErrnoText(errno));
    return FillFile(
        fd.get(), bytes, FillMethod::kAuto,
        {.deadline = std::chrono::steady_clock::now() + kFillBudget, .cancel = ctx().cancel});
  }

  std::string path_;
  Goal goal_;
};

// Deletes a ballast. It only ever deletes a file named like one, whatever the journal
// says, so a damaged or edited journal cannot turn rollback into `rm`.
Result<std::string> UndoBallast(const nlohmann::json& a, const UndoContext&) {
  const std::string path = a.value("path", "");
  const std::filesystem::path p(path);
  if (!p.is_absolute() || !p.filename().string().starts_with(kBallastPrefix)) {
    return Status::Invalid("disk.ballast: '" + path + "' is not a ballast file");
  }
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return "ballast " + path + " is already gone";
    return Status::Io("cannot delete ballast " + path + ": " + ErrnoText(errno));
  }
  std::string detail = "deleted ballast " + path;
  struct statvfs vs {};
  if (::statvfs(p.parent_path().c_str(), &vs) == 0) {
    detail += ": " + FormatBytes(static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize) + " free";
  }
  return detail;
}

constexpr FieldSpec kFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "directory on the filesystem to fill (inside allow_paths); the ballast goes there",
     .required = true},
    {.name = "size",
     .type = FieldType::kSizeOrPercent,
     .doc = "ballast size, or \"90%\": fill until the filesystem is that full"},
    {.name = "leave_free", .type = FieldType::kSize, .doc = "fill until exactly this much is free"},
};

std::optional<FieldError> Check(const FaultSpec& f) {
  if (f.with.Has("size") == f.with.Has("leave_free")) {
    return FieldError{f.mark, "disk.fill takes exactly one of `size` and `leave_free`"};
  }
  if (f.with.Has("size") && f.with.Size("size").is_percent() && f.with.Size("size").percent > 100) {
    return FieldError{f.with.MarkOf("size"), "size percentage must be at most 100%"};
  }
  if (f.with.Has("size") && !f.with.Size("size").is_percent() && f.with.Size("size").bytes == 0) {
    return FieldError{f.with.MarkOf("size"), "a ballast of 0 bytes fills nothing"};
  }
  return std::nullopt;
}

Result<std::unique_ptr<Fault>> Make(const FaultSpec& f, const RunContext& ctx) {
  // Refused here, before anything starts, when the drill points outside the blast radius.
  auto path = ExpandInside(f.with.String("path"), ctx);
  if (!path.ok()) return path.status();
  Goal goal;
  if (f.with.Has("leave_free")) {
    goal.leave_free = f.with.Size("leave_free").bytes;
  } else if (f.with.Size("size").is_percent()) {
    goal.percent = f.with.Size("size").percent;
  } else {
    goal.size = f.with.Size("size").bytes;
  }
  return std::unique_ptr<Fault>(new FillFault(f.name, f.with.String("path"), goal, ctx));
}

}  // namespace

extern const UndoKind kUndoDiskBallast = {
    .name = "disk.ballast",
    .doc = "delete the ballast file of a disk.fill",
    .undo = UndoBallast,
};

extern const FaultAction kDiskFill = {
    .name = "disk.fill",
    .doc =
        "fill a filesystem with a ballast file (fallocate, else zeros); left alone if "
        "already that full",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kFields,
    .example =
        R"({name: fill, at: 2s, action: disk.fill, with: {path: "${workdir}/data", size: 95%}, duration: 20s})",
    .check = Check,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
