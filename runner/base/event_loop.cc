#include "runner/base/event_loop.h"

#include <boost/asio/post.hpp>
#include <system_error>

namespace firedrill {

namespace {

// The Env whose clock RunClock reads; null means the real one. A chrono clock's now() is
// static, so this is process-wide: set by the loop that runs on a test Env.
std::atomic<Env*> g_clock_env{nullptr};

bool RealClock(Env* e) { return e == nullptr || e == Env::Default(); }

}  // namespace

RunClock::time_point RunClock::now() noexcept {
  Env* e = g_clock_env.load(std::memory_order_relaxed);
  if (RealClock(e)) {
    // The same epoch as PosixEnv::NowMs, finer: FromMs(NowMs()) and now() agree.
    return time_point(
        std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch()));
  }
  return FromMs(e->NowMs());
}

RunClock::duration RunClockWaitTraits::to_wait_duration(const RunClock::duration& d) {
  if (RealClock(g_clock_env.load(std::memory_order_relaxed))) return d;
  // A test clock moves in Drive, between polls that never wait: the reactor must look at
  // its timers at every poll (its timerfd armed to fire at once), or timers due on the
  // test clock would wait for real time to pass.
  return RunClock::duration::zero();
}

RunClock::duration RunClockWaitTraits::to_wait_duration(const RunClock::time_point& t) {
  return to_wait_duration(t - RunClock::now());
}

int EventLoop::DefaultThreads() {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(2 * cores, 2, 8);
}

EventLoop::EventLoop(Env* env) : env_(env) {
  if (!RealClock(env)) previous_clock_env_ = g_clock_env.exchange(env);
}

Result<std::unique_ptr<EventLoop>> EventLoop::Start(Env* env, int threads, int blocking_threads) {
  if (!RealClock(env) && (threads > 0 || blocking_threads > 0)) {
    return Status::Internal("an event loop on a test clock has no threads: Drive runs it");
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(env));
  // Kept until the end, so that running out of handlers never stops the io_context (a
  // stopped one would ignore every later poll and timer).
  loop->work_.emplace(loop->io_.get_executor());
  if (threads == 0) return loop;
  try {
    if (blocking_threads > 0) {
      loop->blocking_ = std::make_unique<BlockingPool>();
      loop->blocking_pool_ = loop->blocking_.get();
      BlockingPool& pool = *loop->blocking_;
      pool.work.emplace(pool.io.get_executor());
      for (int i = 0; i < blocking_threads; ++i) {
        pool.threads.emplace_back([io = &pool.io] { io->run(); });
      }
    }
    loop->StartThread();
    for (int i = 1; i < threads; ++i) {
      // Listed before its thread starts, so that the destructor joins whatever did start.
      loop->lanes_.push_back(std::unique_ptr<EventLoop>(new EventLoop(env)));
      EventLoop& lane = *loop->lanes_.back();
      lane.blocking_pool_ = loop->blocking_pool_;
      lane.work_.emplace(lane.io_.get_executor());
      lane.StartThread();
    }
  } catch (const std::system_error& e) {
    // The destructor stops and joins what did start.
    return Status::Failed(std::string("cannot start the event loop's threads: ") + e.what() +
                          " (the process or thread limit?)");
  }
  return loop;
}

void EventLoop::StartThread() {
  threads_.emplace_back([io = &io_] { io->run(); });
}

void EventLoop::StopThread() {
  work_.reset();
  io_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

EventLoop& EventLoop::Lane(size_t i) {
  const size_t k = i % lanes();
  return k == 0 ? *this : *lanes_[k - 1];
}

EventLoop::~EventLoop() {
  if (blocking_) {
    // What was handed to the pool still runs to its end, as it may post to the lanes.
    blocking_->work.reset();
    for (auto& t : blocking_->threads) t.join();
  }
  // Every lane stops before any goes: a handler on one may still post to another.
  StopThread();
  for (auto& lane : lanes_) lane->StopThread();
  lanes_.clear();
  // No handler runs any more, and io_ is still there for the services' timers and sockets.
  // Taken out of the list before they go: what a service's callbacks call here meanwhile
  // must not find one half destroyed.
  while (true) {
    std::vector<ServiceSlot> services;
    {
      std::lock_guard lock(services_mu_);
      services.swap(services_);
    }
    if (services.empty()) break;
    while (!services.empty()) services.pop_back();
  }
  if (!RealClock(env_)) g_clock_env = previous_clock_env_;
}

std::unique_ptr<RunTimer> EventLoop::At(int64_t at_ms, std::function<void()> fn) {
  auto timer = std::make_unique<RunTimer>(io_, RunClock::FromMs(at_ms));
  timer->async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
  return timer;
}

void EventLoop::Post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

void EventLoop::Blocking(std::function<void()> fn) {
  if (blocking_pool_) {
    boost::asio::post(blocking_pool_->io, std::move(fn));
  } else {
    fn();
  }
}

void EventLoop::PollAll() {
  // Handlers may make others ready at the same moment (a timer that completes a sample
  // that finishes a round); bounded, as a handler that re-arms itself for "now" forever
  // would otherwise hold the test clock still.
  for (int i = 0; i < 1000 && io_.poll() > 0; ++i) {
  }
}

void EventLoop::Drive(Millis every, const std::function<bool()>& tick) {
  const int64_t step = std::max<int64_t>(1, every.count());
  int64_t next = NowMs();
  while (true) {
    if (manual()) PollAll();
    if (tick()) return;
    next += step;
    if (manual()) {
      // The test clock moves only here: a millisecond at a time, running what fell due.
      while (NowMs() < next) {
        env_->SleepMs(1);
        PollAll();
      }
      continue;
    }
    const int64_t now = NowMs();
    if (next < now) next = now;  // a slow tick delays the next one, never stacks them
    env_->SleepMs(next - now);
  }
}

}  // namespace firedrill
