// Reading /proc: the facts the safety rules and teardown need (parent, group, state,
// start time) without trusting anything a drill says.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace firedrill {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  uint64_t start_ticks = 0;  // since boot; with pid, identifies a process across PID reuse
  int64_t tty_nr = 0;        // its controlling terminal; 0 for a daemon
};

std::optional<ProcStat> ReadProcStat(pid_t pid);
std::vector<pid_t> ListPids();
// Every live descendant of `root` (children first-level and below), by walking ppid links.
std::vector<pid_t> Descendants(pid_t root);
bool IsSelfOrAncestor(pid_t pid);
// `pid` is a child of `ancestor`, or a child of one, ... (never `ancestor` itself).
bool IsDescendantOf(pid_t pid, pid_t ancestor);

// Now, in the clock ReadProcStat's start_ticks count in (clock ticks since boot).
uint64_t UptimeTicks();
// The processes with a TCP socket listening on one of `ports` (IPv4 or IPv6, any address),
// from /proc/net/tcp{,6} and each process's descriptors.
std::vector<pid_t> ListeningOn(const std::vector<int>& ports);
// The process's working directory; "" when it cannot be read (gone, not ours to read).
std::string CwdOf(pid_t pid);

}  // namespace firedrill
