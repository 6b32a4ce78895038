// What the file and disk fault tests share: a small tmpfs mounted on the fixture's
// workdir (unmounted when the test ends, pass or fail), faults built from YAML through the
// real loader (so defaults and checks are the drill's own), and file metadata to compare.
#pragma once

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "injectors/fault_registry.h"
#include "runner/drill/fault.h"
#include "runner/loader/loader.h"
#include "tests/injectors/injector_fixture.h"

namespace firedrill::testing {

// A filesystem of `type` (tmpfs, ramfs) mounted on `dir` for one scope.
class ScopedMount {
 public:
  ScopedMount(const std::string& dir, const char* type, const std::string& options) {
    if (::mount(type, dir.c_str(), type, 0, options.c_str()) == 0) {
      dir_ = dir;
    } else {
      error_ = std::string("mount -t ") + type + " " + dir + ": " + std::strerror(errno);
    }
  }
  ~ScopedMount() {
    // Lazily if busy (a descriptor a failed assertion left open): never leave it behind.
    if (!dir_.empty() && ::umount2(dir_.c_str(), 0) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  bool ok() const { return !dir_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string error_;
};

#define FD_SKIP_UNLESS_MOUNTED(m) \
  if (!(m).ok()) GTEST_SKIP() << (m).error() << " (these tests mount filesystems: run as root)"

// The injector fixture with a 16 MiB tmpfs as its workdir.
struct TmpfsFixture {
  InjectorFixture fx;
  ScopedMount tmpfs{fx.workdir, "tmpfs", "size=16m"};
  std::string operator/(const std::string& name) const { return fx.workdir + "/" + name; }
};

// One fault entry (`with` in YAML flow style) through the real loader. The drill allows
// every path, so that the loader's own check of the text lets paths through and what is
// tested is the injector's check against the fixture's RunContext.
inline FaultSpec LoadFault(const std::string& action, const std::string& with) {
  const std::string text =
      "apiVersion: firedrill/v1\nname: t\nsettings: {allow_paths: [\"/\"]}\n"
      "steady_state:\n  - {name: s, probe: {command: {run: \"true\"}}}\n"
      "faults:\n  - {name: f, action: " +
      action + ", with: " + with + "}\n";
  auto r = LoadScenarioText(text, "test.yaml");
  std::string errors;
  for (const auto& e : r.errors) errors += e.ToString() + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  if (!r.ok()) return FaultSpec{};
  return r.scenario->faults.at(0);
}

// The loader's first error for that fault entry, or "" when it loads.
inline std::string LoadError(const std::string& action, const std::string& with) {
  const std::string text =
      "apiVersion: firedrill/v1\nname: t\n"
      "steady_state:\n  - {name: s, probe: {command: {run: \"true\"}}}\n"
      "faults:\n  - {name: f, action: " +
      action + ", with: " + with + "}\n";
  auto r = LoadScenarioText(text, "test.yaml");
  return r.errors.empty() ? "" : r.errors.front().message;
}

inline Result<std::unique_ptr<Fault>> MakeFault(const std::string& action, const std::string& with,
                                                const RunContext& ctx) {
  return FindFaultAction(action)->make(LoadFault(action, with), ctx);
}

// What restoring must bring back besides the bytes.
struct Meta {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime_ns = 0;
  ino_t ino = 0;
  bool operator==(const Meta& o) const {
    return mode == o.mode && uid == o.uid && gid == o.gid && mtime_ns == o.mtime_ns;
  }
};

inline Meta MetaOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return Meta{st.st_mode, st.st_uid, st.st_gid,
              static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, st.st_ino};
}

inline std::ostream& operator<<(std::ostream& os, const Meta& m) {
  return os << "mode " << std::oct << m.mode << std::dec << " uid " << m.uid << " gid " << m.gid
            << " mtime_ns " << m.mtime_ns;
}

// Gives `path` an owner, mode and mtime no fresh file would have by chance.
inline void SetDistinctMeta(const std::string& path) {
  ASSERT_EQ(::chown(path.c_str(), 1234, 5678), 0) << std::strerror(errno);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  struct timespec ts[2] = {{1600000000, 111}, {1600000000, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, 0), 0);
}

// Names in `dir` (not . and ..), sorted.
inline std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace firedrill::testing
