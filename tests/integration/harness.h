// Helpers for tests that run the real `firedrill` binary against real processes.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/proc.h"
#include "runner/base/subprocess.h"
#include "tests/testing.h"

namespace firedrill::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A shell command's outcome as a CLI test reads it: exit -2 when it timed out, and the
// reason in `err` when it could not be started.
inline CliResult ToCliResult(const Result<ShellResult>& r) {
  CliResult out;
  if (!r.ok()) {
    out.err = r.status().ToString();
    return out;
  }
  out.exit_code = r->timed_out ? -2 : r->exit_code;
  out.out = r->out;
  out.err = r->err;
  return out;
}

// Runs `firedrill ARGS...` with NO_COLOR set, bounded by `timeout`.
inline CliResult RunFiredrill(const std::vector<std::string>& args, const std::string& cwd,
                              Millis timeout = Millis(180000)) {
  // Journals go to the test's own directory unless the test chose a state dir itself, and
  // so does the run history (never the user's own).
  std::string cmd = std::string("NO_COLOR=1 FIREDRILL_STATE_DIR=\"${FIREDRILL_STATE_DIR:-") + cwd +
                    "/state}\" XDG_DATA_HOME=" + Quote(cwd + "/xdg-data") + " exec " +
                    Quote(FIREDRILL_BIN);
  for (const auto& a : args) cmd += " " + Quote(a);
  auto r = RunShell({.script = cmd, .cwd = cwd, .timeout = timeout, .capture_limit = 4 << 20});
  return ToCliResult(r);
}

inline std::optional<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

inline std::optional<pid_t> ReadPid(const std::string& path) {
  std::ifstream in(path);
  long v = 0;
  if (in >> v && v > 1) return static_cast<pid_t>(v);
  return std::nullopt;
}

// True when `pid` is gone or a zombie (a zombie no longer runs anything).
inline bool Gone(pid_t pid) {
  auto st = ReadProcStat(pid);
  return !st || st->state == 'Z' || st->state == 'X';
}

