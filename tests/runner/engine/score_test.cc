#include "runner/engine/score.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace firedrill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// recovery.within 60s, steady_for 3s, settle 10s (the default), no data check.
Scenario BaseScenario() {
  Scenario s;
  s.api_version = "firedrill/v1";
  s.name = "score-test";
  s.recovery.within = Millis(60000);
  s.recovery.steady_for = Millis(3000);
  return s;
}

Scenario WithData(std::optional<int64_t> max_data_loss) {
  Scenario s = BaseScenario();
  s.data = DataSpec{};
  s.recovery.max_data_loss = max_data_loss;
  return s;
}

WatchRecord Watch(std::string name, std::string kind, int64_t within_ms,
                  std::optional<int64_t> passed_at_ms = std::nullopt) {
  WatchRecord w;
  w.name = std::move(name);
  w.kind = std::move(kind);
  w.within_ms = within_ms;
  w.passed_at_ms = passed_at_ms;
  return w;
}

DataRecord Data(int64_t attempted, int64_t acknowledged, int64_t verified, int64_t lost = 0,
                std::optional<int64_t> first_lost_ack_ms = std::nullopt,
                std::optional<int64_t> last_lost_ack_ms = std::nullopt) {
  DataRecord d;
  d.attempted = attempted;
  d.acknowledged = acknowledged;
  d.verified = verified;
  d.lost = lost;
  d.first_lost_ack_ms = first_lost_ack_ms;
  d.last_lost_ack_ms = last_lost_ack_ms;
  return d;
}

// The first fault at 5000ms; detected at 6520 (1520 after), the two failover watches
// passed at 7170 and 6900 (failed over when the last did: 2170 after), recovered at 9300
// (4300 after); steady again after rollback, 800ms into the verify phase.
//
// Steady samples, window [5000, 9300] inclusive:
//   writes-accepted: 4800 T (before) | 5000 F, 6000 F, 7000 T, 8000 T, 9300 T | 9500 F (after)
//   sentinels-agree:                 | 5000 T, 7000 T                        | 9301 F (after)
//   => 7 samples in the window, 5 passed: availability 5/7.
RunRecord PassingRun() {
  RunRecord r;
  r.steady_state_held = true;
  r.first_fault_ms = 5000;
  r.last_fault_ms = 5000;
  r.recovered_at_ms = 9300;
  r.fault_phase_end_ms = 12300;
  r.steady_after_rollback = true;
  r.verify_took_ms = 800;
  FaultRecord kill;
  kill.name = "kill-primary";
  kill.action = "process.kill";
  kill.injected_at_ms = 5000;
  r.faults.push_back(kill);
  r.watches.push_back(Watch("alert-fires", "detection", 30000, 6520));
  r.watches.push_back(Watch("replica-promoted", "failover", 15000, 7170));
  r.watches.push_back(Watch("proxy-switched", "failover", 15000, 6900));
  r.steady.push_back(SteadyRecord{"writes-accepted",
                                  {{4800, true},
                                   {5000, false},
                                   {6000, false},
                                   {7000, true},
                                   {8000, true},
                                   {9300, true},
                                   {9500, false}}});
  r.steady.push_back(SteadyRecord{"sentinels-agree", {{5000, true}, {7000, true}, {9301, false}}});
  return r;
}

void ExpectObjective(const Objective& o, const std::string& name, std::optional<int64_t> target,
                     std::optional<int64_t> actual, bool met, const std::string& unit = "ms") {
  EXPECT_EQ(o.name, name);
  EXPECT_EQ(o.target, target) << name;
  EXPECT_EQ(o.actual, actual) << name;
  EXPECT_EQ(o.met, met) << name;
  EXPECT_EQ(o.unit, unit) << name;
}

void ExpectWatch(const WatchVerdict& w, const std::string& name, const std::string& kind,
                 int64_t within, std::optional<int64_t> passed_after, bool met) {
  EXPECT_EQ(w.name, name);
  EXPECT_EQ(w.kind, kind) << name;
  EXPECT_EQ(w.within_ms, within) << name;
  EXPECT_EQ(w.passed_after_ms, passed_after) << name;
  EXPECT_EQ(w.met, met) << name;
}

