// Loading files: what cannot run here (notes, or errors for `run`), missing files,
// directories, sizes, the data files of tests/data, and errors in reading order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runner/loader/loader.h"
#include "tests/integration/harness.h"
#include "tests/runner/loader/loader_testing.h"

namespace firedrill {
namespace {

using testing::AllDiagnostics;
using ::testing::HasSubstr;
using testing::SourcePath;

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

// Drills across hosts run now (runner/engine/remote/): a probe, a service and a fault
// with `host:` load for `run`, and what acts on a host's service is placed on that host.
constexpr const char* kRemoteDrill = R"(apiVersion: firedrill/v1
name: remote
settings: {lease: 3s}
hosts:
  - name: db1
    ssh: {destination: drill@127.0.0.1}
  - name: db2
    ssh: {destination: drill@127.0.0.2}
services:
  - {name: redis, host: db1, run: "redis-server --port 16379", ready: {tcp: {address: "127.0.0.1:16379"}}}
steady_state:
  - name: ok
    probe: {command: {run: "redis-cli -h ${host:db1} -p 16379 PING", host: db2}}
  - name: running
    probe: {process: {service: redis, expect: running}}
faults:
  - {name: kill, action: process.kill, target: {service: redis}}
  - {name: cut, action: network.partition, host: db1, with: {peer: db2}, duration: 5s}
)";

TEST(LoaderTest, RemoteHostsAreRunnableAndPlacedWhereTheirServicesRun) {
  LoadResult r =
      LoadScenarioText(kRemoteDrill, "remote.yaml", LoadOptions{.require_runnable = true});
  ASSERT_TRUE(r.ok()) << AllDiagnostics(r);
  EXPECT_TRUE(r.notes.empty()) << AllDiagnostics(r);
  const Scenario& s = *r.scenario;
  EXPECT_EQ(s.settings.lease.count(), 3000);
  EXPECT_EQ(s.services[0].host, "db1");
  EXPECT_EQ(s.steady_state[0].probe.params.String("host"), "db2");
  // Not written, but where the service is: its process group is known only there.
  EXPECT_EQ(s.steady_state[1].probe.params.String("host"), "db1");
  EXPECT_EQ(s.faults[0].host, "db1");
  EXPECT_EQ(s.faults[1].with.String("peer"), "db2");
}

TEST(LoaderTest, HostPlacementMistakesAreRefusedAtTheirValue) {
  auto error_of = [](const std::string& from, const std::string& to) {
    std::string text = kRemoteDrill;
    text.replace(text.find(from), from.size(), to);
    LoadResult r = LoadScenarioText(text, "remote.yaml");
    return r.errors.empty() ? std::string("(loaded)") : r.errors[0].ToString();
  };
  EXPECT_EQ(error_of("target: {service: redis}}", "target: {service: redis}, host: db2}"),
            "remote.yaml:17:5: error: fault 'kill' targets service 'redis', which runs on host "
            "'db1', but names host 'db2'");
  EXPECT_EQ(error_of("with: {peer: db2}", "with: {peer: db1}"),
            "remote.yaml:18:68: error: fault 'cut': a host cannot be partitioned from itself");
  EXPECT_EQ(error_of("host: db1, with: {peer: db2}", "with: {peer: db2}"),
            "remote.yaml:18:57: error: fault 'cut': `peer` cuts a host off from another: the "
            "fault needs `host:` too");
  EXPECT_EQ(error_of("with: {peer: db2}", "with: {peer: db3}"),
            "remote.yaml:18:68: error: no host named 'db3' under `hosts:`; did you mean 'db1'?");
  EXPECT_EQ(error_of("${host:db1}", "${host:web}"),
            "remote.yaml:13:42: error: no host named 'web' under `hosts:`");
  // A delay's peer is the host whose port the fault's host reaches slowly.
  const std::string delay =
      "{name: cut, action: network.delay, host: db1, with: {peer: db2, port: 16379, delay: "
      "100ms}, duration: 5s}";
  EXPECT_EQ(error_of("{name: cut, action: network.partition, host: db1, with: {peer: db2}, "
                     "duration: 5s}",
                     delay),
            "(loaded)");
  EXPECT_EQ(error_of("action: network.partition, host: db1, with: {peer: db2}",
                     "action: network.delay, host: db1, with: {peer: db1, port: 1, delay: 1s}"),
            "remote.yaml:18:64: error: fault 'cut': a host's connections to its own port are "
            "delayed by `port` alone, without `peer`");
  EXPECT_EQ(error_of("action: network.partition, host: db1, with: {peer: db2}",
                     "action: network.delay, with: {peer: db2, port: 1, delay: 1s}"),
            "remote.yaml:18:53: error: fault 'cut': `peer` slows a host's connections to another: "
            "the fault needs `host:` too");
  EXPECT_EQ(error_of("lease: 3s", "lease: 500ms"),
            "remote.yaml:3:19: error: settings.lease must be 0s (no dead-man) or at least 1s");
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
  // Was a bug, now a regression test: the loader's LoadScenarioFile() opens a directory without
  // complaint, reads nothing, and then reports "the file is empty" at 1:1.
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

}  // namespace
}  // namespace firedrill
