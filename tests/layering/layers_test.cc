// The layer order, enforced: the real tree keeps it (and the check read enough of it to
// mean something), a fixture tree with known mistakes is refused at exactly those lines,
// and the check_layers binary the build runs exits non-zero on them.
#include "tests/layering/layers.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/testing.h"

namespace firedrill::testing {
namespace {

using layering::CheckLayering;
using layering::LayerOrder;
using layering::QuotedInclude;
using layering::Report;
using layering::Violation;

std::string SourceRoot() { return FIREDRILL_SOURCE_DIR; }
std::string FixtureRoot() { return SourceRoot() + "/tests/data/layering"; }

const Violation* Find(const Report& report, const std::string& file, int line) {
  for (const Violation& v : report.violations) {
    if (v.file == file && v.line == line) return &v;
  }
  return nullptr;
}

TEST(LayeringTest, TheRealTreeKeepsTheOrder) {
  Report report = CheckLayering(SourceRoot());
  for (const Violation& v : report.violations) ADD_FAILURE() << v.ToString();
  // A check that found no file would pass too: it must have read the product.
  EXPECT_GE(report.files, 50);
  EXPECT_GE(report.includes, 200);
}

TEST(LayeringTest, TheFixtureIsRefusedAtEachForbiddenIncludeAndNowhereElse) {
  Report report = CheckLayering(FixtureRoot());
  std::vector<std::tuple<std::string, int, std::string>> got;
  for (const Violation& v : report.violations) got.emplace_back(v.file, v.line, v.include);
  const std::vector<std::tuple<std::string, int, std::string>> want = {
      {"injectors/fault_registry.cc", 4, "probes/probe_registry.h"},
      {"reports/terminal.cc", 4, "tests/testing.h"},
      {"reports/terminal.cc", 5, "runner/engine/gone.h"},
      {"reports/terminal.cc", 6, "terminal.h"},
      {"runner/base/status.cc", 4, "runner/engine/engine.h"},
      {"runner/stray.cc", 0, ""},
  };
  EXPECT_EQ(got, want);
  // Nine .cc/.h files (notes.txt is not read); the commented-out include is not counted,
  // the one written with blanks and a trailing comment is.
  EXPECT_EQ(report.files, 9);
  EXPECT_EQ(report.includes, 11);
}

TEST(LayeringTest, MessagesNameTheLayersOnBothSides) {
  Report report = CheckLayering(FixtureRoot());
  const Violation* up = Find(report, "runner/base/status.cc", 4);
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->ToString(),
            "runner/base/status.cc:4: #include \"runner/engine/engine.h\": runner/base (rank 1) "
            "may include only runner/base; runner/engine (rank 6) is above it (order: " +
                LayerOrder() + ")");

  const Violation* across = Find(report, "injectors/fault_registry.cc", 4);
  ASSERT_NE(across, nullptr);
  EXPECT_NE(across->message.find("injectors and probes"), std::string::npos) << across->message;
  EXPECT_NE(across->message.find("must never include each other"), std::string::npos)
      << across->message;

  const Violation* tests = Find(report, "reports/terminal.cc", 4);
  ASSERT_NE(tests, nullptr);
  EXPECT_NE(tests->message.find("tests/ is not product code"), std::string::npos) << tests->message;

  const Violation* gone = Find(report, "reports/terminal.cc", 5);
  ASSERT_NE(gone, nullptr);
  EXPECT_NE(gone->message.find("no such file under runner/engine/"), std::string::npos)
      << gone->message;

  const Violation* stray = Find(report, "runner/stray.cc", 0);
  ASSERT_NE(stray, nullptr);
  EXPECT_EQ(stray->ToString().rfind("runner/stray.cc: product files live in a layer folder", 0), 0u)
      << stray->ToString();
}

TEST(LayeringTest, TheOrderIsReadFromTheTable) {
  EXPECT_EQ(LayerOrder(),
            "base < journal < drill < injectors, probes < loader < engine < reports < cli");
}

TEST(LayeringTest, OnlyQuotedIncludesAreJudged) {
  EXPECT_EQ(QuotedInclude("#include \"runner/base/status.h\""), "runner/base/status.h");
  EXPECT_EQ(QuotedInclude("  #  include \"a/b.h\"  // see \"c.h\""), "a/b.h");
  EXPECT_EQ(QuotedInclude("\t#include\t\"a/b.h\"/* c */"), "a/b.h");
  EXPECT_EQ(QuotedInclude("#include <vector>"), std::nullopt);
  EXPECT_EQ(QuotedInclude("// #include \"a/b.h\""), std::nullopt);
  EXPECT_EQ(QuotedInclude("#include_next \"a/b.h\""), std::nullopt);
  EXPECT_EQ(QuotedInclude("#define X \"a/b.h\""), std::nullopt);
  EXPECT_EQ(QuotedInclude("#include \"unterminated"), std::nullopt);
}

struct Ran {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The checker as the build runs it. It only reads a small tree, so it ends by itself.
Ran RunChecker(const std::vector<std::string>& args) {
  TempDir dir;
  std::string cmd = ShellQuote(CHECK_LAYERS_BIN);
  for (const std::string& arg : args) cmd += " " + ShellQuote(arg);
  cmd += " 2>" + ShellQuote(dir / "err");
  Ran ran;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return ran;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) ran.out.append(buf, n);
  int status = pclose(p);
  ran.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ran.err = ReadFile(dir / "err");
  return ran;
}

TEST(LayeringCheckerTest, FailsOnTheFixtureNamingEachViolation) {
  Ran ran = RunChecker({FixtureRoot()});
  EXPECT_EQ(ran.exit_code, 1) << ran.err;
  EXPECT_NE(ran.err.find("runner/base/status.cc:4: #include \"runner/engine/engine.h\": "
                         "runner/base (rank 1) may include only runner/base"),
            std::string::npos)
      << ran.err;
  EXPECT_NE(ran.err.find("injectors/fault_registry.cc:4: "), std::string::npos) << ran.err;
  EXPECT_NE(ran.err.find("layering: 9 files, 11 includes, 6 violations"), std::string::npos)
      << ran.err;
  EXPECT_EQ(ran.out, "");
}

TEST(LayeringCheckerTest, PassesOnTheRealTree) {
  Ran ran = RunChecker({SourceRoot()});
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_EQ(ran.err, "");
  EXPECT_NE(ran.out.find(" includes, no violation\n"), std::string::npos) << ran.out;
}

// A wrong root must not pass the build by finding nothing to check.
TEST(LayeringCheckerTest, RefusesARootWithoutProductSources) {
  TempDir empty;
  Ran ran = RunChecker({empty.path()});
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_NE(ran.err.find("no product source"), std::string::npos) << ran.err;
  EXPECT_EQ(RunChecker({}).exit_code, 2);
}

}  // namespace
}  // namespace firedrill::testing
