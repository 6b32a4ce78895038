// The network faults inside a whole drill run by the real `firedrill` binary, against a
// real redis-server: the engine injects and rolls them back on schedule, probes see the
// delay and the partition, and afterwards the ruleset and the journal are as if nothing
// had happened.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <regex>

#include "runner/journal/journal.h"
#include "tests/injectors/net_testing.h"
#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

// The delay watch asks for a PING slower than 150 ms: only the proxy's 200 ms makes that
// happen on loopback. The partition watch needs PING to fail: only the reject does.
constexpr const char* kDrill = R"(apiVersion: firedrill/v1
name: redis-network
settings: {probe_interval: 100ms, settle: 5s, timeout: 60s}
services:
  - name: redis
    run: exec redis-server --port ${port:redis} --bind 127.0.0.1 --save "" --appendonly no
    ready: {tcp: {address: "127.0.0.1:${port:redis}"}, within: 5s}
steady_state:
  - name: ping
    probe: {command: {run: "redis-cli -p ${port:redis} PING", timeout: 1s, expect: {stdout_matches: PONG}}}
faults:
  - {name: slow, at: 0s, action: network.delay, with: {port: "${port:redis}", delay: 200ms}, duration: 1s}
  - {name: cut, at: 1500ms, action: network.partition, with: {port: "${port:redis}", mode: reject}, duration: 1s}
watches:
  - name: ping-slow
    kind: custom
    probe: {command: {run: "s=$(date +%s%N); redis-cli -p ${port:redis} PING | grep -q PONG && [ $(( ($(date +%s%N) - s) / 1000000 )) -ge 150 ]", timeout: 2s}}
    within: 1s
  - name: ping-fails
    kind: detection
    probe: {command: {run: "! redis-cli -p ${port:redis} PING | grep -q PONG", timeout: 1s}}
    within: 3s
recovery: {within: 20s, steady_for: 500ms}
)";

TEST(NetworkDrillTest, DelayAndPartitionRunAndRollBackInADrill) {
  if (system("command -v redis-server >/dev/null && command -v redis-cli >/dev/null") != 0) {
    GTEST_SKIP() << "redis-server not installed (apt-get install redis-server)";
  }
  RulesetGuard guard;  // holds the tests' nftables lock: the full ruleset can be compared
  const std::string before = Sh("nft list ruleset");
  TempDir dir;
  WriteFile(dir / "drill.yaml", kDrill);
  CliResult r = RunFiredrill({"run", "drill.yaml", "--report-dir", dir / "out", "-q"}, dir.path(),
                             Millis(60000));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ReadJson(dir / "out/report.json");
  ASSERT_TRUE(report) << r.out << r.err;
  EXPECT_EQ((*report)["verdict"], "passed") << report->dump(2);
  for (const auto& f : (*report)["faults"]) {
    EXPECT_EQ(f["rollback"], "ok") << f.dump();
  }
  for (const auto& w : (*report)["watches"]) {
    EXPECT_EQ(w["met"], true) << w.dump();
  }
  ASSERT_EQ((*report)["faults"].size(), 2u);
  EXPECT_NE((*report)["faults"][0]["detail"].get<std::string>().find("fault proxy"),
            std::string::npos);
  EXPECT_EQ(Sh("nft list ruleset"), before) << "the drill left nftables rules behind";
  EXPECT_TRUE(UnfinishedJournals(dir / "state").empty());
}

// `nft monitor rules` in the background: nftables' own account of when each rule appeared,
// every line stamped as it arrives on the clock the run's times come from (steady_clock,
// CLOCK_MONOTONIC), independently of anything firedrill says about itself.
class NftMonitor {
 public:
  struct Line {
    int64_t at_us = 0;
    std::string text;
  };

  NftMonitor() {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    char* argv[] = {const_cast<char*>("nft"), const_cast<char*>("monitor"),
                    const_cast<char*>("rules"), nullptr};
    if (posix_spawnp(&pid_, "nft", &actions, nullptr, argv, environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    fd_ = out[0];
    reader_ = std::thread([this] { Read(); });
  }
  ~NftMonitor() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();  // the pipe closed with nft
    if (fd_ >= 0) close(fd_);
  }
  NftMonitor(const NftMonitor&) = delete;
  NftMonitor& operator=(const NftMonitor&) = delete;

  // Whether nft is listening: a rule of a table of the test's own shows up. nft monitor
  // subscribes a moment after it starts and misses what came before, so the rule is added
  // again until one is seen.
  bool Listening() {
    if (pid_ <= 0) return false;
    const std::string table = "fdtest_monitor_" + std::to_string(getpid());
    Sh("nft 'add table inet " + table + "; add chain inet " + table + " c'");
    bool seen = false;
    for (int i = 0; i < 50 && !seen; ++i) {
      Sh("nft add rule inet " + table + " c counter");
      seen = WaitFor({"add rule inet " + table + " "}, Millis(100)).has_value();
    }
    Sh("nft delete table inet " + table);
    return seen;
  }

  // The first line holding every one of `parts`, waiting up to `timeout` for it.
  std::optional<Line> WaitFor(const std::vector<std::string>& parts, Millis timeout) {
    std::unique_lock<std::mutex> l(mu_);
    std::optional<Line> found;
    cv_.wait_for(l, timeout, [&] {
      for (const auto& line : lines_) {
        if (std::all_of(parts.begin(), parts.end(), [&](const std::string& part) {
              return line.text.find(part) != std::string::npos;
            })) {
          found = line;
          return true;
        }
      }
      return done_;
    });
    return found;
  }

  std::string All() {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const auto& line : lines_) out += std::to_string(line.at_us) + " " + line.text + "\n";
    return out;
  }

