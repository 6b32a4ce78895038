// CPU burners for cpu.stress: threads of the runner, each busy for `load` percent of every
// 50 ms slice and asleep for the rest, and what they really consumed.
#pragma once

#include <memory>
#include <string>

#include "runner/base/status.h"

namespace firedrill {

struct CpuBurnStats {
  int workers = 0;
  double cpu_seconds = 0;   // consumed by all workers (CLOCK_THREAD_CPUTIME_ID)
  double wall_seconds = 0;  // summed over workers, from each one's start to its end
  // Summed over workers: runnable but waiting for a CPU (schedstat), i.e. load asked for
  // and not given because the machine was busy; negative when the kernel does not say.
  double waited_seconds = 0;
  // In a virtual machine the host can take a vCPU away ("steal"): a worker then loses CPU
  // time without waiting in this kernel's run queue. The largest share of any one CPU's
  // time stolen while the workers ran, in percent; negative when /proc/stat does not say.
  double stolen_percent = -1;
  // Achieved load in percent of one CPU per worker; what the rollback reports.
  double load() const { return wall_seconds > 0 ? 100 * cpu_seconds / wall_seconds : 0; }
  double waited() const { return wall_seconds > 0 ? 100 * waited_seconds / wall_seconds : 0; }
};

class CpuBurn {
 public:
  // Starts `workers` threads named "fd-cpu-N". Fails (and leaves none running) if a
  // thread cannot be started.
  // REQUIRES: workers >= 1; 0 < load_percent <= 100.
  static Result<std::unique_ptr<CpuBurn>> Start(int workers, double load_percent);
  ~CpuBurn();  // stops the workers if Stop was not called
  CpuBurn(const CpuBurn&) = delete;
  CpuBurn& operator=(const CpuBurn&) = delete;

  // Wakes and joins every worker (each notices within one spin iteration or at once from
  // its sleep). Safe to call more than once; later calls return the same figures.
  CpuBurnStats Stop();

 private:
  struct Shared;
  explicit CpuBurn(std::unique_ptr<Shared> shared);
  std::unique_ptr<Shared> shared_;
};

}  // namespace firedrill