TEST(ScoreTest, PassingRun) {
  Outcome o = Score(BaseScenario(), PassingRun());

  EXPECT_EQ(o.metrics.detected_after_ms, 1520);
  EXPECT_EQ(o.metrics.failed_over_after_ms, 2170);
  EXPECT_EQ(o.metrics.recovered_after_ms, 4300);
  EXPECT_EQ(o.metrics.acknowledged_after_ms, std::nullopt);
  ASSERT_TRUE(o.metrics.availability.has_value());
  EXPECT_DOUBLE_EQ(*o.metrics.availability, 5.0 / 7.0);
  EXPECT_EQ(o.metrics.data_lost_count, std::nullopt);
  EXPECT_EQ(o.metrics.data_lost_span_ms, std::nullopt);

  ASSERT_EQ(o.objectives.size(), 2u);
  ExpectObjective(o.objectives[0], "recovery.within", 60000, 4300, true);
  ExpectObjective(o.objectives[1], "rollback.verified", 10000, 800, true);

  ASSERT_EQ(o.watches.size(), 3u);
  ExpectWatch(o.watches[0], "alert-fires", "detection", 30000, 1520, true);
  ExpectWatch(o.watches[1], "replica-promoted", "failover", 15000, 2170, true);
  ExpectWatch(o.watches[2], "proxy-switched", "failover", 15000, 1900, true);

  EXPECT_EQ(o.verdict, "passed");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_THAT(o.reasons, IsEmpty());
  // objectives 2/2 -> 40; watches 3/3 -> 30; availability 5/7 -> 14.2857;
  // speed 1 - 4300/60000 = 0.92833 -> 9.2833. Total 93.569 of 100 -> 94.
  EXPECT_EQ(o.score, 94);
}

TEST(ScoreTest, LongestOutageIsTheLongestStretchWithSomeCheckFailing) {
  // PassingRun: writes-accepted fails at 5000 and passes again at 7000: 2000 ms.
  EXPECT_EQ(Score(BaseScenario(), PassingRun()).metrics.longest_outage_ms, 2000);

  // Two checks overlapping: a fails 5000..6000, b fails 5500..8000, then a fails again
  // 8500..9000 (and is still failing at the last sample of the window, 9000).
  RunRecord r = PassingRun();
  r.recovered_at_ms.reset();
  r.fault_phase_end_ms = 9000;
  r.steady = {SteadyRecord{"a", {{5000, false}, {6000, true}, {8500, false}, {9000, false}}},
              SteadyRecord{"b", {{5000, true}, {5500, false}, {7000, false}, {8000, true}}}};
  // Out from 5000 (a) until 8000 (b passes; a passed at 6000): 3000; then 8500..9000: 500.
  EXPECT_EQ(Score(BaseScenario(), r).metrics.longest_outage_ms, 3000);

  r.steady = {SteadyRecord{"a", {{5000, true}, {6000, true}}}};
  EXPECT_EQ(Score(BaseScenario(), r).metrics.longest_outage_ms, 0);
  r.first_fault_ms.reset();
  r.faults[0].injected_at_ms.reset();
  EXPECT_EQ(Score(BaseScenario(), r).metrics.longest_outage_ms, std::nullopt);
}

TEST(ScoreTest, EarliestDetectionWatchCounts) {
  RunRecord r = PassingRun();
  r.watches.push_back(Watch("pager", "detection", 30000, 6000));
  r.watches.push_back(Watch("never", "custom", 30000));
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.metrics.detected_after_ms, 1000);
  ASSERT_EQ(o.watches.size(), 5u);
  ExpectWatch(o.watches[4], "never", "custom", 30000, std::nullopt, false);
  EXPECT_EQ(o.verdict, "failed");
  EXPECT_THAT(o.reasons, ElementsAre("watch never (custom) not met within 30s"));
  // objectives 40 + watches 4/5*30 = 24 + 14.2857 + 9.2833 = 87.569 -> 88.
  EXPECT_EQ(o.score, 88);
}

