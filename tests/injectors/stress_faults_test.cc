// cpu.stress and memory.stress against the real kernel: the test measures the workers'
// CPU time itself, from /proc/self/task/TID/stat, and the memory's residence from VmRSS.
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "injectors/fault_registry.h"
#include "runner/drill/fault.h"
#include "tests/injectors/injector_fixture.h"

namespace firedrill::testing {
namespace {

using std::chrono::steady_clock;

FaultSpec CpuSpec(int64_t workers, double load) {
  FaultSpec f;
  f.name = "burn";
  f.action = "cpu.stress";
  f.with.Set("workers", Param{workers, {}});
  f.with.Set("load", Param{load, {}});
  f.duration = Millis(30000);
  return f;
}

FaultSpec MemorySpec(uint64_t bytes) {
  FaultSpec f;
  f.name = "hog";
  f.action = "memory.stress";
  SizeValue size;
  size.bytes = bytes;
  f.with.Set("size", Param{size, {}});
  f.duration = Millis(30000);
  return f;
}

std::unique_ptr<Fault> Make(const FaultSpec& f, const RunContext& ctx) {
  auto made = FindFaultAction(f.action)->make(f, ctx);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(*made) : nullptr;
}

std::vector<pid_t> Tasks() {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    out.push_back(static_cast<pid_t>(std::stol(e.path().filename().string())));
  }
  return out;
}

std::string Comm(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

// Threads of this process named fd-cpu-N (the workers name themselves once running).
std::vector<pid_t> Workers(size_t want) {
  std::vector<pid_t> found;
  for (int i = 0; i < 200 && found.size() < want; ++i) {
    found.clear();
    for (pid_t t : Tasks()) {
      if (Comm(t).rfind("fd-cpu-", 0) == 0) found.push_back(t);
    }
    if (found.size() < want) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return found;
}

// utime + stime of one thread, in clock ticks (fields 14 and 15 of its stat line).
uint64_t CpuTicks(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 13; ++i) rest >> field;  // state .. cmajflt
  rest >> utime >> stime;
  return utime + stime;
}

// Time one thread spent runnable but waiting for a CPU, in ns (schedstat's second field).
int64_t RunQueueWaitNs(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  int64_t on_cpu = 0, waiting = 0;
  in >> on_cpu >> waiting;
  return waiting;
}

// VmRSS of this process, in bytes.
// Steal ticks per CPU from /proc/stat, read independently of the fault's own reading.
std::vector<uint64_t> StealTicks() {
  std::ifstream in("/proc/stat");
  std::vector<uint64_t> steal;
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 ||
        !std::isdigit(static_cast<unsigned char>(line[3])))
      continue;
    std::istringstream f(line);
    std::string name;
    uint64_t user, nice, sys, idle, iowait, irq, softirq, st;
    f >> name >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> st;
    steal.push_back(st);
  }
  return steal;
}

// The largest share of one CPU's time the host took between two readings, over `wall` s.
double MostStolen(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b, double wall) {
  uint64_t most = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) most = std::max(most, b[i] - a[i]);
  return static_cast<double>(most) / sysconf(_SC_CLK_TCK) / wall;
}

uint64_t Rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

uint64_t MemAvailable() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

TEST(StressFaultTest, CpuStressHoldsTheAskedLoadAndRollbackEndsItsThreads) {
  InjectorFixture fx;
  const size_t tasks_before = Tasks().size();
  auto fault = Make(CpuSpec(1, 50), fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected, "started 1 worker at 50%");
  auto workers = Workers(1);
  ASSERT_EQ(workers.size(), 1u);

  const uint64_t ticks0 = CpuTicks(workers[0]);
  const int64_t wait0 = RunQueueWaitNs(workers[0]);
  const auto steal0 = StealTicks();
  const auto t0 = steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const uint64_t ticks1 = CpuTicks(workers[0]);
  const int64_t wait1 = RunQueueWaitNs(workers[0]);
  const auto steal1 = StealTicks();
  const double wall = std::chrono::duration<double>(steady_clock::now() - t0).count();
  const double share = static_cast<double>(ticks1 - ticks0) / sysconf(_SC_CLK_TCK) / wall;
  // On a machine with more runnable threads than cores (other builds), the worker can get
  // less than it asks for, but only by as long as it sat in the run queue: a worker that
  // falls behind never sleeps. In a virtual machine the host can also take the vCPU away
  // (steal), which is neither CPU time nor run-queue wait. Both are measured here, and
  // excused, never more.
  const double starved =
      static_cast<double>(wait1 - wait0) / 1e9 / wall + MostStolen(steal0, steal1, wall);
  // The kernel's own accounting, independent of the fault's clock: at 100 ticks/s over 2 s
  // it resolves 0.5 %; its sampling adds a few percent of noise.
  EXPECT_GE(share, 0.40 - starved) << "waited for a CPU " << starved * 100 << "% of the time";
  EXPECT_LE(share, 0.60);

  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(Figure(*fault, "workers"), 1) << *rolled;
  const double measured = Figure(*fault, "load_percent");
  ASSERT_GE(measured, 0) << "no load_percent figure: " << *rolled;
  EXPECT_LE(measured, 52.0) << "the test measured " << share * 100 << "%";
  EXPECT_GE(measured, 48.0 - starved * 100)
      << "the test measured " << share * 100 << "%; waited for a CPU " << starved * 100
      << "% of the time";
  // A shortfall is never more than the kernel's figures that explain it: the CPU wait
  // (schedstat) and the host's steal, each left out where the kernel does not say.
  const double waited = std::max(Figure(*fault, "cpu_wait_percent"), 0.0);
  const double stolen = std::max(Figure(*fault, "steal_percent"), 0.0);
  EXPECT_GE(measured + waited + stolen, 48.0) << *rolled;
  // The detail explains a shortfall, and only a real one.
  EXPECT_EQ(rolled->find(", short: waited for a CPU") != std::string::npos, measured < 48.0)
      << *rolled;
  EXPECT_EQ(Tasks().size(), tasks_before);

  auto entries = fx.journal->Entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "in-process");
  EXPECT_EQ(entries[0].owner, "fault burn");
  EXPECT_TRUE(entries[0].done);
  EXPECT_EQ(entries[0].detail, *rolled);
}

