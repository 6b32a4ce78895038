#include "runner/base/async_shell.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>

#include "runner/base/proc.h"
#include "runner/base/text.h"
#include "runner/base/unique_fd.h"

namespace bp = boost::process;
namespace asio = boost::asio;

namespace firedrill {
namespace {

using SteadyClock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

// How often the cancel flag is looked at (and, without a pidfd, whether the shell exited).
constexpr auto kTick = std::chrono::milliseconds(10);
// After the shell exits and its group is killed, the pipes close at once unless something
// outside the group (a daemon that called setsid) holds them; the output is not waited
// for longer than this.
constexpr auto kDrain = std::chrono::seconds(1);
// A daemon leaves its group (setsid) a moment after its parent, the shell, exits; the exit
// is seen at once (a pidfd), so what is still in the group gets this long to leave before
// the group is killed. Only a command that leaves something running waits for it.
constexpr auto kLeaveGrace = std::chrono::milliseconds(250);
constexpr auto kLeavePoll = std::chrono::milliseconds(5);
// After SIGKILL a process dies unless the kernel holds it (a hung disk or NFS mount).
constexpr auto kKillGrace = std::chrono::seconds(10);

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// A pidfd for our own child, which becomes readable when it exits; -1 on a kernel
// without pidfd_open (before 5.3), when the exit is polled instead. Ours and unreaped, the
// PID cannot name anyone else.
int PidFdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

struct Spawned {
  pid_t pid = 0;
  UniqueFd out;  // read ends of the shell's stdout and stderr
  UniqueFd err;
};

// Starts the shell in its own process group, its output to two fresh pipes. The pipes are
// made close-on-exec here, and the child marks every other descriptor close-on-exec before
// it execs: Boost.Process makes its pipes with plain pipe(2), so a shell started by another
// thread at the same moment would otherwise inherit this one's pipe and hold its output open
// until that other shell ends.
Result<Spawned> SpawnShell(const ShellCommand& cmd) {
  // Out of descriptors or processes, the run cannot be carried out, which kInternal says
  // (the engine ends the run); a shell that started and failed is the command's problem.
  auto out_of = [](int err, const char* what) {
    return Status::Internal(std::string("cannot start /bin/sh: ") + ErrnoText(err) + " (the " +
                            what + " limit?)");
  };
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return out_of(errno, "descriptor");
  Spawned s;
  s.out = UniqueFd(out[0]);
  UniqueFd out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return out_of(errno, "descriptor");
  s.err = UniqueFd(err[0]);
  UniqueFd err_w(err[1]);
  const char* dir = cmd.cwd.empty() ? "." : cmd.cwd.c_str();
  std::error_code ec;
  pid_t failed = -1;
  try {
    OwnedChildGuard guard;
    // The directory is changed here rather than with bp::start_dir, which ignores a chdir
    // that fails and runs the command in firedrill's own directory.
    bp::child child(
        "/bin/sh", bp::args({"-c", cmd.script}), bp::std_in < bp::null,
        bp::extend::on_exec_setup =
            [dir, ow = out_w.get(), ew = err_w.get()](auto& exec) {
              ::setpgid(0, 0);
              const char* step = ::chdir(dir) != 0               ? "chdir"
                                 : ::dup2(ow, STDOUT_FILENO) < 0 ? "dup2"
                                 : ::dup2(ew, STDERR_FILENO) < 0 ? "dup2"
                                                                 : nullptr;
              if (step) {
                exec.set_error(std::error_code(errno, std::system_category()), step);
                ::_exit(127);
              }
              // Failing here (a kernel before 5.11) leaves only the race described above.
              ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
            },
        bp::extend::on_error = [&failed](auto& exec, const std::error_code&) { failed = exec.pid; },
        ec);
    if (!ec) {
      s.pid = child.id();
      guard.Register(s.pid);
      // The parent sets the group too, so that a kill(-pid) right after spawn cannot miss.
      ::setpgid(s.pid, s.pid);
    }
    if (!ec && cmd.on_start) cmd.on_start(s.pid);
    // Reaped here, not by Boost.Process (whose destructor would kill and reap it).
    child.detach();
  } catch (const std::exception& e) {
    return Status::Io(std::string("cannot start /bin/sh: ") + e.what());
  }
  if (ec && failed <= 0) return out_of(ec.value(), "process");  // no fork
  if (ec) {
    // The child failed before exec and has exited (unless ReapOrphans got it first).
    ::waitpid(failed, nullptr, 0);
    return Status::Io("cannot start /bin/sh in " + std::string(dir) + ": " + ec.message());
  }
  return s;
}

// One command from spawn to reaping. Every handler runs on one strand, so the state below
// needs no lock however many threads run the io_context; each holds a reference, so the
// object lives until the last of them has run (or the io_context drops them).
class ShellRun : public std::enable_shared_from_this<ShellRun> {
 public:
  ShellRun(asio::io_context& io, ShellCommand cmd, const std::atomic<bool>* cancel, ShellDone done)
      : strand_(asio::make_strand(io)),
        cmd_(std::move(cmd)),
        cancel_(cancel),
        done_(std::move(done)),
        exit_fd_(io),
        tick_(io),
        limit_(io),
        drain_(io),
        out_(io, res_.out),
        err_(io, res_.err) {}

