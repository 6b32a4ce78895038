// How long validation takes: `firedrill validate` runs in CI on every drill of a library,
// and `run` validates before it starts anything, so loading must stay fast.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "runner/loader/loader.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BM_LoadShippedDrill(benchmark::State& state) {
  const std::string text =
      ReadFile(std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/redis-sentinel-failover.yaml");
  for (auto _ : state) {
    auto r = firedrill::LoadScenarioText(text, "redis-sentinel-failover.yaml");
    if (!r.ok()) state.SkipWithError("shipped drill does not load");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_LoadShippedDrill);

// A drill with N steady-state checks, N faults and N watches.
std::string LargeDrill(int n) {
  std::string s = "apiVersion: firedrill/v1\nname: large\nsteady_state:\n";
  for (int i = 0; i < n; ++i) {
    s += "  - name: check-" + std::to_string(i) +
         "\n    probe: {command: {run: \"redis-cli -p ${port:p" + std::to_string(i) +
         "} PING\", expect: {stdout_matches: \"^PONG$\"}}}\n";
  }
  s += "faults:\n";
  for (int i = 0; i < n; ++i) {
    s += "  - {name: f-" + std::to_string(i) + ", at: " + std::to_string(i) +
         "s, action: command, with: {run: \"true\", rollback: \"true\"}, duration: 1s}\n";
  }
  s += "watches:\n";
  for (int i = 0; i < n; ++i) {
    s += "  - {name: w-" + std::to_string(i) +
         ", kind: detection, within: 10s, probe: {http: {url: \"http://127.0.0.1:${port:p" +
         std::to_string(i) + "}/health\", expect: {status: [200, 299], max_latency: 100ms}}}}\n";
  }
  return s;
}

void BM_LoadLargeDrill(benchmark::State& state) {
  const std::string text = LargeDrill(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto r = firedrill::LoadScenarioText(text, "large.yaml");
    if (!r.ok()) state.SkipWithError(r.errors.front().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_LoadLargeDrill)->Arg(10)->Arg(50)->Arg(100)->Arg(500);

}  // namespace

BENCHMARK_MAIN();
