#include "reports/terminal.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/reports/report_fixture.h"

namespace firedrill {
namespace {

using report_testing::FailedRun;
using report_testing::PassedRun;
using ::testing::HasSubstr;
using ::testing::Not;

// Everything written to a FILE*, as a string.
class Capture {
 public:
  Capture() : file_(open_memstream(&buf_, &size_)) {}
  ~Capture() {
    if (file_) std::fclose(file_);
    std::free(buf_);
  }
  FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(buf_, size_);
  }

 private:
  char* buf_ = nullptr;
  size_t size_ = 0;
  FILE* file_;
};

const Event kKill{5003, "fault.injected", "kill-primary",
                  "SIGKILL to process group 4242 (service primary)"};

TEST(TerminalViewTest, EventLineWithoutColourIsPlainAscii) {
  Capture out;
  TerminalView view(out.file(), false);
  view.OnEvent(kKill);
  EXPECT_EQ(out.text(),
            "   +5.003s  ! fault.injected     kill-primary   SIGKILL to process group 4242 "
            "(service primary)\n");
}

TEST(TerminalViewTest, EventLineShapes) {
  TerminalView view(nullptr, false);
  EXPECT_EQ(view.FormatEvent({0, "phase", "faults", ""}),
            "   +0.000s  > phase              faults");
  EXPECT_EQ(view.FormatEvent({65432, "probe.pass", "writes-accepted", "OK"}),
            "  +65.432s  + probe.pass         writes-accepted OK");
  EXPECT_EQ(view.FormatEvent({7173, "watch.met", "replica-promoted", "16380"}),
            "   +7.173s  + watch.met          replica-promoted 16380");
  EXPECT_EQ(view.FormatEvent({9400, "probe.fail", "writes-accepted", "exit 1"}),
            "   +9.400s  x probe.fail         writes-accepted exit 1");
  EXPECT_EQ(view.FormatEvent({8000, "fault.rolled_back", "pause-replica", "SIGCONT"}),
            "   +8.000s  ~ fault.rolled_back  pause-replica  SIGCONT");
  EXPECT_EQ(view.FormatEvent({9303, "recovered", "", ""}), "   +9.303s  + recovered");
  EXPECT_EQ(view.FormatEvent({8100, "fault.rollback_failed", "pause-replica", "ESRCH"}),
            "   +8.100s  ! fault.rollback_failed pause-replica  ESRCH");
  EXPECT_EQ(view.FormatEvent({9000, "abort", "operator", "interrupted (signal)"}),
            "   +9.000s  x abort              operator       interrupted (signal)");
  EXPECT_EQ(view.FormatEvent({4000, "steady.held", "", "all 1 checks passing"}),
            "   +4.000s  + steady.held                       all 1 checks passing");
  EXPECT_EQ(view.FormatEvent({1, "service.started", "primary", ""}),
            "   +0.001s  . service.started    primary");
}

TEST(TerminalViewTest, DetailIsMadeSafeAndKeptToOneLine) {
  TerminalView view(nullptr, false);
  const std::string line =
      view.FormatEvent({10, "probe.fail", "p", "line one\r\nline two\n\x1b[31mred\x07\xc2\x9b"});
  EXPECT_EQ(line,
            "   +0.010s  x probe.fail         p              line one | line two | ?[31mred??");
  EXPECT_EQ(line.find('\x1b'), std::string::npos);

  const std::string long_detail(1000, 'a');
  const std::string truncated = view.FormatEvent({10, "probe.fail", "p", long_detail});
  EXPECT_LT(truncated.size(), 300u);
  EXPECT_THAT(truncated, HasSubstr("aaa..."));
}

TEST(TerminalViewTest, ColourOutputHasEscapesAndPlainHasNone) {
  Capture coloured;
  TerminalView cview(coloured.file(), true);
  Capture plain;
  TerminalView pview(plain.file(), false);
  const auto f = FailedRun();
  for (TerminalView* v : {&cview, &pview}) {
    v->OnEvent(kKill);
    for (const auto& e : f.run.timeline) v->OnEvent(e);
    v->PrintSummary(f.scenario, f.run, f.outcome, "/tmp/out");
  }
  EXPECT_THAT(coloured.text(), HasSubstr("\x1b["));
  EXPECT_THAT(coloured.text(), HasSubstr("\x1b[31m✗ fault.injected\x1b[0m"));
  EXPECT_EQ(plain.text().find('\x1b'), std::string::npos);
  EXPECT_THAT(plain.text(), Not(HasSubstr("✗")));
  EXPECT_THAT(plain.text(), Not(HasSubstr("✓")));
}

TEST(TerminalViewTest, ColumnsLineUpWithAndWithoutColour) {
  TerminalView cview(nullptr, true);
  TerminalView pview(nullptr, false);
  const std::string coloured = cview.FormatEvent(kKill);
  // Removing the escape codes and swapping the symbol gives the plain line.
  std::string stripped = std::regex_replace(coloured, std::regex("\x1b\\[[0-9;]*m"), "");
  stripped.replace(stripped.find("✗"), std::string("✗").size(), "!");
  EXPECT_EQ(stripped, pview.FormatEvent(kKill));
}

TEST(TerminalViewTest, LinesFromManyThreadsStayWhole) {
  Capture out;
  TerminalView view(out.file(), false);
  constexpr int kThreads = 4;
  constexpr int kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&view, t] {
      for (int i = 0; i < kEach; ++i) {
        view.OnEvent({i, "probe.pass", "probe-" + std::to_string(t), std::string(50, 'a' + t)});
      }
    });
  }
  for (auto& th : threads) th.join();
  std::istringstream lines(out.text());
  std::string line;
  int count = 0;
  const std::regex whole(R"( +\+\d+\.\d{3}s  \+ probe\.pass         probe-(\d) {8}([a-d])\2{49})");
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_TRUE(std::regex_match(line, whole)) << line;
  }
  EXPECT_EQ(count, kThreads * kEach);
}

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(TerminalViewTest, WantColourOnlyOnATerminalAndUnlessOptedOut) {
  Capture memory;
  {
    ScopedEnv no_colour("NO_COLOR", std::nullopt);
    ScopedEnv term("TERM", "xterm-256color");
    EXPECT_FALSE(TerminalView::WantColour(memory.file()));
  }

  // A pseudo-terminal stands in for the user's terminal.
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  FILE* tty = std::fopen(::ptsname(master), "w");
  ASSERT_NE(tty, nullptr);
  {
    ScopedEnv no_colour("NO_COLOR", std::nullopt);
    ScopedEnv term("TERM", "xterm-256color");
    EXPECT_TRUE(TerminalView::WantColour(tty));
  }
  {
    ScopedEnv no_colour("NO_COLOR", "");  // empty means unset (no-color.org)
    ScopedEnv term("TERM", "xterm");
    EXPECT_TRUE(TerminalView::WantColour(tty));
  }
  {
    ScopedEnv no_colour("NO_COLOR", "1");
    ScopedEnv term("TERM", "xterm");
    EXPECT_FALSE(TerminalView::WantColour(tty));
  }
  {
    ScopedEnv no_colour("NO_COLOR", std::nullopt);
    ScopedEnv term("TERM", "dumb");
    EXPECT_FALSE(TerminalView::WantColour(tty));
  }
  std::fclose(tty);
  ::close(master);
}

