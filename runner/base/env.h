// Env: the system interface the engine, probes and injectors go through for time and
// processes, so that unit tests can drive a clock by hand and see which signals would be
// sent. PosixEnv is the real one; tests/fake_env.h is the test one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <cstdint>
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

  static Env* Default();
};

// Signal names both ways ("SIGKILL"/"KILL"/"9" -> 9; 9 -> "SIGKILL").
int SignalFromName(const std::string& name);  // -1 when unknown
std::string SignalName(int sig);

}  // namespace firedrill
