// The probe registry: every kind it lists can be found by name and has a runtime.
#include "probes/probe_registry.h"

#include <gtest/gtest.h>

namespace firedrill {
namespace {

TEST(ProbeRegistryTest, EveryKindIsFoundByNameAndRuns) {
  for (const ProbeKind* kind : ProbeKinds()) {
    EXPECT_EQ(FindProbeKind(kind->name), kind) << kind->name;
    EXPECT_NE(kind->make, nullptr) << kind->name;
    EXPECT_EQ(WhyNotRunnable(*kind), "") << kind->name;
  }
  EXPECT_EQ(FindProbeKind("nope"), nullptr);
}

}  // namespace
}  // namespace firedrill
