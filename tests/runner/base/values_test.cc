#include "runner/base/values.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace firedrill {
namespace {

using ::testing::HasSubstr;

int64_t DurationMs(std::string_view text) {
  auto d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().message();
  return d.ok() ? d->count() : -1;
}

std::string DurationError(std::string_view text) {
  auto d = ParseDuration(text);
  EXPECT_FALSE(d.ok()) << text << " parsed as " << (d.ok() ? d->count() : 0) << "ms";
  return d.ok() ? "" : d.status().message();
}

TEST(ValuesTest, ParseDurationUnits) {
  EXPECT_EQ(DurationMs("250ms"), 250);
  EXPECT_EQ(DurationMs("5s"), 5000);
  EXPECT_EQ(DurationMs("2m"), 120000);
  EXPECT_EQ(DurationMs("1h"), 3600000);
  EXPECT_EQ(DurationMs("0s"), 0);
  EXPECT_EQ(DurationMs("0ms"), 0);
}

TEST(ValuesTest, ParseDurationCompoundAndFractional) {
  EXPECT_EQ(DurationMs("1m30s"), 90000);
  EXPECT_EQ(DurationMs("1h2m3s4ms"), 3723004);
  EXPECT_EQ(DurationMs("1.5s"), 1500);
  EXPECT_EQ(DurationMs("0.25s"), 250);
  EXPECT_EQ(DurationMs("1.5m"), 90000);
  EXPECT_EQ(DurationMs(" 5s "), 5000);  // surrounding blanks are ignored
}

TEST(ValuesTest, ParseDurationBareNumberNeedsUnit) {
  std::string msg = DurationError("5");
  EXPECT_THAT(msg, HasSubstr("needs a unit"));
  EXPECT_THAT(msg, HasSubstr("ms, s, m or h"));
  EXPECT_THAT(msg, HasSubstr("e.g. 5s"));
  EXPECT_THAT(DurationError("1s500"), HasSubstr("needs a unit"));
}

TEST(ValuesTest, ParseDurationRejectsBadInput) {
  EXPECT_THAT(DurationError("5x"), HasSubstr("unknown duration unit 'x'"));
  EXPECT_THAT(DurationError("5sec"), HasSubstr("unknown duration unit 'sec'"));
  EXPECT_THAT(DurationError(""), HasSubstr("expected a duration"));
  EXPECT_THAT(DurationError("   "), HasSubstr("expected a duration"));
  EXPECT_THAT(DurationError("s"), HasSubstr("expected a duration"));
  EXPECT_THAT(DurationError("-5s"), HasSubstr("expected a duration"));
  EXPECT_THAT(DurationError("."), HasSubstr("expected a duration"));
  EXPECT_THAT(DurationError("0.5ms"), HasSubstr("finer than a millisecond"));
}

TEST(ValuesTest, ParseSize) {
  auto size = [](std::string_view t) -> int64_t {
    auto s = ParseSize(t);
    EXPECT_TRUE(s.ok()) << t << ": " << s.status().message();
    return s.ok() ? static_cast<int64_t>(*s) : -1;
  };
  EXPECT_EQ(size("100B"), 100);
  EXPECT_EQ(size("0B"), 0);
  EXPECT_EQ(size("512KiB"), 512 * 1024);
  EXPECT_EQ(size("64MiB"), 64LL * 1024 * 1024);
  EXPECT_EQ(size("1GiB"), 1024LL * 1024 * 1024);
  EXPECT_EQ(size("1.5KiB"), 1536);
  EXPECT_EQ(size("10MB"), 10000000);
  EXPECT_EQ(size("2kB"), 2000);
  EXPECT_EQ(size("1GB"), 1000000000);
}

TEST(ValuesTest, ParseSizeErrors) {
  auto bare = ParseSize("512");
  ASSERT_FALSE(bare.ok());
  EXPECT_THAT(bare.status().message(), HasSubstr("size '512' needs a unit"));
  auto unit = ParseSize("5XB");
  ASSERT_FALSE(unit.ok());
  EXPECT_THAT(unit.status().message(), HasSubstr("unknown size unit 'XB'"));
  auto empty = ParseSize("");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("expected a size"));
  EXPECT_FALSE(ParseSize("MiB").ok());
  EXPECT_FALSE(ParseSize("-1MiB").ok());
}

TEST(ValuesTest, ParsePercent) {
  auto pct = [](std::string_view t) -> double {
    auto p = ParsePercent(t);
    EXPECT_TRUE(p.ok()) << t << ": " << p.status().message();
    return p.ok() ? *p : -1;
  };
  EXPECT_DOUBLE_EQ(pct("90%"), 90.0);
  EXPECT_DOUBLE_EQ(pct("0%"), 0.0);
  EXPECT_DOUBLE_EQ(pct("100%"), 100.0);
  EXPECT_DOUBLE_EQ(pct("12.5%"), 12.5);
  for (const char* bad : {"90", "", "%", "abc%", "-5%", "5%%", "9 0%"}) {
    auto p = ParsePercent(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_THAT(p.status().message(), HasSubstr("expected a percentage such as 90%")) << bad;
  }
}

TEST(ValuesTest, FormatDurationShortestForm) {
  EXPECT_EQ(FormatDuration(Millis(0)), "0s");
  EXPECT_EQ(FormatDuration(Millis(250)), "250ms");
  EXPECT_EQ(FormatDuration(Millis(1000)), "1s");
  EXPECT_EQ(FormatDuration(Millis(5000)), "5s");
  EXPECT_EQ(FormatDuration(Millis(90000)), "90s");
  EXPECT_EQ(FormatDuration(Millis(120000)), "2m");
  EXPECT_EQ(FormatDuration(Millis(3600000)), "1h");
  EXPECT_EQ(FormatDuration(Millis(1001)), "1.001s");
  // A regression test: FormatDuration once formatted with "{:.3f}s", which gives "1.500s";
  // values.h promises "the shortest exact form", 1500ms -> "1.5s".
  EXPECT_EQ(FormatDuration(Millis(1500)), "1.5s");
  EXPECT_EQ(FormatDuration(Millis(2250)), "2.25s");
}

TEST(ValuesTest, FormatDurationRoundTrips) {
  for (int64_t ms :
       {0, 1, 250, 999, 1000, 1001, 1500, 2250, 59999, 60000, 90000, 3600000, 5400000, 86400000}) {
    std::string text = FormatDuration(Millis(ms));
    auto back = ParseDuration(text);
    ASSERT_TRUE(back.ok()) << ms << " -> '" << text << "': " << back.status().message();
    EXPECT_EQ(back->count(), ms) << "'" << text << "'";
  }
}

TEST(ValuesTest, FormatBytes) {
  EXPECT_EQ(FormatBytes(0), "0B");
  EXPECT_EQ(FormatBytes(1023), "1023B");
  EXPECT_EQ(FormatBytes(1024), "1.0KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5KiB");
  EXPECT_EQ(FormatBytes(64ULL * 1024 * 1024), "64.0MiB");
  EXPECT_EQ(FormatBytes(1ULL << 30), "1.0GiB");
}

TEST(ValuesTest, HumanMillis) {
  EXPECT_EQ(HumanMillis(0), "0.000s");
  EXPECT_EQ(HumanMillis(850), "0.850s");
  EXPECT_EQ(HumanMillis(2170), "2.170s");
  EXPECT_EQ(HumanMillis(65300), "1m05.300s");
  EXPECT_EQ(HumanMillis(3725300), "1h02m05.300s");
  EXPECT_EQ(HumanMillis(-1500), "-1.500s");
}

}  // namespace
}  // namespace firedrill
