// disk.tmpfs and disk.image: a filesystem of the drill's own, mounted on a directory inside
// allow_paths: a small tmpfs (a disk to fill without harming the machine's), or an ext4
// image file attached to a loop device (a server's disk, whose image can then be
// overwritten under it). Mostly `setup:` steps, made before the services start and taken
// down after they stop; as faults, they hide what the directory held until rolled back.
//
// Every piece is journaled before it is made (the loop device, then the mount), so that
// `firedrill rollback` takes them down after a SIGKILLed run: the mount is found again by
// its mount point and its source (a tag of the run for a tmpfs, the loop device for an
// image), never by the mount point alone, so that nothing mounted there by someone else is
// taken down; the loop device by its backing file.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "injectors/journaled_fault.h"
#include "injectors/support/file_ops.h"
#include "injectors/support/tools.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"
#include "runner/journal/journal.h"

namespace firedrill {
namespace {

namespace fs = std::filesystem;

// `s` as one word for /bin/sh: paths a drill names may hold spaces.
std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// /proc/self/mountinfo escapes a space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string oct = s.substr(i + 1, 3);
      if (oct.size() == 3 && oct.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(oct, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Whether a filesystem whose source is `source` is mounted on `point`.
bool MountedFrom(const std::string& point, const std::string& source) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, devno, root, mount_point;
    f >> id >> parent >> devno >> root >> mount_point;
    std::string field;
    while (f >> field && field != "-") {
    }
    std::string fstype, src;
    f >> fstype >> src;
    if (Unescape(mount_point) == point && Unescape(src) == source) return true;
  }
  return false;
}

// The `mount` undo: unmounts `path` if what is mounted there came from `source`.
Result<std::string> UndoMount(const nlohmann::json& a, const UndoContext&) {
  const std::string path = a.value("path", "");
  const std::string source = a.value("source", "");
  if (path.empty() || source.empty()) return Status::Invalid("mount: path or source missing");
  if (!MountedFrom(path, source)) return path + ": " + source + " is not mounted there";
  if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) return "unmounted " + path;
  if (errno != EBUSY) return Status::Failed("cannot unmount " + path + ": " + ErrnoText(errno));
  // Still in use (a process that kept a file open): detached now, freed when it closes.
  if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
    return "unmounted " + path + " (lazily: it was still in use)";
  }
  return Status::Failed("cannot unmount " + path + ": " + ErrnoText(errno));
}

// Loop devices whose backing file is `image` (as the kernel names it, " (deleted)" aside:
// a file renamed over since). losetup's JSON, not its text: the text escapes spaces.
Result<std::vector<std::string>> LoopDevicesOf(const std::string& image) {
  const std::string losetup = FindTool("losetup");
  if (losetup.empty()) return Status::Unsupported("losetup not found: apt-get install util-linux");
  auto r = RunShell({.script = losetup + " --list --json --output NAME,BACK-FILE",
                     .cwd = "/",
                     .timeout = Millis(10000)});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::Failed("losetup --list: " + OneLine(r->err));
  std::vector<std::string> out;
  if (r->out.empty()) return out;  // no loop device at all
  auto j = nlohmann::json::parse(r->out, nullptr, false);
  if (j.is_discarded() || !j.contains("loopdevices") || !j["loopdevices"].is_array()) {
    return Status::Failed("losetup --list --json: unexpected output " + Quoted(r->out));
  }
  for (const auto& d : j["loopdevices"]) {
    if (!d.contains("back-file") || !d["back-file"].is_string() || !d.contains("name")) continue;
    std::string back = d["back-file"];
    if (back.ends_with(" (deleted)")) back.resize(back.size() - 10);
    if (back == image) out.push_back(d["name"]);
  }
  return out;
}

// The `loop.detach` undo: detaches every loop device backed by the image, then removes the
// image file.
Result<std::string> UndoLoop(const nlohmann::json& a, const UndoContext& ctx) {
  const std::string image = a.value("image", "");
  if (image.empty()) return Status::Invalid("loop.detach: image missing");
  auto devices = LoopDevicesOf(image);
  if (!devices.ok()) return devices.status();
  std::string detail;
  for (const auto& d : *devices) {
    auto r = RunShell({.script = FindTool("losetup") + " --detach " + ShellQuote(d),
                       .cwd = "/",
                       .timeout = Millis(10000)});
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) return Status::Failed("losetup --detach " + d + ": " + OneLine(r->err));
    detail += (detail.empty() ? "detached " : ", ") + d;
  }
  // A device someone has open at that moment (another `losetup --find` probing it, a
  // blkid) is only marked to clear itself when they close it: the kernel lists it, backed
  // by the image, a few milliseconds more. Waited for, at most 2 s, so that what this
  // returns is what is true.
  if (!devices->empty()) {
    for (int i = 0; i < 100; ++i) {
      auto left = LoopDevicesOf(image);
      if (!left.ok() || left->empty()) break;
      if (i == 99) {
        detail += " (still in use: the kernel frees it when its last user closes it)";
        break;
      }
      if (ctx.env) {
        ctx.env->SleepMs(20);
      } else {
        ::usleep(20000);
      }
    }
  }
  // The step made the image with O_EXCL, so whatever regular file is there now came
  // through the drill: the one it made, or a fault's restored copy renamed over it.
  struct stat st {};
  if (::lstat(image.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    if (::unlink(image.c_str()) != 0) {
      return Status::Failed("cannot remove " + image + ": " + ErrnoText(errno));
    }
    detail += (detail.empty() ? "" : "; ") + std::string("removed ") + image;
  }
  return detail.empty() ? image + ": no loop device, no image left" : detail;
}