TEST(StressFaultTest, CpuStressStartsEveryWorkerAndDroppingTheFaultStopsThem) {
  InjectorFixture fx;
  const size_t tasks_before = Tasks().size();
  {
    auto fault = Make(CpuSpec(3, 10), fx.ctx);
    ASSERT_TRUE(fault);
    auto injected = fault->Inject();
    ASSERT_TRUE(injected.ok()) << injected.status().ToString();
    EXPECT_EQ(*injected, "started 3 workers at 10%");
    EXPECT_EQ(Workers(3).size(), 3u);
    EXPECT_EQ(Tasks().size(), tasks_before + 3);
    // No rollback: a run that drops its faults (an error before rollback) must not leave
    // threads spinning.
  }
  EXPECT_EQ(Tasks().size(), tasks_before);
}

TEST(StressFaultTest, CpuStressRefusesToInjectWithoutAJournal) {
  InjectorFixture fx;
  fx.ctx.journal = nullptr;
  const size_t tasks_before = Tasks().size();
  auto fault = Make(CpuSpec(1, 50), fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.status().message(), "no journal: refusing to inject");
  EXPECT_EQ(Tasks().size(), tasks_before);
}

TEST(StressFaultTest, MemoryStressMakesTheSizeResidentAndRollbackFreesIt) {
  InjectorFixture fx;
  constexpr uint64_t kSize = 64 << 20;
  const uint64_t before = Rss();
  auto fault = Make(MemorySpec(kSize), fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_TRUE(std::regex_match(
      *injected, std::regex(R"(holding 64\.0MiB resident \(16384 pages touched in [0-9]+ ms\))")))
      << *injected;
  EXPECT_EQ(Figure(*fault, "bytes_resident"), 64 << 20);
  EXPECT_EQ(Figure(*fault, "pages_touched"), 16384);
  EXPECT_GE(Figure(*fault, "touch_ms"), 0);
  const uint64_t during = Rss();
  // Everything else this process does between the readings is small against 4 MiB.
  EXPECT_GE(during, before + (60 << 20)) << "before " << before << ", during " << during;

  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(*rolled, "freed 64.0MiB");
  const uint64_t after = Rss();
  EXPECT_LE(after, during - (60 << 20)) << "during " << during << ", after " << after;

  auto entries = fx.journal->Entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "in-process");
  EXPECT_TRUE(entries[0].done);
  EXPECT_EQ(entries[0].detail, "freed 64.0MiB");
}

TEST(StressFaultTest, MemoryStressRefusesMoreThan80PercentOfMemAvailable) {
  InjectorFixture fx;
  const uint64_t avail = MemAvailable();
  ASSERT_GT(avail, 0u);
  const uint64_t before = Rss();
  auto fault = Make(MemorySpec(avail / 10 * 9), fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_TRUE(std::regex_search(
      injected.status().message(),
      std::regex(R"(^refusing to allocate [0-9.]+GiB: more than 80% of MemAvailable \()")))
      << injected.status().message();
  // Refused before anything was recorded or allocated.
  EXPECT_TRUE(fx.journal->Entries().empty());
  EXPECT_LT(Rss(), before + (16 << 20));
}

}  // namespace
}  // namespace firedrill::testing
