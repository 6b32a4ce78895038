// Malformed drills: the first error's exact position and what it says, through the
// loader and through `firedrill validate` (exit 2, file:line:column first).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>

#include "runner/loader/loader.h"
#include "tests/integration/harness.h"
#include "tests/runner/loader/loader_testing.h"

namespace firedrill {
namespace {

using testing::AllDiagnostics;
using ::testing::HasSubstr;

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

    // Was a bug, now a regression test: the loader's OffsetMark() counts the offset from the
    // opening quote, but in a single-quoted scalar '' stands for one ' and shifts everything after
    // it.
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

    // Was a bug, now a regression test: the loader's OffsetMark() treats a folded block scalar that
    // folds to one line as if its text started at the `>` indicator.
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

    // Was a bug, now a regression test: the loader's OffsetMark() treats a multi-line plain scalar
    // (folded to one line by YAML) as if it were all on its first line.
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

    // Was a bug, now a regression test: the loader's IntOf() lets 19-digit numbers through to
    // std::stoll, which throws std::out_of_range; the catch-all in LoadScenarioText reports it at
    // 1:1.
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
     11, 14,
     "fault 'drift'.with.match: invalid regular expression '(?<=port )\\d+': RE2 "
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

    // Was a bug, now a regression test: the loader's ParseSettings() compares the workdir against
    // "/", "/tmp", ... without normalising it, so "/tmp/.." (which is "/") passes.
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

    // Was a bug, now a regression test: the loader's ParseParams() reports a missing required field
    // at MarkOf(map), which is "no position" (0:0) when `with:` is absent altogether.
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

    {"UnknownServiceUser", R"(apiVersion: firedrill/v1
name: t
services:
  - name: db
    run: exec sleep 1
    user: no-such-user-firedrill
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     6, 11, "service 'db'.user: no user 'no-such-user-firedrill' on this machine"},

    {"RootServiceUser", R"(apiVersion: firedrill/v1
name: t
services:
  - {name: db, run: exec sleep 1, user: root}
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     4, 41, "service 'db'.user must be an unprivileged user, not 'root' (uid 0)"},
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
