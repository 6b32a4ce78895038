// Valid drills: the full drill and the contract's example round-trip exactly to the model;
// every shipped drill validates.
#include "runner/loader/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <string>

#include "tests/integration/harness.h"
#include "tests/runner/loader/loader_testing.h"

namespace firedrill {
namespace {

using testing::AllDiagnostics;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Ms;
using testing::SourcePath;

class LoaderFullDrillTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    result_ = new LoadResult(LoadScenarioFile(SourcePath("tests/data/valid/full.yaml")));
  }
  static void TearDownTestSuite() {
    delete result_;
    result_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(result_->ok()) << AllDiagnostics(*result_); }
  const Scenario& s() const { return *result_->scenario; }

  static LoadResult* result_;
};

LoadResult* LoaderFullDrillTest::result_ = nullptr;

TEST_F(LoaderFullDrillTest, TopLevel) {
  EXPECT_THAT(result_->errors, IsEmpty());
  EXPECT_EQ(s().file, SourcePath("tests/data/valid/full.yaml"));
  EXPECT_EQ(s().api_version, "firedrill/v1");
  EXPECT_EQ(s().name, "full-drill");
  EXPECT_EQ(s().description,
            "Every key of the contract, with values the loader test checks exactly.");
  EXPECT_THAT(s().tags, ElementsAre("redis", "failover", "data"));
  EXPECT_THAT(s().port_names, IsEmpty());
}

TEST_F(LoaderFullDrillTest, Settings) {
  const Settings& st = s().settings;
  EXPECT_EQ(Ms(st.probe_interval), 200);
  EXPECT_EQ(Ms(st.settle), 10000);
  EXPECT_EQ(Ms(st.timeout), 120000);
  EXPECT_EQ(st.workdir, "/tmp/firedrill/full-drill");
  EXPECT_THAT(st.allow_paths, ElementsAre("${workdir}", "/tmp/firedrill/shared"));
  EXPECT_EQ(Ms(st.stop_grace), 5000);  // not written: the default
}

TEST_F(LoaderFullDrillTest, Services) {
  ASSERT_EQ(s().services.size(), 2u);
  const ServiceSpec& primary = s().services[0];
  EXPECT_EQ(primary.name, "primary");
  EXPECT_EQ(primary.run, "redis-server --port 16379 --dir ${workdir} --save \"\"");
  EXPECT_EQ(primary.mark.line, 14);
  EXPECT_EQ(primary.mark.column, 5);
  ASSERT_TRUE(primary.ready.has_value());
  EXPECT_EQ(primary.ready->kind, "tcp");
  EXPECT_EQ(primary.ready->mark.line, 16);
  EXPECT_EQ(primary.ready->mark.column, 13);
  EXPECT_EQ(primary.ready->params.String("address"), "127.0.0.1:16379");
  EXPECT_EQ(Ms(primary.ready->params.Duration("timeout")), 2000);  // tcp default
  EXPECT_EQ(primary.ready->params.MarkOf("timeout").line, 0);      // a default has no position
  EXPECT_EQ(Ms(primary.ready_within), 7000);
  EXPECT_EQ(primary.restart, RestartPolicy::kOnFailure);

  const ServiceSpec& replica = s().services[1];
  EXPECT_EQ(replica.name, "replica");
  EXPECT_EQ(replica.run, "redis-server --port 16380 --replicaof 127.0.0.1 16379");
  ASSERT_TRUE(replica.ready.has_value());
  EXPECT_EQ(replica.ready->kind, "http");
  EXPECT_EQ(replica.ready->mark.line, 21);
  EXPECT_EQ(replica.ready->mark.column, 7);
  const Params& http = replica.ready->params;
  EXPECT_EQ(http.String("url"), "http://127.0.0.1:16381/health");
  EXPECT_EQ(http.String("method"), "GET");
  EXPECT_EQ(Ms(http.Duration("timeout")), 5000);
  EXPECT_FALSE(http.Has("headers"));
  EXPECT_FALSE(http.Has("body"));
  ASSERT_TRUE(http.Has("expect"));
  EXPECT_EQ(http.Object("expect").Range("status").lo, 200);
  EXPECT_EQ(http.Object("expect").Range("status").hi, 399);
  EXPECT_FALSE(http.Object("expect").Has("max_latency"));
  EXPECT_EQ(Ms(replica.ready_within), 10000);  // default
  EXPECT_EQ(replica.restart, RestartPolicy::kNever);
}

