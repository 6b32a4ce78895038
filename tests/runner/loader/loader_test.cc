#include "runner/loader/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace firedrill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string SourcePath(const std::string& rel) {
  return std::string(FIREDRILL_SOURCE_DIR) + "/" + rel;
}

std::string AllDiagnostics(const LoadResult& r) {
  std::ostringstream o;
  for (const auto& e : r.errors) o << e.ToString("error") << "\n";
  for (const auto& n : r.notes) o << n.ToString("note") << "\n";
  return o.str();
}

int64_t Ms(Millis d) { return d.count(); }

// ---------------------------------------------------------------------------------------
// Valid drills.

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

// ---------------------------------------------------------------------------------------
// Runnability, files, sizes.

constexpr const char* kDiskFillDrill = R"(apiVersion: firedrill/v1
name: fill
settings:
  workdir: /tmp/firedrill/fill
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: fill
    action: disk.fill
    with: {path: "${workdir}", size: 90%}
    duration: 5s
)";

const Diagnostic* FindDiagnostic(const std::vector<Diagnostic>& ds, const std::string& needle) {
  for (const auto& d : ds) {
    if (d.message.find(needle) != std::string::npos) return &d;
  }
  return nullptr;
}

// Every fault action runs now; remote hosts (`host:`) do not yet.
constexpr const char* kRemoteDrill = R"(apiVersion: firedrill/v1
name: remote
hosts:
  - name: db1
    ssh: {destination: drill@127.0.0.1}
steady_state:
  - name: ok
    probe: {command: {run: "true", host: db1}}
faults:
  - {name: f, action: command, with: {run: "true"}}
)";

TEST(LoaderTest, NotRunnableIsANoteByDefault) {
  LoadResult r = LoadScenarioText(kRemoteDrill, "remote.yaml");
  ASSERT_TRUE(r.ok()) << AllDiagnostics(r);
  const Diagnostic* note = FindDiagnostic(r.notes, "remote hosts (host:) cannot run here");
  ASSERT_NE(note, nullptr) << AllDiagnostics(r);
  EXPECT_EQ(note->mark.line, 8);
  EXPECT_EQ(note->mark.column, 42);
  EXPECT_THAT(note->message, HasSubstr("not built yet"));
  EXPECT_EQ(note->file, "remote.yaml");
}

TEST(LoaderTest, RequireRunnableTurnsTheNoteIntoAnError) {
  LoadOptions opts;
  opts.require_runnable = true;
  LoadResult r = LoadScenarioText(kRemoteDrill, "remote.yaml", opts);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.scenario.has_value());
  const Diagnostic* err = FindDiagnostic(r.errors, "remote hosts (host:) cannot run here");
  ASSERT_NE(err, nullptr) << AllDiagnostics(r);
  EXPECT_EQ(err->mark.line, 8);
  EXPECT_EQ(err->mark.column, 42);
  EXPECT_TRUE(r.notes.empty()) << AllDiagnostics(r);
}

TEST(LoaderTest, EveryFaultActionIsRunnableHere) {
  LoadResult r =
      LoadScenarioText(kDiskFillDrill, "fill.yaml", LoadOptions{.require_runnable = true});
  EXPECT_TRUE(r.ok()) << AllDiagnostics(r);
  EXPECT_TRUE(r.notes.empty()) << AllDiagnostics(r);
  EXPECT_EQ(r.scenario->faults[0].with.Size("size").percent, 90.0);
}

TEST(LoaderTest, MissingFileIsAnError) {
  const std::string path = SourcePath("tests/data/does-not-exist.yaml");
  LoadResult r = LoadScenarioFile(path);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, path);
  EXPECT_THAT(r.errors[0].message, HasSubstr("cannot open file"));
}

TEST(LoaderTest, DirectoryIsNotReportedAsAnEmptyFile) {
  // BUG: runner/loader.cc LoadScenarioFile() opens a directory without complaint, reads
  // nothing, and then reports "the file is empty" at 1:1.
  LoadResult r = LoadScenarioFile(SourcePath("scenarios"));
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, ::testing::Not(HasSubstr("empty")));
  EXPECT_THAT(r.errors[0].message, HasSubstr("directory"));
}