// The mount point: inside allow_paths, created if missing, opened without following a
// symlink so that the mount lands on the directory that was checked.
Result<UniqueFd> MountPoint(const std::string& path, const RunContext& ctx) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fs::create_directories(path, ec);
  if (ec) return Status::Io("cannot create " + path + ": " + ec.message());
  return OpenInside(path, O_RDONLY | O_DIRECTORY, ctx);
}

class TmpfsFault final : public JournaledFault {
 public:
  TmpfsFault(std::string name, std::string path, uint64_t bytes, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), path_(std::move(path)), bytes_(bytes) {}

 private:
  Result<std::string> Apply() override {
    auto path = ExpandInside(path_, ctx());
    if (!path.ok()) return path.status();
    auto dir = MountPoint(*path, ctx());
    if (!dir.ok()) return dir.status();
    // The source names the run, so the undo takes down this mount and no other.
    const std::string source =
        "firedrill-" + fs::path(ctx().journal->run_dir()).filename().string();
    auto recorded = Record("mount", {{"path", *path}, {"source", source}});
    if (!recorded.ok()) return recorded.status();
    const std::string target = "/proc/self/fd/" + std::to_string(dir->get());
    const std::string options = "size=" + std::to_string(bytes_) + ",mode=0755";
    if (::mount(source.c_str(), target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) !=
        0) {
      const int e = errno;
      (void)Finish("not mounted");
      return Status::Failed("cannot mount a tmpfs on " + Shown(*path, ctx()) + ": " + ErrnoText(e));
    }
    SetFigure("filesystem_bytes", static_cast<double>(bytes_));
    return "mounted a " + FormatBytes(bytes_) + " tmpfs on " + Shown(*path, ctx());
  }

  std::string path_;
  uint64_t bytes_;
};

class ImageFault final : public JournaledFault {
 public:
  ImageFault(std::string name, std::string image, std::string path, uint64_t bytes,
             const RunContext& ctx)
      : JournaledFault(std::move(name), ctx),
        image_(std::move(image)),
        path_(std::move(path)),
        bytes_(bytes) {}

  // Unmounts, then detaches the loop device and removes the image: what Apply recorded,
  // last first.
  Result<std::string> Rollback() override {
    std::string detail;
    for (uint64_t entry : {mount_id_, loop_id_}) {
      if (entry == 0) continue;
      auto u = ctx().journal->Undo(entry, ctx().undo());
      if (!u.ok()) return u.status();
      detail += (detail.empty() ? "" : "; ") + *u;
    }
    return detail.empty() ? NothingRecorded() : detail;
  }

