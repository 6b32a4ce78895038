// `firedrill train` driven as a person would, inside tmux (the Debian package): the test
// reads the screen with capture-pane and types with send-keys, and repairs the system from
// a second tmux window with a real command. The drill is the shipped training-disk-full:
// a real Redis on a real tmpfs that a real ballast fills (root: the tmpfs mount).
#include <gtest/gtest.h>
#include <sys/statvfs.h>

#include <regex>

#include "runner/base/values.h"
#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

std::string Unsupported() {
  if (geteuid() != 0) return "needs root: the drill mounts its own tmpfs";
  if (!fs::exists("/usr/bin/tmux")) return "tmux is not installed (scripts/install-deps)";
  if (!fs::exists("/usr/bin/redis-server")) return "redis-server is not installed";
  return "";
}

// One tmux server of the test's own (its socket in the test's directory), killed at the
// end whatever happened, with the session it runs.
class Tmux {
 public:
  explicit Tmux(const TempDir& dir) : socket_(dir / "tmux.sock") {}
  ~Tmux() { Run("kill-server"); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  ShellResult Run(const std::string& args) {
    auto r = RunShell(
        {.script = "tmux -S " + Quote(socket_) + " " + args, .cwd = "/", .timeout = Millis(10000)});
    return r.ok() ? *r : ShellResult{};
  }
  // A session `name` of 200 columns running `command` in sh; the pane stays after it ends.
  bool Start(const std::string& name, const std::string& command) {
    ShellResult r = Run("new-session -d -s " + name + " -x 200 -y 60 " + Quote(command));
    if (r.exit_code != 0) return false;
    Run("set-option -t " + name + " remain-on-exit on");
    return true;
  }
  // The pane's text, wrapped lines joined, its scrollback included.
  std::string Screen(const std::string& target) {
    return Run("capture-pane -p -J -S -3000 -t " + Quote(target)).out;
  }
  // Types `text` as it is (no key names).
  void Type(const std::string& target, const std::string& text) {
    Run("send-keys -t " + Quote(target) + " -l " + Quote(text));
  }
  void Enter(const std::string& target) { Run("send-keys -t " + Quote(target) + " Enter"); }
  // Waits, at most `timeout`, for `text` on the pane; the screen as it was last seen.
  bool WaitFor(const std::string& target, const std::string& text, std::string* screen,
               Millis timeout = Millis(60000)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    do {
      *screen = Screen(target);
      if (screen->find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < end);
    return false;
  }

 private:
  std::string socket_;
};

std::string DrillFile() {
  return std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/training-disk-full.yaml";
}

// The session's command: firedrill train with the fault at once, its exit code kept.
std::string TrainCommand(const TempDir& dir, const std::string& drill) {
  return "cd " + Quote(dir.path()) + " && NO_COLOR=1 TMPDIR=" + Quote(dir.path()) +
         " FIREDRILL_STATE_DIR=" + Quote(dir / "state") + " " + Quote(FIREDRILL_BIN) + " train " +
         Quote(drill) + " --trainee ada --inject-within 0s --no-history" + " --report-dir " +
         Quote(dir / "report") + "; echo $? > " + Quote(dir / "exit");
}

std::string WorkdirOn(const std::string& screen) {
  std::smatch m;
  static const std::regex kWorkdir(R"(your system: workdir (\S+);)");
  return std::regex_search(screen, m, kWorkdir) ? std::string(m[1]) : "";
}

std::optional<int> WaitForExit(const TempDir& dir, Millis timeout = Millis(90000)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream in(dir / "exit");
    int code = -1;
    if (in >> code) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

bool Mounted(const std::string& path) {
  std::ifstream in("/proc/mounts");
  std::string dev, at, rest;
  while (in >> dev >> at && std::getline(in, rest)) {
    if (at == path) return true;
  }
  return false;
}

// Nothing of the session is left: no process on its port or in its groups, its tmpfs is
// unmounted, and its workdir (a temporary one) is gone with the ballast in it.
void ExpectAllRolledBack(const nlohmann::json& report, const std::string& workdir) {
  ExpectNothingSurvives(report, 1);
  EXPECT_FALSE(workdir.empty());
  EXPECT_FALSE(Mounted(workdir + "/disk"));
  EXPECT_FALSE(fs::exists(workdir)) << workdir;
  EXPECT_TRUE(report["leftovers"].empty()) << report["leftovers"].dump();
}

TEST(TrainTest, TheTraineeIsPagedAcknowledgesTakesAHintAndRepairsFromASecondWindow) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  Tmux tmux(dir);
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, DrillFile())));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  redis-aof-write-error", &screen)) << screen;
  // The bell and a banner: the page cannot be missed.
  EXPECT_NE(screen.find("=========="), std::string::npos) << screen;
  const std::string workdir = WorkdirOn(screen);
  ASSERT_FALSE(workdir.empty()) << screen;

  tmux.Type("train", "a");
  ASSERT_TRUE(tmux.WaitFor("train", "acknowledged after", &screen)) << screen;
  tmux.Type("train", "h");
  ASSERT_TRUE(tmux.WaitFor("train", "HINT 1/3  asked for:", &screen)) << screen;

  // The repair, as the trainee would type it in another terminal.
  tmux.Run("new-window -t train -n fix");
  tmux.Type("train:fix", "rm -v " + workdir + "/disk/.firedrill-ballast-*");
  tmux.Enter("train:fix");

  ASSERT_TRUE(tmux.WaitFor("train:0", "# Debrief: training-disk-full (ada)", &screen)) << screen;
  auto code = WaitForExit(dir);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << screen;
  EXPECT_NE(screen.find("RECOVERED"), std::string::npos) << screen;
  EXPECT_NE(screen.find("- hints used: 1 of 3"), std::string::npos) << screen;
  EXPECT_NE(screen.find("## What the runbook says"), std::string::npos) << screen;
  EXPECT_NE(tmux.Screen("train:fix").find("removed"), std::string::npos)
      << tmux.Screen("train:fix");

  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report);
  const nlohmann::json& r = *report;
  EXPECT_EQ(r["mode"], "train");
  EXPECT_EQ(r["exit_code"], 0);
  const nlohmann::json& t = r["training"];
  ASSERT_TRUE(t.is_object()) << r.dump(2);
  EXPECT_EQ(t["trainee"], "ada");
  EXPECT_EQ(t["hints_used"], 1);
  EXPECT_EQ(t["hints"][0]["asked"], true);
  ASSERT_TRUE(t["acknowledged_after_ms"].is_number_integer()) << t.dump();
  ASSERT_TRUE(t["recovered_after_ms"].is_number_integer()) << t.dump();
  EXPECT_LT(t["acknowledged_after_ms"].get<int64_t>(), t["recovered_after_ms"].get<int64_t>());
  EXPECT_EQ(r["metrics"]["acknowledged_after_ms"], t["acknowledged_after_ms"]);
  EXPECT_EQ(r["metrics"]["recovered_after_ms"], t["recovered_after_ms"]);
  // The debrief's figures are the report's.
  EXPECT_NE(screen.find("- acknowledged after: " +
                        HumanMillis(t["acknowledged_after_ms"].get<int64_t>())),
            std::string::npos)
      << screen;
  EXPECT_NE(
      screen.find("- recovered after: " + HumanMillis(t["recovered_after_ms"].get<int64_t>())),
      std::string::npos)
      << screen;
  EXPECT_TRUE(fs::exists(dir / "report/debrief.md"));
  // Nothing healed it but the trainee: no remediation ran, and the fault was still in
  // place when they repaired it (its rollback found the ballast gone).
  for (const auto& e : r["timeline"]) EXPECT_NE(e["type"], "remediation.run") << e.dump();
  EXPECT_NE(r["faults"][0]["detail"].get<std::string>().find("ballast"), std::string::npos);
  ExpectAllRolledBack(r, workdir);
}