TEST_F(LoaderFullDrillTest, Hosts) {
  ASSERT_EQ(s().hosts.size(), 1u);
  EXPECT_EQ(s().hosts[0].name, "db1");
  EXPECT_EQ(s().hosts[0].destination, "drill@10.0.0.2");
  EXPECT_THAT(s().hosts[0].options, ElementsAre("-o", "BatchMode=yes"));
  EXPECT_EQ(s().hosts[0].mark.line, 24);
  EXPECT_EQ(s().hosts[0].mark.column, 5);
}

TEST_F(LoaderFullDrillTest, SteadyStateWithDefaults) {
  ASSERT_EQ(s().steady_state.size(), 2u);
  const SteadyCheck& c0 = s().steady_state[0];
  EXPECT_EQ(c0.name, "writes-accepted");
  EXPECT_EQ(c0.mark.line, 28);
  EXPECT_EQ(c0.mark.column, 5);
  EXPECT_EQ(c0.probe.kind, "command");
  EXPECT_EQ(c0.probe.mark.line, 29);
  EXPECT_EQ(c0.probe.mark.column, 13);
  const Params& cmd = c0.probe.params;
  EXPECT_EQ(cmd.String("run"), "redis-cli -p 16390 SET probe ok");
  EXPECT_EQ(Ms(cmd.Duration("timeout")), 5000);  // default
  EXPECT_FALSE(cmd.Has("host"));
  ASSERT_TRUE(cmd.Has("expect"));  // absent objects still get their defaults
  EXPECT_EQ(cmd.Object("expect").Int("exit_code"), 0);
  EXPECT_FALSE(cmd.Object("expect").Has("stdout_matches"));
  EXPECT_FALSE(cmd.Object("expect").Has("stderr_matches"));

  const SteadyCheck& c1 = s().steady_state[1];
  EXPECT_EQ(c1.name, "health");
  EXPECT_EQ(c1.probe.kind, "http");
  EXPECT_EQ(c1.probe.mark.line, 31);
  EXPECT_EQ(c1.probe.mark.column, 13);
  const Params& http = c1.probe.params;
  EXPECT_EQ(http.String("url"), "http://10.0.0.2:8080/health");  // a host named under hosts:
  EXPECT_EQ(http.String("method"), "POST");
  EXPECT_EQ(http.Map("headers"), (std::map<std::string, std::string>{{"X-Drill", "yes"}}));
  EXPECT_EQ(Ms(http.Duration("timeout")), 5000);
  EXPECT_EQ(http.Object("expect").Range("status").lo, 204);
  EXPECT_EQ(http.Object("expect").Range("status").hi, 204);
  EXPECT_EQ(Ms(http.Object("expect").Duration("max_latency")), 500);
}

TEST_F(LoaderFullDrillTest, Faults) {
  ASSERT_EQ(s().faults.size(), 2u);
  const FaultSpec& kill = s().faults[0];
  EXPECT_EQ(kill.name, "kill-primary");
  EXPECT_EQ(Ms(kill.at), 5000);
  EXPECT_EQ(kill.action, "process.kill");
  ASSERT_TRUE(kill.target.has_value());
  EXPECT_EQ(kill.target->service, "primary");
  EXPECT_EQ(kill.target->pidfile, "");
  EXPECT_EQ(kill.target->pid, 0);
  EXPECT_EQ(kill.target->mark.line, 37);
  EXPECT_EQ(kill.target->mark.column, 13);
  EXPECT_EQ(kill.with.Int("signal"), SIGTERM);
  EXPECT_EQ(kill.with.MarkOf("signal").line, 38);
  EXPECT_EQ(kill.with.MarkOf("signal").column, 20);
  ASSERT_TRUE(kill.duration.has_value());
  EXPECT_EQ(Ms(*kill.duration), 0);
  EXPECT_EQ(kill.host, "");
  EXPECT_EQ(kill.mark.line, 34);
  EXPECT_EQ(kill.mark.column, 5);
  EXPECT_EQ(kill.action_mark.line, 36);
  EXPECT_EQ(kill.action_mark.column, 13);

  const FaultSpec& pause = s().faults[1];
  EXPECT_EQ(pause.name, "pause-replica");
  EXPECT_EQ(Ms(pause.at), 90000);  // 1m30s
  EXPECT_EQ(pause.action, "process.pause");
  ASSERT_TRUE(pause.target.has_value());
  EXPECT_EQ(pause.target->pidfile, "${workdir}/replica.pid");
  EXPECT_EQ(pause.target->service, "");
  EXPECT_TRUE(pause.with.empty());
  ASSERT_TRUE(pause.duration.has_value());
  EXPECT_EQ(Ms(*pause.duration), 1500);
  EXPECT_EQ(pause.action_mark.line, 42);
  EXPECT_EQ(pause.action_mark.column, 13);
}

