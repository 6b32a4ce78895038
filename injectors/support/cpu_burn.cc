#include "injectors/support/cpu_burn.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

namespace firedrill {
namespace {

using Clock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

// Long against the scheduler's time slice (a few ms), so the busy part is not chopped up;
// short against a fault's duration, so a load stopped mid-slice still averages out within
// a fraction of a percent (at most load*(1-load)*slice/duration: 0.6 % at 50 % over 2 s).
constexpr Nanos kSlice = std::chrono::milliseconds(50);
// CPU time lost to other processes is made up in later slices, but at most this much: a
// worker starved (or the runner stopped) for long must not then burn at 100 % as long.
constexpr int64_t kMaxDebtNs = 500'000'000;

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// How long this thread has been runnable but waiting for a CPU, in ns; -1 if unknown.
int64_t RunQueueWaitNs() {
  std::ifstream in("/proc/thread-self/schedstat");
  int64_t on_cpu = 0, waiting = -1;
  in >> on_cpu >> waiting;
  return in ? waiting : -1;
}

// Steal ticks of each CPU (the 8th figure of every "cpuN" line of /proc/stat); empty if
// the kernel does not say.
std::vector<int64_t> StealTicksPerCpu() {
  std::ifstream in("/proc/stat");
  std::vector<int64_t> steal;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
    std::istringstream fields(line);
    std::string name;
    int64_t v[8] = {};
    fields >> name;
    for (int64_t& x : v) fields >> x;
    if (!fields) return {};
    steal.push_back(v[7]);
  }
  return steal;
}

struct WorkerResult {
  int64_t cpu_ns = 0;
  int64_t wall_ns = 0;
  int64_t waited_ns = -1;
};

}  // namespace

struct CpuBurn::Shared {
  double load = 1;  // fraction of each slice
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<WorkerResult> results;  // one per worker, each written by its worker only
  std::vector<std::thread> threads;
  bool joined = false;
  CpuBurnStats stats;
  Clock::time_point started = Clock::now();
  std::vector<int64_t> steal0 = StealTicksPerCpu();

  void Work(size_t index) {
    std::string name = "fd-cpu-" + std::to_string(index);
    pthread_setname_np(pthread_self(), name.c_str());
    const Clock::time_point start = Clock::now();
    const int64_t cpu0 = ThreadCpuNs();
    const int64_t wait0 = RunQueueWaitNs();
    int64_t forgiven = 0;
    for (int64_t slice = 1; !stop.load(std::memory_order_relaxed); ++slice) {
      const Clock::time_point slice_end = start + slice * kSlice;
      // Paced on the CPU time really consumed, not on wall time spent spinning: time the
      // scheduler gave to someone else is not counted as load.
      const int64_t target =
          std::llround(load * static_cast<double>(Nanos(slice_end - start).count())) - forgiven;
      int64_t used = ThreadCpuNs() - cpu0;
      if (target - used > kMaxDebtNs) forgiven += target - used - kMaxDebtNs;
      const int64_t want = std::min(target, used + kMaxDebtNs);
      // Spins on the monotonic clock (vDSO, no system call), for as long as the CPU time
      // still owed; then asks the kernel what it really got, and spins again for any time
      // it was preempted, until the slice ends.
      while (used < want && !stop.load(std::memory_order_relaxed)) {
        Clock::time_point now = Clock::now();
        const Clock::time_point until = std::min(slice_end, now + Nanos(want - used));
        while (now < until && !stop.load(std::memory_order_relaxed)) now = Clock::now();
        if (now >= slice_end) break;
        used = ThreadCpuNs() - cpu0;
      }
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait_until(l, slice_end, [&] { return stop.load(); });
      }
      // Slices missed entirely (the process was stopped, the machine overloaded) are
      // skipped rather than run back to back.
      const int64_t now_slice = Nanos(Clock::now() - start) / kSlice;
      if (now_slice > slice) slice = now_slice;
    }
    const int64_t wait1 = RunQueueWaitNs();
    results[index] = {ThreadCpuNs() - cpu0, Nanos(Clock::now() - start).count(),
                      wait0 >= 0 && wait1 >= 0 ? wait1 - wait0 : -1};
  }

  void StopAndJoin() {
    {
      std::lock_guard<std::mutex> l(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

CpuBurn::CpuBurn(std::unique_ptr<Shared> shared) : shared_(std::move(shared)) {}

CpuBurn::~CpuBurn() {
  if (shared_) Stop();
}

Result<std::unique_ptr<CpuBurn>> CpuBurn::Start(int workers, double load_percent) {
  auto s = std::make_unique<Shared>();
  s->load = load_percent / 100;
  s->results.resize(static_cast<size_t>(workers));
  Shared* raw = s.get();
  for (int i = 0; i < workers; ++i) {
    try {
      s->threads.emplace_back([raw, i] { raw->Work(static_cast<size_t>(i)); });
    } catch (const std::system_error& e) {
      s->StopAndJoin();
      return Status::Internal("cannot start CPU worker " + std::to_string(i + 1) + " of " +
                              std::to_string(workers) + ": " + e.what());
    }
  }
  return std::unique_ptr<CpuBurn>(new CpuBurn(std::move(s)));
}

CpuBurnStats CpuBurn::Stop() {
  if (!shared_->joined) {
    shared_->StopAndJoin();
    shared_->joined = true;
    CpuBurnStats& st = shared_->stats;
    st.workers = static_cast<int>(shared_->results.size());
    const std::vector<int64_t> steal1 = StealTicksPerCpu();
    const double wall = std::chrono::duration<double>(Clock::now() - shared_->started).count();
    if (!shared_->steal0.empty() && steal1.size() == shared_->steal0.size() && wall > 0) {
      int64_t most = 0;
      for (size_t i = 0; i < steal1.size(); ++i)
        most = std::max(most, steal1[i] - shared_->steal0[i]);
      st.stolen_percent = 100.0 * static_cast<double>(most) / sysconf(_SC_CLK_TCK) / wall;
    }
    for (const auto& r : shared_->results) {
      st.cpu_seconds += static_cast<double>(r.cpu_ns) / 1e9;
      st.wall_seconds += static_cast<double>(r.wall_ns) / 1e9;
      if (r.waited_ns < 0 || st.waited_seconds < 0) {
        st.waited_seconds = -1;
      } else {
        st.waited_seconds += static_cast<double>(r.waited_ns) / 1e9;
      }
    }
  }
  return shared_->stats;
}

}  // namespace firedrill
