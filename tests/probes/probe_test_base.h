// The fixture probe tests share: a temporary workdir, and the RunContext a drill would
// hand a probe (the real Env, an Expander for that workdir, no services).
#pragma once

#include <gtest/gtest.h>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/testing.h"

namespace firedrill::testing {

class ProbeTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = dir_.path();
  }

  // Makes a probe of `kind` as the engine would; null (and a failed expectation) if it
  // cannot be made.
  std::unique_ptr<Probe> MakeProbe(const char* kind, const Params& p) {
    const ProbeKind* k = FindProbeKind(kind);
    EXPECT_TRUE(k && k->make) << kind << " has no runtime";
    if (!k || !k->make) return nullptr;
    auto probe = k->make(p, ctx_);
    EXPECT_TRUE(probe.ok()) << probe.status().ToString();
    return probe.ok() ? std::move(*probe) : nullptr;
  }

  TempDir dir_;
  Expander expander_{dir_.path(), {}};
  RunContext ctx_;
};

}  // namespace firedrill::testing