TEST(ScoreTest, AvailabilityWindowExtendsToTheEndOfTimedFaults) {
  RunRecord r = PassingRun();
  r.faults_ended_ms = 11000;  // a timed fault outlived recovery: the window is [5000, 11000]
  r.steady[0].samples.push_back({10000, false});
  r.steady[0].samples.push_back({11000, true});
  r.steady[0].samples.push_back({11001, false});
  // writes-accepted: 5000 F, 6000 F, 7000 T, 8000 T, 9300 T, 9500 F, 10000 F, 11000 T -> 4/8
  // sentinels-agree: 5000 T, 7000 T, 9301 F                                          -> 2/3
  Outcome o = Score(BaseScenario(), r);
  ASSERT_TRUE(o.metrics.availability.has_value());
  EXPECT_DOUBLE_EQ(*o.metrics.availability, 6.0 / 11.0);
}

TEST(ScoreTest, NeverRecovered) {
  RunRecord r;
  r.steady_state_held = true;
  r.first_fault_ms = 5000;
  r.last_fault_ms = 5000;
  r.fault_phase_end_ms = 65000;  // observed until recovery.within ran out
  r.steady_after_rollback = true;
  r.verify_took_ms = 2000;
  r.watches.push_back(Watch("alert-fires", "detection", 30000, 6520));
  r.watches.push_back(Watch("replica-promoted", "failover", 15000));
  // Window [5000, 65000]: three samples, none passed.
  r.steady.push_back(
      SteadyRecord{"writes-accepted",
                   {{4000, true}, {5000, false}, {30000, false}, {65000, false}, {65200, true}}});

  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.metrics.detected_after_ms, 1520);
  EXPECT_EQ(o.metrics.failed_over_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.recovered_after_ms, std::nullopt);
  ASSERT_TRUE(o.metrics.availability.has_value());
  EXPECT_DOUBLE_EQ(*o.metrics.availability, 0.0);

  ASSERT_EQ(o.objectives.size(), 2u);
  ExpectObjective(o.objectives[0], "recovery.within", 60000, std::nullopt, false);
  ExpectObjective(o.objectives[1], "rollback.verified", 10000, 2000, true);
  ASSERT_EQ(o.watches.size(), 2u);
  ExpectWatch(o.watches[0], "alert-fires", "detection", 30000, 1520, true);
  ExpectWatch(o.watches[1], "replica-promoted", "failover", 15000, std::nullopt, false);

  EXPECT_EQ(o.verdict, "failed");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.reasons, ElementsAre("watch replica-promoted (failover) not met within 15s",
                                     "steady state did not come back (and hold for 3s) within 1m"));
  // objectives 1/2 -> 20; watches 1/2 -> 15; availability 0 -> 0 (weight 20 still counts);
  // speed 0 (not recovered) -> 0 of 10. Total 35 of 100 -> 35.
  EXPECT_EQ(o.score, 35);
}

TEST(ScoreTest, RecoveredTooLateAndWatchTooLate) {
  RunRecord r = PassingRun();
  r.recovered_at_ms = 75000;          // 70s after the first fault; within is 60s
  r.watches[1].passed_at_ms = 21000;  // 16s after; within is 15s
  r.steady.clear();
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.metrics.recovered_after_ms, 70000);
  EXPECT_EQ(o.metrics.failed_over_after_ms, 16000);
  EXPECT_EQ(o.metrics.availability, std::nullopt);  // no samples at all
  ExpectObjective(o.objectives[0], "recovery.within", 60000, 70000, false);
  ExpectWatch(o.watches[1], "replica-promoted", "failover", 15000, 16000, false);
  EXPECT_EQ(o.verdict, "failed");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.reasons, ElementsAre("watch replica-promoted (failover) not met within 15s",
                                     "recovered after 70s, later than recovery.within 1m"));
  // objectives 1/2 -> 20; watches 2/3 -> 20; availability left out; speed clamped to 0.
  // 40 of 80 -> 50.
  EXPECT_EQ(o.score, 50);
}

