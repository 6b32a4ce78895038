// Resolving "which process" for faults and probes: a service's process group, a pidfile,
// a PID, or an executable name. A probe may look at any process; a fault may signal only a
// process group the drill started, a process that descends from firedrill (the drill
// started it, or it was re-parented to firedrill, a child subreaper), or one whose
// executable is listed in settings.allow_processes. That is checked here, at the moment of
// acting, on each process with its start time; the loader has refused names and PIDs that
// are not listed already (runner/loader/checks.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runner/base/status.h"
#include "runner/drill/context.h"

namespace firedrill {

struct TargetRef {
  std::string service;
  std::string pidfile;  // not yet expanded
  int64_t pid = 0;
  std::string name;
};

enum class TargetUse {
  kObserve,  // a probe looks: any process
  kSignal,   // a fault signals: the blast radius applies
};

struct ResolvedTarget {
  // Signal -pgid for a service (its whole process group), else each of `processes`.
  pid_t pgid = 0;
  struct Process {
    pid_t pid = 0;
    uint64_t start = 0;  // start time, so that a signal never reaches a reused PID
  };
  std::vector<Process> processes;
  std::string description;  // "process group 4242 (service primary)", "PID 77 (pidfile x)"
};

// REQUIRES: exactly one member of `ref` is set.
Result<ResolvedTarget> ResolveTarget(const TargetRef& ref, const RunContext& ctx, TargetUse use);

// Sends `sig` to everything the target names; a process that is no longer the one resolved
// (same PID, another start time) is not signalled, and that is an error.
Status SignalTarget(const ResolvedTarget& t, int sig, Env* env);

}  // namespace firedrill
