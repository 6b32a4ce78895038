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

std::string Drill(const std::string& name) {
  return std::string(FIREDRILL_SOURCE_DIR) + "/scenarios/" + name;
}

// The session's command: firedrill train with the fault at once, its exit code kept.
// `what` is the drill file, or `--random DIR ...`; `history` "" means --no-history.
std::string TrainCommand(const TempDir& dir, const std::string& what,
                         const std::string& history = "") {
  return "cd " + Quote(dir.path()) + " && NO_COLOR=1 TMPDIR=" + Quote(dir.path()) +
         " FIREDRILL_STATE_DIR=" + Quote(dir / "state") + " " + Quote(FIREDRILL_BIN) + " train " +
         what + " --trainee ada --inject-within 0s" +
         (history.empty() ? std::string(" --no-history") : " --history " + Quote(history)) +
         " --report-dir " + Quote(dir / "report") + "; echo $? > " + Quote(dir / "exit");
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
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, Quote(DrillFile()))));
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
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, Quote(DrillFile()))));
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
  // A game master follows in a window of their own.
  ASSERT_TRUE(tmux.Start(
      "gm", "NO_COLOR=1 " + Quote(FIREDRILL_BIN) + " train --observe " + Quote(dir / "report")));
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, Quote(drill))));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  ", &screen)) << screen;
  const std::string workdir = WorkdirOn(screen);
  tmux.Type("train", "a");
  std::string gm;
  ASSERT_TRUE(tmux.WaitFor("gm", "trainee.acknowledged", &gm)) << gm;
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

// The training drills under `run` heal themselves (remediation, or the faults' durations)
// and pass, as every drill of the library must.
TEST(TrainTest, TheTrainingDrillsUnderRunHealThemselvesAndPass) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  struct Case {
    const char* file;
    size_t ports;
    int64_t not_before_ms;  // what heals it comes no sooner
  };
  for (const Case& c :
       {Case{"training-redis-killed.yaml", 1, 0}, Case{"training-disk-full.yaml", 1, 8000},
        Case{"training-config-drift.yaml", 2, 5000}}) {
    SCOPED_TRACE(c.file);
    TempDir dir;
    auto run = RunKept(Drill(c.file), dir);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->cli.exit_code, 0) << Output(run->cli);
    const nlohmann::json& r = run->report;
    EXPECT_EQ(r["mode"], "run");
    EXPECT_EQ(r["verdict"], "passed") << r["reasons"].dump();
    EXPECT_FALSE(r.contains("training"));
    ASSERT_TRUE(r["metrics"]["recovered_after_ms"].is_number_integer());
    EXPECT_GE(r["metrics"]["recovered_after_ms"].get<int64_t>(), c.not_before_ms);
    for (const auto& f : r["faults"]) EXPECT_NE(f["rollback"], "failed") << f.dump();
    ExpectNothingSurvives(r, c.ports);
    EXPECT_FALSE(Mounted(run->workdir + "/disk"));
  }
}

// The hard drill: one line of the replica's file drifted and a crash made it read it. The
// trainee puts the line back and restarts the replica through `firedrill ctl`.
TEST(TrainTest, TheHardDriftIsRepairedByFixingTheFileAndRestartingTheReplica) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  Tmux tmux(dir);
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, Quote(Drill("training-config-drift.yaml")))));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  replica-link-down", &screen)) << screen;
  const std::string workdir = WorkdirOn(screen);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(screen, m, std::regex(R"(ports primary=(\d+))"))) << screen;
  const std::string primary = m[1];
  // The drift is really in the file the replica reads.
  EXPECT_NE(ReadFile(workdir + "/replica.conf").find("replicaof 127.0.0.1 1\n"), std::string::npos);
  tmux.Run("new-window -t train -n fix");
  tmux.Type("train:fix", "sed -i 's/^replicaof .*/replicaof 127.0.0.1 " + primary + "/' " +
                             Quote(workdir + "/replica.conf") + " && " + Quote(FIREDRILL_BIN) +
                             " ctl " + Quote(dir / "report") + " restart replica; echo CTL=$?");
  tmux.Enter("train:fix");
  ASSERT_TRUE(tmux.WaitFor("train:fix", "CTL=0", &screen, Millis(30000))) << screen;
  EXPECT_NE(screen.find("ok: stopped, then started"), std::string::npos) << screen;
  auto code = WaitForExit(dir);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << tmux.Screen("train:0");
  auto r = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["mode"], "train");
  for (const auto& f : (*r)["faults"]) EXPECT_EQ(f["rollback"], "ok") << f.dump();
  // The file as the session found it: the kept copy is the restored original.
  EXPECT_NE(ReadFile(dir / "report/artifacts/replica.conf").find("replicaof 127.0.0.1 " + primary),
            std::string::npos);
  ExpectNothingSurvives(*r, 2);
  EXPECT_FALSE(fs::exists(workdir));
}

