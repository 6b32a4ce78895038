// Resolving "which process" for faults and probes: a service's process group, a pidfile,
// a PID, or an executable name.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runner/drill/context.h"
#include "runner/base/status.h"

namespace firedrill {

struct TargetRef {
  std::string service;
  std::string pidfile;  // not yet expanded
  int64_t pid = 0;
  std::string name;
};

struct ResolvedTarget {
  // Signal -pgid for a service (its whole process group), else each of pids.
  pid_t pgid = 0;
  std::vector<pid_t> pids;
  std::string description;  // "process group 4242 (service primary)", "PID 77 (pidfile x)"
};

// REQUIRES: exactly one member of `ref` is set.
Result<ResolvedTarget> ResolveTarget(const TargetRef& ref, const RunContext& ctx);

// Sends `sig` to everything the target names.
Status SignalTarget(const ResolvedTarget& t, int sig, Env* env);

}  // namespace firedrill
