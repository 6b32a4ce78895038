// Running `/bin/sh -c SCRIPT` the way the drill format promises: in the workdir, in its
// own process group, with the drill's environment, bounded in time and in captured output;
// and the bookkeeping that keeps owned children apart from orphans. RunShell waits on the
// calling thread; runner/base/async_shell.h runs the same command on the run's loop.
// Boost.Process is the edge there; its exceptions stop in async_shell.cc.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "runner/base/status.h"
#include "runner/base/values.h"

namespace firedrill {

struct ShellCommand {
  std::string script;
  std::string cwd;
  Millis timeout{5000};
  size_t capture_limit = 64 * 1024;  // per stream; the rest is read and dropped
  // Called once the shell runs, with its PID (its process group's id), before its end is
  // awaited: a long command can be journaled, so that a crashed run's rollback stops it.
  std::function<void(pid_t)> on_start = nullptr;
};

struct ShellResult {
  int exit_code = -1;   // when the shell exited
  int term_signal = 0;  // when it was killed by a signal
  bool timed_out = false;
  bool cancelled = false;
  std::string out;
  std::string err;
  Millis elapsed{0};
  // "exit 0", "exit 1", "killed by SIGKILL", "timed out after 5s"
  std::string Describe() const;
};

// Runs the command to completion (or timeout/cancel). When the shell ends, whatever it
// left running in its process group is killed too, so a command never leaves a
// process behind. Fails only when the command could not be started (or, after SIGKILL,
// would not die). The machinery is StartShell's, on an io_context of this call's own.
Result<ShellResult> RunShell(const ShellCommand& cmd, const std::atomic<bool>* cancel = nullptr);

// Marks this process as a child subreaper, so that orphaned descendants (a daemon that
// double-forked away from its service) are re-parented here, where teardown finds them.
void BecomeSubreaper();

// Reaps zombies re-parented to us that nobody else waits for. Children whose owner
// reaps them itself (RunShell, services) are registered and left alone.
void ReapOrphans();

// Live processes re-parented to us that no owner registered: daemons that a remediation
// step or a service started and that left its process group (pg_ctl start, redis-server
// --daemonize). Taken under the spawn lock, so a child between fork and registration is
// never mistaken for one.
std::vector<pid_t> AdoptedOrphans();

// Spawning an owned child happens under an OwnedChildGuard, so that ReapOrphans can
// never reap a child between its fork and its registration.
class OwnedChildGuard {
 public:
  OwnedChildGuard();
  ~OwnedChildGuard();
  OwnedChildGuard(const OwnedChildGuard&) = delete;
  OwnedChildGuard& operator=(const OwnedChildGuard&) = delete;
  void Register(pid_t pid);

 private:
  pid_t pid_ = 0;
  bool locked_ = true;
};
// Called by the owner once it has reaped `pid`.
void ReleaseOwnedChild(pid_t pid);

}  // namespace firedrill