TEST_F(LoaderFullDrillTest, WatchesOfAllThreeKinds) {
  ASSERT_EQ(s().watches.size(), 3u);
  const WatchSpec& w0 = s().watches[0];
  EXPECT_EQ(w0.name, "replica-promoted");
  EXPECT_EQ(w0.kind, WatchKind::kFailover);
  EXPECT_EQ(Ms(w0.within), 15000);
  EXPECT_EQ(w0.mark.line, 47);
  EXPECT_EQ(w0.probe.kind, "command");
  EXPECT_EQ(w0.probe.mark.line, 49);
  EXPECT_EQ(w0.probe.mark.column, 13);
  EXPECT_EQ(w0.probe.params.String("run"), "redis-cli -p 26379 SENTINEL get-master-addr-by-name m");
  EXPECT_EQ(w0.probe.params.String("host"), "db1");
  EXPECT_EQ(Ms(w0.probe.params.Duration("timeout")), 2000);
  EXPECT_EQ(w0.probe.params.Object("expect").String("stdout_matches"), "16380");
  EXPECT_EQ(w0.probe.params.Object("expect").Int("exit_code"), 0);

  const WatchSpec& w1 = s().watches[1];
  EXPECT_EQ(w1.name, "alert-fires");
  EXPECT_EQ(w1.kind, WatchKind::kDetection);
  EXPECT_EQ(Ms(w1.within), 30000);
  EXPECT_EQ(w1.probe.kind, "prometheus");
  EXPECT_EQ(w1.probe.params.String("url"), "http://127.0.0.1:19090");
  EXPECT_EQ(w1.probe.params.String("alert"), "RedisPrimaryDown");
  EXPECT_EQ(w1.probe.params.String("state"), "firing");
  EXPECT_EQ(Ms(w1.probe.params.Duration("timeout")), 5000);
  EXPECT_FALSE(w1.probe.params.Has("query"));

  const WatchSpec& w2 = s().watches[2];
  EXPECT_EQ(w2.name, "log-says-failover");
  EXPECT_EQ(w2.kind, WatchKind::kCustom);
  EXPECT_EQ(Ms(w2.within), 20000);
  EXPECT_EQ(w2.probe.kind, "log");
  EXPECT_EQ(w2.probe.params.String("path"), "${workdir}/sentinel.log");
  EXPECT_EQ(w2.probe.params.String("matches"), "\\+switch-master");
}

TEST_F(LoaderFullDrillTest, DataCheck) {
  ASSERT_TRUE(s().data.has_value());
  const DataSpec& d = *s().data;
  EXPECT_EQ(d.mark.line, 61);
  EXPECT_EQ(d.mark.column, 3);
  EXPECT_EQ(Ms(d.every), 50);
  EXPECT_EQ(d.writer.kind, "command");
  EXPECT_EQ(d.writer.mark.line, 61);
  EXPECT_EQ(d.writer.mark.column, 12);
  EXPECT_EQ(d.writer.params.String("run"), "redis-cli -p 16390 SET k:${seq} ${seq}");
  EXPECT_EQ(d.writer.params.Object("expect").Int("exit_code"), 0);
  EXPECT_EQ(d.writer.params.Object("expect").String("stdout_matches"), "OK");
  EXPECT_EQ(d.verifier.kind, "command");
  EXPECT_EQ(d.verifier.mark.line, 62);
  EXPECT_EQ(d.verifier.mark.column, 14);
  EXPECT_EQ(d.verifier.params.String("run"), "redis-cli -p 16390 GET k:${seq}");
  EXPECT_EQ(d.verifier.params.Object("expect").String("stdout_matches"), "^${seq}$");
}

