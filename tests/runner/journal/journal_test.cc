// The rollback journal on a real filesystem: durable lines, torn tails, locking between a
// live run and `firedrill rollback`, idempotent replay.
#include "runner/journal/journal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "injectors/fault_registry.h"
#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

// A `command` undo whose effect the test can see: it appends a line to a file.
nlohmann::json AppendTo(const std::string& file, const std::string& word) {
  return {{"run", "echo " + word + " >> " + file}, {"cwd", "/"}, {"timeout_ms", 5000}};
}

TEST(JournalTest, RecordsUndoesAndClosesInOrder) {
  TempDir dir;
  const std::string log = dir / "undo.log";
  auto j = Journal::Create(dir / "runs/r1", {{"run", "r1"}}, FaultUndoKinds());
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  auto a = (*j)->Intend("fault a", "command", AppendTo(log, "a"));
  auto b = (*j)->Intend("fault b", "command", AppendTo(log, "b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*j)->Pending().size(), 2u);
  EXPECT_EQ((*j)->Pending()[0].owner, "fault b");  // newest first
  auto u = (*j)->Undo(*b, UndoContext{Env::Default()});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  // Undoing twice runs nothing twice: the recorded detail comes back.
  auto again = (*j)->Undo(*b, UndoContext{Env::Default()});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *u);
  EXPECT_EQ(ReadFile(log), "b\n");
  EXPECT_FALSE((*j)->Close().ok()) << "closed with an entry still pending";
  ASSERT_TRUE((*j)->Done(*a, "done by hand").ok());
  ASSERT_TRUE((*j)->Close().ok());
  EXPECT_TRUE((*j)->closed());
  EXPECT_TRUE(UnfinishedJournals(dir.path()).empty());
  // The file says it all, one JSON line each, in order.
  std::ifstream in((*j)->path());
  std::vector<std::string> ops;
  for (std::string line; std::getline(in, line);) {
    ops.push_back(nlohmann::json::parse(line)["op"]);
  }
  EXPECT_EQ(ops, (std::vector<std::string>{"open", "intend", "intend", "done", "done", "close"}));
  struct stat st {};
  ASSERT_EQ(::stat((*j)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the journal holds commands: owner only";
}

TEST(JournalTest, ALiveRunIsNeverReplayedAndADeadOneIs) {
  TempDir dir;
  const std::string log = dir / "undo.log";
  std::string path;
  {
    auto j = Journal::Create(dir / "runs/r1", {{"run", "r1"}}, FaultUndoKinds());
    ASSERT_TRUE(j.ok());
    path = (*j)->path();
    ASSERT_TRUE((*j)->Intend("fault a", "command", AppendTo(log, "a")).ok());
    ASSERT_EQ(UnfinishedJournals(dir.path()), std::vector<std::string>{path});
    // While the run holds its journal, rollback keeps its hands off.
    ReplayResult live = ReplayJournal(path, FaultUndoKinds(), UndoContext{Env::Default()});
    EXPECT_TRUE(live.skipped_live);
    EXPECT_FALSE(live.complete);
    EXPECT_FALSE(fs::exists(log));
  }  // the run "dies": its lock goes with it
  ReplayResult r = ReplayJournal(path, FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.left.empty());
  EXPECT_EQ(ReadFile(log), "a\n");
  ReplayResult twice = ReplayJournal(path, FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(twice.complete);
  EXPECT_EQ(twice.lines,
            std::vector<std::string>{"nothing to undo: the run finished its rollback"});
  EXPECT_EQ(ReadFile(log), "a\n");
  EXPECT_TRUE(UnfinishedJournals(dir.path()).empty());
}

TEST(JournalTest, ATornLastLineIsIgnoredAndTheRestReplayed) {
  TempDir dir;
  const std::string log = dir / "undo.log";
  std::string path;
  {
    auto j = Journal::Create(dir / "runs/r1", {{"run", "r1"}}, FaultUndoKinds());
    ASSERT_TRUE(j.ok());
    path = (*j)->path();
    ASSERT_TRUE((*j)->Intend("fault a", "command", AppendTo(log, "a")).ok());
  }
  // A crash in the middle of the next line: its change was never made.
  {
    std::ofstream out(path, std::ios::app);
    out << R"({"op":"intend","id":2,"owner":"fault b","kind":"comm)";
  }
  ReplayResult r = ReplayJournal(path, FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(r.complete) << ::testing::PrintToString(r.left);
  EXPECT_EQ(ReadFile(log), "a\n");
  // The journal is still well-formed JSON lines after the torn one.
  ReplayResult again = ReplayJournal(path, FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(again.complete);
}

// A run killed between creating its run directory and renaming its journal into place
// (seen under ASan: SIGKILL 64 ms in) changed nothing; rollback removes what it left and
// says so, and never what a run still starting is using.
TEST(JournalTest, ARunKilledBeforeItsJournalExistedIsRemovedNotReported) {
  TempDir dir;
  const fs::path runs = fs::path(dir.path()) / "runs";
  {
    auto j = Journal::Create((runs / "made").string(), {{"run", "made"}}, FaultUndoKinds());
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    // Only the finished journal is there, header first.
    EXPECT_FALSE(fs::exists(runs / "made/journal.creating"));
    const std::string text = ReadFile((runs / "made/journal").string());
    EXPECT_EQ(nlohmann::json::parse(text.substr(0, text.find('\n')))["op"], "open");
  }
  // Killed before its header was written, or after but before the rename.
  fs::create_directories(runs / "dead-empty");
  std::ofstream(runs / "dead-empty/journal.creating").close();
  fs::create_directories(runs / "dead-header");
  std::ofstream(runs / "dead-header/journal.creating") << R"({"op":"open","run":"x"})"
                                                       << "\n";
  // A run still starting: its temporary journal is locked.
  fs::create_directories(runs / "starting");
  const std::string starting = (runs / "starting/journal.creating").string();
  int fd = ::open(starting.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  // Killed even before its journal was opened: an empty directory, old or just made.
  fs::create_directories(runs / "old-dir");
  fs::last_write_time(runs / "old-dir", fs::file_time_type::clock::now() - std::chrono::minutes(5));
  fs::create_directories(runs / "new-dir");

  EXPECT_EQ(
      RemoveAbandonedRuns(dir.path()),
      (std::vector<std::string>{(runs / "dead-empty").string(), (runs / "dead-header").string(),
                                (runs / "old-dir").string()}));
  EXPECT_TRUE(fs::exists(runs / "starting/journal.creating"));
  EXPECT_TRUE(fs::exists(runs / "new-dir"));
  EXPECT_TRUE(fs::exists(runs / "made/journal"));
  EXPECT_EQ(UnfinishedJournals(dir.path()),
            std::vector<std::string>{(runs / "made/journal").string()});
  ::close(fd);  // the starting run dies too
  EXPECT_EQ(RemoveAbandonedRuns(dir.path()),
            std::vector<std::string>{(runs / "starting").string()});

  // The command says what it removed and exits 0.
  fs::create_directories(runs / "dead-cli");
  std::ofstream(runs / "dead-cli/journal.creating").close();
  CliResult r = RunFiredrill({"rollback", "--state-dir", dir.path()}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find((runs / "dead-cli").string() +
                       "\n  removed: the run died before its journal was written; it changed "
                       "nothing\n"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(runs / "dead-cli"));
}

TEST(JournalTest, NotAJournalIsRefusedWithoutTouchingAnything) {
  TempDir dir;
  fs::create_directories(dir / "runs/x");
  WriteFile(dir / "runs/x/journal", "hello\nworld\n");
  ReplayResult r =
      ReplayJournal(dir / "runs/x/journal", FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.left.size(), 1u);
  EXPECT_NE(r.left[0].find("not a journal line"), std::string::npos) << r.left[0];
  EXPECT_EQ(ReadFile(dir / "runs/x/journal"), "hello\nworld\n");
}

TEST(JournalTest, AFailedUndoStaysPendingAndIsReportedAsLeft) {
  TempDir dir;
  std::string path;
  {
    auto j = Journal::Create(dir / "runs/r1", {{"run", "r1"}}, FaultUndoKinds());
    ASSERT_TRUE(j.ok());
    path = (*j)->path();
    ASSERT_TRUE(
        (*j)->Intend("fault stuck", "command",
                     {{"run", "echo cannot >&2; exit 3"}, {"cwd", "/"}, {"timeout_ms", 5000}})
            .ok());
  }
  ReplayResult r = ReplayJournal(path, FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.left.size(), 1u);
  EXPECT_EQ(r.left[0], "fault stuck: command: `echo cannot >&2; exit 3`: exit 3: cannot");
  EXPECT_EQ(UnfinishedJournals(dir.path()), std::vector<std::string>{path});
}

TEST(JournalTest, RollbackCommandReplaysEveryUnfinishedJournal) {
  TempDir dir;
  const std::string log = dir / "undo.log";
  for (const char* run : {"r1", "r2"}) {
    auto j = Journal::Create(dir / "state/runs/" + run, {{"run", run}}, FaultUndoKinds());
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Intend(std::string("fault ") + run, "command", AppendTo(log, run)).ok());
  }
  CliResult r = RunFiredrill({"rollback", "--state-dir", dir / "state"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string undone = ReadFile(log);
  EXPECT_NE(undone.find("r1\n"), std::string::npos);
  EXPECT_NE(undone.find("r2\n"), std::string::npos);
  EXPECT_EQ(undone.size(), 6u);
  CliResult again = RunFiredrill({"rollback", "--state-dir", dir / "state"}, dir.path());
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out,
            "nothing to roll back (no unfinished journal in " + dir.path() + "/state/runs)\n");
}

}  // namespace
}  // namespace firedrill::testing
