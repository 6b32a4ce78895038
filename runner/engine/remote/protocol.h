// What both ends of an agent's connection agree on besides the JSON itself: the clock
// every timestamp on the wire is read from, and how a probe is named there.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runner/drill/schema.h"

namespace firedrill {

// steady_clock (CLOCK_MONOTONIC) in µs: Env::NowMs's clock, finer. Every *_us field.
inline int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A probe on the wire: its line:column in the drill, which both ends loaded from the
// same text (a group's copies share one, each on its own host).
inline std::string ProbeKey(const Mark& m) {
  return std::to_string(m.line) + ":" + std::to_string(m.column);
}

}  // namespace firedrill