// The parts behind the 94 of PassingRun, and after a late recovery and a late watch: each
// contribution is 100 * weight * value / (sum of the weights that apply).
TEST(ScoreTest, ScorePartsAddUpToTheScore) {
  Outcome o = Score(BaseScenario(), PassingRun());
  ASSERT_EQ(o.score_parts.size(), 4u);
  const char* names[] = {"objectives", "watches", "availability", "speed"};
  const double weights[] = {40, 30, 20, 10};
  const double values[] = {1.0, 1.0, 5.0 / 7.0, 1.0 - 4300.0 / 60000.0};
  double sum = 0;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(o.score_parts[i].part, names[i]);
    EXPECT_EQ(o.score_parts[i].weight, weights[i]);
    EXPECT_DOUBLE_EQ(o.score_parts[i].value, values[i]) << names[i];
    EXPECT_DOUBLE_EQ(o.score_parts[i].contribution, weights[i] * values[i]) << names[i];
    sum += o.score_parts[i].contribution;
  }
  EXPECT_NEAR(sum, 93.569, 0.001);
  EXPECT_EQ(o.score, 94);

  // No availability: the three remaining weights (80) share the 100 points.
  RunRecord r = PassingRun();
  r.recovered_at_ms = 75000;
  r.watches[1].passed_at_ms = 21000;
  r.steady.clear();
  o = Score(BaseScenario(), r);
  ASSERT_EQ(o.score_parts.size(), 3u);
  EXPECT_EQ(o.score_parts[0].part, "objectives");
  EXPECT_DOUBLE_EQ(o.score_parts[0].contribution, 100.0 * 40 * 0.5 / 80);
  EXPECT_EQ(o.score_parts[1].part, "watches");
  EXPECT_DOUBLE_EQ(o.score_parts[1].contribution, 100.0 * 30 * (2.0 / 3.0) / 80);
  EXPECT_EQ(o.score_parts[2].part, "speed");
  EXPECT_DOUBLE_EQ(o.score_parts[2].value, 0.0);
  EXPECT_EQ(o.score, 50);
}

TEST(ScoreTest, ErrorAndAbortHaveNoScorePartsAndNoAdvice) {
  RunRecord r = PassingRun();
  r.recovered_at_ms.reset();
  r.aborted = true;
  Outcome o = Score(BaseScenario(), r);
  EXPECT_THAT(o.score_parts, IsEmpty());
  EXPECT_FALSE(o.objectives[0].met);
  EXPECT_EQ(o.objectives[0].advice, "");
  r.aborted = false;
  r.error = "service primary did not start";
  o = Score(BaseScenario(), r);
  EXPECT_THAT(o.score_parts, IsEmpty());
  EXPECT_EQ(o.objectives[0].advice, "");
}

// Each missed item says, from what was measured, by how much; met ones say nothing.
TEST(ScoreTest, MissedItemsGetOneLineOfAdvice) {
  RunRecord r = PassingRun();
  r.recovered_at_ms = 75000;          // 70s after; within 60s
  r.watches[1].passed_at_ms = 21000;  // 16s after; within 15s
  r.watches[2].passed_at_ms = std::nullopt;
  r.watches[2].last_detail = "exit 1, stdout \"down\"";
  r.fault_phase_end_ms = 95000;
  Outcome o = Score(WithData(0), [&] {
    r.data = Data(10, 10, 7, 3, 6250, 6450);
    return r;
  }());
  EXPECT_EQ(o.watches[0].advice, "");
  EXPECT_EQ(o.watches[1].advice,
            "passed after 16s, 1s later than its within 15s: the failover is slower than the "
            "drill allows");
  EXPECT_EQ(o.watches[2].advice,
            "never passed in the 90s watched after the first fault; its last sample: exit 1, "
            "stdout \"down\"");
  EXPECT_EQ(o.objectives[0].name, "recovery.within");
  EXPECT_EQ(o.objectives[0].advice, "recovered 10s after the target 1m");
  EXPECT_EQ(o.objectives[1].name, "recovery.max_data_loss");
  EXPECT_EQ(o.objectives[1].advice,
            "3 write(s) over the target 0; the first lost write was acknowledged 1.25s after the "
            "first fault");
  EXPECT_EQ(o.objectives[2].name, "rollback.verified");
  EXPECT_EQ(o.objectives[2].advice, "");
  // A restore from an old backup also loses writes acknowledged before the fault.
  Outcome old = Score(WithData(0), [&] {
    r.data = Data(10, 10, 7, 3, 3000, 6450);
    return r;
  }());
  EXPECT_EQ(old.objectives[1].advice,
            "3 write(s) over the target 0; the first lost write was acknowledged 2s before the "
            "first fault");
}

