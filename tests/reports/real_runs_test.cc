// The four real runs the renderers' tests read end as they were written to end: the
// renderers' tests are only as good as the variety of what they render.
#include "tests/reports/real_runs.h"

#include <gtest/gtest.h>

namespace firedrill::testing {
namespace {

TEST(RealRunsTest, EachDrillEndsWithItsVerdict) {
  TempDir dir;
  const std::map<std::string, int> exit_codes = {
      {"passed", 0}, {"failed", 1}, {"aborted", 3}, {"error", 4}};
  for (const auto& [verdict, code] : exit_codes) {
    RealRun run = RunRealDrill(verdict, dir.path());
    ASSERT_TRUE(run.report.is_object()) << verdict << run.result.out << run.result.err;
    EXPECT_EQ(run.report["verdict"], verdict) << run.result.out << run.result.err;
    EXPECT_EQ(run.result.exit_code, code) << run.result.out << run.result.err;
  }
}

}  // namespace
}  // namespace firedrill::testing
