// The run's event loop: a small fixed set of lanes, each a Boost.Asio io_context run by one
// thread, with timers on the run's clock, and a bounded pool beside them for the few calls
// that can only block. Probes wait on it (sockets through curl multi, children, inotify)
// instead of holding a thread each; the engine schedules every sample on it.
//
// Why lanes and not one io_context shared by the threads: a sample is a timer, a few socket
// waits and a completion. On a shared io_context each of those steps may wake another
// thread (a futex and a context switch each), and libcurl's multi handle, which is not
// thread-safe, has to be one strand that every transfer queues on. At 1,000 probes every
// 100 ms that hand-over was most of the CPU and the one strand the bottleneck. A lane keeps
// a probe's whole sample on one thread, with its own curl multi handle (Service is per
// lane), and lanes share nothing but the blocking pool.
//
// Its timers follow Env::NowMs: the real monotonic clock, or a test's clock that moves only
// when the test moves it. With no threads (Start(env, 0)) nothing runs by itself: Drive()
// runs the loop on the calling thread and moves a test's clock one millisecond at a time,
// so an engine test is deterministic and takes milliseconds.
#pragma once

#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
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
  // The lane count for this machine: twice its cores, at least 2, at most 8.
  static int DefaultThreads();

  // Starts `threads` lanes of one thread each and `blocking_threads` for calls that block
  // (0 and 0: one lane, which the caller drives with Drive, and blocking calls run inline).
  // A thread that cannot be created is kFailed saying so, never an exception.
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
  // Threads of every lane (not the blocking pool's).
  int threads() const { return static_cast<int>(threads_.size() + lanes_.size()); }

  // Lane i % lanes(): Lane(0) is this loop. Each lane is an EventLoop of its own: what is
  // started on one (a timer, a transfer, a Post) runs on its thread. Spread independent
  // work by index. Without threads there is one lane, this.
  EventLoop& Lane(size_t i);
  size_t lanes() const { return lanes_.size() + 1; }

  // Runs `fn` on a loop thread at the run's time `at_ms` (at once if that is past).
  // The returned timer cancels it when destroyed or cancelled; keep it alive until then.
  std::unique_ptr<RunTimer> At(int64_t at_ms, std::function<void()> fn);
  // Runs `fn` on a loop thread soon.
  void Post(std::function<void()> fn);
  // Runs `fn`, which may block, on the blocking pool that every lane shares (inline when
  // there is none).
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
  // Starts this lane's thread. REQUIRES: work_ is set.
  void StartThread();
  // Stops this lane and joins its thread; its services stay.
  void StopThread();

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
  // One thread runs it (the hint lets Asio keep what a handler posts on that thread).
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;               // this lane's: none, or one
  std::vector<std::unique_ptr<EventLoop>> lanes_;  // lanes 1.. (only in lane 0)
  // The blocking pool: lane 0's, and every lane posts to it. Threads of our own rather than
  // an asio::thread_pool, whose constructor, when a thread cannot be made, leaves the ones
  // it made running and then joins them forever.
  struct BlockingPool {
    boost::asio::io_context io;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
  };
  std::unique_ptr<BlockingPool> blocking_;
  BlockingPool* blocking_pool_ = nullptr;
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