TEST(LoaderTest, FileOverMaxBytesIsAnErrorAtOneOne) {
  LoadOptions tiny;
  tiny.max_bytes = 100;
  LoadResult r = LoadScenarioFile(SourcePath("tests/data/valid/full.yaml"), tiny);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].mark.line, 1);
  EXPECT_EQ(r.errors[0].mark.column, 1);
  EXPECT_THAT(r.errors[0].message, HasSubstr("a drill may be at most 100B"));

  LoadOptions small;
  small.max_bytes = 1024;
  LoadResult t = LoadScenarioText(std::string(2048, '#'), "big.yaml", small);
  ASSERT_EQ(t.errors.size(), 1u);
  EXPECT_EQ(t.errors[0].mark.line, 1);
  EXPECT_EQ(t.errors[0].mark.column, 1);
  EXPECT_THAT(t.errors[0].message, HasSubstr("file is 2.0KiB"));
}

TEST(LoaderTest, InvalidDataFilesReportFileLineColumn) {
  struct Case {
    const char* file;
    const char* want;  // the first error, as `validate` prints it (after the path)
  };
  const Case cases[] = {
      {"unknown-top-level-key.yaml",
       ":11:1: error: unknown key 'watchs' in the drill; did you mean 'watches'?"},
      {"bare-duration.yaml",
       ":8:9: error: fault 'kill'.at: duration '5' needs a unit: ms, s, m or h (e.g. 5s)"},
      {"unknown-action.yaml",
       ":11:13: error: unknown action 'process.kil' in fault 'kill'; did you mean "
       "'process.kill'? (run `firedrill faults` for the list)"},
      {"seq-outside-data.yaml",
       ":5:45: error: ${seq} is only available in data.writer and data.verifier (in "
       "steady_state 'ok'.probe.command.run)"},
  };
  for (const auto& c : cases) {
    const std::string path = SourcePath(std::string("tests/data/invalid/") + c.file);
    LoadResult r = LoadScenarioFile(path);
    EXPECT_FALSE(r.ok()) << path;
    ASSERT_FALSE(r.errors.empty()) << path;
    EXPECT_EQ(r.errors.front().ToString(), path + c.want) << AllDiagnostics(r);
  }
  // Every file under tests/data/invalid fails, each error with a position.
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath("tests/data/invalid"))) {
    if (entry.path().extension() != ".yaml") continue;
    ++n;
    LoadResult r = LoadScenarioFile(entry.path().string());
    EXPECT_FALSE(r.ok()) << entry.path();
    for (const auto& e : r.errors) EXPECT_GT(e.mark.line, 0) << e.ToString();
  }
  EXPECT_EQ(n, 4);
}

TEST(LoaderTest, ErrorsAreSortedByPosition) {
  // Three problems; the loader visits settings first, but reports in file order.
  LoadResult r = LoadScenarioText(R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true", timeout: 5}}
faults:
  - name: f
    at: 5
    action: command
    with: {run: "true"}
settings: {settle: 5}
)",
                                  "t.yaml");
  ASSERT_EQ(r.errors.size(), 3u) << AllDiagnostics(r);
  EXPECT_EQ(r.errors[0].mark.line, 5);
  EXPECT_EQ(r.errors[1].mark.line, 8);
  EXPECT_EQ(r.errors[2].mark.line, 11);
}

// ---------------------------------------------------------------------------------------
// Malformed drills: the first error's exact position and what it says.

struct BadDrill {
  const char* name;
  const char* yaml;
  int line;
  int column;
  const char* message;  // a phrase the first error must contain
};

void PrintTo(const BadDrill& c, std::ostream* os) { *os << c.name; }

