// What the http.load engine (http_load_engine.h) runs on each of its threads: a worker
// that owns some of the load's connections and its share of the rate, and keeps its own
// figures, merged when the load stops. Two kinds: Boost.Beast for plain HTTP (the hot
// path, http_load_beast.cc) and libcurl for TLS (http_load_curl.cc).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>

#include "injectors/support/http_load_engine.h"
#include "runner/base/status.h"

namespace firedrill::load {

using Clock = std::chrono::steady_clock;

// A request sent more than this after its intended time is counted `late`: every
// connection was busy when it fell due (or the thread was descheduled).
constexpr auto kLateAfter = std::chrono::milliseconds(1);
// The longest a worker goes without asking whether the run was cancelled, and the
// granularity of its per-request timeouts.
constexpr auto kSweep = std::chrono::milliseconds(10);

// The open model's schedule: request k of this worker is due at t0 + k / rate, computed,
// not accumulated, so rounding never drifts the rate. A request that could not be sent
// when due keeps its intended time: it is sent as soon as a connection is free and its
// latency counts from when it should have left (no coordinated omission).
class Schedule {
 public:
  Schedule() = default;
  // REQUIRES: rate > 0.
  Schedule(double rate, Clock::time_point t0) : rate_(rate), t0_(t0) {}
  bool paced() const { return rate_ > 0; }
  Clock::time_point Due(uint64_t k) const {
    return t0_ + std::chrono::nanoseconds(std::llround(static_cast<double>(k) * 1e9 / rate_));
  }
  Clock::time_point next_due() const { return Due(next_); }
  // The intended time of the next request, which is now taken.
  Clock::time_point Take() { return Due(next_++); }
  // Requests due at or before `end` that were never sent.
  uint64_t UnsentAt(Clock::time_point end) const {
    if (!paced() || end < t0_) return 0;
    const double elapsed = std::chrono::duration<double>(end - t0_).count();
    const auto due = static_cast<uint64_t>(std::floor(elapsed * rate_)) + 1;
    return due > next_ ? due - next_ : 0;
  }

 private:
  double rate_ = 0;
  Clock::time_point t0_{};
  uint64_t next_ = 0;
};

struct WorkerSpec {
  const HttpLoadSpec* load = nullptr;  // outlives the worker
  int64_t connections = 1;
  double rate = 0;                  // this worker's share; 0: as fast as it can
  Clock::time_point start{};        // its schedule's t0
  std::function<bool()> cancelled;  // may be empty; asked at least every kSweep
};

class Worker {
 public:
  virtual ~Worker() = default;
  // Runs the load on the calling thread until Stop, `cancelled`, or a failure it cannot
  // go on from (then stats().stopped_early says why).
  virtual void Run() = 0;
  // Ends Run soon; any thread may call it.
  virtual void Stop() = 0;
  // Read once Run has returned. seconds is left for the engine to set.
  virtual const HttpLoadStats& stats() const = 0;
  // When Run returned.
  virtual Clock::time_point ended() const = 0;
};

// REQUIRES: the URL passed ParseDrillUrl and is http (Beast) or https (curl).
Result<std::unique_ptr<Worker>> MakeBeastWorker(WorkerSpec spec);
Result<std::unique_ptr<Worker>> MakeCurlWorker(WorkerSpec spec);

// Text for a failed socket call: errno's words for system errors ("connection refused").
std::string ErrorWords(int system_errno, const std::string& otherwise);
// True for the errors that mean this process, not the server, ran out of something.
bool IsLocalShortage(int system_errno);

}  // namespace firedrill::load