TEST(ScoreTest, PartsThatDoNotApplyAreLeftOut) {
  RunRecord r = PassingRun();
  r.watches.clear();
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.verdict, "passed");
  // objectives 40; no watches; availability 14.2857; speed 9.2833: 63.569 of 70 -> 90.81 -> 91.
  EXPECT_EQ(o.score, 91);

  r.steady.clear();
  o = Score(BaseScenario(), r);
  EXPECT_EQ(o.metrics.availability, std::nullopt);
  // objectives 40; speed 9.2833: 49.283 of 50 -> 98.57 -> 99.
  EXPECT_EQ(o.score, 99);
}

TEST(ScoreTest, ErrorRun) {
  RunRecord r;
  r.error = "service primary did not become ready within 10s";
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.verdict, "error");
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(o.score, 0);
  EXPECT_THAT(o.reasons, ElementsAre("service primary did not become ready within 10s"));
  EXPECT_EQ(o.metrics.detected_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.recovered_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.availability, std::nullopt);
}

TEST(ScoreTest, ErrorAfterFaultsKeepsMetricsButScoresZero) {
  RunRecord r = PassingRun();
  r.error = "probe writes-accepted: internal error";
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.verdict, "error");
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(o.score, 0);
  EXPECT_EQ(o.metrics.recovered_after_ms, 4300);
  EXPECT_THAT(o.reasons, ElementsAre("probe writes-accepted: internal error"));
}

TEST(ScoreTest, AbortedRun) {
  RunRecord r = PassingRun();
  r.aborted = true;
  r.abort_reason = "stop condition abort-1 passed";
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.verdict, "aborted");
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.score, 0);
  EXPECT_THAT(o.reasons, ElementsAre("aborted: stop condition abort-1 passed"));
  EXPECT_EQ(o.metrics.detected_after_ms, 1520);  // what was measured is still reported
}

TEST(ScoreTest, LeftoversAreAnError) {
  RunRecord r = PassingRun();
  r.faults[0].rollback = "failed";
  r.leftovers = {"nftables table inet firedrill", "/tmp/firedrill/x/ballast"};
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.verdict, "error");
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(o.score, 0);
  EXPECT_THAT(o.reasons, ElementsAre("left behind: nftables table inet firedrill",
                                     "left behind: /tmp/firedrill/x/ballast"));
}

TEST(ScoreTest, ErrorOutranksAbort) {
  RunRecord r = PassingRun();
  r.aborted = true;
  r.abort_reason = "operator";
  r.leftovers = {"paused PID 4242"};
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.verdict, "error");
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_THAT(o.reasons, ElementsAre("left behind: paused PID 4242"));
}

TEST(ScoreTest, MetricsThatNeverHappenedAreNulloptNotZero) {
  RunRecord r;
  r.first_fault_ms = 5000;
  r.fault_phase_end_ms = 65000;
  r.watches.push_back(Watch("alert", "detection", 1000));
  r.watches.push_back(Watch("promoted", "failover", 1000));
  // One of two failover watches passing is not "failed over".
  r.watches.push_back(Watch("proxy", "failover", 1000, 5500));
  r.steady.push_back(SteadyRecord{"s", {{4000, true}, {65001, true}}});  // none in the window
  r.data = Data(10, 10, 0);                                              // verify never reached
  Outcome o = Score(WithData(0), r);
  EXPECT_EQ(o.metrics.detected_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.failed_over_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.recovered_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.acknowledged_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.availability, std::nullopt);
  EXPECT_EQ(o.metrics.data_lost_count, std::nullopt);
  EXPECT_EQ(o.metrics.data_lost_span_ms, std::nullopt);
  ASSERT_EQ(o.objectives.size(), 3u);
  ExpectObjective(o.objectives[1], "recovery.max_data_loss", 0, std::nullopt, false, "writes");
  ExpectObjective(o.objectives[2], "rollback.verified", 10000, std::nullopt, false);
  EXPECT_THAT(o.reasons, ::testing::Contains("data loss could not be measured"));
  EXPECT_THAT(o.reasons, ::testing::Contains("steady state did not hold again after rollback"));
  EXPECT_EQ(o.verdict, "failed");
  EXPECT_EQ(o.exit_code, 1);
  // objectives 0/3; watches 1/3 -> 10; no availability; speed 0 of 10. 10 of 80 -> 12.5
  // -> lround -> 13.
  EXPECT_EQ(o.score, 13);
}

