// Running `/bin/sh -c SCRIPT` without holding a thread while it runs: the shell's output is
// read, its exit noticed (through a pidfd) and its time limit kept, all as handlers on an
// Asio io_context. RunShell (subprocess.h) is this on an io_context of its own that its
// caller's thread runs, so a command waited for and a command on the run's loop share one
// spawn, one capture and one kill-the-group path, and the same ShellResult.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <functional>

#include "runner/base/event_loop.h"
#include "runner/base/status.h"
#include "runner/base/subprocess.h"

namespace firedrill {

using ShellDone = std::function<void(Result<ShellResult>)>;

// Starts `cmd` and returns at once. `done` is called exactly once, on a thread running `io`
// and never before this returns: with the result once the shell has ended and been reaped
// (exited, killed, timed out or cancelled, as RunShell describes), or a Status: kInternal
// when no process or descriptor could be had (the run cannot go on), kIo when the shell
// could not start in its directory, kInternal when it did not die after SIGKILL.
//
// The shell runs in its own process group, registered as an owned child so that
// ReapOrphans leaves its exit status to us; whatever it leaves in its group is killed
// when it ends. `cancel` is looked at every 10 ms. The time limit is real time, not the
// run's clock: a child runs in real time whatever clock a test gives the run.
// If `io` is destroyed before the shell ends, the group is killed and `done` never runs.
// REQUIRES: `cancel`, when set, outlives the command.
void StartShell(boost::asio::io_context& io, const ShellCommand& cmd,
                const std::atomic<bool>* cancel, ShellDone done);

// StartShell on the run's loop: how a probe runs a command without a thread of its own.
// REQUIRES: as StartShell, and `loop` outlives the command.
inline void RunShellAsync(EventLoop& loop, const ShellCommand& cmd, const std::atomic<bool>* cancel,
                          ShellDone done) {
  StartShell(loop.io(), cmd, cancel, std::move(done));
}

}  // namespace firedrill