TEST_F(LoaderFullDrillTest, Recovery) {
  const Recovery& r = s().recovery;
  EXPECT_EQ(r.mark.line, 65);
  EXPECT_EQ(r.mark.column, 3);
  EXPECT_EQ(Ms(r.within), 60000);
  EXPECT_EQ(Ms(r.steady_for), 3000);
  ASSERT_TRUE(r.max_data_loss.has_value());
  EXPECT_EQ(*r.max_data_loss, 2);
  EXPECT_EQ(r.runbook, "scenarios/runbooks/redis.md");

  ASSERT_EQ(r.remediation.size(), 3u);
  EXPECT_EQ(r.remediation[0].after, RemediationStep::After::kDetection);
  EXPECT_EQ(r.remediation[0].run, "redis-cli -p 16390 PING");
  EXPECT_EQ(Ms(r.remediation[0].timeout), 30000);  // default
  EXPECT_EQ(r.remediation[0].mark.line, 69);
  EXPECT_EQ(r.remediation[0].mark.column, 7);
  EXPECT_EQ(r.remediation[1].after, RemediationStep::After::kFailover);
  EXPECT_EQ(r.remediation[1].run, "echo failed over");
  EXPECT_EQ(Ms(r.remediation[1].timeout), 10000);
  EXPECT_EQ(r.remediation[2].after, RemediationStep::After::kOffset);
  EXPECT_EQ(Ms(r.remediation[2].offset), 45000);
  EXPECT_EQ(r.remediation[2].run, "echo late");

  ASSERT_EQ(r.hints.size(), 1u);
  EXPECT_EQ(Ms(r.hints[0].after), 60000);
  EXPECT_EQ(r.hints[0].text, "Which node does Sentinel think is the master?");
  EXPECT_EQ(r.hints[0].mark.line, 74);
  EXPECT_EQ(r.hints[0].mark.column, 7);
}

TEST_F(LoaderFullDrillTest, AbortWhen) {
  ASSERT_EQ(s().abort_when.size(), 2u);
  const StopCondition& a0 = s().abort_when[0];
  EXPECT_EQ(a0.name, "abort-1");  // unnamed: numbered
  EXPECT_EQ(a0.mark.line, 77);
  EXPECT_EQ(a0.mark.column, 5);
  EXPECT_EQ(a0.probe.kind, "file");
  EXPECT_EQ(a0.probe.mark.line, 77);
  EXPECT_EQ(a0.probe.mark.column, 14);
  EXPECT_EQ(a0.probe.params.String("path"), "/");
  const Params& expect = a0.probe.params.Object("expect");
  EXPECT_TRUE(expect.Size("free_below").is_percent());
  EXPECT_DOUBLE_EQ(expect.Size("free_below").percent, 5.0);
  EXPECT_TRUE(expect.Bool("exists"));  // default

  const StopCondition& a1 = s().abort_when[1];
  EXPECT_EQ(a1.name, "too-slow");
  EXPECT_EQ(a1.probe.kind, "http");
  EXPECT_EQ(a1.probe.mark.line, 79);
  EXPECT_EQ(a1.probe.mark.column, 13);
  EXPECT_EQ(a1.probe.params.String("url"), "http://localhost:16390/");
  EXPECT_EQ(Ms(a1.probe.params.Duration("timeout")), 1000);
}

