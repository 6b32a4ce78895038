// Env: the system interface the engine, probes and injectors go through for time and
// processes, so that unit tests can drive a clock by hand and see which signals would be
// sent. PosixEnv is the real one; tests/fake_env.h is the test one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "runner/base/status.h"

namespace firedrill {

enum class ProcState { kRunning, kStopped, kZombie, kGone };
const char* ProcStateName(ProcState s);

class Env {
 public:
  virtual ~Env() = default;

  // Milliseconds on a monotonic clock; only differences mean anything.
  virtual int64_t NowMs() = 0;
  virtual std::chrono::system_clock::time_point WallNow() = 0;
  virtual void SleepMs(int64_t ms) = 0;

  // Sends `sig` to `pid` (pid > 0) or to process group -pid (pid < 0).
  // REQUIRES: pid is neither 0, 1, -1 nor this process or one of its ancestors;
  // the real Env refuses those itself rather than trusting every caller.
  virtual Status Signal(pid_t pid, int sig) = 0;
  virtual ProcState State(pid_t pid) = 0;
  // Any member of process group `pgid` not yet reaped?
  virtual bool GroupAlive(pid_t pgid) = 0;
  // When `pid` started (clock ticks since boot); with the PID it names one process across
  // PID reuse. nullopt when it is gone or a zombie.
  virtual std::optional<uint64_t> StartTime(pid_t pid) = 0;
  // Sends `sig` to `pid` only if it is still the process that started at `start_ticks`
  // (kFailed when it is gone or the number now names another process). The real Env pins
  // the process with a pidfd before it compares, so there is no window for reuse.
  // REQUIRES: as for Signal, with pid > 0.
  virtual Status SignalIfSame(pid_t pid, uint64_t start_ticks, int sig) = 0;
  // The executable name the kernel keeps for `pid` (/proc/PID/comm, at most 15 bytes);
  // "" when it is gone.
  virtual std::string ExecutableName(pid_t pid) = 0;
  // Did this process start `pid`, directly or through its children? (Orphans re-parented
  // to firedrill, a child subreaper, count too.)
  virtual bool IsOwnDescendant(pid_t pid) = 0;

  static Env* Default();
};

// Signal names both ways ("SIGKILL"/"KILL"/"9" -> 9; 9 -> "SIGKILL").
int SignalFromName(const std::string& name);  // -1 when unknown
std::string SignalName(int sig);

}  // namespace firedrill