const BadDrill kBadDrills[] = {
    {"UnknownTopLevelKey", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
watchs: []
)",
     10, 1, "unknown key 'watchs' in the drill; did you mean 'watches'?"},

    {"UnknownSettingsKey", R"(apiVersion: firedrill/v1
name: t
settings:
  timout: 2m
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     4, 3, "unknown key 'timout' in settings; did you mean 'timeout'?"},

    {"BareNumberDuration", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    at: 5
    action: command
    with: {run: "true"}
)",
     8, 9, "fault 'f'.at: duration '5' needs a unit: ms, s, m or h"},

    {"BadDurationUnit", R"(apiVersion: firedrill/v1
name: t
settings:
  probe_interval: 5sec
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     4, 19, "unknown duration unit 'sec'"},

    {"UnknownActionSuggests", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: process.kil
    target: {pid: 4242}
)",
     8, 13, "unknown action 'process.kil' in fault 'f'; did you mean 'process.kill'?"},

    {"UnknownProbeKindSuggests", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {htpp: {url: "http://127.0.0.1:8080/"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 13, "unknown probe kind 'htpp' in steady_state 'ok'.probe; did you mean 'http'?"},

    {"TwoProbeKinds", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}, tcp: {address: "127.0.0.1:1"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 37, "has two probe kinds ('command' and 'tcp'); a probe has exactly one"},

    {"UnknownVariablePlainScalar", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      command:
        run: echo ${foo}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     7, 19, "unknown variable '${foo}'"},

    {"UnknownVariableDoubleQuoted", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      command:
        run: "echo ${foo}"
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     7, 20, "unknown variable '${foo}'"},

    {"UnknownVariableSingleQuoted", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      command:
        run: 'echo ${foo}'
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     7, 20, "unknown variable '${foo}'"},

    {"UnknownVariableInFlowMap", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "echo ${workdir} ${workdr}"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 45, "unknown variable '${workdr}'"},

    // BUG: runner/loader.cc OffsetMark() counts the offset from the opening quote, but
    // in a single-quoted scalar '' stands for one ' and shifts everything after it.
    {"UnknownVariableSingleQuotedWithEscapedQuote", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      command:
        run: 'it''s ${foo}'
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     7, 21, "unknown variable '${foo}'"},

    // BUG: runner/loader.cc OffsetMark() treats a folded block scalar that folds to one
    // line as if its text started at the `>` indicator.
    {"UnknownVariableFoldedBlockScalar", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      command:
        run: >-
          echo ${foo}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     8, 16, "unknown variable '${foo}'"},

    // BUG: runner/loader.cc OffsetMark() treats a multi-line plain scalar (folded to
    // one line by YAML) as if it were all on its first line.
    {"UnknownVariableMultiLinePlainScalar", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      command:
        run: echo a
          ${foo}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     8, 11, "unknown variable '${foo}'"},

    {"SeqOutsideData", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      command:
        run: echo ${seq}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     7, 19, "${seq} is only available in data.writer and data.verifier"},

    {"UnterminatedReference", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "rm -rf ${workdir/x"}
)",
     9, 25, "unterminated '${'"},

    {"DuplicateFaultNames", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
  - name: f
    action: command
    with: {run: "false"}
)",
     10, 11, "duplicate fault name 'f' (first at line 7)"},

    {"DuplicateSteadyStateNames", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
  - name: ok
    probe: {command: {run: "false"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     6, 11, "duplicate steady_state check name 'ok' (first at line 4)"},

    {"DuplicateKeyInMap", R"(apiVersion: firedrill/v1
name: t
settings:
  settle: 1s
  settle: 2s
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 3, "duplicate key 'settle' in settings (first at line 4)"},

    {"PauseWithoutDuration", R"(apiVersion: firedrill/v1
name: t
services:
  - name: db
    run: sleep 100
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: process.pause
    target: {service: db}
)",
     10, 5, "process.pause needs a `duration`"},

    {"KillWithDuration", R"(apiVersion: firedrill/v1
name: t
services:
  - name: db
    run: sleep 100
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: process.kill
    target: {service: db}
    duration: 5s
)",
     13, 15, "process.kill cannot be undone, so it takes no duration"},

    {"KillWithoutTarget", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: process.kill
)",
     7, 5, "process.kill needs a `target`"},

    {"TargetNamesUnknownService", R"(apiVersion: firedrill/v1
name: t
services:
  - name: primary
    run: sleep 100
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: process.kill
    target: {service: primry}
)",
     12, 23, "no service named 'primry'; did you mean 'primary'?"},

    {"ProcessProbeNamesUnknownService", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {process: {service: web}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 32, "no service named 'web' (this drill starts no services)"},

    {"BadApiVersion", R"(apiVersion: firedrill/v2
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     1, 13, "unsupported apiVersion 'firedrill/v2'"},

    {"MissingApiVersion", R"(name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     1, 1, "missing `apiVersion: firedrill/v1`"},

    {"InvalidYamlExtraBracket", R"(apiVersion: firedrill/v1
name: t
tags: [a, b]]
)",
     3, 13, "not valid YAML"},

    {"InvalidYamlBadIndent", R"(apiVersion: firedrill/v1
name: t
  bad: x
)",
     3, 6, "not valid YAML: illegal map value"},

    {"EmptyFile", "", 1, 1, "the file is empty"},

    {"OnlyComments", R"(# nothing here yet
)",
     1, 1, "the file is empty"},

    {"TopLevelList", R"(- apiVersion: firedrill/v1
- name: t
)",
     1, 1, "a drill is a map of keys"},

    {"BadEnumValue", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: file.corrupt
    with: {path: "${workdir}/x", mode: flop}
)",
     9, 40, "'flop' is not one of flip, zero, garbage, truncate; did you mean 'flip'?"},

    {"IntOutOfRange", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: cpu.stress
    with: {workers: 0}
    duration: 10s
)",
     9, 21, "must be between 1 and 1024, got 0"},

    // BUG: runner/loader.cc IntOf() lets 19-digit numbers through to std::stoll, which
    // throws std::out_of_range; the catch-all in LoadScenarioText reports it at 1:1.
    {"IntTooLargeForInt64", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: cpu.stress
    with: {workers: 9999999999999999999}
    duration: 10s
)",
     9, 21, "workers"},

    {"SizeWithoutUnit", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: memory.stress
    with: {size: 512}
    duration: 10s
)",
     9, 18, "size '512' needs a unit"},

    {"NonLoopbackUrl", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {http: {url: "http://8.8.8.8/"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 25, "'8.8.8.8' is neither loopback nor a host named under `hosts:`"},

    {"NonLoopbackAddress", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      tcp: {address: 10.1.2.3:6379}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     6, 22, "'10.1.2.3' is neither loopback nor a host named under `hosts:`"},

    {"RemediationAfterDetectionWithoutDetectionWatch", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
recovery:
  remediation:
    - {after: detection, run: "true"}
)",
     12, 7, "remediation after detection needs a watch of kind detection"},

    {"BadRegex", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true", expect: {stdout_matches: "(["}}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 61, "invalid regular expression '([': RE2 cannot compile it: missing ]: ["},

    // RE2 (the syntax Prometheus uses) has no backreferences and no lookaround: a drill
    // written for ECMAScript or PCRE is told so, at the pattern.
    {"RegexBackreference", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {log: {path: app.log, matches: "(\\w+) \\1"}}
faults:
  - {name: f, action: command, with: {run: "true"}}
)",
     5, 43, "RE2 has no backreferences such as \\1"},

    {"RegexLookahead", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      http:
        url: http://127.0.0.1:1/
        expect: {body_matches: 'ready(?!-not)'}
faults:
  - {name: f, action: command, with: {run: "true"}}
)",
     8, 32, "invalid perl operator: (?! (RE2 has no lookahead or lookbehind"},

    {"ConfigSetLookbehind", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: drift
    action: config.set
    with:
      path: ${workdir}/app.conf
      match: "(?<=port )\\d+"
      replace: "1"
)",
     11, 14, "fault 'drift'.with.match: invalid regular expression '(?<=port )\\d+': RE2 "
             "cannot compile it"},

    {"UppercaseDrillName", R"(apiVersion: firedrill/v1
name: Redis-Drill
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     2, 7, "drill name 'Redis-Drill' must use only [a-z0-9-]"},

    {"WorkdirIsRoot", R"(apiVersion: firedrill/v1
name: t
settings:
  workdir: /
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     4, 12, "is a system directory"},

    // BUG: runner/loader.cc ParseSettings() compares the workdir against "/", "/tmp", ...
    // without normalising it, so "/tmp/.." (which is "/") passes.
    {"WorkdirDotDotIsRoot", R"(apiVersion: firedrill/v1
name: t
settings:
  workdir: /tmp/..
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     4, 12, "is a system directory"},

    {"MissingSteadyState", R"(apiVersion: firedrill/v1
name: t
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     1, 1, "missing `steady_state`"},

    {"EmptyFaults", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults: []
)",
     6, 9, "faults needs at least one fault"},

    {"BadWatchKind", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
watches:
  - name: w
    kind: detecton
    probe: {command: {run: "true"}}
    within: 5s
)",
     12, 11, "kind must be detection, failover or custom; did you mean 'detection'?"},

    {"MaxDataLossWithoutData", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
recovery:
  within: 30s
  max_data_loss: 0
)",
     11, 3, "recovery.max_data_loss needs a `data:` section"},

    // BUG: runner/loader.cc ParseParams() reports a missing required field at
    // MarkOf(map), which is "no position" (0:0) when `with:` is absent altogether.
    {"CommandFaultWithoutWith", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
)",
     7, 5, "missing required field 'run' in fault 'f'.with"},

    {"UnknownHost", R"(apiVersion: firedrill/v1
name: t
hosts:
  - name: db1
    ssh: {destination: drill@10.0.0.2}
steady_state:
  - name: ok
    probe: {command: {run: "true", host: db2}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     8, 42, "no host named 'db2' under `hosts:`; did you mean 'db1'?"},
};