TEST(TrainTest, GivingUpRollsEverythingBackAndExitsThree) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  Tmux tmux(dir);
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, DrillFile())));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  ", &screen)) << screen;
  const std::string workdir = WorkdirOn(screen);
  ASSERT_FALSE(workdir.empty()) << screen;
  // The disk really is full while the trainee looks at it.
  struct statvfs st {};
  ASSERT_EQ(statvfs((workdir + "/disk").c_str(), &st), 0);
  EXPECT_LT(st.f_bavail * st.f_frsize, 64u * 1024) << "free bytes on the full disk";

  tmux.Type("train", "q");
  auto code = WaitForExit(dir);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 3) << tmux.Screen("train");
  ASSERT_TRUE(tmux.WaitFor("train", "# Debrief", &screen)) << screen;
  EXPECT_NE(screen.find("stopped before recovery (the trainee gave up)"), std::string::npos)
      << screen;
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report);
  EXPECT_EQ((*report)["verdict"], "aborted");
  EXPECT_EQ((*report)["training"]["gave_up"], true);
  EXPECT_TRUE((*report)["training"]["recovered_after_ms"].is_null());
  for (const auto& f : (*report)["faults"]) EXPECT_EQ(f["rollback"], "ok") << f.dump();
  ExpectAllRolledBack(*report, workdir);
}