// Calls ReapOrphans over and over on a thread of its own, as the engine does while it polls
// its services, until destroyed. Makes this process a subreaper first, so that orphans of
// the test's commands come here to be reaped.
class ReaperThread {
 public:
  ReaperThread() {
    BecomeSubreaper();
    thread_ = std::thread([this] {
      while (!stop_) {
        ReapOrphans();
        ++calls_;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  ~ReaperThread() {
    stop_ = true;
    thread_.join();
  }
  ReaperThread(const ReaperThread&) = delete;
  ReaperThread& operator=(const ReaperThread&) = delete;
  int calls() const { return calls_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> calls_{0};
  std::thread thread_;
};

// PIDs of live processes whose command line contains `needle`.
inline std::vector<pid_t> ProcessesWithArg(const std::string& needle) {
  std::vector<pid_t> out;
  for (pid_t p : ListPids()) {
    // read(2), not a stream: a process that exits mid-read fails the read with ESRCH, and
    // libstdc++'s filebuf throws on that where this wants an empty command line.
    std::string cmdline;
    int fd = ::open(("/proc/" + std::to_string(p) + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        cmdline.append(buf, static_cast<size_t>(n));
      ::close(fd);
    }
    for (auto& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    if (cmdline.find(needle) != std::string::npos && !Gone(p)) out.push_back(p);
  }
  return out;
}

// Live processes whose working directory is at or below `dir` (a PostgreSQL server's is
// its data directory): what a run must not leave behind.
inline std::vector<pid_t> ProcessesIn(const std::string& dir) {
  std::vector<pid_t> out;
  for (pid_t p : ListPids()) {
    std::error_code ec;
    std::filesystem::path cwd =
        std::filesystem::read_symlink("/proc/" + std::to_string(p) + "/cwd", ec);
    if (ec || Gone(p)) continue;
    const std::string c = cwd.string();
    if (c == dir || c.starts_with(dir + "/")) out.push_back(p);
  }
  return out;
}

// Kills what a failed test may have left, so one failure does not poison the next test.
class PidReaper {
 public:
  void Watch(pid_t p) { pids_.push_back(p); }
  ~PidReaper() {
    for (pid_t p : pids_) {
      if (!Gone(p)) ::kill(p, SIGKILL);
    }
  }

 private:
  std::vector<pid_t> pids_;
};

// The "prepared" event lists the ports picked for ${port:NAME}: "ports redis=41234, ...".
inline std::vector<std::string> PortsOf(const nlohmann::json& report) {
  std::vector<std::string> ports;
  for (const auto& e : report["timeline"]) {
    if (e["type"] != "prepared") continue;
    std::string d = e["detail"];
    static const std::regex kPort(R"(=(\d+))");
    for (std::sregex_iterator it(d.begin(), d.end(), kPort), end; it != end; ++it) {
      ports.push_back((*it)[1]);
    }
  }
  return ports;
}

// Whatever a drill's verdict, nothing it started may survive it: no process using one of
// its ports (that covers daemons a remediation step started), and no process group of a
// service. Kills survivors, so one failure does not poison the next test.
inline void ExpectNothingSurvives(const nlohmann::json& report, size_t expected_ports) {
  std::vector<std::string> ports = PortsOf(report);
  EXPECT_EQ(ports.size(), expected_ports) << report.dump(2);
  for (const auto& port : ports) {
    EXPECT_TRUE(ProcessesWithArg(port).empty()) << "a process using port " << port << " survived";
    PidReaper reaper;
    for (pid_t p : ProcessesWithArg(port)) reaper.Watch(p);
  }
  for (const auto& e : report["timeline"]) {
    if (e["type"] != "service.started") continue;
    std::smatch m;
    std::string d = e["detail"];
    ASSERT_TRUE(std::regex_search(d, m, std::regex(R"(process group (\d+))"))) << d;
    pid_t pgid = std::stoi(m[1]);
    errno = 0;
    EXPECT_EQ(::kill(-pgid, 0), -1) << "process group of " << e["name"] << " still exists";
    EXPECT_EQ(errno, ESRCH);
  }
}

// One drill run whose workdir is kept, inside the test's own temporary directory (the
// engine makes it under $TMPDIR), so the test can look at what the drill left there.
struct DrillRun {
  CliResult cli;
  nlohmann::json report;
  std::string workdir;
};

inline std::optional<DrillRun> RunKept(const std::string& drill, const TempDir& dir) {
  ScopedEnvVar tmp("TMPDIR", dir.path());
  DrillRun run;
  run.cli =
      RunFiredrill({"run", drill, "--report-dir", dir / "report", "--keep-workdir"}, dir.path());
  auto report = ReadJson(dir / "report/report.json");
  if (!report) {
    ADD_FAILURE() << "no report.json\nstdout:\n" << run.cli.out << "\nstderr:\n" << run.cli.err;
    return std::nullopt;
  }
  run.report = *report;
  for (const auto& e : run.report["timeline"]) {
    std::smatch m;
    const std::string d = e["detail"];
    if (e["type"] == "prepared" && std::regex_search(d, m, std::regex(R"(workdir (\S+);)"))) {
      run.workdir = m[1];
    }
  }
  EXPECT_TRUE(run.workdir.starts_with(dir.path() + "/")) << run.report["timeline"].dump(2);
  return run;
}

inline std::string Output(const CliResult& r) {
  return "stdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The port the run picked for ${port:NAME}, from the "prepared" event.
inline std::string PortOf(const nlohmann::json& report, const std::string& name) {
  for (const auto& e : report["timeline"]) {
    std::smatch m;
    const std::string d = e["detail"];
    if (e["type"] == "prepared" && std::regex_search(d, m, std::regex(name + R"(=(\d+))"))) {
      return m[1];
    }
  }
  return "";
}

// Every line of every journal under the state dir.
inline std::vector<nlohmann::json> JournalLines(const std::string& state_dir) {
  std::vector<nlohmann::json> out;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(state_dir + "/runs", ec)) {
    std::ifstream in(d.path() / "journal");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(j);
    }
  }
  return out;
}

// Starts `firedrill run DRILL --report-dir DIR/report --state-dir STATE -q --no-history` in
// the background (its output to DIR/run.log; TMPDIR set to `tmpdir` when given, so that
// its temporary workdir lands there), for a test that kills it. The caller reaps it.
inline pid_t StartRun(const std::string& drill, const std::string& dir, const std::string& state,
                      const std::string& tmpdir = "") {
  pid_t pid = fork();
  if (pid == 0) {
    if (!tmpdir.empty()) setenv("TMPDIR", tmpdir.c_str(), 1);
    int out = ::open((dir + "/run.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    execl(FIREDRILL_BIN, FIREDRILL_BIN, "run", drill.c_str(), "--report-dir",
          (dir + "/report").c_str(), "--state-dir", state.c_str(), "-q", "--no-history",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// The args of the first `intend` line whose owner starts with `owner`, waiting at most
// `seconds` for one; null when none came.
inline nlohmann::json WaitForIntent(const std::string& state_dir, const std::string& owner,
                                    int seconds) {
  for (int i = 0; i < seconds * 50; ++i) {
    for (const auto& l : JournalLines(state_dir)) {
      if (l.value("op", "") == "intend" && l.value("owner", "").starts_with(owner)) {
        return l.contains("args") ? l["args"] : nlohmann::json::object();
      }
    }
    usleep(20000);
  }
  return nullptr;
}

}  // namespace firedrill::testing
