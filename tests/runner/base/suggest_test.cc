#include "runner/base/suggest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace firedrill {
namespace {

TEST(SuggestTest, EditDistanceBasics) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", "abc"), 0u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("timout", "timeout"), 1u);  // insertion
  EXPECT_EQ(EditDistance("watches", "watchs"), 1u);  // deletion
  EXPECT_EQ(EditDistance("flop", "flip"), 1u);       // substitution
}

TEST(SuggestTest, EditDistanceCountsATranspositionAsOneEdit) {
  EXPECT_EQ(EditDistance("ab", "ba"), 1u);
  EXPECT_EQ(EditDistance("htpp", "http"), 1u);
  EXPECT_EQ(EditDistance("porcess.kill", "process.kill"), 1u);
  EXPECT_EQ(EditDistance("abcd", "badc"), 2u);
  // Symmetric.
  EXPECT_EQ(EditDistance("http", "htpp"), EditDistance("htpp", "http"));
}

TEST(SuggestTest, NearestNamePicksTheClosest) {
  const std::vector<std::string> keys = {"apiVersion", "name",   "description", "tags",
                                         "settings",   "faults", "watches",     "data"};
  EXPECT_EQ(NearestName("watchs", keys), "watches");
  EXPECT_EQ(NearestName("fualts", keys), "faults");
  EXPECT_EQ(NearestName("apiversion", keys), "apiVersion");
  EXPECT_EQ(NearestName("process.kil", {"process.kill", "process.pause", "disk.fill"}),
            "process.kill");
  EXPECT_EQ(NearestName("htpp", {"command", "tcp", "http", "process"}), "http");
}

TEST(SuggestTest, NearestNameReturnsEmptyWhenNothingIsClose) {
  EXPECT_EQ(NearestName("zzzzzz", {"watches", "faults"}), "");
  EXPECT_EQ(NearestName("kill", {"detection", "failover", "custom"}), "");
  EXPECT_EQ(NearestName("x", {}), "");
  EXPECT_EQ(NearestName("ab", {"xy"}), "");  // two edits in two letters
  EXPECT_EQ(NearestName(std::string(65, 'a'), {std::string(65, 'a')}), "");  // too long
}

TEST(SuggestTest, DidYouMean) {
  EXPECT_EQ(DidYouMean("timout", {"probe_interval", "settle", "timeout"}),
            "; did you mean 'timeout'?");
  EXPECT_EQ(DidYouMean("zzzzzz", {"timeout"}), "");
}

}  // namespace
}  // namespace firedrill
