// disk.tmpfs and disk.image for real (root only): the filesystem is where the drill says,
// of the size it says, journaled before it is made, and gone after the rollback, loop
// device and image file included; a filesystem someone else mounted on the same directory
// is left alone. tests/integration/crash_test.cc takes both down with `firedrill rollback`
// after a SIGKILLed run.
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "injectors/fault_registry.h"
#include "injectors/support/tools.h"
#include "tests/injectors/file_fixture.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

bool IsMountPoint(const std::string& path) {
  return std::system(("mountpoint -q '" + path + "'").c_str()) == 0;
}

uint64_t TotalBytes(const std::string& path) {
  struct statvfs v {};
  if (::statvfs(path.c_str(), &v) != 0) return 0;
  return static_cast<uint64_t>(v.f_blocks) * v.f_frsize;
}

std::string LoopsOf(const std::string& image) {
  std::string out;
  FILE* p = ::popen((FindTool("losetup") +
                     " --list --noheadings --raw --output NAME,BACK-FILE | grep -F '" + image + "'")
                        .c_str(),
                    "r");
  if (!p) return "?";
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  return out;
}

// The action's own "supported?" answer (root, the tools, /dev/loop-control) skips a test.
#define FD_SKIP_UNLESS_SUPPORTED(action)                                        \
  if (std::string why = FindFaultAction(action)->unsupported(); !why.empty()) { \
    GTEST_SKIP() << why;                                                        \
  }

// `action` with `with` (YAML), through the loader, for the fixture.
Result<std::unique_ptr<Fault>> Make(const char* action, const std::string& with,
                                    const InjectorFixture& fx) {
  return FindFaultAction(action)->make(LoadFault(action, with), fx.ctx);
}

// Unmounts whatever a failed test left, so one failure cannot leak a mount.
struct Unmount {
  std::string path;
  ~Unmount() {
    while (IsMountPoint(path)) ::umount2(path.c_str(), MNT_DETACH);
  }
};

TEST(DiskTmpfsTest, ATmpfsOfTheGivenSizeIsMountedAndTakenDown) {
  FD_SKIP_UNLESS_SUPPORTED("disk.tmpfs");
  InjectorFixture fx;
  const std::string disk = fx.workdir + "/disk";
  Unmount guard{disk};
  auto fault = Make("disk.tmpfs", R"({path: disk, size: 1MiB})", fx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected, "mounted a 1.0MiB tmpfs on disk");
  EXPECT_EQ(Figure(**fault, "filesystem_bytes"), 1048576);
  EXPECT_TRUE(IsMountPoint(disk));
  struct statfs sf {};
  ASSERT_EQ(::statfs(disk.c_str(), &sf), 0);
  EXPECT_EQ(sf.f_type, 0x01021994) << "TMPFS_MAGIC";
  EXPECT_EQ(TotalBytes(disk), 1048576u);
  auto entries = fx.journal->Entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "mount");
  EXPECT_EQ(entries[0].args["path"], disk);
  EXPECT_EQ(entries[0].args["source"], "firedrill-test");
  WriteFile(disk + "/x", "on the tmpfs");
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(*rolled, "unmounted " + disk);
  EXPECT_FALSE(IsMountPoint(disk));
  EXPECT_FALSE(fs::exists(disk + "/x"));
  EXPECT_TRUE(fx.journal->Pending().empty());
}

// The undo finds its mount by mount point and source: a tmpfs someone else mounted there
// since (the run's own already gone) is not taken down.
TEST(DiskTmpfsTest, SomeoneElsesMountOnTheSameDirectoryIsLeftAlone) {
  FD_SKIP_UNLESS_SUPPORTED("disk.tmpfs");
  InjectorFixture fx;
  const std::string disk = fx.workdir + "/disk";
  Unmount guard{disk};
  auto fault = Make("disk.tmpfs", R"({path: disk})", fx);
  ASSERT_TRUE(fault.ok());
  ASSERT_TRUE((*fault)->Inject().ok());
  ASSERT_EQ(::umount2(disk.c_str(), 0), 0);
  ASSERT_EQ(::mount("someone-else", disk.c_str(), "tmpfs", 0, "size=1m"), 0);
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(*rolled, disk + ": firedrill-test is not mounted there");
  EXPECT_TRUE(IsMountPoint(disk)) << "another's mount was taken down";
}

