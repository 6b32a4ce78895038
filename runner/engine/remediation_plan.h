// When each remediation step of a drill is due: after detection (a detection watch met),
// after failover (every failover watch met), or at an offset from the first fault. Each
// step is started once; the plan only decides, the engine runs the steps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runner/drill/scenario.h"

namespace firedrill {

class RemediationPlan {
 public:
  explicit RemediationPlan(const std::vector<RemediationStep>& steps)
      : steps_(&steps), started_(steps.size(), false) {}

  // What the watches have seen so far.
  struct Progress {
    std::optional<int64_t> first_fault_ms;
    bool detected = false;       // some detection watch met
    bool any_failover = false;   // the drill has a failover watch
    bool failover_done = false;  // every failover watch met
  };

  // The steps due at `now_ms` and not started yet, each with why it is due ("after
  // detection"); they count as started from here on.
  std::vector<std::pair<size_t, std::string>> TakeDue(int64_t now_ms, const Progress& p);

 private:
  const std::vector<RemediationStep>* steps_;
  std::vector<bool> started_;
};

}  // namespace firedrill
