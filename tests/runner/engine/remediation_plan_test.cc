// When remediation steps are due, and that each is started once.
#include "runner/engine/remediation_plan.h"

#include <gtest/gtest.h>

namespace firedrill {
namespace {

RemediationStep Step(RemediationStep::After after, int64_t offset_ms = 0) {
  RemediationStep s;
  s.after = after;
  s.offset = Millis(offset_ms);
  s.run = "true";
  return s;
}

using Due = std::vector<std::pair<size_t, std::string>>;

TEST(RemediationPlanTest, EachStepAtItsMomentAndOnlyOnce) {
  const std::vector<RemediationStep> steps = {Step(RemediationStep::After::kDetection),
                                              Step(RemediationStep::After::kFailover),
                                              Step(RemediationStep::After::kOffset, 2000)};
  RemediationPlan plan(steps);
  RemediationPlan::Progress p;
  p.detected = true;  // before any fault: nothing to remedy yet
  EXPECT_EQ(plan.TakeDue(5000, p), Due{});
  p.first_fault_ms = 1000;
  EXPECT_EQ(plan.TakeDue(1500, p), (Due{{0, "after detection"}}));
  EXPECT_EQ(plan.TakeDue(1600, p), Due{}) << "started once";
  p.any_failover = true;
  EXPECT_EQ(plan.TakeDue(2999, p), Due{}) << "failover not done; offset not reached";
  EXPECT_EQ(plan.TakeDue(3000, p), (Due{{2, "at +2s after the first fault"}}));
  p.failover_done = true;
  EXPECT_EQ(plan.TakeDue(3100, p), (Due{{1, "after failover"}}));
  EXPECT_EQ(plan.TakeDue(9999, p), Due{});
}

TEST(RemediationPlanTest, AfterFailoverNeedsAFailoverWatch) {
  const std::vector<RemediationStep> steps = {Step(RemediationStep::After::kFailover)};
  RemediationPlan plan(steps);
  RemediationPlan::Progress p{.first_fault_ms = 0, .failover_done = true};
  EXPECT_EQ(plan.TakeDue(100, p), Due{});
}

}  // namespace
}  // namespace firedrill
