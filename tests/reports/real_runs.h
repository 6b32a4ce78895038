// Four real runs of firedrill, one per verdict (passed, failed, aborted, error), for the
// tests of the renderers: they read what a run really wrote, never a hand-written report.
// Each drill is a small real system (a service, a health file it keeps, a fault that breaks
// it, a watch, a remediation) that runs in about two seconds.
#pragma once

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/harness.h"

namespace firedrill::testing {

struct RealRun {
  std::string verdict;     // what the drill was written to end with
  std::string drill;       // the drill file
  std::string report_dir;  // --report-dir of the run
  CliResult result;
  nlohmann::json report;  // report.json as the run wrote it (null if it wrote none)
};

// The drill that ends with `verdict`, written for `dir`.
// REQUIRES: verdict is one of passed, failed, aborted, error.
inline std::string RealRunDrill(const std::string& verdict, const std::string& dir) {
  const std::string work = dir + "/work-" + verdict;
  // The health file is the system: the service keeps it, the fault removes it, and the
  // remediation (what on-call would do) puts it back.
  std::string head = "apiVersion: firedrill/v1\nname: report-" + verdict +
                     "\ndescription: The health file is removed and must come back.\n"
                     "tags: [report, " +
                     verdict +
                     "]\n"
                     "settings: {probe_interval: 100ms, settle: 2s, workdir: \"" +
                     work +
                     "\"}\n"
                     "services:\n"
                     "  - name: keeper\n"
                     "    run: touch healthy && exec sleep 300\n"
                     "    ready: {file: {path: \"${workdir}/healthy\"}, within: 5s}\n";
  const std::string steady = verdict == "error"
                                 ? "steady_state:\n"
                                   "  - name: health-file\n"
                                   "    probe: {command: {run: \"echo unhealthy; exit 3\"}}\n"
                                 : "steady_state:\n"
                                   "  - name: health-file\n"
                                   "    probe: {command: {run: \"test -f healthy\"}}\n";
  const std::string faults =
      "faults:\n"
      "  - name: remove-health\n"
      "    at: 200ms\n"
      "    action: command\n"
      "    with: {run: \"rm -f healthy\"}\n";
  // failed: the detection watch looks for something that never happens.
  const std::string watches = verdict == "failed"
                                  ? "watches:\n"
                                    "  - name: health-gone\n"
                                    "    kind: detection\n"
                                    "    probe: {command: {run: \"test -f never-there\"}}\n"
                                    "    within: 1s\n"
                                  : "watches:\n"
                                    "  - name: health-gone\n"
                                    "    kind: detection\n"
                                    "    probe: {command: {run: \"test ! -f healthy\"}}\n"
                                    "    within: 2s\n";
  // aborted: the remediation waits a second, so the stop condition sees the file gone.
  // After detection it could put the file back between two of the condition's samples
  // (both sample every 100ms), and the run passed instead of aborting.
  const std::string remediation_after = verdict == "aborted" ? "1s" : "detection";
  const std::string recovery =
      verdict == "failed" ? "recovery:\n"
                            "  within: 1500ms\n"
                            "  steady_for: 300ms\n"
                            "  remediation:\n"
                            "    - {after: 1s, run: \"touch healthy\"}\n"
                          : "recovery:\n"
                            "  within: 3s\n"
                            "  steady_for: 300ms\n"
                            "  remediation:\n"
                            "    - {after: " +
                                remediation_after +
                                ", run: \"touch healthy\"}\n"
                                "  hints:\n"
                                "    - {after: 500ms, text: \"Is the health file there?\"}\n";
  // aborted: a stop condition that comes true once the fault has run.
  const std::string abort = verdict == "aborted"
                                ? "abort_when:\n"
                                  "  - name: operator-stop\n"
                                  "    probe: {command: {run: \"test ! -f healthy\"}}\n"
                                : "";
  return head + steady + faults + watches + recovery + abort;
}

// Runs the drill that ends with `verdict` in `dir` (a TempDir's path), its report in
// DIR/report-VERDICT.
inline RealRun RunRealDrill(const std::string& verdict, const std::string& dir,
                            std::vector<std::string> extra_args = {}) {
  RealRun run;
  run.verdict = verdict;
  run.drill = dir + "/" + verdict + ".yaml";
  run.report_dir = dir + "/report-" + verdict;
  WriteFile(run.drill, RealRunDrill(verdict, dir));
  std::vector<std::string> args = {"run", run.drill, "--report-dir", run.report_dir};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  run.result = RunFiredrill(args, dir);
  if (auto report = ReadJson(run.report_dir + "/report.json")) run.report = *report;
  return run;
}

// A real run made once per build of firedrill and shared by every test process that asks
// for it: ctest runs each test in a process of its own, and the renderers' tests would
// otherwise run the same drills again for each of their dozens of tests. The run lives in
// TMPDIR/firedrill-shared-runs/BUILD/NAME-DRILL, where BUILD names the firedrill binary
// (its size and modification time) and DRILL the drill's text, so a rebuilt binary or a
// changed drill runs again; a lock file makes the first process run it and the others
// wait and read. Treat it as read-only: other test processes read the same files.
// `drill` gives the drill's text for the directory it runs in; `verdict` is the one it was
// written to end with.
inline const RealRun& SharedRealRun(const std::string& name, const std::string& verdict,
                                    const std::function<std::string(const std::string&)>& drill) {
  static std::mutex mu;
  static std::map<std::string, RealRun> memo;
  std::lock_guard<std::mutex> l(mu);
  if (auto it = memo.find(name); it != memo.end()) return it->second;

  struct stat st {};
  ::stat(FIREDRILL_BIN, &st);
  const std::string build =
      fmt::format("{:x}-{:x}", static_cast<uint64_t>(st.st_size),
                  static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + st.st_mtim.tv_nsec);
  const std::string root =
      std::filesystem::temp_directory_path().string() + "/firedrill-shared-runs/" + build;
  std::filesystem::create_directories(root);
  const std::string dir =
      fmt::format("{}/{}-{:x}", root, name, std::hash<std::string>{}(drill("@DIR@")));

  const int lock = ::open((dir + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock >= 0) ::flock(lock, LOCK_EX);
  RealRun run;
  run.verdict = verdict;
  run.drill = dir + "/drill.yaml";
  run.report_dir = dir + "/report";
  if (!std::filesystem::exists(dir + "/done")) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir);
    WriteFile(run.drill, drill(dir));
    CliResult r = RunFiredrill({"run", run.drill, "--report-dir", run.report_dir}, dir);
    WriteFile(dir + "/out", r.out);
    WriteFile(dir + "/err", r.err);
    WriteFile(dir + "/rc", std::to_string(r.exit_code));
    WriteFile(dir + "/done", "");
  }
  run.result.out = ReadFile(dir + "/out");
  run.result.err = ReadFile(dir + "/err");
  run.result.exit_code = std::atoi(ReadFile(dir + "/rc").c_str());
  if (auto report = ReadJson(run.report_dir + "/report.json")) run.report = *report;
  if (lock >= 0) ::close(lock);
  return memo.emplace(name, std::move(run)).first->second;
}

// The shared run of the drill that ends with `verdict` (RealRunDrill).
inline const RealRun& SharedRealRun(const std::string& verdict) {
  return SharedRealRun("verdict-" + verdict, verdict,
                       [verdict](const std::string& dir) { return RealRunDrill(verdict, dir); });
}

}  // namespace firedrill::testing
