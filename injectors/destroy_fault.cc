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
#include <sys/stat.h>

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
  Result<std::string> Rollback() override { return std::string("nothing to undo"); }

  Result<std::string> Inject() override {
    auto path = ExpandInside(path_, ctx_);
    if (!path.ok()) return path.status();
    const fs::path target(*path);
    const std::string shown = Shown(*path, ctx_);
    auto parent = OpenInside(target.parent_path().string(), O_RDONLY | O_DIRECTORY, ctx_);
    if (!parent.ok()) return parent.status();
    const fs::path through =
        fs::path("/proc/self/fd") / std::to_string(parent->get()) / target.filename();
    struct stat st {};
    if (::fstatat(parent->get(), target.filename().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return Status::NotFound(shown + " does not exist");
      return Status::Io("cannot stat " + shown + ": " + ErrnoText(errno));
    }
    // By identity, not by name: a workdir reached through a symlink is still the workdir.
    if (struct stat wd{}; !ctx_.workdir.empty() && ::stat(ctx_.workdir.c_str(), &wd) == 0 &&
                          wd.st_dev == st.st_dev && wd.st_ino == st.st_ino) {
      return Status::Invalid("file.destroy refuses the workdir itself: name what is inside it");
    }
    // Counted before the removal, for the report: what the restore has to bring back. A
    // tree that cannot be read through leaves these two figures out rather than short.
    uint64_t files = 0, bytes = 0;
    std::error_code count_ec;
    if (S_ISDIR(st.st_mode)) {
      for (fs::recursive_directory_iterator it(through, count_ec), end; !count_ec && it != end;
           it.increment(count_ec)) {
        // symlink_status: a symlink to a file outside is not counted as what was lost.
        if (fs::is_regular_file(it->symlink_status(count_ec))) {
          ++files;
          bytes += it->file_size(count_ec);
        }
      }
    } else if (S_ISREG(st.st_mode)) {
      files = 1;
      bytes = static_cast<uint64_t>(st.st_size);
    }
    std::error_code ec;
    const auto removed = fs::remove_all(through, ec);
    if (ec) {
      // remove_all returns -1 on error: how much went before it stopped is not known.
      return Status::Io("destroying " + shown + " stopped part way: " + ec.message());
    }
    SetFigure("entries_removed", static_cast<double>(removed));
    if (!count_ec) {
      SetFigure("files_removed", static_cast<double>(files));
      SetFigure("bytes_removed", static_cast<double>(bytes));
    }
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
