// A drill's regex with ${...} in it: expanded per sample, compiled once per expansion.
#include "runner/drill/pattern.h"

#include <gtest/gtest.h>

#include <string>

#include "runner/base/regex.h"

namespace firedrill {
namespace {

TEST(PatternTest, ExpandsAndCaches) {
  Expander ex("/w", {});
  Pattern p("^${seq}$");
  auto a = p.Compile(ex, 42);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(RegexSearch(**a, "42\n"));
  EXPECT_EQ(p.Shown(), "/^42$/");
  auto again = p.Compile(ex, 42);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*a, *again);  // not compiled twice
  auto b = p.Compile(ex, 7);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(RegexSearch(**b, "42\n"));
  EXPECT_EQ(p.Shown(), "/^7$/");
}

TEST(PatternTest, ABadPatternSaysWhyAndNamesRe2) {
  Expander ex("/w", {});
  Pattern bad("(");
  auto c = bad.Compile(ex, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "bad regex /(/: RE2 cannot compile it: missing ): (");
}

TEST(PatternTest, ReferencesAreSubstitutedUnescaped) {
  Expander ex("/w.d", {});
  Pattern p("^${workdir}$");
  auto re = p.Compile(ex, {});
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(RegexSearch(**re, "/w.d"));
  EXPECT_TRUE(RegexSearch(**re, "/wxd"));  // the dot of the value is a regex dot
}

}  // namespace
}  // namespace firedrill