TEST(TerminalViewTest, SummaryOfAPassedRun) {
  const auto f = PassedRun();
  TerminalView view(nullptr, false);
  const std::string s = view.FormatSummary(f.scenario, f.run, f.outcome, "firedrill-out/run-1");
  EXPECT_THAT(s, HasSubstr("redis-sentinel-failover  PASSED  score 87/100\n"));
  EXPECT_THAT(s, HasSubstr("    detected (MTTD)      1.520s\n"));
  EXPECT_THAT(s, HasSubstr("    failed over          2.170s\n"));
  EXPECT_THAT(s, HasSubstr("    recovered (MTTR)     4.300s\n"));
  EXPECT_THAT(s, HasSubstr("    availability         93.0%\n"));
  EXPECT_THAT(s, HasSubstr("    data lost            none\n"));
  EXPECT_THAT(s, Not(HasSubstr("acknowledged")));  // run mode: no trainee
  // One name column, as wide as the longest name, for watches, objectives and faults.
  EXPECT_THAT(s, HasSubstr("\n  watches\n"
                           "    met     replica-promoted        failover   passed after 2.170s"
                           "      within 15s\n"
                           "    met     alert-fires             detection  passed after 1.520s"
                           "      within 30s\n"));
  EXPECT_THAT(s, HasSubstr("\n  objectives\n"
                           "    met     recovery.within         actual 4.300s        target 1m\n"
                           "    met     recovery.max_data_loss  actual 0 writes      target 0 "
                           "writes\n"));
  EXPECT_THAT(s, HasSubstr("\n  faults\n"
                           "    kill-primary                    process.kill      injected +5.003s"
                           "    rollback none\n"
                           "    pause-replica                   process.pause     injected +6.000s"
                           "    rollback ok at +8.000s\n"));
  EXPECT_THAT(s, Not(HasSubstr("LEFTOVERS")));
  EXPECT_THAT(s, Not(HasSubstr("why it did not pass")));
  EXPECT_THAT(s, HasSubstr("report  firedrill-out/run-1/report.json\n"));
}

