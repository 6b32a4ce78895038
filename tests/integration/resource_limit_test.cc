// A drill that needs more threads than the machine gives it, in a pids cgroup (cgroup v1,
// /sys/fs/cgroup/pids). With one sampling thread per check, `firedrill run` used to die in
// std::terminate (exit 134, no report, the service left running). Now the probes share the
// run's event loop, and a limit met anywhere (the loop's own threads, a remediation step's
// thread) is an error like any other: exit 4, report.json saying what was exhausted,
// nothing left running, the journal closed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runner/base/subprocess.h"
#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

constexpr const char* kPidsRoot = "/sys/fs/cgroup/pids";

// A child cgroup of the pids controller, removed (once empty) when the test ends.
class PidsCgroup {
 public:
  explicit PidsCgroup(int max)
      : path_(std::string(kPidsRoot) + "/firedrill-test-" + std::to_string(getpid())) {
    if (::mkdir(path_.c_str(), 0755) != 0) return;
    std::ofstream(path_ + "/pids.max") << max;
    made_ = true;
  }
  ~PidsCgroup() {
    if (made_) ::rmdir(path_.c_str());
  }
  bool made() const { return made_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool made_ = false;
};

// Runs DIR/drill.yaml inside `cgroup`, checks what every run that ran out of a resource
// must leave (exit 4, verdict error, a closed journal, nothing running, nothing left in the
// cgroup), and returns the report's error.
std::string RunExhausted(const PidsCgroup& cgroup, const TempDir& dir) {
  const std::string script = "echo $$ > " + Quote(cgroup.path() + "/cgroup.procs") +
                             " && NO_COLOR=1 FIREDRILL_STATE_DIR=" + Quote(dir / "state") +
                             " exec " + Quote(FIREDRILL_BIN) + " run " + Quote(dir / "drill.yaml") +
                             " --report-dir " + Quote(dir / "report") + " --no-history";
  auto r = RunShell({.script = script, .cwd = dir.path(), .timeout = Millis(60000)});
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return "";
  }
  EXPECT_EQ(r->exit_code, 4) << r->Describe() << "\n" << r->out << r->err;
  auto report = ReadJson(dir / "report/report.json");
  if (!report) {
    ADD_FAILURE() << "no report.json: " << r->out << r->err;
    return "";
  }
  EXPECT_EQ((*report)["verdict"], "error");
  EXPECT_TRUE((*report)["journal"].is_object() && (*report)["journal"]["closed"] == true)
      << report->dump(2);
  ExpectNothingSurvives(*report, 0);
  std::ifstream procs(cgroup.path() + "/cgroup.procs");
  std::string left((std::istreambuf_iterator<char>(procs)), std::istreambuf_iterator<char>());
  EXPECT_EQ(left, "") << "still in the cgroup: " << left;
  return (*report)["error"].is_string() ? (*report)["error"].get<std::string>() : "";
}

TEST(ResourceLimitTest, TooFewThreadsIsAnErrorWithAReportAndNothingLeft) {
  if (access((std::string(kPidsRoot) + "/cgroup.procs").c_str(), W_OK) != 0) {
    GTEST_SKIP() << "no writable cgroup v1 pids controller at " << kPidsRoot;
  }
  TempDir dir;
  std::string checks;
  for (int i = 1; i <= 40; ++i) {
    checks += "  - name: check-" + std::to_string(i) + "\n    probe: {file: {path: \"" +
              dir.path() + "/work/alive\"}}\n";
  }
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: too-few-threads
settings: {probe_interval: 100ms, settle: 5s, workdir: ")" +
                                    dir.path() + R"(/work"}
services:
  - name: idle
    run: touch alive && exec sleep 300
    ready: {file: {path: "${workdir}/alive"}, within: 5s}
steady_state:
)" + checks + R"(faults:
  - name: marker
    at: 200ms
    action: command
    with: {run: "touch )" + dir.path() +
                                    R"(/INJECTED"}
)");
  // The firedrill process and everything it starts: 4 tasks at most. Itself and the event
  // bus's thread fit; the event loop's pool does not.
  PidsCgroup cgroup(4);
  ASSERT_TRUE(cgroup.made()) << cgroup.path();
  const std::string error = RunExhausted(cgroup, dir);
  EXPECT_NE(error.find("cannot start the event loop's threads"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(dir / "INJECTED")) << "a fault was injected";
}

// The limit met in the middle of the fault phase, with the service up: the fault lowers
// the cgroup's limit to what the run uses then, so the remediation step cannot get a
// process (or its thread). The run ends as an error, rolls back and stops its service.
TEST(ResourceLimitTest, ALimitMetMidRunEndsItAsAnErrorWithTheServiceStopped) {
  if (access((std::string(kPidsRoot) + "/cgroup.procs").c_str(), W_OK) != 0) {
    GTEST_SKIP() << "no writable cgroup v1 pids controller at " << kPidsRoot;
  }
  TempDir dir;
  PidsCgroup cgroup(64);
  ASSERT_TRUE(cgroup.made()) << cgroup.path();
  const std::string limit = cgroup.path() + "/pids.max";
  const std::string current = cgroup.path() + "/pids.current";
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: limit-mid-run
settings: {probe_interval: 100ms, settle: 5s, workdir: ")" +
                                    dir.path() + R"(/work"}
services:
  - name: idle
    run: touch alive && exec sleep 300
    ready: {file: {path: "${workdir}/alive"}, within: 5s}
steady_state:
  - name: alive
    probe: {file: {path: "${workdir}/alive"}}
faults:
  - name: squeeze
    at: 200ms
    action: command
    with: {run: "echo $(( $(cat )" + current +
                                    R"() - 1 )) > )" + limit + R"("}
recovery:
  within: 10s
  remediation:
    - {after: 300ms, run: "true"}
)");
  const std::string error = RunExhausted(cgroup, dir);
  EXPECT_TRUE(error.find("remediation: cannot start /bin/sh") != std::string::npos ||
              error.find("cannot start a thread for remediation") != std::string::npos)
      << error;
}

}  // namespace
}  // namespace firedrill::testing
