#include "reports/status_line.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "reports/terminal.h"
#include "runner/loader/loader.h"
#include "tests/integration/harness.h"
#include "tests/reports/real_runs.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

// Two faults (one timed), two checks, two watches: enough for every part of the line.
constexpr const char* kDrill = R"(apiVersion: firedrill/v1
name: status-line
services:
  - name: primary
    run: exec sleep 300
steady_state:
  - name: writes-accepted
    probe: {command: {run: "true"}}
  - name: reads-ok
    probe: {command: {run: "true"}}
faults:
  - name: pause-replica
    at: 3s
    action: process.pause
    target: {service: primary}
    duration: 2s
  - name: kill-primary
    at: 700ms
    action: process.kill
    target: {service: primary}
watches:
  - name: primary-odown
    kind: detection
    probe: {command: {run: "true"}}
    within: 5s
  - name: replica-promoted
    kind: failover
    probe: {command: {run: "true"}}
    within: 15s
recovery:
  within: 20s
)";

Scenario Load(const std::string& text) {
  LoadResult r = LoadScenarioText(text, "status-line.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  return r.scenario.value_or(Scenario{});
}

// The events of a run of kDrill up to the start of its fault phase at +2s.
StatusLine Started(const Scenario& s) {
  StatusLine line(s);
  for (const Event& e : std::vector<Event>{{0, "phase", "prepare", ""},
                                           {10, "phase", "services", ""},
                                           {400, "phase", "steady_state", ""},
                                           {1900, "steady.held", "", ""},
                                           {2000, "phase", "faults", ""}}) {
    line.OnEvent(e);
  }
  return line;
}

TEST(StatusLineTest, NothingBeforeTheFirstEvent) {
  const Scenario s = Load(kDrill);
  StatusLine line(s);
  EXPECT_FALSE(line.started());
  line.OnEvent({0, "phase", "prepare", ""});
  EXPECT_TRUE(line.started());
  EXPECT_EQ(line.Render(1234, 0), "phase prepare | +1.2s");
}

TEST(StatusLineTest, NextFaultByAtFromTheFaultPhaseStart) {
  const Scenario s = Load(kDrill);
  StatusLine line = Started(s);
  // kill-primary (at 700ms) comes first although it is listed second.
  EXPECT_EQ(line.Render(2000, 0), "phase faults | +2.0s | next: kill-primary in 0.7s");
  EXPECT_EQ(line.Render(2500, 0), "phase faults | +2.5s | next: kill-primary in 0.2s");

  line.OnEvent({2710, "fault.injected", "kill-primary", "SIGKILL to process group 42"});
  EXPECT_THAT(
      line.Render(3000, 0),
      HasSubstr("| next: pause-replica in 2.0s | waiting: primary-odown, replica-promoted"));
}

TEST(StatusLineTest, FaultPhaseBoundOnceEveryFaultIsIn) {
  const Scenario s = Load(kDrill);
  StatusLine line = Started(s);
  line.OnEvent({2710, "fault.injected", "kill-primary", ""});
  line.OnEvent({5005, "fault.injected", "pause-replica", ""});
  // The latest bound is recovery.within from the first injection: 2710 + 20000.
  EXPECT_THAT(line.Render(6000, 0), HasSubstr("| fault phase: 16.7s left at most"));

  line.OnEvent({6100, "watch.met", "primary-odown", ""});
  line.OnEvent({7007, "fault.rolled_back", "pause-replica", ""});
  line.OnEvent({9000, "watch.met", "replica-promoted", ""});
  line.OnEvent({9500, "recovered", "", ""});
  // Nothing left to wait for: the engine ends the phase at its next round.
  EXPECT_THAT(line.Render(9500, 0), HasSubstr("| recovered"));
  EXPECT_THAT(line.Render(9500, 0), Not(HasSubstr("left at most")));
  EXPECT_THAT(line.Render(9500, 0), Not(HasSubstr("waiting")));
}

TEST(StatusLineTest, BoundWaitsForTimedFaultsAndPendingWatches) {
  const Scenario s = Load(kDrill);
  StatusLine line = Started(s);
  line.OnEvent({2710, "fault.injected", "kill-primary", ""});
  line.OnEvent({5005, "fault.injected", "pause-replica", ""});
  line.OnEvent({5500, "recovered", "", ""});
  // Recovered, but replica-promoted may still take until 2710 + 15000.
  EXPECT_THAT(line.Render(6000, 0), HasSubstr("| fault phase: 11.7s left at most"));
  line.OnEvent({6100, "watch.met", "replica-promoted", ""});
  line.OnEvent({6200, "watch.met", "primary-odown", ""});
  // Then only the timed fault: 5005 + 2000.
  EXPECT_THAT(line.Render(6500, 0), HasSubstr("| fault phase: 0.5s left at most"));
}

TEST(StatusLineTest, FailingChecksAreThoseWhoseLastSampleFailed) {
  const Scenario s = Load(kDrill);
  StatusLine line = Started(s);
  line.OnEvent({2710, "fault.injected", "kill-primary", ""});
  line.OnEvent({2720, "probe.fail", "reads-ok", "exit 1"});
  line.OnEvent({2730, "probe.fail", "writes-accepted", "exit 1"});
  // Drill order, not the order they failed in.
  EXPECT_THAT(line.Render(2800, 0), HasSubstr("| failing: writes-accepted, reads-ok"));
  line.OnEvent({4000, "probe.pass", "writes-accepted", ""});
  EXPECT_THAT(line.Render(4000, 0), HasSubstr("| failing: reads-ok"));
  EXPECT_THAT(line.Render(4000, 0), Not(HasSubstr("writes-accepted")));
  line.OnEvent({4100, "probe.pass", "reads-ok", ""});
  EXPECT_THAT(line.Render(4100, 0), Not(HasSubstr("failing")));

  // A failure left when the fault phase ends is not "now" any more.
  line.OnEvent({4200, "probe.fail", "reads-ok", ""});
  line.OnEvent({9000, "phase", "rollback", ""});
  EXPECT_EQ(line.Render(9000, 0), "phase rollback | +9.0s");
}

TEST(StatusLineTest, MissedWatchesStayListed) {
  const Scenario s = Load(kDrill);
  StatusLine line = Started(s);
  line.OnEvent({2710, "fault.injected", "kill-primary", ""});
  line.OnEvent({7800, "watch.missed", "primary-odown", "not met within 5s"});
  EXPECT_THAT(line.Render(8000, 0),
              HasSubstr("| missed: primary-odown | waiting: replica-promoted"));
  line.OnEvent({23000, "phase", "rollback", ""});
  EXPECT_EQ(line.Render(23000, 0), "phase rollback | +23.0s | missed: primary-odown");
}

TEST(StatusLineTest, LongTimesInMinutes) {
  const Scenario s = Load(kDrill);
  StatusLine line(s);
  line.OnEvent({0, "phase", "prepare", ""});
  EXPECT_EQ(line.Render(125400, 0), "phase prepare | +2m05s");
  EXPECT_EQ(line.Render(3725000, 0), "phase prepare | +1h02m05s");
  // Never before the latest event, whatever the caller's clock says.
  line.OnEvent({5000, "phase", "services", ""});
  EXPECT_EQ(line.Render(100, 0), "phase services | +5.0s");
}

TEST(StatusLineTest, CutToTheWidthOnCodePoints) {
  // Drill names are ASCII (the loader sees to it), but phase names come from the events:
  // one with multi-byte code points, so a byte cut would split one.
  const Scenario s = Load(kDrill);
  StatusLine line(s);
  const std::string phase =
      "pr\xC3\xBC"
      "fen";  // "prüfen"
  line.OnEvent({2000, "phase", phase, ""});
  const std::string full = line.Render(2000, 0);
  EXPECT_EQ(full, "phase " + phase + " | +2.0s");
  // 20 code points, 21 bytes.
  EXPECT_EQ(line.Render(2000, 20), full);
  EXPECT_EQ(line.Render(2000, 19),
            "phase pr\xC3\xBC"
            "fen | +...");
  // The "ü" is the 9th code point: in whole or not at all.
  EXPECT_EQ(line.Render(2000, 12), "phase pr\xC3\xBC...");
  EXPECT_EQ(line.Render(2000, 11), "phase pr...");
  // Too narrow for the dots.
  EXPECT_EQ(line.Render(2000, 3), "pha");
}

TEST(StatusLineTest, CutKeepsColourCodesWhole) {
  const Scenario s = Load(kDrill);
  StatusLine line = Started(s);
  const std::string coloured = line.Render(2000, 10, /*colour=*/true);
  EXPECT_EQ(coloured, "\x1b[1mphase f\x1b[0m...");
  const std::string full = line.Render(2000, 0, true);
  EXPECT_THAT(full, HasSubstr("\x1b[33mnext: kill-primary in 0.7s\x1b[0m"));
}

TEST(StatusLineTest, ControlCharactersInNamesAreShownAsQuestionMarks) {
  const Scenario s = Load(kDrill);
  StatusLine line(s);
  line.OnEvent({0, "phase", "pre\x1b[2Jpare", ""});
  EXPECT_EQ(line.Render(0, 0), "phase pre?[2Jpare | +0.0s");
}

TEST(StatusLineTest, ViewOffATerminalWritesTheSameBytes) {
  const Scenario s = Load(kDrill);
  char* buf = nullptr;
  size_t size = 0;
  FILE* mem = open_memstream(&buf, &size);
  ASSERT_NE(mem, nullptr);
  {
    TerminalView view(mem, false, &s);
    EXPECT_FALSE(view.status_line());
    view.OnEvent({2000, "phase", "faults", ""});
    view.Finish();
  }
  std::fclose(mem);
  EXPECT_EQ(std::string(buf, size), "   +2.000s  > phase              faults\n");
  std::free(buf);
}

// Counts the occurrences of `needle` in `s`.
size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

TEST(StatusLineTest, ViewRedrawsWithoutEventsAndErasesOnFinish) {
  const Scenario s = Load(kDrill);
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0);
  FILE* tty = ::fdopen(slave, "w");
  ASSERT_NE(tty, nullptr);
  testing::ScopedEnvVar term("TERM", "xterm");
  {
    TerminalView view(tty, false, &s);
    ASSERT_TRUE(view.status_line());
    view.OnEvent({2000, "phase", "faults", ""});
    // Several redraw periods, and the elapsed time moves though no event came.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    view.Finish();
  }
  std::fclose(tty);
  std::string out;
  char buf[4096];
  while (true) {
    struct pollfd p {
      master, POLLIN, 0
    };
    if (::poll(&p, 1, 100) <= 0) break;
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  EXPECT_GE(Count(out, "phase faults | +"), 3u) << out;
  // Not every draw says +2.0s (the times themselves depend on the machine's load).
  EXPECT_LT(Count(out, "phase faults | +2.0s"), Count(out, "phase faults | +")) << out;
  // The last thing written is the erase.
  EXPECT_TRUE(out.size() >= 5 && out.substr(out.size() - 5) == "\r\x1b[2K") << out;
}

// Runs `argv` with stdout and stderr on a new pseudo-terminal (of `cols` columns) and
// returns everything it wrote there.
std::string RunOnPty(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const std::string& cwd, unsigned short cols = 200) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return "openpt failed";
  const char* slave_name = ::ptsname(master);
  if (slave_name == nullptr) return "ptsname failed";
  const std::string slave_path = slave_name;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    const int slave = ::open(slave_path.c_str(), O_RDWR);
    if (slave < 0) ::_exit(126);
    struct winsize ws {};
    ws.ws_col = cols;
    ws.ws_row = 40;
    ::ioctl(slave, TIOCSWINSZ, &ws);
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    if (slave > 2) ::close(slave);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    struct pollfd p {
      master, POLLIN, 0
    };
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: every holder of the slave has closed it
    out.append(buf, static_cast<size_t>(n));
  }
  if (std::chrono::steady_clock::now() >= deadline) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  return out;
}

