// The run's event loop: one Boost.Asio io_context served by a small fixed pool of threads,
// with timers on the run's clock, and a bounded pool beside it for the few calls that can
// only block. Probes wait on it (sockets through curl multi, children, inotify) instead of
// holding a thread each; the engine schedules every sample on it.
//
// Its timers follow Env::NowMs: the real monotonic clock, or a test's clock that moves only
// when the test moves it. With no threads (Start(env, 0)) nothing runs by itself: Drive()
// runs the loop on the calling thread and moves a test's clock one millisecond at a time,
// so an engine test is deterministic and takes milliseconds.
#pragma once

#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/status.h"
#include "runner/base/values.h"

namespace firedrill {

// A chrono clock over the Env of the loop that is running, so that Asio's timer queue
// compares deadlines with the run's own time. Microseconds on the real clock; a test Env's
// milliseconds otherwise.
struct RunClock {
  using rep = int64_t;
  using period = std::micro;
  using duration = std::chrono::microseconds;
  using time_point = std::chrono::time_point<RunClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
  static time_point FromMs(int64_t ms) { return time_point(std::chrono::milliseconds(ms)); }
};

// How long the loop may sleep before a deadline: the real time left on the real clock;
// on a test clock, which moves only when Drive moves it, never more than a millisecond.
struct RunClockWaitTraits {
  static RunClock::duration to_wait_duration(const RunClock::duration& d);
  static RunClock::duration to_wait_duration(const RunClock::time_point& t);
};

using RunTimer = boost::asio::basic_waitable_timer<RunClock, RunClockWaitTraits>;

class EventLoop {
 public:
  // The pool size for this machine: twice its cores, at least 2, at most 8.
  static int DefaultThreads();

  // Starts `threads` loop threads and `blocking_threads` for calls that block (0 and 0: the
  // caller drives the loop with Drive, and blocking calls run inline). A thread that
  // cannot be created is kFailed saying so, never an exception.
  // REQUIRES: `env` outlives the loop; one loop at a time uses an Env other than the
  // default, and such a loop has no threads (its clock moves only in Drive).
  static Result<std::unique_ptr<EventLoop>> Start(Env* env, int threads, int blocking_threads);
  // Stops the loop and joins its threads. Handlers not yet run are dropped. Then the
  // services go (Service), newest first; one may end the work still in its hands by
  // calling its callbacks here, on this thread (CurlMulti does).
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& io() { return io_; }
  Env* env() const { return env_; }
  int64_t NowMs() const { return env_->NowMs(); }
  bool manual() const { return threads_.empty(); }
  int threads() const { return static_cast<int>(threads_.size()); }

  // Runs `fn` on a loop thread at the run's time `at_ms` (at once if that is past).
  // The returned timer cancels it when destroyed or cancelled; keep it alive until then.
  std::unique_ptr<RunTimer> At(int64_t at_ms, std::function<void()> fn);
  // Runs `fn` on a loop thread soon.
  void Post(std::function<void()> fn);
  // Runs `fn`, which may block, on the blocking pool (inline when there is none).
  void Blocking(std::function<void()> fn);

  // Calls `tick` on this thread every `every` ms (fixed rate, never stacked) until it
  // returns true. With loop threads, they run timers meanwhile and this thread sleeps
  // between ticks. Without, this thread runs the loop and moves the test clock itself.
  void Drive(Millis every, const std::function<bool()>& tick);

  // The loop's one T, made with T(EventLoop&) on first use. It lives as long as the loop
  // and is destroyed after the loop's threads have stopped and before its io_context, so
  // its I/O objects are still valid and no handler of it runs meanwhile. This is how a
  // part of base that waits through the loop (runner/base/curl_multi.h) keeps its state
  // here without the loop knowing its type. Safe from any thread.
  // REQUIRES: T's constructor calls no Service() of this loop (the lock is held).
  template <typename T>
  T& Service();

 private:
  explicit EventLoop(Env* env);
  // Runs every handler that is ready, and those they make ready. REQUIRES: manual().
  void PollAll();

  struct ServiceSlot {
    const void* type = nullptr;
    std::unique_ptr<void, void (*)(void*)> object{nullptr, nullptr};
  };
  // An address unique to each T: a static in a template is one object program-wide.
  template <typename T>
  static const void* ServiceType() {
    static const char tag = 0;
    return &tag;
  }

  Env* env_;
  Env* previous_clock_env_ = nullptr;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<boost::asio::thread_pool> blocking_;
  std::mutex services_mu_;
  std::vector<ServiceSlot> services_;  // in the order they were made
};

template <typename T>
T& EventLoop::Service() {
  std::lock_guard lock(services_mu_);
  for (const ServiceSlot& s : services_) {
    if (s.type == ServiceType<T>()) return *static_cast<T*>(s.object.get());
  }
  // Reserved first, so that the push below cannot fail after T is made.
  services_.reserve(services_.size() + 1);
  T* made = new T(*this);
  services_.push_back({ServiceType<T>(), {made, [](void* p) { delete static_cast<T*>(p); }}});
  return *made;
}

}  // namespace firedrill
