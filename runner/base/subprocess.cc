#include "runner/base/subprocess.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>

#include "runner/base/async_shell.h"
#include "runner/base/env.h"
#include "runner/base/proc.h"
#include "runner/base/values.h"

namespace firedrill {
namespace {

std::shared_mutex g_spawn_mu;
std::mutex g_owned_mu;
std::set<pid_t> g_owned;

}  // namespace

std::string ShellResult::Describe() const {
  if (timed_out) return "timed out after " + FormatDuration(elapsed);
  if (cancelled) return "cancelled";
  if (term_signal) return "killed by " + SignalName(term_signal);
  return "exit " + std::to_string(exit_code);
}

Result<ShellResult> RunShell(const ShellCommand& cmd, const std::atomic<bool>* cancel) {
  // The machinery of a command on the run's loop, on a loop of this thread's own.
  std::optional<Result<ShellResult>> got;
  try {
    boost::asio::io_context io;
    StartShell(io, cmd, cancel, [&got](Result<ShellResult> r) { got.emplace(std::move(r)); });
    while (!got && io.run_one() > 0) {
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("running /bin/sh: ") + e.what());
  }
  if (!got) return Status::Internal("the shell's loop ran out of work before the shell ended");
  return std::move(*got);
}

void BecomeSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

OwnedChildGuard::OwnedChildGuard() { g_spawn_mu.lock_shared(); }
OwnedChildGuard::~OwnedChildGuard() {
  if (locked_) g_spawn_mu.unlock_shared();
}
void OwnedChildGuard::Register(pid_t pid) {
  {
    std::lock_guard<std::mutex> l(g_owned_mu);
    g_owned.insert(pid);
  }
  pid_ = pid;
  g_spawn_mu.unlock_shared();
  locked_ = false;
}

void ReleaseOwnedChild(pid_t pid) {
  std::lock_guard<std::mutex> l(g_owned_mu);
  g_owned.erase(pid);
}

void ReapOrphans() {
  std::unique_lock<std::shared_mutex> spawn_lock(g_spawn_mu);
  std::set<pid_t> owned;
  {
    std::lock_guard<std::mutex> l(g_owned_mu);
    owned = g_owned;
  }
  const pid_t self = getpid();
  for (pid_t p : ListPids()) {
    if (owned.count(p)) continue;
    auto st = ReadProcStat(p);
    if (st && st->ppid == self && (st->state == 'Z' || st->state == 'X')) {
      ::waitpid(p, nullptr, WNOHANG);
    }
  }
}

std::vector<pid_t> AdoptedOrphans() {
  std::unique_lock<std::shared_mutex> spawn_lock(g_spawn_mu);
  std::set<pid_t> owned;
  {
    std::lock_guard<std::mutex> l(g_owned_mu);
    owned = g_owned;
  }
  const pid_t self = getpid();
  std::vector<pid_t> out;
  for (pid_t p : ListPids()) {
    if (owned.count(p)) continue;
    auto st = ReadProcStat(p);
    if (st && st->ppid == self && st->state != 'Z' && st->state != 'X') out.push_back(p);
  }
  return out;
}

}  // namespace firedrill
