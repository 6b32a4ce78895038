// A real server (prometheus, prometheus-alertmanager) started by a test: in its own
// process group, output to a log file, and stopped (SIGTERM, then SIGKILL) and reaped when
// the test ends, pass or fail. Only the group it started is ever signalled.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "probes/http_client.h"
#include "runner/base/subprocess.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace firedrill::testing {

class Daemon {
 public:
  // Starts argv[0] (a path) with `argv`, stdin from /dev/null, stdout and stderr to `log`.
  Daemon(const std::vector<std::string>& argv, std::string log) : log_(std::move(log)) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    {
      // Registered as owned, so that an engine in this process never reaps it under us.
      OwnedChildGuard guard;
      pid_t pid = 0;
      if (posix_spawn(&pid, args[0], &fa, &attr, args.data(), environ) == 0) {
        pid_ = pid;
        guard.Register(pid);
      }
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Daemon() { Stop(); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  bool started() const { return pid_ > 1; }
  pid_t pid() const { return pid_; }
  // True while the process has not exited (reaps it when it has).
  bool Running() {
    if (pid_ <= 1 || reaped_) return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) MarkReaped();
    return !reaped_;
  }

  // Polite first, then certain; bounded either way. The group is signalled only while its
  // leader is unreaped, so its ID cannot have been reused by someone else's group. (The
  // servers started here do not fork.)
  void Stop() {
    if (pid_ <= 1 || reaped_) return;
    ::kill(-pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (Running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (reaped_) return;
    ::kill(-pid_, SIGKILL);
    int st = 0;
    if (::waitpid(pid_, &st, 0) == pid_) MarkReaped();
  }

  // Polls `url` until it answers 200, the process exits, or `budget` runs out.
  bool WaitReady(const std::string& url, Millis budget = Millis(30000)) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    while (Running() && std::chrono::steady_clock::now() < deadline) {
      auto r = HttpRequest({.url = url, .timeout = Millis(1000)}, nullptr);
      if (r.ok() && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // The log's last few KiB, for failure messages.
  std::string LogTail() const {
    std::string text = ReadFile(log_);
    return text.size() > 4096 ? text.substr(text.size() - 4096) : text;
  }

 private:
  void MarkReaped() {
    reaped_ = true;
    ReleaseOwnedChild(pid_);
  }

  std::string log_;
  pid_t pid_ = 0;
  bool reaped_ = false;
};

}  // namespace firedrill::testing
