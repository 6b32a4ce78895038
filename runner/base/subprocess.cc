#include "runner/base/subprocess.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "runner/base/env.h"
#include "runner/base/proc.h"
#include "runner/base/values.h"

namespace bp = boost::process;

namespace firedrill {
namespace {

std::shared_mutex g_spawn_mu;
std::mutex g_owned_mu;
std::set<pid_t> g_owned;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Has `pid` exited? Leaves it a zombie (WNOWAIT) so that its PID, and so its process
// group ID, cannot be reused while we clean up the group.
bool ExitedNoReap(pid_t pid, siginfo_t* info) {
  siginfo_t si{};
  if (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD;  // already reaped elsewhere: it has exited
  }
  if (si.si_pid != pid) return false;
  if (info) *info = si;
  return true;
}

class StreamReader {
 public:
  StreamReader(bp::async_pipe& pipe, std::string& sink, size_t limit)
      : pipe_(pipe), sink_(sink), limit_(limit) {}
  void Start() {
    pipe_.async_read_some(boost::asio::buffer(buf_),
                          [this](const boost::system::error_code& ec, size_t n) {
                            if (n > 0 && sink_.size() < limit_) {
                              sink_.append(buf_.data(), std::min(n, limit_ - sink_.size()));
                            }
                            if (ec) {
                              done_ = true;
                              return;
                            }
                            Start();
                          });
  }
  bool done() const { return done_; }

 private:
  bp::async_pipe& pipe_;
  std::string& sink_;
  size_t limit_;
  std::array<char, 4096> buf_{};
  bool done_ = false;
};

}  // namespace

std::string ShellResult::Describe() const {
  if (timed_out) return "timed out after " + FormatDuration(elapsed);
  if (cancelled) return "cancelled";
  if (term_signal) return "killed by " + SignalName(term_signal);
  return "exit " + std::to_string(exit_code);
}

Result<ShellResult> RunShell(const ShellCommand& cmd, const std::atomic<bool>* cancel) {
  ShellResult res;
  const int64_t start = NowMs();
  try {
    boost::asio::io_context ios;
    bp::async_pipe out(ios), err(ios);
    OwnedChildGuard guard;
    bp::child child(
        "/bin/sh", bp::args({"-c", cmd.script}), bp::start_dir = cmd.cwd.empty() ? "." : cmd.cwd,
        bp::std_in<bp::null, bp::std_out> out, bp::std_err > err,
        bp::extend::on_exec_setup = [](auto&) { ::setpgid(0, 0); });
    const pid_t pid = child.id();
    if (pid <= 0) {
      // Boost.Process reports a failed fork with a child of no process, not an exception.
      const int err = errno;
      return Status::Internal(std::string("cannot start /bin/sh: ") + std::strerror(err) +
                              " (the process limit?)");
    }
    guard.Register(pid);
    // The parent sets the group too, so that a kill(-pid) right after spawn cannot miss.
    ::setpgid(pid, pid);
    StreamReader ro(out, res.out, cmd.capture_limit), re(err, res.err, cmd.capture_limit);
    ro.Start();
    re.Start();

    siginfo_t si{};
    bool exited = false;
    bool killed = false;
    const int64_t deadline = start + cmd.timeout.count();
    // Bounded: a timeout always ends the loop, and after the kill the exit follows.
    while (true) {
      ios.run_for(std::chrono::milliseconds(10));
      if (!exited) exited = ExitedNoReap(pid, &si);
      if (exited) {
        // Whatever the shell left behind in its group goes with it. The zombie leader
        // keeps the group ID reserved, so this cannot hit a stranger.
        ::kill(-pid, SIGKILL);
        // Drain what is left in the pipes; both close once the group is gone.
        for (int i = 0; i < 100 && !(ro.done() && re.done()); ++i) {
          ios.run_for(std::chrono::milliseconds(10));
        }
        break;
      }
      const int64_t now = NowMs();
      if (!killed && (now >= deadline || (cancel && cancel->load()))) {
        if (now >= deadline)
          res.timed_out = true;
        else
          res.cancelled = true;
        ::kill(-pid, SIGKILL);
        killed = true;
      }
      if (killed && NowMs() > deadline + 10000) {
        return Status::Internal("process " + std::to_string(pid) + " did not die after SIGKILL");
      }
    }
    std::error_code ec;
    child.wait(ec);  // reaps the zombie
    ReleaseOwnedChild(pid);
    if (si.si_code == CLD_EXITED) {
      res.exit_code = si.si_status;
    } else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
      res.term_signal = si.si_status;
    }
  } catch (const std::exception& e) {
    return Status::Io(std::string("cannot start /bin/sh: ") + e.what());
  }
  res.elapsed = Millis(NowMs() - start);
  return res;
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

}  // namespace firedrill
