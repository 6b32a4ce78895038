#include "runner/base/text.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace firedrill {
namespace {

TEST(TextTest, OneLine) {
  EXPECT_EQ(OneLine("OK\n"), "OK");
  EXPECT_EQ(OneLine("\n\n  first  \nsecond\n"), "first...");
  EXPECT_EQ(OneLine("tail blanks only\n \n"), "tail blanks only");
  EXPECT_EQ(OneLine(std::string(100, 'x'), 10), "xxxxxxxxxx...");
  EXPECT_EQ(OneLine(std::string("a\x01"
                                "b")),
            "a?b");
  EXPECT_EQ(OneLine(""), "");
  EXPECT_EQ(Quoted("hi\r\n"), "\"hi\"");
}

TEST(TextTest, ResolvePath) {
  EXPECT_EQ(ResolvePath("a.log", "/w"), "/w/a.log");
  EXPECT_EQ(ResolvePath("/abs", "/w"), "/abs");
  EXPECT_EQ(ResolvePath("a.log", ""), "a.log");
}

TEST(TextTest, ErrnoTextIsLowerCase) { EXPECT_EQ(ErrnoText(ECONNREFUSED), "connection refused"); }

}  // namespace
}  // namespace firedrill
