// Reading /proc: the facts the safety rules and teardown need (parent, group, state,
// start time) without trusting anything a drill says.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace firedrill {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  uint64_t start_ticks = 0;  // since boot; with pid, identifies a process across PID reuse
};

std::optional<ProcStat> ReadProcStat(pid_t pid);
std::vector<pid_t> ListPids();
// Every live descendant of `root` (children first-level and below), by walking ppid links.
std::vector<pid_t> Descendants(pid_t root);
bool IsSelfOrAncestor(pid_t pid);
// `pid` is a child of `ancestor`, or a child of one, ... (never `ancestor` itself).
bool IsDescendantOf(pid_t pid, pid_t ancestor);

}  // namespace firedrill