// The easy drill: Redis is killed and nothing restarts it. The trainee restarts it with
// `firedrill ctl` from a second window, as with systemctl, while a game master follows
// the session with `--observe` in a third; the session goes into the history, and
// `history --trainee` shows it.
TEST(TrainTest, CtlStartsTheKilledServiceObserveFollowsAndTheHistoryKeepsTheTrainee) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  Tmux tmux(dir);
  const std::string history = dir / "history.db";
  const std::string report = dir / "report";
  // The game master first: --observe waits for the session to begin.
  ASSERT_TRUE(tmux.Start("gm", "NO_COLOR=1 " + Quote(FIREDRILL_BIN) + " train --observe " +
                                   Quote(report) + "; echo $? > " + Quote(dir / "observe-exit")));
  ASSERT_TRUE(
      tmux.Start("train", TrainCommand(dir, Quote(Drill("training-redis-killed.yaml")), history)));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  redis-down", &screen)) << screen;
  EXPECT_NE(screen.find("firedrill ctl " + report + " status|stop|start|restart"),
            std::string::npos)
      << screen;
  tmux.Type("train", "a");
  ASSERT_TRUE(tmux.WaitFor("train", "acknowledged after", &screen)) << screen;

  // The trainee's second terminal: status, then start.
  const std::string ctl = Quote(FIREDRILL_BIN) + " ctl " + Quote(report);
  tmux.Run("new-window -t train -n fix");
  tmux.Type("train:fix", ctl + " status redis; " + ctl + " start redis; echo CTL=$?");
  tmux.Enter("train:fix");
  ASSERT_TRUE(tmux.WaitFor("train:fix", "CTL=0", &screen, Millis(30000))) << screen;
  EXPECT_NE(screen.find("ok: stopped"), std::string::npos) << screen;
  EXPECT_NE(screen.find("ok: started, process group"), std::string::npos) << screen;

  ASSERT_TRUE(tmux.WaitFor("train:0", "# Debrief: training-redis-killed (ada)", &screen)) << screen;
  const std::string workdir = WorkdirOn(screen);
  auto code = WaitForExit(dir);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << screen;
  // The game master saw the fault, the acknowledgement and the restart, and their view
  // ended with the session.
  std::string gm;
  ASSERT_TRUE(tmux.WaitFor("gm", "trainee.ctl", &gm)) << gm;
  EXPECT_NE(gm.find("fault.injected"), std::string::npos) << gm;
  EXPECT_NE(gm.find("trainee.acknowledged"), std::string::npos) << gm;
  std::optional<int> observed;
  for (int i = 0; i < 100 && !observed; ++i) {
    std::ifstream in(dir / "observe-exit");
    int c = -1;
    if (in >> c) observed = c;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(observed, std::optional<int>(0)) << tmux.Screen("gm");

  auto r = ReadJson(report + "/report.json");
  ASSERT_TRUE(r);
  bool started = false;
  for (const auto& e : (*r)["timeline"]) {
    if (e["type"] == "trainee.ctl" && e["name"] == "redis") {
      started |= e["detail"].get<std::string>().rfind("start: ok: started", 0) == 0;
    }
    EXPECT_NE(e["type"], "remediation.run") << e.dump();
  }
  EXPECT_TRUE(started) << (*r)["timeline"].dump(1);
  // The copy the trainee started is the session's: stopped at teardown, nothing left.
  ExpectNothingSurvives(*r, 1);
  EXPECT_TRUE((*r)["leftovers"].empty()) << (*r)["leftovers"].dump();
  EXPECT_FALSE(fs::exists(report + "/ctl.sock"));
  EXPECT_FALSE(workdir.empty());
  EXPECT_FALSE(fs::exists(workdir));
  // The events file has the whole session, one event a line.
  EXPECT_NE(ReadFile(report + "/events.jsonl").find("\"type\":\"trainee.ctl\""), std::string::npos);

  CliResult h = RunFiredrill({"history", "--trainee", "ada", "--history", history}, dir.path());
  EXPECT_EQ(h.exit_code, 0) << Output(h);
  EXPECT_NE(h.out.find("ada: 1 training session"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("training-redis-killed"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("in time"), std::string::npos) << h.out;
  CliResult nobody =
      RunFiredrill({"history", "--trainee", "nobody", "--history", history}, dir.path());
  EXPECT_EQ(nobody.exit_code, 2) << Output(nobody);
}

// `--random` draws only a drill of the level asked for, among the directory's training
// drills (a drill not tagged training is never drawn), and names it only after.
TEST(TrainTest, RandomDrawsTheLevelAskedAndNamesTheDrillOnlyAfterTheSession) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  fs::create_directories(dir / "wheel");
  for (const char* f : {"training-redis-killed.yaml", "training-disk-full.yaml",
                        "training-config-drift.yaml", "disk-full.yaml"}) {
    fs::copy_file(Drill(f), dir / ("wheel/" + std::string(f)));
  }
  Tmux tmux(dir);
  ASSERT_TRUE(tmux.Start(
      "train", TrainCommand(dir, "--random " + Quote(dir / "wheel") + " --difficulty medium")));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  ", &screen)) << screen;
  EXPECT_NE(screen.find("a drill drawn from " + (dir / "wheel") + " (medium)"), std::string::npos)
      << screen;
  EXPECT_EQ(screen.find("training-disk-full"), std::string::npos) << screen;
  tmux.Type("train", "q");
  auto code = WaitForExit(dir);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 3);
  ASSERT_TRUE(tmux.WaitFor("train", "# Debrief", &screen)) << screen;
  EXPECT_NE(screen.find("The drill drawn was training-disk-full (medium): " +
                        (dir / "wheel/training-disk-full.yaml")),
            std::string::npos)
      << screen;

  // No drill of a level the directory lacks: exit 2, nothing started.
  fs::remove(dir / "wheel/training-redis-killed.yaml");
  CliResult none = RunFiredrill(
      {"train", "--random", dir / "wheel", "--difficulty", "easy", "--no-history"}, dir.path());
  EXPECT_EQ(none.exit_code, 2) << Output(none);
  EXPECT_NE(none.err.find("no drill in " + (dir / "wheel") + " is tagged training and easy"),
            std::string::npos)
      << none.err;
}