 private:
  void Read() {
    std::string partial;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      // Stamped before the lock: the arrival, not when the test got round to it.
      const int64_t now = NowUs();
      partial.append(buf, static_cast<size_t>(n));
      std::lock_guard<std::mutex> l(mu_);
      for (size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1)) {
        lines_.push_back({now, partial.substr(0, nl)});
      }
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Line> lines_;
  bool done_ = false;
};

// How far the first network.delay of a fresh `firedrill run` was stamped from the moment
// nft monitor saw its redirect rule appear, in ms (positive: the stamp is later).
std::optional<double> StampOffsetMs(NftMonitor& monitor, int port) {
  const std::string p = std::to_string(port);
  TempDir dir;
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: delay-stamp
settings: {probe_interval: 100ms, settle: 5s, timeout: 30s}
steady_state:
  - name: up
    probe: {tcp: {address: "127.0.0.1:)" +
                                    p + R"("}}
faults:
  - {name: slow, at: 200ms, action: network.delay, with: {port: ")" +
                                    p + R"(", delay: 50ms}, duration: 300ms}
recovery: {within: 5s, steady_for: 200ms}
)");
  CliResult r = RunFiredrill({"run", "drill.yaml", "--report-dir", dir / "out", "-q"}, dir.path(),
                             Millis(60000));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ReadJson(dir / "out/report.json");
  EXPECT_TRUE(report) << r.out << r.err;
  if (!report) return std::nullopt;
  const auto& fault = (*report)["faults"][0];
  EXPECT_TRUE(fault["injected_at_ms"].is_number_integer()) << fault.dump();
  if (!fault["injected_at_ms"].is_number_integer()) return std::nullopt;
  std::smatch m;
  const std::string detail = fault["detail"];
  if (!std::regex_search(detail, m, std::regex("nft table inet (firedrill_[0-9]+_[0-9]+)"))) {
    ADD_FAILURE() << "no table in " << detail;
    return std::nullopt;
  }
  // nft sometimes puts the rule's handle in the middle ("to_proxy handle 2 ip daddr ...").
  auto line = monitor.WaitFor({"add rule inet " + m[1].str() + " to_proxy ",
                               "ip daddr 127.0.0.0/8 tcp dport " + p + " redirect"},
                              Millis(2000));
  if (!line) {
    ADD_FAILURE() << "no redirect of " << m[1] << " in nft monitor's output:\n" << monitor.All();
    return std::nullopt;
  }
  // The run's times count from its origin on CLOCK_MONOTONIC, in whole milliseconds (so
  // the stamp here is up to 1 ms early).
  const int64_t stamped_us =
      ((*report)["started_monotonic_ms"].get<int64_t>() + fault["injected_at_ms"].get<int64_t>()) *
      1000;
  return static_cast<double>(stamped_us - line->at_us) / 1000.0;
}

// Issue 11: the first network.delay of a run is stamped when its redirect is in place, as
// nft monitor saw the rule appear, within 20 ms. Before, the netem check ran between the
// redirect and the stamp: 7 to 34 ms here, up to its 5 s timeout on a loaded machine.
// Each run is a new process, so each one's delay is its first. Both clocks readings come
// after the commit and both wait for a CPU, on a machine other builds keep busy: the
// median of three runs is judged, so that one run descheduled for 20 ms does not decide.
TEST(NetworkDrillTest, TheFirstDelayIsStampedWhenItsRedirectAppearsInNftables) {
  RulesetGuard guard;
  EchoServer target;
  NftMonitor monitor;
  ASSERT_TRUE(monitor.Listening()) << "nft monitor did not report a rule:\n" << monitor.All();
  std::vector<double> offsets;
  for (int i = 0; i < 3; ++i) {
    auto off = StampOffsetMs(monitor, target.port());
    ASSERT_TRUE(off.has_value());
    std::cout << "injected_at_ms - nft monitor's redirect line: " << *off << " ms\n";
    offsets.push_back(std::abs(*off));
  }
  std::sort(offsets.begin(), offsets.end());
  EXPECT_LE(offsets[1], 20.0) << "the median of " << offsets[0] << ", " << offsets[1] << ", "
                              << offsets[2] << " ms";
}

}  // namespace
}  // namespace firedrill::testing