std::string RunPassedDrillOnPty(const TempDir& dir, const std::vector<std::string>& extra_env) {
  const std::string drill = dir / "passed.yaml";
  testing::WriteFile(drill, testing::RealRunDrill("passed", dir.path()));
  std::vector<std::string> env = {"TERM=xterm-256color", "FIREDRILL_STATE_DIR=" + (dir / "state"),
                                  "XDG_DATA_HOME=" + (dir / "xdg-data")};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  return RunOnPty({FIREDRILL_BIN, "run", drill, "--report-dir", dir / "report"}, env, dir.path());
}

TEST(StatusLineRealRunTest, OnAPseudoTerminal) {
  TempDir dir;
  const std::string out = RunPassedDrillOnPty(dir, {"NO_COLOR="});
  EXPECT_THAT(out, HasSubstr("\r\x1b[2K"));
  // In colour, each part styled on its own.
  EXPECT_THAT(out, HasSubstr("\x1b[1mphase faults\x1b[0m | \x1b[2m+"));
  EXPECT_THAT(out, HasSubstr("\x1b[33mnext: remove-health in "));
  EXPECT_THAT(out, HasSubstr("PASSED"));
  // Erased before the summary: nothing of it between the last event and the verdict.
  const size_t summary = out.find("PASSED");
  ASSERT_NE(summary, std::string::npos) << out;
  const size_t last_clear = out.rfind("\r\x1b[2K");
  ASSERT_NE(last_clear, std::string::npos);
  EXPECT_LT(last_clear, summary);
  EXPECT_THAT(out.substr(last_clear + 5, summary - last_clear - 5), Not(HasSubstr("phase")));
}

