// The helpers every probe kind shares: details, and regex search that is safe on large text.
#include "runner/drill/pattern.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "runner/drill/probe.h"
#include "probes/probe_registry.h"

namespace firedrill {
namespace {

auto Later() { return std::chrono::steady_clock::now() + std::chrono::seconds(30); }
std::regex Re(const char* text) {
  return std::regex(text, std::regex::ECMAScript | std::regex::multiline);
}

TEST(ProbeUtilTest, PatternExpandsAndCaches) {
  Expander ex("/w", {});
  Pattern p("^${seq}$");
  auto a = p.Compile(ex, 42);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(std::regex_search("42\n", **a));
  EXPECT_EQ(p.Shown(), "/^42$/");
  auto again = p.Compile(ex, 42);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*a, *again);  // not compiled twice
  auto b = p.Compile(ex, 7);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(std::regex_search("42\n", **b));
  EXPECT_EQ(p.Shown(), "/^7$/");
  Pattern bad("(");
  auto c = bad.Compile(ex, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("bad regex /(/: ", 0), 0u);
}

TEST(ProbeUtilTest, BoundedSearchShortText) {
  size_t pos = 99;
  EXPECT_EQ(BoundedSearch(Re("b+"), "aabbb", Later(), &pos), SearchResult::kFound);
  EXPECT_EQ(pos, 2u);
  EXPECT_EQ(BoundedSearch(Re("c"), "aabbb", Later()), SearchResult::kNotFound);
  EXPECT_EQ(BoundedSearch(Re("^$"), "", Later()), SearchResult::kFound);
}

// Matches anywhere in a long text, including across the internal window boundaries.
TEST(ProbeUtilTest, BoundedSearchFindsMatchesAtEveryOffset) {
  const auto re = Re("NEEDLE");
  for (size_t at : {0u, 1000u, 1020u, 1024u, 2040u, 2044u, 2048u, 3070u, 100000u}) {
    std::string text(at, 'x');
    text += "NEEDLE";
    text += std::string(5000, 'y');
    size_t pos = 0;
    ASSERT_EQ(BoundedSearch(re, text, Later(), &pos), SearchResult::kFound) << at;
    EXPECT_EQ(pos, at);
  }
}

// Window boundaries must not invent line starts, word boundaries or ends.
TEST(ProbeUtilTest, BoundedSearchKeepsAnchorsHonest) {
  std::string one_line(10000, 'x');
  EXPECT_EQ(BoundedSearch(Re("^x{10}$"), one_line, Later()), SearchResult::kNotFound);
  EXPECT_EQ(BoundedSearch(Re("\\bx"), one_line, Later()), SearchResult::kFound);
  EXPECT_EQ(BoundedSearch(Re("x\\bx"), one_line, Later()), SearchResult::kNotFound);
  EXPECT_EQ(BoundedSearch(Re("x(?!x)"), one_line + "!", Later()), SearchResult::kFound);
  EXPECT_EQ(BoundedSearch(Re("x(?![x!])"), one_line + "!", Later()), SearchResult::kNotFound);
  std::string lines = one_line + "\nlast\n";
  EXPECT_EQ(BoundedSearch(Re("^last$"), lines, Later()), SearchResult::kFound);
}

// One match attempt running over 200000 characters overflows the stack of a plain
// std::regex_search. Searched in windows, it cannot; the price is that a match longer
// than a window is not found.
TEST(ProbeUtilTest, BoundedSearchSurvivesLongMatchAttempts) {
  const std::string long_run = "x" + std::string(200000, 'a');
  EXPECT_EQ(BoundedSearch(Re("xa*OK"), long_run + "OK", Later()), SearchResult::kNotFound);
  size_t pos = 0;
  const std::string text = std::string(200000, 'b') + "x" + std::string(500, 'a') + "OK";
  EXPECT_EQ(BoundedSearch(Re("xa*OK"), text, Later(), &pos), SearchResult::kFound);
  EXPECT_EQ(pos, 200000u);
}

// A pattern that retries from every position costs the square of the window per window;
// the deadline bounds it.
TEST(ProbeUtilTest, BoundedSearchGivesUpAtTheDeadline) {
  std::string text(200000, 'a');
  auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  EXPECT_EQ(BoundedSearch(Re("a*b"), text, past), SearchResult::kGaveUp);
}

// The six kinds this change gives a runtime to can all be built.
TEST(ProbeKindsTest, LocalProbeKindsHaveARuntime) {
  for (const char* name : {"command", "tcp", "http", "process", "file", "log"}) {
    const ProbeKind* kind = FindProbeKind(name);
    ASSERT_NE(kind, nullptr) << name;
    EXPECT_NE(kind->make, nullptr) << name;
  }
}

}  // namespace
}  // namespace firedrill
