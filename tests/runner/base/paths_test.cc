// The blast radius of file and disk faults, on a real directory tree with real symlinks.
#include "runner/base/paths.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "allowed/sub");
    fs::create_directories(dir_ / "outside");
    fs::create_symlink(dir_ / "outside", dir_ / "allowed/escape");
    fs::create_symlink(dir_ / "allowed/sub", dir_ / "allowed/inner");
  }
  TempDir dir_;
  std::vector<std::string> allow() { return {dir_ / "allowed"}; }
};

TEST_F(PathsTest, InsideIsAcceptedAndResolved) {
  auto r = ResolveInside(dir_ / "allowed/sub/file", "/", allow());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, fs::canonical(dir_.path()).string() + "/allowed/sub/file");
  // Relative to the base, and through a symlink that stays inside.
  auto rel = ResolveInside("inner/x", dir_ / "allowed", allow());
  ASSERT_TRUE(rel.ok()) << rel.status().ToString();
  EXPECT_EQ(*rel, fs::canonical(dir_.path()).string() + "/allowed/sub/x");
}

TEST_F(PathsTest, DotDotOutIsRefused) {
  auto r = ResolveInside(dir_ / "allowed/sub/../../outside/f", "/", allow());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
  EXPECT_NE(r.status().message().find("is outside settings.allow_paths"), std::string::npos);
}

TEST_F(PathsTest, ASymlinkInsidePointingOutsideIsRefused) {
  auto r = ResolveInside(dir_ / "allowed/escape/f", "/", allow());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("resolves to " + fs::canonical(dir_ / "outside").string()),
            std::string::npos)
      << r.status().message();
}

TEST_F(PathsTest, APrefixIsNotAParent) {
  fs::create_directories(dir_ / "allowed-not");
  EXPECT_FALSE(ResolveInside(dir_ / "allowed-not/f", "/", allow()).ok());
}

}  // namespace
}  // namespace firedrill::testing
