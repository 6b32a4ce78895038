// The network faults inside a whole drill run by the real `firedrill` binary, against a
// real redis-server: the engine injects and rolls them back on schedule, probes see the
// delay and the partition, and afterwards the ruleset and the journal are as if nothing
// had happened.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace firedrill::testing