TEST(DiskImageTest, AnExt4ImageOnALoopDeviceIsMountedThenDetachedAndRemoved) {
  FD_SKIP_UNLESS_SUPPORTED("disk.image");
  InjectorFixture fx;
  const std::string mnt = fx.workdir + "/a";
  const std::string image = fx.workdir + "/a.img";
  Unmount guard{mnt};
  auto fault = Make("disk.image", R"({image: a.img, path: a, size: 16MiB})", fx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_TRUE(injected->starts_with("mounted a 16.0MiB ext4 image (a.img on /dev/loop"))
      << *injected;
  EXPECT_TRUE(injected->ends_with(") on a")) << *injected;
  EXPECT_EQ(Figure(**fault, "image_bytes"), 16.0 * 1024 * 1024);
  EXPECT_TRUE(IsMountPoint(mnt));
  struct statfs sf {};
  ASSERT_EQ(::statfs(mnt.c_str(), &sf), 0);
  EXPECT_EQ(sf.f_type, 0xEF53) << "EXT4_SUPER_MAGIC";
  EXPECT_EQ(fs::file_size(image), 16u * 1024 * 1024);
  EXPECT_NE(LoopsOf(image), "") << "the image is attached";
  // The loop device is journaled before it exists, and the mount before it is made.
  auto entries = fx.journal->Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].kind, "loop.detach");
  EXPECT_EQ(entries[0].args["image"], image);
  EXPECT_EQ(entries[1].kind, "mount");
  EXPECT_TRUE(entries[1].args["source"].get<std::string>().starts_with("/dev/loop"));
  WriteFile(mnt + "/index.html", "served from the image\n");
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_TRUE(rolled->starts_with("unmounted " + mnt + "; detached /dev/loop")) << *rolled;
  EXPECT_TRUE(rolled->ends_with("; removed " + image)) << *rolled;
  EXPECT_FALSE(IsMountPoint(mnt));
  EXPECT_EQ(LoopsOf(image), "");
  EXPECT_FALSE(fs::exists(image));
  EXPECT_TRUE(fx.journal->Pending().empty());
}

// A fault's rollback renames a restored copy over the image while it is attached: the
// kernel then names the loop device's backing file "IMAGE (deleted)". It is still found,
// detached, and the image removed.
TEST(DiskImageTest, AnImageRenamedOverWhileAttachedIsStillDetached) {
  FD_SKIP_UNLESS_SUPPORTED("disk.image");
  InjectorFixture fx;
  const std::string mnt = fx.workdir + "/a";
  const std::string image = fx.workdir + "/a.img";
  Unmount guard{mnt};
  auto fault = Make("disk.image", R"({image: a.img, path: a, size: 8MiB})", fx);
  ASSERT_TRUE(fault.ok());
  ASSERT_TRUE((*fault)->Inject().ok());
  fs::copy_file(image, image + ".saved");
  fs::rename(image + ".saved", image);
  ASSERT_NE(LoopsOf(image).find("(deleted)"), std::string::npos) << LoopsOf(image);
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_NE(rolled->find("; detached /dev/loop"), std::string::npos) << *rolled;
  EXPECT_EQ(LoopsOf(image), "");
  EXPECT_FALSE(fs::exists(image));
}

TEST(DiskImageTest, AnImageThatExistsAlreadyIsRefusedAndKept) {
  FD_SKIP_UNLESS_SUPPORTED("disk.image");
  InjectorFixture fx;
  const std::string image = fx.workdir + "/a.img";
  WriteFile(image, "someone's data");
  auto fault = Make("disk.image", R"({image: a.img, path: a})", fx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.status().message(), "cannot create the image a.img: file exists");
  EXPECT_EQ(ReadFile(image), "someone's data");
  EXPECT_TRUE(fx.journal->Entries().empty());
}

}  // namespace
}  // namespace firedrill::testing
