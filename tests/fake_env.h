// FakeEnv: an Env for unit tests. Its clock moves only when a test advances it or code
// sleeps on it, process states and live process groups are whatever the test says, and
// signals are recorded instead of sent. Use it beside a real-process test of the same
// path, never instead of one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/status.h"

namespace firedrill {

class FakeEnv final : public Env {
 public:
  struct SentSignal {
    pid_t pid;  // negative: a process group, as passed to Env::Signal
    int sig;
    bool operator==(const SentSignal&) const = default;
  };

  // Thread-safe: the engine samples probes from several threads at once.
  int64_t NowMs() override {
    std::lock_guard<std::mutex> l(mu_);
    return now_ms_;
  }
  std::chrono::system_clock::time_point WallNow() override {
    std::lock_guard<std::mutex> l(mu_);
    return wall_start_ + std::chrono::milliseconds(now_ms_);
  }
  // Returns at once, with the clock moved on: sleeping code runs at full speed.
  void SleepMs(int64_t ms) override {
    if (ms > 0) AdvanceMs(ms);
  }

  Status Signal(pid_t pid, int sig) override {
    std::lock_guard<std::mutex> l(mu_);
    signals_.push_back({pid, sig});
    return signal_status_;
  }
  ProcState State(pid_t pid) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = states_.find(pid);
    return it == states_.end() ? ProcState::kGone : it->second;
  }
  bool GroupAlive(pid_t pgid) override {
    std::lock_guard<std::mutex> l(mu_);
    return live_groups_.count(pgid) > 0;
  }
  std::optional<uint64_t> StartTime(pid_t pid) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = start_times_.find(pid);
    if (it == start_times_.end()) return std::nullopt;
    return it->second;
  }

  Status SignalIfSame(pid_t pid, uint64_t start_ticks, int sig) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = start_times_.find(pid);
    if (it == start_times_.end()) return Status::Failed("PID " + std::to_string(pid) + " is gone");
    if (it->second != start_ticks) {
      return Status::Failed("PID " + std::to_string(pid) +
                            " names another process now (its start time changed): not signalled");
    }
    signals_.push_back({pid, sig});
    return signal_status_;
  }
  std::string ExecutableName(pid_t pid) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = names_.find(pid);
    return it == names_.end() ? "" : it->second;
  }
  bool IsOwnDescendant(pid_t pid) override {
    std::lock_guard<std::mutex> l(mu_);
    return own_.count(pid) > 0;
  }

  // --- what tests set and read ---------------------------------------------------------
  void AdvanceMs(int64_t ms) {
    std::lock_guard<std::mutex> l(mu_);
    now_ms_ += ms;
  }
  // A PID never set is gone.
  void SetState(pid_t pid, ProcState s) {
    std::lock_guard<std::mutex> l(mu_);
    states_[pid] = s;
  }
  // A PID without a start time is gone.
  void SetStartTime(pid_t pid, uint64_t ticks) {
    std::lock_guard<std::mutex> l(mu_);
    start_times_[pid] = ticks;
  }
  void SetGroupAlive(pid_t pgid, bool alive) {
    std::lock_guard<std::mutex> l(mu_);
    if (alive) {
      live_groups_.insert(pgid);
    } else {
      live_groups_.erase(pgid);
    }
  }
  void SetExecutableName(pid_t pid, std::string name) {
    std::lock_guard<std::mutex> l(mu_);
    names_[pid] = std::move(name);
  }
  // Marks `pid` as started by this run (a descendant of firedrill).
  void SetOwnDescendant(pid_t pid) {
    std::lock_guard<std::mutex> l(mu_);
    own_.insert(pid);
  }
  // What every later Signal() returns (Ok by default).
  void SetSignalStatus(Status s) {
    std::lock_guard<std::mutex> l(mu_);
    signal_status_ = std::move(s);
  }
  std::vector<SentSignal> signals() const {
    std::lock_guard<std::mutex> l(mu_);
    return signals_;
  }

 private:
  mutable std::mutex mu_;
  // An arbitrary but fixed start, so that wall-clock output is reproducible.
  std::chrono::system_clock::time_point wall_start_ =
      std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  int64_t now_ms_ = 1'000'000;
  std::map<pid_t, ProcState> states_;
  std::set<pid_t> live_groups_;
  std::map<pid_t, uint64_t> start_times_;
  std::map<pid_t, std::string> names_;
  std::set<pid_t> own_;
  std::vector<SentSignal> signals_;
  Status signal_status_;
};

}  // namespace firedrill