// A trainee who starts Redis by hand instead (a daemon of their own, not the session's
// service): the session is repaired all the same, and at its end that daemon is found
// (born during the session, listening on its port), stopped and named on the timeline.
TEST(TrainTest, WhatTheTraineeStartsByHandIsStoppedAndNamed) {
  if (auto why = Unsupported(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  Tmux tmux(dir);
  ASSERT_TRUE(tmux.Start("train", TrainCommand(dir, Quote(Drill("training-redis-killed.yaml")))));
  std::string screen;
  ASSERT_TRUE(tmux.WaitFor("train", "PAGE  redis-down", &screen)) << screen;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(screen, m, std::regex(R"(ports redis=(\d+))"))) << screen;
  const std::string port = m[1];
  const std::string pidfile = dir / "by-hand.pid";
  tmux.Run("new-window -t train -n fix");
  tmux.Type("train:fix", "redis-server --port " + port +
                             " --bind 127.0.0.1 --save '' --daemonize yes --pidfile " +
                             Quote(pidfile) + "; echo STARTED=$?");
  tmux.Enter("train:fix");
  ASSERT_TRUE(tmux.WaitFor("train:fix", "STARTED=0", &screen, Millis(20000))) << screen;
  // Read while it runs: Redis removes its pidfile when it is stopped.
  std::optional<pid_t> pid;
  for (int i = 0; i < 100 && !pid; ++i) {
    pid = ReadPid(pidfile);
    if (!pid) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(pid);
  PidReaper reaper;  // whatever the outcome, the daemon goes
  reaper.Watch(*pid);
  auto code = WaitForExit(dir);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << tmux.Screen("train:0");
  auto r = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(r);
  bool named = false;
  for (const auto& e : (*r)["timeline"]) {
    if (e["type"] == "trainee.process_stopped" && e["name"] == std::to_string(*pid)) {
      named = e["detail"].get<std::string>().rfind("redis-server", 0) == 0;
    }
  }
  EXPECT_TRUE(named) << (*r)["timeline"].dump(1);
  EXPECT_TRUE(Gone(*pid));
  ExpectNothingSurvives(*r, 1);
  EXPECT_TRUE((*r)["leftovers"].empty()) << (*r)["leftovers"].dump();
}

}  // namespace
}  // namespace firedrill::testing
