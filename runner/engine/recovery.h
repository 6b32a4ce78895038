// Recovery, as the steady-state checks' samples prove it: the moment every check passes
// again after the last injection, once each of them has gone on passing for steady_for.
// Holding is proven by samples, never assumed: a check sampled rarely confirms late.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace firedrill {

class RecoveryTracker {
 public:
  RecoveryTracker(size_t checks, int64_t steady_for_ms)
      : checks_(checks), steady_for_ms_(steady_for_ms) {}

  // Records check `i`'s sample at `t_ms`; `all_injected_ms` is when the last fault was
  // injected (nullopt while faults are still to come). True when the sample is news: the
  // check's first, or a change from pass to fail or back (what the timeline shows).
  bool Record(size_t i, bool passed, int64_t t_ms, std::optional<int64_t> all_injected_ms);

  // The start of the streak that held for steady_for, once every check's latest sample
  // proves it; nullopt until then. Also nullopt while faults are still to come.
  std::optional<int64_t> RecoveredSince(std::optional<int64_t> all_injected_ms) const;

 private:
  struct Check {
    bool passing = false;
    bool seen = false;
    std::optional<int64_t> pass_since;  // first passing sample at/after the last injection
    int64_t last_sample = 0;
  };
  std::vector<Check> checks_;
  int64_t steady_for_ms_;
};

}  // namespace firedrill