// A declaration while the disk is still full is false and says which check fails; a hint
// shows up by itself at its `after`; `r` shows the runbook, `n` takes a note; and once
// repaired, a declaration is true.
TEST(TrainTest, DeclarationsHintsByThemselvesTheRunbookAndNotes) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  // The shipped drill with its first hint after 2 s instead of a minute.
  std::string text = ReadFile(DrillFile());
  const std::string from = "{after: 1m, text:";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "{after: 2s, text:");
  const std::string drill = dir / "training-disk-full.yaml";
  std::ofstream(drill) << text;
  fs::create_directories(dir / "scenarios/runbooks");
  fs::copy_file(std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/runbooks/training-disk-full.md",
                dir / "scenarios/runbooks/training-disk-full.md");

  Tmux tmux(dir);
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, drill)));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  ", &screen)) << screen;
  const std::string workdir = WorkdirOn(screen);
  tmux.Type("train", "d");
  ASSERT_TRUE(
      tmux.WaitFor("train", "declared fixed: not fixed (still failing: writes-accepted)", &screen))
      << screen;
  ASSERT_TRUE(tmux.WaitFor("train", "HINT 1/3  after 2s: Read the Redis log", &screen)) << screen;
  tmux.Type("train", "r");
  ASSERT_TRUE(tmux.WaitFor("train", "----- runbook -----", &screen)) << screen;
  EXPECT_NE(screen.find("# Runbook: Redis refuses writes, disk full"), std::string::npos) << screen;
  tmux.Type("train", "n");
  tmux.Type("train", "df says 100%");
  ASSERT_TRUE(tmux.WaitFor("train", "note (Enter ends): df says 100%", &screen)) << screen;
  tmux.Enter("train");
  ASSERT_TRUE(tmux.WaitFor("train", "] note: df says 100%", &screen)) << screen;

  tmux.Run("new-window -t train -n fix");
  tmux.Type("train:fix", "rm " + workdir + "/disk/.firedrill-ballast-*");
  tmux.Enter("train:fix");
  // Once writes are accepted again (Redis retries its log every second), it is fixed.
  const std::string cli = "redis-cli -p " + [&] {
    std::smatch m;
    std::regex_search(screen, m, std::regex(R"(ports redis=(\d+))"));
    return std::string(m[1]);
  }() + " SET k v";
  for (int i = 0; i < 100; ++i) {
    auto r = RunShell({.script = cli, .cwd = "/", .timeout = Millis(2000)});
    if (r.ok() && r->out.find("OK") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a steady-state sample
  tmux.Type("train:0", "d");  // the trainee's window: "train" is the fix window now
  auto code = WaitForExit(dir);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << tmux.Screen("train:0");
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report);
  const nlohmann::json& t = (*report)["training"];
  EXPECT_EQ(t["declarations"]["false"], 1) << t.dump();
  EXPECT_EQ(t["declarations"]["true"], 1) << t.dump();
  ASSERT_EQ(t["notes"].size(), 1u) << t.dump();
  EXPECT_EQ(t["notes"][0]["text"], "df says 100%");
  EXPECT_TRUE(t["first_note_after_ms"].is_number_integer()) << t.dump();
  ASSERT_GE(t["hints"].size(), 1u) << t.dump();
  EXPECT_EQ(t["hints"][0]["asked"], false);
  EXPECT_EQ(t["hints"][0]["hint"], 1);
  // The note is in the postmortem's timeline too.
  EXPECT_NE(ReadFile(dir / "report/postmortem.md").find("df says 100%"), std::string::npos);
  ExpectAllRolledBack(*report, workdir);
}

// The same drill under `run` heals itself: the ballast goes at the end of its duration,
// Redis takes writes again, and the drill passes, as every drill of the library must.
TEST(TrainTest, TheTrainingDrillUnderRunHealsItselfAndPasses) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  auto run = RunKept(DrillFile(), dir);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->cli.exit_code, 0) << Output(run->cli);
  const nlohmann::json& r = run->report;
  EXPECT_EQ(r["mode"], "run");
  EXPECT_EQ(r["verdict"], "passed") << r["reasons"].dump();
  EXPECT_FALSE(r.contains("training"));
  ASSERT_TRUE(r["metrics"]["recovered_after_ms"].is_number_integer());
  // Not before the ballast went (8 s), as nothing else frees the disk.
  EXPECT_GE(r["metrics"]["recovered_after_ms"].get<int64_t>(), 8000);
  EXPECT_NE(r["faults"][0]["rollback"], "failed");
  ExpectNothingSurvives(r, 1);
  EXPECT_FALSE(Mounted(run->workdir + "/disk"));
}

}  // namespace
}  // namespace firedrill::testing