class LoaderInvalidTest : public ::testing::TestWithParam<BadDrill> {};

TEST_P(LoaderInvalidTest, FirstErrorPositionAndMessage) {
  const BadDrill& c = GetParam();
  LoadResult r = LoadScenarioText(c.yaml, "bad.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.scenario.has_value());
  ASSERT_FALSE(r.errors.empty()) << c.name;
  const Diagnostic& first = r.errors.front();
  EXPECT_EQ(first.file, "bad.yaml");
  EXPECT_EQ(first.mark.line, c.line) << first.ToString();
  EXPECT_EQ(first.mark.column, c.column) << first.ToString();
  EXPECT_THAT(first.message, HasSubstr(c.message)) << AllDiagnostics(r);
}

INSTANTIATE_TEST_SUITE_P(LoaderMalformed, LoaderInvalidTest, ::testing::ValuesIn(kBadDrills),
                         [](const ::testing::TestParamInfo<BadDrill>& info) {
                           return std::string(info.param.name);
                         });

TEST(LoaderTest, MalformedTableHasDistinctNames) {
  std::set<std::string> names;
  for (const auto& c : kBadDrills) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  EXPECT_GE(names.size(), 20u);
}

// The same malformed drills through the real command line: `firedrill validate` exits 2
// and its first line names the file, line and column.
class ValidateCliTest : public ::testing::TestWithParam<BadDrill> {};

TEST_P(ValidateCliTest, ExitsTwoWithFileLineColumn) {
  const BadDrill& c = GetParam();
  ::firedrill::testing::TempDir dir;
  ::firedrill::testing::WriteFile(dir / "bad.yaml", c.yaml);
  ::firedrill::testing::CliResult r =
      ::firedrill::testing::RunFiredrill({"validate", "bad.yaml"}, dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const std::string prefix =
      "bad.yaml:" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": error: ";
  EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
  EXPECT_THAT(r.err.substr(0, r.err.find('\n')), HasSubstr(c.message)) << r.err;
  EXPECT_EQ(r.out, "");  // nothing claims the drill is fine
}

INSTANTIATE_TEST_SUITE_P(LoaderMalformed, ValidateCliTest, ::testing::ValuesIn(kBadDrills),
                         [](const ::testing::TestParamInfo<BadDrill>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace firedrill