TEST(ScoreTest, NoFaultInjectedMeansNoMetrics) {
  RunRecord r = PassingRun();
  r.first_fault_ms.reset();
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.metrics.detected_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.failed_over_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.recovered_after_ms, std::nullopt);
  EXPECT_EQ(o.metrics.availability, std::nullopt);
  for (const auto& w : o.watches) EXPECT_EQ(w.passed_after_ms, std::nullopt) << w.name;
}

TEST(ScoreTest, AcknowledgedInTrainMode) {
  RunRecord r = PassingRun();
  r.mode = "train";
  r.acknowledged_at_ms = 8000;
  Outcome o = Score(BaseScenario(), r);
  EXPECT_EQ(o.metrics.acknowledged_after_ms, 3000);
}

TEST(ScoreTest, DataLossObjectiveMissed) {
  RunRecord r = PassingRun();
  r.data = Data(200, 190, 187, 3, 7000, 7400);
  Outcome o = Score(WithData(0), r);
  EXPECT_EQ(o.metrics.data_lost_count, 3);
  EXPECT_EQ(o.metrics.data_lost_span_ms, 400);
  ASSERT_EQ(o.objectives.size(), 3u);
  ExpectObjective(o.objectives[0], "recovery.within", 60000, 4300, true);
  ExpectObjective(o.objectives[1], "recovery.max_data_loss", 0, 3, false, "writes");
  ExpectObjective(o.objectives[2], "rollback.verified", 10000, 800, true);
  EXPECT_EQ(o.verdict, "failed");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.reasons, ElementsAre("3 acknowledged writes lost, more than max_data_loss 0"));
  // objectives 2/3 -> 26.667; watches 30; availability 14.2857; speed 9.2833: 80.236 -> 80.
  EXPECT_EQ(o.score, 80);
}

TEST(ScoreTest, DataLossWithinTheObjective) {
  RunRecord r = PassingRun();
  r.data = Data(200, 190, 188, 2, 7000, 7050);
  Outcome o = Score(WithData(2), r);
  EXPECT_EQ(o.metrics.data_lost_count, 2);
  EXPECT_EQ(o.metrics.data_lost_span_ms, 50);
  ExpectObjective(o.objectives[1], "recovery.max_data_loss", 2, 2, true, "writes");
  EXPECT_EQ(o.verdict, "passed");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.score, 94);  // as PassingRun: all three objectives met
}

TEST(ScoreTest, NoDataLostHasZeroSpan) {
  RunRecord r = PassingRun();
  r.data = Data(200, 190, 190);
  Outcome o = Score(WithData(0), r);
  EXPECT_EQ(o.metrics.data_lost_count, 0);
  EXPECT_EQ(o.metrics.data_lost_span_ms, 0);
  ExpectObjective(o.objectives[1], "recovery.max_data_loss", 0, 0, true, "writes");
  EXPECT_EQ(o.verdict, "passed");
}

TEST(ScoreTest, DataWithoutMaxDataLossHasNoObjective) {
  RunRecord r = PassingRun();
  r.data = Data(10, 10, 9, 1, 7000, 7000);
  Outcome o = Score(WithData(std::nullopt), r);
  EXPECT_EQ(o.metrics.data_lost_count, 1);  // measured and reported, not judged
  EXPECT_EQ(o.metrics.data_lost_span_ms, 0);
  ASSERT_EQ(o.objectives.size(), 2u);
  EXPECT_EQ(o.objectives[0].name, "recovery.within");
  EXPECT_EQ(o.objectives[1].name, "rollback.verified");
  EXPECT_EQ(o.verdict, "passed");
}

TEST(ScoreTest, FormulaIsDocumented) {
  const std::string f = kScoreFormula;
  EXPECT_THAT(f, HasSubstr("objectives  weight 40"));
  EXPECT_THAT(f, HasSubstr("watches     weight 30"));
  EXPECT_THAT(f, HasSubstr("availability weight 20"));
  EXPECT_THAT(f, HasSubstr("speed       weight 10"));
  EXPECT_THAT(f, HasSubstr("error or aborted scores 0"));
}

}  // namespace
}  // namespace firedrill
