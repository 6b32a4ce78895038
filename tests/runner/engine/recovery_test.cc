// Recovery tracking alone: what the steady-state samples prove, and when.
#include "runner/engine/recovery.h"

#include <gtest/gtest.h>

namespace firedrill {
namespace {

TEST(RecoveryTrackerTest, NothingRecoversBeforeTheLastFaultIsIn) {
  RecoveryTracker r(1, 500);
  for (int64_t t = 0; t <= 2000; t += 100) r.Record(0, true, t, std::nullopt);
  EXPECT_EQ(r.RecoveredSince(std::nullopt), std::nullopt);
  // Passes before the injection at 2000 do not count towards it either.
  EXPECT_EQ(r.RecoveredSince(2000), std::nullopt);
  r.Record(0, true, 2100, 2000);
  EXPECT_EQ(r.RecoveredSince(2000), std::nullopt) << "held 0 ms of 500";
  r.Record(0, true, 2600, 2000);
  EXPECT_EQ(r.RecoveredSince(2000), 2100);
}

TEST(RecoveryTrackerTest, EveryCheckMustPassAndEachMustProveTheHold) {
  RecoveryTracker r(2, 1000);
  r.Record(0, true, 1000, 1000);
  r.Record(1, false, 1000, 1000);
  r.Record(0, true, 2500, 1000);
  r.Record(1, true, 1400, 1000);
  // Both pass since 1400; check 1's latest sample (1400) proves nothing yet.
  EXPECT_EQ(r.RecoveredSince(1000), std::nullopt);
  r.Record(1, true, 2399, 1000);
  EXPECT_EQ(r.RecoveredSince(1000), std::nullopt) << "999 ms is not 1 s";
  r.Record(1, true, 2400, 1000);
  EXPECT_EQ(r.RecoveredSince(1000), 1400);
}

TEST(RecoveryTrackerTest, AFailureRestartsTheStreak) {
  RecoveryTracker r(1, 300);
  r.Record(0, true, 100, 0);
  r.Record(0, false, 200, 0);
  r.Record(0, true, 300, 0);
  r.Record(0, true, 500, 0);
  EXPECT_EQ(r.RecoveredSince(0), std::nullopt);
  r.Record(0, true, 600, 0);
  EXPECT_EQ(r.RecoveredSince(0), 300);
}

TEST(RecoveryTrackerTest, NewsIsTheFirstSampleAndEveryChange) {
  RecoveryTracker r(1, 0);
  EXPECT_TRUE(r.Record(0, true, 0, std::nullopt));
  EXPECT_FALSE(r.Record(0, true, 100, std::nullopt));
  EXPECT_TRUE(r.Record(0, false, 200, std::nullopt));
  EXPECT_FALSE(r.Record(0, false, 300, std::nullopt));
  EXPECT_TRUE(r.Record(0, true, 400, std::nullopt));
}

}  // namespace
}  // namespace firedrill