  ~ShellRun() {
    if (pid_ <= 0 || reaped_) return;
    // The io_context went away while the shell ran: nobody will wait for it now. Its
    // group is still ours (the leader is alive, or a zombie that reserves the ID).
    ::kill(-pid_, SIGKILL);
    // Reaped now if it died at once; else, released, its zombie is ReapOrphans' to collect.
    ::waitpid(pid_, nullptr, WNOHANG);
    ReleaseOwnedChild(pid_);
  }

  void Start() {
    asio::post(strand_, [self = shared_from_this()] { self->Begin(); });
  }

 private:
  struct Stream {
    Stream(asio::io_context& io, std::string& s) : sd(io), sink(s) {}
    asio::posix::stream_descriptor sd;
    std::string& sink;
    std::array<char, 4096> buf{};
    bool open = false;
  };

  // Hands `fd` over to `s`; false, `fd` left with the caller, when the reactor refuses it.
  static bool Attach(Stream& s, UniqueFd& fd, ErrorCode& ec) {
    s.sd.assign(fd.get(), ec);
    if (ec) return false;
    fd.Release();
    s.open = true;
    return true;
  }

  template <typename F>
  auto OnStrand(F&& f) {
    return asio::bind_executor(strand_, std::forward<F>(f));
  }

  void Begin() {
    start_ = SteadyClock::now();
    auto spawned = SpawnShell(cmd_);
    if (!spawned.ok()) return Report(spawned.status());
    pid_ = spawned->pid;
    ErrorCode ec;
    if (!Attach(out_, spawned->out, ec) || !Attach(err_, spawned->err, ec)) {
      return Abandon(Status::Io("watching the shell's output: " + ec.message()));
    }
    UniqueFd pidfd(PidFdOpen(pid_));
    if (pidfd.valid() && (exit_fd_.assign(pidfd.get(), ec), !ec)) {
      pidfd.Release();
      WaitExit();
    } else {
      poll_exit_ = true;
    }
    Read(out_);
    Read(err_);
    limit_.expires_after(cmd_.timeout);
    limit_.async_wait(OnStrand([self = shared_from_this()](const ErrorCode& e) {
      if (e || self->exited_) return;
      self->res_.timed_out = true;
      self->Kill();
    }));
    if (cancel_ || poll_exit_) Tick();
  }

  void Read(Stream& s) {
    s.sd.async_read_some(asio::buffer(s.buf),
                         OnStrand([self = shared_from_this(), &s](const ErrorCode& e, size_t n) {
                           self->OnRead(s, e, n);
                         }));
  }

  void OnRead(Stream& s, const ErrorCode& e, size_t n) {
    // Past the limit the output is still read and dropped, so the shell never blocks on a
    // full pipe.
    const size_t limit = cmd_.capture_limit;
    if (n > 0 && s.sink.size() < limit) {
      s.sink.append(s.buf.data(), std::min(n, limit - s.sink.size()));
    }
    if (!e) return Read(s);
    // End of file, or cancelled by the drain timer.
    s.open = false;
    ErrorCode ignored;
    s.sd.close(ignored);
    MaybeComplete();
  }

  void WaitExit() {
    exit_fd_.async_wait(asio::posix::descriptor_base::wait_read,
                        OnStrand([self = shared_from_this()](const ErrorCode& e) {
                          if (e == asio::error::operation_aborted || self->exited_) return;
                          if (e) {
                            // The reactor refused the pidfd: look every tick instead.
                            self->poll_exit_ = true;
                            return self->Tick();
                          }
                          if (!self->CheckExit()) self->WaitExit();
                        }));
  }

  void Tick() {
    tick_.expires_after(kTick);
    tick_.async_wait(OnStrand([self = shared_from_this()](const ErrorCode& e) {
      if (e || self->exited_) return;
      if (self->poll_exit_ && self->CheckExit()) return;
      if (self->cancel_ && self->cancel_->load() && !self->killed_) {
        self->res_.cancelled = true;
        self->Kill();
      }
      if (self->poll_exit_ || (self->cancel_ && !self->killed_)) self->Tick();
    }));
  }

  // Has the shell exited? Leaves it a zombie (WNOWAIT), so that its PID, and so its process
  // group ID, cannot be reused while the group is cleaned up.
  bool CheckExit() {
    siginfo_t si{};
    int r;
    do {
      r = ::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG | WNOWAIT);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
      if (errno != ECHILD) return false;
      si = siginfo_t{};  // reaped elsewhere (a bug): it has exited, how is unknown
    } else if (si.si_pid != pid_) {
      return false;
    }
    OnExited(si);
    return true;
  }

