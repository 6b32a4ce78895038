#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "runner/base/env.h"
#include "runner/base/proc.h"
#include "runner/base/text.h"

namespace firedrill {

const char* ProcStateName(ProcState s) {
  switch (s) {
    case ProcState::kRunning:
      return "running";
    case ProcState::kStopped:
      return "stopped";
    case ProcState::kZombie:
      return "zombie";
    case ProcState::kGone:
      return "gone";
  }
  return "?";
}

namespace {

struct SignalEntry {
  const char* name;
  int number;
};
constexpr SignalEntry kSignals[] = {
    {"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT}, {"SIGABRT", SIGABRT},
    {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1}, {"SIGSEGV", SIGSEGV}, {"SIGUSR2", SIGUSR2},
    {"SIGPIPE", SIGPIPE}, {"SIGALRM", SIGALRM}, {"SIGTERM", SIGTERM}, {"SIGCONT", SIGCONT},
    {"SIGSTOP", SIGSTOP}, {"SIGTSTP", SIGTSTP},
};

// The refusals every signal goes through, whoever asks: PID 0, 1 and -1 (every process),
// firedrill itself, its ancestors and its own process group.
Status CheckSignalTarget(pid_t pid) {
  pid_t who = pid < 0 ? -pid : pid;
  if (pid == 0 || who == 1) return Status::Invalid("refusing to signal PID 0/1 or every process");
  if (IsSelfOrAncestor(who)) {
    return Status::Invalid("refusing to signal firedrill itself or one of its ancestors (" +
                           std::to_string(who) + ")");
  }
  if (pid < 0 && who == getpgrp()) {
    return Status::Invalid("refusing to signal firedrill's own process group");
  }
  return Status::Ok();
}

class PosixEnv final : public Env {
 public:
  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::system_clock::time_point WallNow() override {
    return std::chrono::system_clock::now();
  }
  void SleepMs(int64_t ms) override {
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }

  Status Signal(pid_t pid, int sig) override {
    FD_RETURN_IF_ERROR(CheckSignalTarget(pid));
    const pid_t who = pid < 0 ? -pid : pid;
    if (::kill(pid, sig) != 0) {
      return Status::Failed(std::string(pid < 0 ? "kill(process group " : "kill(") +
                            std::to_string(who) + ", " + SignalName(sig) + "): " + strerror(errno));
    }
    return Status::Ok();
  }

  ProcState State(pid_t pid) override {
    auto info = ReadProcStat(pid);
    if (!info) return ProcState::kGone;
    switch (info->state) {
      case 'T':
      case 't':
        return ProcState::kStopped;
      case 'Z':
      case 'X':
        return ProcState::kZombie;
      default:
        return ProcState::kRunning;
    }
  }

  std::optional<uint64_t> StartTime(pid_t pid) override {
    auto info = ReadProcStat(pid);
    if (!info || info->state == 'Z' || info->state == 'X') return std::nullopt;
    return info->start_ticks;
  }
  Status SignalIfSame(pid_t pid, uint64_t start_ticks, int sig) override {
    if (pid <= 0) return Status::Invalid("SignalIfSame takes one process, not a group");
    FD_RETURN_IF_ERROR(CheckSignalTarget(pid));
    // Once the pidfd is open it names this process for good, so the start time read after
    // it says whether the PID was reused before: nothing can slip in between.
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
      if (errno == ESRCH) return Status::Failed("PID " + std::to_string(pid) + " is gone");
      return Status::Failed("pidfd_open(" + std::to_string(pid) + "): " + ErrnoText(errno));
    }
    const auto start = StartTime(pid);
    Status st;
    if (!start) {
      st = Status::Failed("PID " + std::to_string(pid) + " is gone");
    } else if (*start != start_ticks) {
      st = Status::Failed("PID " + std::to_string(pid) +
                          " names another process now (its start time changed): not signalled");
    } else if (::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) != 0) {
      st = Status::Failed("kill(" + std::to_string(pid) + ", " + SignalName(sig) +
                          "): " + ErrnoText(errno));
    }
    ::close(fd);
    return st;
  }

  std::string ExecutableName(pid_t pid) override {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (!comm || !std::getline(comm, name)) return "";
    return name;
  }

  bool IsOwnDescendant(pid_t pid) override { return IsDescendantOf(pid, getpid()); }

  bool GroupAlive(pid_t pgid) override {
    for (pid_t p : ListPids()) {
      auto info = ReadProcStat(p);
      if (info && info->pgrp == pgid && info->state != 'Z' && info->state != 'X') return true;
    }
    return false;
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

int SignalFromName(const std::string& raw) {
  if (raw.empty()) return -1;
  bool digits = raw.find_first_not_of("0123456789") == std::string::npos;
  if (digits) {
    if (raw.size() > 2) return -1;
    int n = std::stoi(raw);
    return (n >= 1 && n <= 64) ? n : -1;
  }
  std::string name = raw;
  for (auto& c : name) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) != 0) name = "SIG" + name;
  for (const auto& s : kSignals) {
    if (name == s.name) return s.number;
  }
  return -1;
}

std::string SignalName(int sig) {
  for (const auto& s : kSignals) {
    if (s.number == sig) return s.name;
  }
  return "signal " + std::to_string(sig);
}

}  // namespace firedrill
