// When each remediation step of a drill is due: after detection (a detection watch met),
// after failover (every failover watch met), or at an offset from the first fault. Each
// step is started once; the plan only decides, the engine runs the steps.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runner/base/subprocess.h"
#include "runner/drill/scenario.h"
#include "runner/journal/journal.h"

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

// Runs a remediation step's `script` in `cwd`, its process group journaled (kind
// process.group) while it runs: a step may run for its whole timeout, and a runner killed
// meanwhile leaves it to `firedrill rollback` to stop. The same for the engine and for a
// host's agent. `journal` may be null (nothing journaled).
Result<ShellResult> RunRemediationScript(const std::string& script, const std::string& cwd,
                                         Millis timeout, Journal* journal,
                                         const std::atomic<bool>* cancel);

}  // namespace firedrill