  void OnExited(const siginfo_t& si) {
    exited_ = true;
    si_ = si;
    tick_.cancel();
    limit_.cancel();
    leave_by_ = SteadyClock::now() + kLeaveGrace;
    AwaitGroupLeft();
  }

  // Is anything but the (zombie) leader still in the shell's group?
  bool GroupHasOthers() const {
    for (pid_t p : ListPids()) {
      if (p == pid_) continue;
      auto st = ReadProcStat(p);
      if (st && st->pgrp == pid_ && st->state != 'Z' && st->state != 'X') return true;
    }
    return false;
  }

  // Whatever the shell left behind in its group goes with it. The zombie leader keeps the
  // group ID reserved until Complete reaps it, so this cannot hit a stranger.
  void KillGroup() {
    if (group_killed_) return;
    group_killed_ = true;
    ::kill(-pid_, SIGKILL);
  }

  void AwaitGroupLeft() {
    if (!group_killed_ && SteadyClock::now() < leave_by_ && GroupHasOthers()) {
      drain_.expires_after(kLeavePoll);
      drain_.async_wait(OnStrand([self = shared_from_this()](const ErrorCode& e) {
        if (!e) self->AwaitGroupLeft();
      }));
      return;
    }
    KillGroup();
    if (!out_.open && !err_.open) return Complete();
    // The pipes close once the group is gone; what is left in them is read first.
    drain_.expires_after(kDrain);
    drain_.async_wait(OnStrand([self = shared_from_this()](const ErrorCode& e) {
      if (e) return;
      ErrorCode ignored;
      // The pending reads end with operation_aborted, and the last one completes.
      if (self->out_.open) self->out_.sd.cancel(ignored);
      if (self->err_.open) self->err_.sd.cancel(ignored);
    }));
  }

  void Kill() {
    ::kill(-pid_, SIGKILL);
    killed_ = true;
    limit_.expires_after(kKillGrace);
    limit_.async_wait(OnStrand([self = shared_from_this()](const ErrorCode& e) {
      if (e || self->exited_) return;
      // Reported now; the exit, if it ever comes, is still waited for and reaped.
      self->Report(
          Status::Internal("process " + std::to_string(self->pid_) + " did not die after SIGKILL"));
    }));
  }

  void MaybeComplete() {
    if (exited_ && !out_.open && !err_.open) Complete();
  }

  void Complete() {
    if (reaped_) return;
    // The pipes closed while what was left in the group had its moment to leave: what is
    // still there now is a straggler that let go of the output, not a daemon.
    KillGroup();
    drain_.cancel();
    ErrorCode ignored;
    exit_fd_.close(ignored);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    ReleaseOwnedChild(pid_);
    if (si_.si_code == CLD_EXITED) {
      res_.exit_code = si_.si_status;
    } else if (si_.si_code == CLD_KILLED || si_.si_code == CLD_DUMPED) {
      res_.term_signal = si_.si_status;
    }
    res_.elapsed = std::chrono::duration_cast<Millis>(SteadyClock::now() - start_);
    Report(std::move(res_));
  }

  // The shell started but cannot be followed: it is killed and reaped here (SIGKILL ends it
  // at once) and the failure reported.
  void Abandon(Status why) {
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    ReleaseOwnedChild(pid_);
    Report(std::move(why));
  }

  void Report(Result<ShellResult> r) {
    if (!done_) return;
    ShellDone done = std::move(done_);
    done_ = nullptr;
    done(std::move(r));
  }

  asio::strand<asio::io_context::executor_type> strand_;
  const ShellCommand cmd_;
  const std::atomic<bool>* const cancel_;
  ShellDone done_;  // empty once called
  ShellResult res_;
  SteadyClock::time_point start_;
  pid_t pid_ = 0;
  siginfo_t si_{};
  bool poll_exit_ = false;  // no pidfd: the tick looks for the exit
  bool exited_ = false;
  bool killed_ = false;
  bool group_killed_ = false;
  bool reaped_ = false;
  SteadyClock::time_point leave_by_;
  asio::posix::stream_descriptor exit_fd_;  // the pidfd
  asio::steady_timer tick_;
  asio::steady_timer limit_;  // the timeout, then the grace after SIGKILL
  asio::steady_timer drain_;
  Stream out_;
  Stream err_;
};

}  // namespace

void StartShell(asio::io_context& io, const ShellCommand& cmd, const std::atomic<bool>* cancel,
                ShellDone done) {
  std::make_shared<ShellRun>(io, cmd, cancel, std::move(done))->Start();
}

}  // namespace firedrill
