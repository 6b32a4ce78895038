// Regexes through RE2: the syntax drills get (multiline, RE2's errors and the hints for what
// RE2 lacks), search in linear time on large text, and config.set's replacement syntax.
#include "runner/base/regex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace firedrill {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<RE2> Re(std::string_view text) {
  auto re = CompileRegex(text);
  EXPECT_TRUE(re.ok()) << text << ": " << re.status().ToString();
  return re.ok() ? std::move(*re) : nullptr;
}

std::string ErrorOf(std::string_view text) {
  auto re = CompileRegex(text);
  EXPECT_FALSE(re.ok()) << text;
  return re.ok() ? "" : re.status().message();
}

TEST(RegexTest, SearchesAnywhereAndSaysWhere) {
  size_t pos = 99;
  std::string_view match;
  EXPECT_TRUE(RegexSearch(*Re("b+"), "aabbb", &pos, &match));
  EXPECT_EQ(pos, 2u);
  EXPECT_EQ(match, "bbb");
  EXPECT_FALSE(RegexSearch(*Re("c"), "aabbb"));
  EXPECT_TRUE(RegexSearch(*Re("^$"), ""));
  EXPECT_FALSE(RegexSearch(*Re("x"), std::string_view()));
}

// Multiline, as every drill regex: ^ and $ at line breaks, `.` not across them.
TEST(RegexTest, AnchorsMatchAtLineBreaks) {
  EXPECT_TRUE(RegexSearch(*Re("^42$"), "41\n42\n43"));
  EXPECT_TRUE(RegexSearch(*Re("^OK$"), "OK\n"));
  EXPECT_FALSE(RegexSearch(*Re("a.b"), "a\nb"));
  EXPECT_TRUE(RegexSearch(*Re("a\\nb"), "a\nb"));
  EXPECT_TRUE(RegexSearch(*Re("(?s)a.b"), "a\nb"));
  EXPECT_TRUE(RegexSearch(*Re("\\bword\\b"), "a word here"));
  EXPECT_FALSE(RegexSearch(*Re("\\bor\\b"), "a word here"));
  EXPECT_TRUE(RegexSearch(*Re("(?i)ERROR"), "an error"));
  EXPECT_TRUE(RegexSearch(*Re("\\d{3}"), "code 503"));
}