TEST(LoaderTest, ContractExampleLoads) {
  // The example of docs/drill-format.md, without its comments (ports unquoted in flow maps).
  const std::string text = R"(apiVersion: firedrill/v1
name: redis-sentinel-failover
description: Kill the Redis primary; Sentinel must promote the replica and writes must resume.
tags: [redis, failover, data]
settings:
  probe_interval: 200ms
  settle: 10s
  timeout: 2m
  workdir: /tmp/firedrill/redis
  allow_paths: ["${workdir}"]
services:
  - name: primary
    run: redis-server --port 16379 --dir ${workdir} --save ""
    ready: {tcp: {address: 127.0.0.1:16379}, within: 10s}
  - name: replica
    run: redis-server --port 16380 --replicaof 127.0.0.1 16379 --save ""
    ready: {tcp: {address: 127.0.0.1:16380}, within: 10s}
hosts:
  - name: db1
    ssh: {destination: drill@10.0.0.2, options: [-o, BatchMode=yes]}
steady_state:
  - name: writes-accepted
    probe: {command: {run: "redis-cli -p 16390 SET probe ok", expect: {exit_code: 0, stdout_matches: "OK"}}}
faults:
  - name: kill-primary
    at: 5s
    action: process.kill
    target: {service: primary}
    with: {signal: SIGKILL}
    duration: 0s
watches:
  - name: replica-promoted
    kind: failover
    probe: {command: {run: "redis-cli -p 26379 SENTINEL get-master-addr-by-name m", expect: {stdout_matches: "16380"}}}
    within: 15s
  - name: alert-fires
    kind: detection
    probe: {prometheus: {url: http://127.0.0.1:19090, alert: RedisPrimaryDown, state: firing}}
    within: 30s
data:
  writer:   {command: {run: "redis-cli -p 16390 SET k:${seq} ${seq}", expect: {exit_code: 0, stdout_matches: "OK"}}, every: 50ms}
  verifier: {command: {run: "redis-cli -p 16390 GET k:${seq}", expect: {stdout_matches: "^${seq}$"}}}
recovery:
  within: 60s
  steady_for: 3s
  max_data_loss: 0
  remediation:
    - {after: detection, run: "redis-cli -p 16390 PING"}
  runbook: scenarios/runbooks/redis.md
  hints:
    - {after: 60s, text: "Which node does Sentinel think is the master?"}
abort_when:
  - {probe: {file: {path: /, expect: {free_below: 5%}}}}
)";
  LoadResult r = LoadScenarioText(text, "contract.yaml");
  ASSERT_TRUE(r.ok()) << AllDiagnostics(r);
  EXPECT_EQ(r.scenario->faults[0].with.Int("signal"), SIGKILL);
  EXPECT_EQ(*r.scenario->recovery.max_data_loss, 0);
  EXPECT_EQ(r.scenario->services[1].ready->params.String("address"), "127.0.0.1:16380");
}

// `training:` is read for `firedrill train`; a bad value is refused at the value, the
// block's unknown keys at the key.
TEST(LoaderTest, TrainingBlockIsReadAndCheckedAtItsValue) {
  const std::string head = R"(apiVersion: firedrill/v1
name: t
services:
  - {name: s, run: "sleep 60"}
steady_state:
  - {name: up, probe: {command: {run: "true"}}}
faults:
  - {name: f, action: process.kill, target: {service: s}}
)";
  {
    LoadResult r = LoadScenarioText(head + "training: {inject_within: 45s}\n", "t.yaml");
    ASSERT_TRUE(r.ok()) << AllDiagnostics(r);
    ASSERT_TRUE(r.scenario->training.inject_within);
    EXPECT_EQ(Ms(*r.scenario->training.inject_within), 45000);
    EXPECT_EQ(r.scenario->training.mark.line, 9);
  }
  {
    LoadResult r = LoadScenarioText(head, "t.yaml");
    ASSERT_TRUE(r.ok()) << AllDiagnostics(r);
    EXPECT_FALSE(r.scenario->training.inject_within);  // train's default then: 30s
  }
  {
    LoadResult r = LoadScenarioText(head + "training:\n  inject_within: 11m\n", "t.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.errors[0].mark.line, 10) << AllDiagnostics(r);
    EXPECT_EQ(r.errors[0].mark.column, 18) << AllDiagnostics(r);
  }
  {
    LoadResult r = LoadScenarioText(head + "training:\n  inject_whithin: 5s\n", "t.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.errors[0].mark.line, 10) << AllDiagnostics(r);
    EXPECT_EQ(r.errors[0].mark.column, 3) << AllDiagnostics(r);
    EXPECT_NE(r.errors[0].message.find("inject_within"), std::string::npos) << AllDiagnostics(r);
  }
  {
    LoadResult r = LoadScenarioText(head + "training: 30s\n", "t.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.errors[0].mark.line, 9) << AllDiagnostics(r);
    EXPECT_EQ(r.errors[0].mark.column, 11) << AllDiagnostics(r);
  }
}

TEST(LoaderTest, ShippedScenariosAllValidate) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath("scenarios"))) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    ++n;
    LoadResult r = LoadScenarioFile(entry.path().string());
    EXPECT_TRUE(r.ok()) << entry.path() << "\n" << AllDiagnostics(r);
    if (r.ok()) {
      EXPECT_EQ(r.scenario->name, entry.path().stem().string());
    }
  }
  EXPECT_GE(n, 1);
}

TEST(LoaderTest, PortReferencesAreCollected) {
  LoadResult r = LoadScenarioFile(SourcePath("scenarios/redis-sentinel-failover.yaml"));
  ASSERT_TRUE(r.ok()) << AllDiagnostics(r);
  EXPECT_THAT(r.scenario->port_names,
              ElementsAre("primary", "replica", "sentinel1", "sentinel2", "sentinel3"));
}

TEST(LoaderTest, DiagnosticToString) {
  Diagnostic d{"drill.yaml", {12, 5}, "unknown key 'timout'; did you mean 'timeout'?"};
  EXPECT_EQ(d.ToString(), "drill.yaml:12:5: error: unknown key 'timout'; did you mean 'timeout'?");
  EXPECT_EQ(d.ToString("note"),
            "drill.yaml:12:5: note: unknown key 'timout'; did you mean 'timeout'?");
  Diagnostic nowhere{"drill.yaml", {}, "cannot open file"};
  EXPECT_EQ(nowhere.ToString(), "drill.yaml: error: cannot open file");
}

}  // namespace
}  // namespace firedrill