TEST(TerminalViewTest, SummaryOfAFailedRun) {
  const auto f = FailedRun();
  Capture out;
  TerminalView view(out.file(), false);
  view.PrintSummary(f.scenario, f.run, f.outcome, "");
  const std::string s = out.text();
  EXPECT_THAT(s, HasSubstr("FAILED  score 12/100"));
  EXPECT_THAT(s, HasSubstr("    detected (MTTD)      —\n"));
  EXPECT_THAT(s, HasSubstr("    recovered (MTTR)     —\n"));
  EXPECT_THAT(s, HasSubstr("    availability         —\n"));
  EXPECT_THAT(s, HasSubstr("    data lost            —\n"));
  EXPECT_THAT(s, HasSubstr("MISSED  replica-promoted  failover   passed after —"));
  EXPECT_THAT(s, HasSubstr("actual —"));
  EXPECT_THAT(s,
              HasSubstr("rollback FAILED\n      SIGCONT to process group 4243: no such process\n"));
  EXPECT_THAT(s, HasSubstr("why it did not pass\n    - watch replica-promoted did not pass "
                           "within 15s\n    - steady state did not return within 1m\n"));
  EXPECT_THAT(s, HasSubstr("!! LEFTOVERS"));
  EXPECT_THAT(s, HasSubstr("    !! process group 4243 may still be stopped (SIGSTOP)\n"));
  EXPECT_THAT(s, Not(HasSubstr("report.json")));
}

TEST(TerminalViewTest, SummaryShowsTrainingAcknowledgementAndAbort) {
  auto f = PassedRun();
  f.run.mode = "train";
  f.run.aborted = true;
  f.run.abort_reason = "operator interrupt (SIGINT)";
  f.outcome.verdict = "aborted";
  f.outcome.metrics.acknowledged_after_ms = 42000;
  f.outcome.metrics.data_lost_count = 3;
  f.outcome.metrics.data_lost_span_ms = 1200;
  f.outcome.metrics.availability = 0.99999;
  TerminalView view(nullptr, false);
  const std::string s = view.FormatSummary(f.scenario, f.run, f.outcome, "out/");
  EXPECT_THAT(s, HasSubstr("ABORTED"));
  EXPECT_THAT(s, HasSubstr("aborted: operator interrupt (SIGINT)\n"));
  EXPECT_THAT(s, HasSubstr("    acknowledged (MTTA)  42.000s\n"));
  EXPECT_THAT(s, HasSubstr("    data lost            3 writes over 1.200s\n"));
  EXPECT_THAT(s, HasSubstr("    availability         99.9%\n"));  // not a rounded-up 100%
  EXPECT_THAT(s, HasSubstr("report  out/report.json\n"));
}

TEST(TerminalViewTest, ColouredSummaryPaintsTheVerdict) {
  const auto f = PassedRun();
  TerminalView view(nullptr, true);
  EXPECT_THAT(view.FormatSummary(f.scenario, f.run, f.outcome, ""),
              HasSubstr("\x1b[1;32mPASSED\x1b[0m"));
}

}  // namespace
}  // namespace firedrill
