// cpu.stress and memory.stress: load on the machine for the fault's duration, from inside
// the runner: burner threads (injectors/load_cpu.h) and an anonymous mapping. Both die
// with the runner's process, so the journal records them as `in-process`; stopping them is
// these objects' job, and the journal entry is marked done once they have stopped.
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>

#include "injectors/journaled_fault.h"
#include "injectors/support/cpu_burn.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"

namespace firedrill {
namespace {

// Percentage points the workers hold the asked load to, given a free CPU.
constexpr double kAccuracy = 2;

class CpuStressFault final : public JournaledFault {
 public:
  CpuStressFault(std::string name, int workers, double load, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), workers_(workers), load_(load) {}

  Result<std::string> Rollback() override {
    CpuBurnStats st = burn_->Stop();
    SetFigure("workers", st.workers);
    SetFigure("load_percent", st.load());
    // The kernel's figures that explain a shortfall, where it gives them.
    if (st.waited_seconds >= 0) SetFigure("cpu_wait_percent", st.waited());
    if (st.stolen_percent >= 0) SetFigure("steal_percent", st.stolen_percent);
    std::string detail = fmt::format("stopped {} worker{}; measured load {:.1f}% (asked {:g}%)",
                                     st.workers, st.workers == 1 ? "" : "s", st.load(), load_);
    // Short of the asked load (beyond the workers' accuracy) only because the machine did
    // not have the CPU to give: say so, with the kernel's figures (its run queue, and the
    // host's steal when this is a virtual machine).
    if (st.load() < load_ - kAccuracy && st.waited_seconds >= 0) {
      detail += fmt::format(", short: waited for a CPU {:.1f}% of the time", st.waited());
      if (st.stolen_percent >= 0.1) {
        detail += fmt::format("; the host took {:.1f}% of a CPU", st.stolen_percent);
      }
    }
    return Finish(std::move(detail));
  }

 private:
  Result<std::string> Apply() override {
    std::string what =
        fmt::format("{} worker{} at {:g}%", workers_, workers_ == 1 ? "" : "s", load_);
    auto recorded = Record("in-process", {{"what", "cpu.stress threads (" + what + ")"}});
    if (!recorded.ok()) return recorded.status();
    auto burn = CpuBurn::Start(workers_, load_);
    if (!burn.ok()) {
      (void)Finish("never started: " + burn.status().message());
      return burn.status();
    }
    burn_ = std::move(*burn);
    return "started " + what;
  }

  int workers_;
  double load_;
  std::unique_ptr<CpuBurn> burn_;  // stops the workers when the fault is dropped
};

// MemAvailable from /proc/meminfo, in bytes.
std::optional<uint64_t> MemAvailable() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// Leaves room for everything else on the machine: beyond this the kernel would start
// reclaiming hard or the OOM killer would pick a victim, which is a different fault.
constexpr double kMaxShareOfAvailable = 0.8;

// The stride pages are touched at (huge pages are simply touched more than once).
const uint64_t kPage = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));

class MemoryStressFault final : public JournaledFault {
 public:
  MemoryStressFault(std::string name, uint64_t size, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), size_(size) {}
  ~MemoryStressFault() override { Free(); }

  Result<std::string> Rollback() override {
    std::string detail = "freed " + FormatBytes(size_);
    if (!Free()) detail = "nothing to free";
    return Finish(std::move(detail));
  }