// A match anywhere in 8 MiB, and a pattern that backtracks exponentially in a backtracking
// engine, both in linear time: the time bound here is a generous 10 s only to catch a hang
// (the first takes milliseconds); speed is not what is asserted.
TEST(RegexTest, LargeTextAndPathologicalPatternsEnd) {
  std::string big(8 << 20, 'x');
  big.replace(big.size() - 10, 6, "NEEDLE");
  size_t pos = 0;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(RegexSearch(*Re("NEEDLE"), big, &pos));
  EXPECT_EQ(pos, big.size() - 10);
  const std::string as(100000, 'a');
  EXPECT_FALSE(RegexSearch(*Re("(a*)*b"), as));
  EXPECT_FALSE(RegexSearch(*Re("(a|aa)+$x"), as));
  // A match running over the whole text: recursive matchers overflow their stack here.
  EXPECT_TRUE(RegexSearch(*Re("x[\\s\\S]*OK"), "x" + std::string(1 << 20, 'a') + "OK"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(RegexTest, ErrorsNameRe2AndWhatItCouldNotTake) {
  EXPECT_EQ(ErrorOf("("), "RE2 cannot compile it: missing ): (");
  EXPECT_EQ(ErrorOf("a)"), "RE2 cannot compile it: unexpected ): a)");
  EXPECT_THAT(ErrorOf("[z-a]"), HasSubstr("RE2 cannot compile it: invalid character class range"));
  EXPECT_EQ(ErrorOf("a{1001}"), "RE2 cannot compile it: invalid repetition size: {1001}");
  EXPECT_THAT(ErrorOf("a{3,2}"), HasSubstr("RE2 cannot compile it: invalid repetition size"));
}

// The brace count that made libstdc++'s regex compiler overflow a signed integer (undefined
// behaviour, found by the loader fuzzer): RE2 reads a count it cannot hold as no count at
// all, so the braces are literal text, as in Perl.
TEST(RegexTest, AnOverlongRepetitionCountIsLiteralText) {
  const std::string text = "c{5555555555555555555555555552,3}";
  auto re = Re(text);
  ASSERT_NE(re, nullptr);
  EXPECT_TRUE(RegexSearch(*re, "x" + text + "x"));
  EXPECT_FALSE(RegexSearch(*re, "ccc"));
}

TEST(RegexTest, BackreferencesAndLookaroundAreRefusedWithAHint) {
  EXPECT_THAT(ErrorOf("(a)\\1"), HasSubstr("RE2 has no backreferences such as \\1"));
  EXPECT_THAT(ErrorOf("x(?=y)"), HasSubstr("RE2 has no lookahead or lookbehind"));
  EXPECT_THAT(ErrorOf("x(?!y)"), HasSubstr("RE2 has no lookahead or lookbehind"));
  EXPECT_THAT(ErrorOf("(?<=y)x"), HasSubstr("RE2 has no lookahead or lookbehind"));
  EXPECT_THAT(ErrorOf("(?<!y)x"), HasSubstr("RE2 has no lookahead or lookbehind"));
  // An escaped backslash before a digit is a backslash and a digit, not a backreference.
  EXPECT_TRUE(RegexSearch(*Re("a\\\\1"), "a\\1"));
}

// A pattern too big for RE2's memory bound is refused at compile time, not matched slowly.
TEST(RegexTest, MemoryIsBounded) {
  EXPECT_THAT(ErrorOf("((((((((((a{100}){100}){100}){100}){100}){100}))))))"),
              HasSubstr("RE2 cannot compile it"));
}

Replaced Replace(std::string_view pattern, std::string_view text, std::string_view rewrite) {
  auto r = RegexReplaceAll(*Re(pattern), text, rewrite);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Replaced{};
}

TEST(RegexReplaceTest, GroupsMatchAndDollarsAsADrillWritesThem) {
  Replaced r = Replace("^port (\\d+)$", "bind 1\nport 6379\nport 6380\n", "port 1$1 ($&) $$5");
  EXPECT_EQ(r.text, "bind 1\nport 16379 (port 6379) $5\nport 16380 (port 6380) $5\n");
  EXPECT_EQ(r.matches, 2u);
  EXPECT_EQ(r.first_before, "port 6379");
  EXPECT_EQ(r.first_after, "port 16379 (port 6379) $5");
  // Backslashes are literal in a drill's replacement (they are RE2's escape in its own).
  EXPECT_EQ(Replace("a", "xax", "\\1\\").text, "x\\1\\x");
  // A lone $ and $ before another character stand for themselves.
  EXPECT_EQ(Replace("a", "a", "$x$").text, "$x$");
}

TEST(RegexReplaceTest, TwoDigitGroupsWhenThePatternHasThem) {
  const std::string twelve = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)";
  EXPECT_EQ(Replace(twelve, "abcdefghijkl", "$12$1").text, "la");
  // With fewer groups, `$12` is group 1 and a literal 2.
  EXPECT_EQ(Replace("(a)", "a", "$12").text, "a2");
}

TEST(RegexReplaceTest, AGroupThePatternDoesNotHaveIsAnError) {
  auto r = RegexReplaceAll(*Re("(a)"), "a", "$2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "the replacement names group $2, and the pattern has 1 group");
  EXPECT_FALSE(RegexReplaceAll(*Re("a"), "a", "$0").ok());
}

TEST(RegexReplaceTest, EmptyMatchesAreReplacedOncePerPosition) {
  EXPECT_EQ(Replace("x*", "abc", "-").text, "-a-b-c-");
  EXPECT_EQ(Replace("^", "a\nb", "> ").text, "> a\n> b");
  EXPECT_EQ(Replace("$", "a\nb", ";").text, "a;\nb;");
  // A multi-byte character after an empty match is kept whole.
  EXPECT_EQ(Replace("x*", "\xC3\xA9", "-").text, "-\xC3\xA9-");
  EXPECT_EQ(Replace("nothing", "abc", "-").matches, 0u);
}

}  // namespace
}  // namespace firedrill
