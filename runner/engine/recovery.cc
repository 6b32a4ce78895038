#include "runner/engine/recovery.h"

#include <algorithm>
#include <climits>

namespace firedrill {

bool RecoveryTracker::Record(size_t i, bool passed, int64_t t_ms,
                             std::optional<int64_t> all_injected_ms) {
  Check& c = checks_[i];
  const bool news = !c.seen || c.passing != passed;
  c.seen = true;
  c.passing = passed;
  c.last_sample = t_ms;
  if (!passed) {
    c.pass_since.reset();
  } else if (!c.pass_since && all_injected_ms && t_ms >= *all_injected_ms) {
    // A pass before the last fault went in proves nothing about recovering from it.
    c.pass_since = t_ms;
  }
  return news;
}

std::optional<int64_t> RecoveryTracker::RecoveredSince(
    std::optional<int64_t> all_injected_ms) const {
  if (!all_injected_ms) return std::nullopt;
  int64_t since = 0;
  int64_t confirmed = INT64_MAX;
  for (const auto& c : checks_) {
    if (!c.passing || !c.pass_since) return std::nullopt;
    since = std::max(since, *c.pass_since);
    confirmed = std::min(confirmed, c.last_sample);
  }
  // Every check's latest sample must be at least steady_for after the moment they all
  // started passing.
  if (confirmed - since < steady_for_ms_) return std::nullopt;
  return since;
}

}  // namespace firedrill