 private:
  Result<std::string> Apply() override {
    auto avail = MemAvailable();
    if (!avail) return Status::Failed("cannot read MemAvailable from /proc/meminfo");
    if (static_cast<double>(size_) > kMaxShareOfAvailable * static_cast<double>(*avail)) {
      return Status::Failed(fmt::format(
          "refusing to allocate {}: more than {:g}% of MemAvailable ({}); the OOM killer "
          "could strike",
          FormatBytes(size_), kMaxShareOfAvailable * 100, FormatBytes(*avail)));
    }
    auto recorded =
        Record("in-process", {{"what", "memory.stress mapping of " + FormatBytes(size_)}});
    if (!recorded.ok()) return recorded.status();
    const auto t0 = std::chrono::steady_clock::now();
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::string why = "mmap " + FormatBytes(size_) + ": " + ErrnoText(errno);
      (void)Finish("never allocated: " + why);
      return Status::Failed(why);
    }
    mem_ = static_cast<char*>(p);
    // Chunk by chunk, so that a teardown need not wait for gigabytes to be touched.
    constexpr uint64_t kChunk = 64 << 20;
    for (uint64_t off = 0; off < size_; off += kChunk) {
      if (ctx().cancelled()) {
        Free();
        (void)Finish("cancelled while touching pages; freed");
        return Status::Failed("cancelled");
      }
      Touch(off, std::min(kChunk, size_ - off));
    }
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    SetFigure("bytes_resident", static_cast<double>(size_));
    SetFigure("pages_touched", static_cast<double>((size_ + kPage - 1) / kPage));
    SetFigure("touch_ms", static_cast<double>(ms));
    return fmt::format("holding {} resident ({} pages touched in {} ms)", FormatBytes(size_),
                       (size_ + kPage - 1) / kPage, ms);
  }

  // Makes [off, off+len) resident. A page is only allocated when written (reading maps
  // the shared zero page): the kernel writes the whole range in one call where it can
  // (Linux 5.14+), several times faster than a fault per page, which is the fallback.
  void Touch(uint64_t off, uint64_t len) {
    if (madvise(mem_ + off, len, MADV_POPULATE_WRITE) == 0) return;
    volatile char* bytes = mem_;
    for (uint64_t p = off; p < off + len; p += kPage) bytes[p] = 1;
  }

  bool Free() {
    if (!mem_) return false;
    munmap(mem_, size_);
    mem_ = nullptr;
    return true;
  }

  uint64_t size_;
  char* mem_ = nullptr;
};

constexpr FieldSpec kCpuFields[] = {
    {.name = "workers",
     .type = FieldType::kInt,
     .doc = "busy threads",
     .default_value = "1",
     .min = 1,
     .max = 1024},
    {.name = "load",
     .type = FieldType::kPercent,
     .doc = "share of each 50 ms slice a worker spends busy, by its own CPU time",
     .default_value = "100%",
     .min = 1,
     .max = 100},
};

constexpr FieldSpec kMemoryFields[] = {
    {.name = "size",
     .type = FieldType::kSize,
     .doc = "memory to allocate and keep resident; refused above 80% of MemAvailable",
     .required = true,
     .min = 4096},
};

Result<std::unique_ptr<Fault>> MakeCpu(const FaultSpec& f, const RunContext& ctx) {
  return std::unique_ptr<Fault>(new CpuStressFault(f.name, static_cast<int>(f.with.Int("workers")),
                                                   f.with.Percent("load"), ctx));
}

Result<std::unique_ptr<Fault>> MakeMemory(const FaultSpec& f, const RunContext& ctx) {
  return std::unique_ptr<Fault>(new MemoryStressFault(f.name, f.with.Size("size").bytes, ctx));
}

}  // namespace

extern const FaultAction kCpuStress = {
    .name = "cpu.stress",
    .doc =
        "keep CPUs busy at a given load; the rollback reports the load measured and, if "
        "short, the CPU wait and the host's steal that explain it",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kCpuFields,
    .example =
        R"({name: burn, at: 0s, action: cpu.stress, with: {workers: 2, load: 80%}, duration: 30s})",
    .check = nullptr,
    .make = MakeCpu,
    .unsupported = nullptr,
};

extern const FaultAction kMemoryStress = {
    .name = "memory.stress",
    .doc = "allocate and touch memory so it is really resident; freed on rollback",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kMemoryFields,
    .example = R"({name: hog, at: 0s, action: memory.stress, with: {size: 512MiB}, duration: 30s})",
    .check = nullptr,
    .make = MakeMemory,
    .unsupported = nullptr,
};

}  // namespace firedrill
