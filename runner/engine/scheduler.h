// Every probe of the fault phase on one schedule each, all on the run's event loop: fixed
// rate from a first planned moment (no drift: slot k is planned at first + k × interval),
// a sample at most in flight per probe, and every slot accounted for. A slot whose sample
// could not start before the next slot was due (its probe still busy with the previous one,
// or the loop too late) is missed and counted, never skipped silently.
//
// Schedule i runs on the loop's lane i: its timer, the sample it starts and the sample's
// completion stay on one thread, and schedules on different lanes share no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runner/base/event_loop.h"
#include "runner/base/values.h"

namespace firedrill {

// What one schedule did: the report's per-probe figures.
struct ScheduleStats {
  int64_t samples = 0;  // samples started
  int64_t missed = 0;   // slots that passed with no sample started
  // How late each started sample began after its planned moment (ms).
  int64_t late_p50_ms = 0;
  int64_t late_p99_ms = 0;
  int64_t late_max_ms = 0;
};

class Scheduler {
 public:
  // Called by a sample once it has finished: `keep` false ends its schedule (a watch met).
  using Finished = std::function<void(bool keep)>;
  // Takes one sample planned at `planned_ms` (Env::NowMs), on `lane` (the lane it is
  // called on, to start the sample's own work on), and calls `finished` exactly once, from
  // any thread, possibly before returning.
  using Body = std::function<void(int64_t planned_ms, EventLoop& lane, Finished finished)>;

  // REQUIRES: `loop` outlives the scheduler.
  explicit Scheduler(EventLoop* loop) : loop_(loop) {}
  // REQUIRES: Stop() has returned (no sample or timer may still refer to the scheduler).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Samples every `interval` from `first_ms` (Env::NowMs) on. Returns the schedule's index.
  // REQUIRES: interval > 0; Stop() not yet called.
  size_t Add(Millis interval, int64_t first_ms, Body body);

  // Ends every schedule and waits until no sample is in flight and no timer is pending. A
  // sample finishing now is not a failure of anything: the caller's body decides what to
  // keep of it (the engine keeps nothing once it has cancelled its probes).
  // REQUIRES: called from the thread that drives the loop (EventLoop::Drive), not a loop one.
  void Stop();

  // REQUIRES: Stop() has returned, so the figures are final.
  ScheduleStats Stats(size_t i) const;

 private:
  struct Entry {
    EventLoop* lane = nullptr;
    int64_t interval = 0;
    int64_t first = 0;
    Body body;
    mutable std::mutex mu;  // the fields below, and the timer's calls
    std::unique_ptr<RunTimer> timer;
    int64_t next_slot = 0;  // index of the next slot not yet started or missed
    bool in_flight = false;
    bool done = false;
    int64_t samples = 0;
    int64_t missed = 0;
    // How many started samples were how late (ms): a run of any length keeps as many
    // counts as there were distinct lateness values, not one per sample.
    std::map<int32_t, int64_t> lateness;
  };

  // REQUIRES: e.mu held.
  void Arm(Entry& e);
  void OnTimer(Entry& e);
  void OnFinished(Entry& e, bool keep);

  EventLoop* loop_;
  mutable std::mutex mu_;  // entries_ (the list, not the entries)
  std::vector<std::unique_ptr<Entry>> entries_;
  std::atomic<bool> stopped_{false};
  std::atomic<int64_t> pending_{0};  // timer waits armed plus samples in flight
};

}  // namespace firedrill