TEST(StatusLineRealRunTest, NoColourStillShowsTheLine) {
  TempDir dir;
  const std::string out = RunPassedDrillOnPty(dir, {"NO_COLOR=1"});
  EXPECT_THAT(out, HasSubstr("\r\x1b[2K"));
  EXPECT_THAT(out, HasSubstr("phase faults | +"));
  EXPECT_THAT(out, HasSubstr("| next: remove-health in "));
  EXPECT_THAT(out, Not(HasSubstr("\x1b[3")));
  EXPECT_THAT(out, Not(HasSubstr("\x1b[1m")));
  EXPECT_THAT(out, HasSubstr("PASSED"));
}

TEST(StatusLineRealRunTest, DumbTerminalGetsPlainLines) {
  TempDir dir;
  const std::string out = RunPassedDrillOnPty(dir, {"TERM=dumb"});
  EXPECT_THAT(out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(out, Not(HasSubstr("phase faults |")));
  EXPECT_THAT(out, HasSubstr("PASSED"));
}

TEST(StatusLineRealRunTest, QuietOnATerminalHasNoStatusLine) {
  TempDir dir;
  const std::string drill = dir / "passed.yaml";
  testing::WriteFile(drill, testing::RealRunDrill("passed", dir.path()));
  const std::string out =
      RunOnPty({FIREDRILL_BIN, "run", drill, "--quiet", "--report-dir", dir / "report"},
               {"TERM=xterm", "NO_COLOR=1", "FIREDRILL_STATE_DIR=" + (dir / "state"),
                "XDG_DATA_HOME=" + (dir / "xdg-data")},
               dir.path());
  EXPECT_THAT(out, Not(HasSubstr("\x1b[2K")));
  EXPECT_THAT(out, HasSubstr("PASSED"));
}

TEST(StatusLineRealRunTest, OnAPipeNothingChanges) {
  TempDir dir;
  const std::string drill = dir / "passed.yaml";
  testing::WriteFile(drill, testing::RealRunDrill("passed", dir.path()));
  testing::CliResult r =
      testing::RunFiredrill({"run", drill, "--report-dir", dir / "report"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[2K")));
  EXPECT_THAT(r.out, Not(HasSubstr("\r")));
  EXPECT_THAT(r.out, Not(HasSubstr("phase faults |")));
  EXPECT_THAT(r.out, HasSubstr("> phase              faults\n"));
}

}  // namespace
}  // namespace firedrill
