// file.destroy: removes a file or a whole directory tree for good. It is the one file
// fault with no rollback: a disaster-recovery drill destroys a database's data directory
// and the restore is what is rehearsed (a reversible file.delete would put the original
// back before the verifier runs). Nothing is saved and nothing is journaled, so neither
// rollback nor `firedrill rollback` brings it back; the timeline says so.
//
// The blast radius is checked twice: the loader resolves the path inside allow_paths, and
// Inject opens the parent directory without following a symlink and checks it again,
// then removes the entry through that open directory (/proc/self/fd), so a parent
// swapped for a symlink in between cannot lead the removal elsewhere. Symlinks inside the
// tree are removed, never followed.
#include <fcntl.h>

#include <filesystem>
#include <system_error>

#include "injectors/support/file_ops.h"
#include "runner/base/text.h"
#include "runner/drill/fault.h"

namespace firedrill {
namespace {

namespace fs = std::filesystem;

class DestroyFault final : public Fault {
 public:
  DestroyFault(std::string path, const RunContext& ctx) : path_(std::move(path)), ctx_(ctx) {}

  bool Reversible() const override { return false; }
  Result<std::string> Rollback() override {
    return Status::Internal("file.destroy is irreversible");
  }

  Result<std::string> Inject() override {
    auto path = ExpandInside(path_, ctx_);
    if (!path.ok()) return path.status();
    const fs::path target(*path);
    const std::string shown = Shown(*path, ctx_);
    if (!ctx_.workdir.empty() &&
        fs::path(ctx_.workdir).lexically_normal() == target.lexically_normal()) {
      return Status::Invalid("file.destroy refuses the workdir itself: name what is inside it");
    }
    auto parent = OpenInside(target.parent_path().string(), O_RDONLY | O_DIRECTORY, ctx_);
    if (!parent.ok()) return parent.status();
    const fs::path through =
        fs::path("/proc/self/fd") / std::to_string(parent->get()) / target.filename();
    std::error_code ec;
    const auto st = fs::symlink_status(through, ec);
    if (ec || !fs::exists(st)) return Status::NotFound(shown + " does not exist");
    // Counted before the removal, for the report: what the restore has to bring back.
    uint64_t files = 0, bytes = 0;
    if (fs::is_directory(st)) {
      for (fs::recursive_directory_iterator it(through, ec), end; !ec && it != end;
           it.increment(ec)) {
        // symlink_status: a symlink to a file outside is not counted as what was lost.
        if (fs::is_regular_file(it->symlink_status(ec))) {
          ++files;
          bytes += it->file_size(ec);
        }
      }
    } else if (fs::is_regular_file(st)) {
      files = 1;
      bytes = fs::file_size(through, ec);
    }
    const auto removed = fs::remove_all(through, ec);
    if (ec) {
      return Status::Io("destroying " + shown + " stopped after " + std::to_string(removed) +
                        " entries: " + ec.message());
    }
    SetFigure("entries_removed", static_cast<double>(removed));
    SetFigure("files_removed", static_cast<double>(files));
    SetFigure("bytes_removed", static_cast<double>(bytes));
    return "destroyed " + shown + " (" + std::to_string(removed) + " entries, " +
           std::to_string(bytes) + " bytes of files); nothing was saved: it is not rolled back";
  }

 private:
  std::string path_;
  const RunContext& ctx_;
};

constexpr FieldSpec kDestroyFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "file or directory to remove for good, with all it holds (inside allow_paths)",
     .required = true},
};

Result<std::unique_ptr<Fault>> MakeDestroy(const FaultSpec& f, const RunContext& ctx) {
  auto path = ExpandInside(f.with.String("path"), ctx);
  if (!path.ok()) return path.status();
  return std::unique_ptr<Fault>(new DestroyFault(f.with.String("path"), ctx));
}

}  // namespace

extern const FaultAction kFileDestroy = {
    .name = "file.destroy",
    .doc =
        "remove a file or a directory tree for good (irreversible: nothing is saved; the "
        "drill's remediation must restore it, as from a backup)",
    .target = Use::kForbidden,
    .duration = Use::kForbidden,
    .fields = kDestroyFields,
    .example =
        R"({name: lose-data-dir, at: 5s, action: file.destroy, with: {path: "${workdir}/pgdata"}})",
    .check = nullptr,
    .make = MakeDestroy,
    .unsupported = nullptr,
};

}  // namespace firedrill
