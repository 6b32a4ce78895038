// The file probe against real files in a temporary directory.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/probes/probe_test_base.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::TempDir;

struct FileSpec {
  std::string path;
  bool exists = true;
  std::optional<std::string> contains{};
  std::optional<std::string> sha256{};
  std::optional<SizeValue> free_below{};
};

// Params as the loader hands them over: validated, with every default filled in.
Params FileParams(const FileSpec& s) {
  auto expect = std::make_shared<Params>();
  expect->Set("exists", {s.exists, {}});
  if (s.contains) expect->Set("contains", {*s.contains, {}});
  if (s.sha256) expect->Set("sha256", {*s.sha256, {}});
  if (s.free_below) expect->Set("free_below", {*s.free_below, {}});
  Params p;
  p.Set("path", {s.path, {}});
  p.Set("expect", {expect, {}});
  return p;
}

class FileProbeTest : public ::firedrill::testing::ProbeTestBase {
 protected:
  ProbeOutcome SampleOnce(const FileSpec& s) {
    const ProbeKind* kind = FindProbeKind("file");
    if (!kind || !kind->make) return {false, "file probe has no runtime"};
    auto probe = kind->make(FileParams(s), ctx_);
    if (!probe.ok()) return {false, probe.status().ToString()};
    return (*probe)->Sample({});
  }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_.path() + "/" + name, std::ios::binary) << content;
  }
};

TEST_F(FileProbeTest, ExistingFilePasses) {
  Write("a.txt", "x");
  auto out = SampleOnce({.path = "a.txt"});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "exists");
  EXPECT_TRUE(SampleOnce({.path = "${workdir}/a.txt"}).passed);
  EXPECT_TRUE(SampleOnce({.path = dir_.path() + "/a.txt"}).passed);
}

TEST_F(FileProbeTest, ExistenceBothWays) {
  auto missing = SampleOnce({.path = "nope.txt"});
  EXPECT_FALSE(missing.passed);
  EXPECT_EQ(missing.detail, "does not exist");
  auto absent = SampleOnce({.path = "nope.txt", .exists = false});
  EXPECT_TRUE(absent.passed);
  EXPECT_EQ(absent.detail, "absent");
  Write("here.txt", "");
  auto present = SampleOnce({.path = "here.txt", .exists = false});
  EXPECT_FALSE(present.passed);
  EXPECT_EQ(present.detail, "exists (expected absent)");
}

TEST_F(FileProbeTest, Contains) {
  Write("dump.rdb", "REDIS0011\xfa\tredis-ver");
  auto pass = SampleOnce({.path = "dump.rdb", .contains = "REDIS"});
  EXPECT_TRUE(pass.passed);
  EXPECT_EQ(pass.detail, "contains \"REDIS\"");
  auto fail = SampleOnce({.path = "dump.rdb", .contains = "MONGO"});
  EXPECT_FALSE(fail.passed);
  EXPECT_EQ(fail.detail, "does not contain \"MONGO\"");
}

// The file is read in 1 MiB chunks: a needle across the boundary must still be found.
TEST_F(FileProbeTest, ContainsAcrossReadChunks) {
  Write("big.txt", std::string((1 << 20) - 3, 'x') + "NEEDLE" + std::string(100, 'y'));
  auto out = SampleOnce({.path = "big.txt", .contains = "NEEDLE"});
  EXPECT_TRUE(out.passed) << out.detail;
}

// Only the first 64 MiB are searched. A sparse file makes that cheap to show.
TEST_F(FileProbeTest, ContainsLooksAtTheFirst64MiB) {
  const std::string path = dir_.path() + "/sparse.bin";
  {
    std::ofstream f(path, std::ios::binary);
    f << "HEAD";
  }
  std::filesystem::resize_file(path, (64 << 20) + 10);
  {
    std::ofstream f(path, std::ios::binary | std::ios::app);
    f << "TAIL";
  }
  EXPECT_TRUE(SampleOnce({.path = "sparse.bin", .contains = "HEAD"}).passed);
  auto out = SampleOnce({.path = "sparse.bin", .contains = "TAIL"});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "does not contain \"TAIL\"");
}

TEST_F(FileProbeTest, Sha256) {
  Write("abc.txt", "abc");
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  auto pass = SampleOnce({.path = "abc.txt", .sha256 = abc});
  EXPECT_TRUE(pass.passed);
  EXPECT_EQ(pass.detail, "sha256 matches");
  std::string upper = abc;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  EXPECT_TRUE(SampleOnce({.path = "abc.txt", .sha256 = upper}).passed);
  auto fail = SampleOnce({.path = "abc.txt", .sha256 = std::string(64, '0')});
  EXPECT_FALSE(fail.passed);
  EXPECT_EQ(fail.detail, "sha256 ba7816bf8f01... (expected 000000000000...)");
}

TEST_F(FileProbeTest, ContainsAndSha256Together) {
  Write("abc.txt", "abc");
  auto out =
      SampleOnce({.path = "abc.txt",
                  .contains = "bc",
                  .sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"});
  EXPECT_TRUE(out.passed);
  EXPECT_EQ(out.detail, "contains \"bc\", sha256 matches");
}

TEST_F(FileProbeTest, DirectoryHasNoContent) {
  auto out = SampleOnce({.path = ".", .contains = "x"});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "is a directory");
}

// Free space changes while tests run, so limits are chosen far from the real value.
TEST_F(FileProbeTest, FreeBelowSize) {
  struct statvfs vfs {};
  ASSERT_EQ(statvfs(dir_.path().c_str(), &vfs), 0);
  const uint64_t free_bytes = uint64_t{vfs.f_bavail} * vfs.f_frsize;

  auto above = SampleOnce({.path = ".", .free_below = SizeValue{.bytes = 1}});
  EXPECT_FALSE(above.passed);
  EXPECT_TRUE(std::regex_match(above.detail,
                               std::regex(R"(free [0-9.]+[KMGT]?i?B \([0-9.]+%\), not below 1B)")))
      << above.detail;

  auto below =
      SampleOnce({.path = ".", .free_below = SizeValue{.bytes = free_bytes + (uint64_t{1} << 40)}});
  EXPECT_TRUE(below.passed) << below.detail;
  EXPECT_TRUE(std::regex_match(below.detail, std::regex(R"(free \S+ \(\S+%\) < \S+)")))
      << below.detail;
}

TEST_F(FileProbeTest, FreeBelowPercent) {
  // Some blocks are always reserved or used, so free is under 100% and above 0%.
  auto below = SampleOnce({.path = "/", .free_below = SizeValue{.percent = 100}});
  EXPECT_TRUE(below.passed) << below.detail;
  EXPECT_TRUE(std::regex_match(below.detail, std::regex(R"(free \S+ \(\S+%\) < 100%)")))
      << below.detail;
  auto above = SampleOnce({.path = dir_.path(), .free_below = SizeValue{.percent = 0}});
  EXPECT_FALSE(above.passed);
  EXPECT_TRUE(std::regex_match(above.detail, std::regex(R"(free \S+ \(\S+%\), not below 0%)")))
      << above.detail;
}

TEST_F(FileProbeTest, FreeBelowOfAMissingPathFails) {
  auto out = SampleOnce({.path = "gone/deeper", .free_below = SizeValue{.percent = 50}});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "does not exist");
}

}  // namespace
}  // namespace firedrill