 private:
  Result<std::string> Apply() override {
    auto image = ExpandInside(image_, ctx());
    if (!image.ok()) return image.status();
    auto path = ExpandInside(path_, ctx());
    if (!path.ok()) return path.status();
    const std::string shown_image = Shown(*image, ctx());
    {
      UniqueFd made(
          ::open(image->c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!made.valid()) {
        return Status::Failed("cannot create the image " + shown_image + ": " + ErrnoText(errno));
      }
    }
    auto fd = OpenInside(*image, O_RDWR, ctx());
    if (!fd.ok()) return fd.status();
    // Recorded first: the undo detaches any loop device on the image and removes it.
    auto loop = Record("loop.detach", {{"image", *image}});
    if (!loop.ok()) return loop.status();
    loop_id_ = *loop;
    if (::ftruncate(fd->get(), static_cast<off_t>(bytes_)) != 0) {
      return Status::Io("cannot size " + shown_image + ": " + ErrnoText(errno));
    }
    fd->Reset();
    auto mkfs = RunShell({.script = FindTool("mkfs.ext4") + " -q -F -m 0 " + ShellQuote(*image),
                          .cwd = "/",
                          .timeout = Millis(60000)});
    if (!mkfs.ok()) return mkfs.status();
    if (mkfs->exit_code != 0)
      return Status::Failed("mkfs.ext4 " + shown_image + ": " + OneLine(mkfs->err));
    auto attached =
        RunShell({.script = FindTool("losetup") + " --find --show " + ShellQuote(*image),
                  .cwd = "/",
                  .timeout = Millis(10000)});
    if (!attached.ok()) return attached.status();
    std::string device = attached->out;
    while (!device.empty() && (device.back() == '\n' || device.back() == ' ')) device.pop_back();
    if (attached->exit_code != 0 || !device.starts_with("/dev/loop")) {
      return Status::Failed("losetup --find --show " + shown_image + ": " +
                            OneLine(attached->err + attached->out));
    }
    auto dir = MountPoint(*path, ctx());
    if (!dir.ok()) return dir.status();
    auto mounted = Record("mount", {{"path", *path}, {"source", device}});
    if (!mounted.ok()) return mounted.status();
    mount_id_ = *mounted;
    const std::string target = "/proc/self/fd/" + std::to_string(dir->get());
    if (::mount(device.c_str(), target.c_str(), "ext4", MS_NOSUID | MS_NODEV, nullptr) != 0) {
      const int e = errno;
      (void)Finish(mount_id_, "not mounted");
      mount_id_ = 0;
      return Status::Failed("cannot mount " + device + " on " + Shown(*path, ctx()) + ": " +
                            ErrnoText(e));
    }
    SetFigure("image_bytes", static_cast<double>(bytes_));
    return "mounted a " + FormatBytes(bytes_) + " ext4 image (" + shown_image + " on " + device +
           ") on " + Shown(*path, ctx());
  }

  std::string image_;
  std::string path_;
  uint64_t bytes_;
  uint64_t loop_id_ = 0;
  uint64_t mount_id_ = 0;
};

constexpr FieldSpec kMountPointField = {
    .name = "path",
    .type = FieldType::kPath,
    .doc = "directory to mount it on, created if missing (inside allow_paths)",
    .required = true};

constexpr FieldSpec kTmpfsFields[] = {
    kMountPointField,
    {.name = "size",
     .type = FieldType::kSize,
     .doc = "its size; a disk.fill of 100% fills exactly this",
     .default_value = "64MiB",
     .min = 4096},
};

constexpr FieldSpec kImageFields[] = {
    {.name = "image",
     .type = FieldType::kPath,
     .doc = "the image file to create (must not exist; inside allow_paths); removed at the end",
     .required = true},
    kMountPointField,
    {.name = "size",
     .type = FieldType::kSize,
     .doc = "the image's size",
     .default_value = "64MiB",
     .min = 8 * 1024 * 1024,
     .max = 4.0 * 1024 * 1024 * 1024},
};

Result<std::unique_ptr<Fault>> MakeTmpfs(const FaultSpec& f, const RunContext& ctx) {
  auto path = ExpandInside(f.with.String("path"), ctx);
  if (!path.ok()) return path.status();
  return std::unique_ptr<Fault>(
      new TmpfsFault(f.name, f.with.String("path"), f.with.Size("size").bytes, ctx));
}

Result<std::unique_ptr<Fault>> MakeImage(const FaultSpec& f, const RunContext& ctx) {
  for (const char* field : {"image", "path"}) {
    auto p = ExpandInside(f.with.String(field), ctx);
    if (!p.ok()) return p.status();
  }
  return std::unique_ptr<Fault>(new ImageFault(
      f.name, f.with.String("image"), f.with.String("path"), f.with.Size("size").bytes, ctx));
}

// Mounting needs CAP_SYS_ADMIN; loop devices need losetup and mkfs.ext4 too.
std::string MountUnsupported() {
  if (::geteuid() != 0) return "mounting a filesystem needs root";
  return "";
}

std::string ImageUnsupported() {
  if (std::string why = MountUnsupported(); !why.empty()) return why;
  if (FindTool("mkfs.ext4").empty()) return "mkfs.ext4 not found: apt-get install e2fsprogs";
  if (FindTool("losetup").empty()) return "losetup not found: apt-get install util-linux";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) return "no /dev/loop-control here";
  return "";
}

}  // namespace

extern const UndoKind kUndoMount = {
    .name = "mount",
    .doc = "unmount a filesystem the run mounted, if the one mounted there is still its own",
    .undo = UndoMount,
};

extern const UndoKind kUndoLoop = {
    .name = "loop.detach",
    .doc = "detach the loop devices backed by the run's image file, then remove the image",
    .undo = UndoLoop,
};

extern const FaultAction kDiskTmpfs = {
    .name = "disk.tmpfs",
    .doc =
        "mount a tmpfs of the drill's own on a directory (a disk to fill, harmless to the "
        "machine's); unmounted at the end",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kTmpfsFields,
    .example = R"({name: disk, action: disk.tmpfs, with: {path: "${workdir}/disk", size: 32MiB}})",
    .check = nullptr,
    .make = MakeTmpfs,
    .unsupported = MountUnsupported,
    .setup = true,
};

extern const FaultAction kDiskImage = {
    .name = "disk.image",
    .doc =
        "create an ext4 image file, attach it to a loop device and mount it on a directory "
        "(a server's disk); unmounted, detached and removed at the end",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kImageFields,
    .example =
        R"({name: disk-a, action: disk.image, with: {image: "${workdir}/a.img", path: "${workdir}/a", size: 32MiB}})",
    .check = nullptr,
    .make = MakeImage,
    .unsupported = ImageUnsupported,
    .setup = true,
};

}  // namespace firedrill
