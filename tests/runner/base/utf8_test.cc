#include "runner/base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace firedrill {
namespace {

TEST(Utf8Test, ReplacesEachMaximalInvalidSubpart) {
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("✓ ok — done"), "✓ ok — done");
  EXPECT_EQ(ValidUtf8("a\xff-"), "a\xEF\xBF\xBD-");
  EXPECT_EQ(ValidUtf8("\xE2\x9C"), "\xEF\xBF\xBD");              // truncated sequence
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(ValidUtf8("\xF0\x9F\x94\xA5"), "\xF0\x9F\x94\xA5");                  // U+1F525
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");         // > U+10FFFF
}

TEST(Utf8Test, StepsGiveCodePointsAndLengths) {
  const std::string s = "a\xC3\xA9\xE2\x9C\x93\xF0\x9F\x94\xA5";  // a é ✓ 🔥
  Utf8Step a = NextUtf8(s, 0), e = NextUtf8(s, 1), check = NextUtf8(s, 3), fire = NextUtf8(s, 6);
  EXPECT_TRUE(a.valid && e.valid && check.valid && fire.valid);
  EXPECT_EQ(a.code_point, U'a');
  EXPECT_EQ(e.code_point, U'\u00E9');
  EXPECT_EQ(e.length, 2u);
  EXPECT_EQ(check.code_point, U'\u2713');
  EXPECT_EQ(fire.code_point, U'\U0001F525');
  EXPECT_EQ(fire.length, 4u);
  Utf8Step cut = NextUtf8("\xE2\x9C", 0);
  EXPECT_FALSE(cut.valid);
  EXPECT_EQ(cut.length, 2u);
}

TEST(Utf8Test, PrefixCutsOnlyBetweenCodePoints) {
  EXPECT_EQ(Utf8Prefix("\xC3\xA9t\xC3\xA9", 2), "\xC3\xA9t");
  EXPECT_EQ(Utf8Prefix("abc", 10), "abc");
  EXPECT_EQ(Utf8Prefix("\xFF\xFFx", 2), "\xFF\xFF");
}

}  // namespace
}  // namespace firedrill
