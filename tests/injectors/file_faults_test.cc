// file.corrupt and file.delete on real files on a tmpfs: each mode's bytes against a
// reference computed here from the documented algorithm, the original restored byte for
// byte with mode, owner and mtime, refusals outside allow_paths, and a crashed run's
// journal replayed by a fresh process's code path.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <filesystem>
#include <random>
#include <set>

#include "injectors/fault_registry.h"
#include "runner/base/sha256.h"
#include "tests/injectors/file_fixture.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

std::string Original() {
  std::string s(4096, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>((i * 7 + 3) % 256);
  return s;
}

// The documented damage, written out again for comparison.
std::string RefFlip(std::string d, uint64_t off, uint64_t len, uint64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<uint64_t> bits;
  while (bits.size() < count) bits.insert(rng() % (len * 8));
  for (uint64_t b : bits) d[off + b / 8] = static_cast<char>(d[off + b / 8] ^ (1 << (b % 8)));
  return d;
}

std::string RefGarbage(std::string d, uint64_t off, uint64_t len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < len; i += 8) {
    uint64_t w = rng();
    for (uint64_t k = 0; k < 8 && i + k < len; ++k) {
      d[off + i + k] = static_cast<char>(w >> (8 * k));
    }
  }
  return d;
}

int DifferingBits(const std::string& a, const std::string& b) {
  int n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    n += std::popcount(static_cast<unsigned>(static_cast<unsigned char>(a[i] ^ b[i])));
  }
  return n;
}

struct FileFixture : TmpfsFixture {
  std::string target = *this / "a.db";
  Meta meta;
  void SetUp() {
    WriteFile(target, Original());
    SetDistinctMeta(target);
    meta = MetaOf(target);
  }
  // Restored: same bytes, same metadata, no temporary file left beside it.
  void ExpectRestored(const std::vector<std::string>& listing = {"a.db"}) {
    EXPECT_EQ(Sha256::HexOf(ReadFile(target)), Sha256::HexOf(Original()));
    EXPECT_EQ(MetaOf(target), meta);
    EXPECT_EQ(Listing(fx.workdir), listing);
  }
};

#define FD_FILE_FIXTURE(t)         \
  FileFixture t;                   \
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs); \
  t.SetUp()

// Injects file.corrupt with `with`, checks the damage is `want` (and what the fault says
// of it, in words and in figures) and the rollback.
void CorruptAndRestore(FileFixture& t, const std::string& with, const std::string& want,
                       const std::string& want_detail, const FaultFigures& want_figures) {
  auto fault = MakeFault("file.corrupt", with, t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected, want_detail);
  EXPECT_EQ((*fault)->figures(), want_figures);
  EXPECT_EQ(ReadFile(t.target), want);
  EXPECT_EQ(MetaOf(t.target).ino, t.meta.ino) << "corrupted in place";
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(*rolled, "restored " + t.target + " (4.0KiB, sha256 " +
                         Sha256::HexOf(Original()).substr(0, 12) + "...)");
  t.ExpectRestored();
}

TEST(FileCorruptTest, FlipFlipsExactlyTheSeededBits) {
  FD_FILE_FIXTURE(t);
  const std::string want = RefFlip(Original(), 100, 200, 16, 42);
  EXPECT_EQ(DifferingBits(want, Original()), 16);
  CorruptAndRestore(t,
                    R"({path: "${workdir}/a.db", mode: flip, offset: 100B, length: 200B, count: 16,
                        seed: 42})",
                    want, "flipped 16 bit(s) in bytes 100..299 of a.db (seed 42)",
                    {{"bits_flipped", 16}, {"file_bytes", 4096}});
}

TEST(FileCorruptTest, FlipDefaultsToOneBitAnywhere) {
  FD_FILE_FIXTURE(t);
  CorruptAndRestore(t, R"({path: a.db, seed: 1})", RefFlip(Original(), 0, 4096, 1, 1),
                    "flipped 1 bit(s) in bytes 0..4095 of a.db (seed 1)",
                    {{"bits_flipped", 1}, {"file_bytes", 4096}});
}

TEST(FileCorruptTest, ZeroZeroesTheRange) {
  FD_FILE_FIXTURE(t);
  std::string want = Original();
  std::fill(want.begin() + 1000, want.begin() + 1024, '\0');
  CorruptAndRestore(t, R"({path: "${workdir}/a.db", mode: zero, offset: 1000B, length: 24B})", want,
                    "zeroed bytes 1000..1023 of a.db",
                    {{"bytes_overwritten", 24}, {"file_bytes", 4096}});
}

TEST(FileCorruptTest, ZeroWithoutLengthGoesToTheEnd) {
  FD_FILE_FIXTURE(t);
  std::string want = Original();
  std::fill(want.begin() + 4000, want.end(), '\0');
  CorruptAndRestore(t, R"({path: "${workdir}/a.db", mode: zero, offset: 4000B})", want,
                    "zeroed bytes 4000..4095 of a.db",
                    {{"bytes_overwritten", 96}, {"file_bytes", 4096}});
}

TEST(FileCorruptTest, GarbageWritesTheSeededBytes) {
  FD_FILE_FIXTURE(t);
  const std::string want = RefGarbage(Original(), 10, 13, 7);
  CorruptAndRestore(
      t, R"({path: "${workdir}/a.db", mode: garbage, offset: 10B, length: 13B, seed: 7})", want,
      "random bytes over 10..22 of a.db (seed 7)",
      {{"bytes_overwritten", 13}, {"file_bytes", 4096}});
}

TEST(FileCorruptTest, TruncateCutsAtTheOffset) {
  FD_FILE_FIXTURE(t);
  CorruptAndRestore(t, R"({path: "${workdir}/a.db", mode: truncate, offset: 100B})",
                    Original().substr(0, 100), "truncated a.db from 4096 to 100 bytes",
                    {{"bytes_cut", 3996}, {"file_bytes", 4096}});
}

TEST(FileCorruptTest, WithoutASeedTheDetailNamesOneThatReproducesTheDamage) {
  FD_FILE_FIXTURE(t);
  auto fault = MakeFault("file.corrupt", R"({path: a.db, mode: garbage, length: 64B})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  const std::string prefix = "random bytes over 0..63 of a.db (seed ";
  ASSERT_TRUE(injected->starts_with(prefix)) << *injected;
  const uint64_t seed = std::stoull(injected->substr(prefix.size()));
  EXPECT_EQ(ReadFile(t.target), RefGarbage(Original(), 0, 64, seed));
  ASSERT_TRUE((*fault)->Rollback().ok());
  t.ExpectRestored();
}

TEST(FileCorruptTest, TheOriginalIsSavedOutsideTheTargetDirectoryBeforeTheDamage) {
  FD_FILE_FIXTURE(t);
  auto fault = MakeFault("file.corrupt", R"({path: a.db, mode: zero, seed: 1})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  ASSERT_TRUE((*fault)->Inject().ok());
  auto entries = t.fx.journal->Entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "file.restore");
  const auto& a = entries[0].args;
  EXPECT_EQ(a["path"], t.target);
  EXPECT_EQ(a["mode"], 0640);
  EXPECT_EQ(a["uid"], 1234);
  EXPECT_EQ(a["gid"], 5678);
  EXPECT_EQ(a["mtime_ns"], int64_t{1600000000123456789});
  EXPECT_EQ(a["size"], 4096);
  EXPECT_EQ(a["sha256"], Sha256::HexOf(Original()));
  const std::string saved = a["saved"];
  EXPECT_TRUE(saved.starts_with(t.fx.state_dir + "/runs/test/saved/")) << saved;
  EXPECT_EQ(ReadFile(saved), Original());
  EXPECT_EQ(Listing(t.fx.workdir), std::vector<std::string>{"a.db"});
  ASSERT_TRUE((*fault)->Rollback().ok());
}

TEST(FileCorruptTest, ARangeOutsideTheFileFailsAndChangesNothing) {
  FD_FILE_FIXTURE(t);
  WriteFile(t / "empty", "");
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);  // opening it would block
  struct Case {
    std::string with, message;
  } cases[] = {
      {R"({path: a.db, mode: zero, offset: 4096B})", "offset 4096 is not inside a.db (4096 bytes)"},
      {R"({path: a.db, mode: truncate, offset: 5000B})",
       "offset 5000 is not inside a.db (4096 bytes)"},
      {R"({path: a.db, mode: garbage, offset: 4000B, length: 97B})",
       "bytes 4000+97 are not inside a.db (4096 bytes)"},
      {R"({path: a.db, mode: flip, length: 1B, count: 9})",
       "cannot flip 9 distinct bits in 1 bytes"},
      {R"({path: empty})", "offset 0 is not inside empty (0 bytes)"},
      {R"({path: missing})", t.fx.workdir + "/missing does not exist"},
      {R"({path: "${workdir}"})", t.fx.workdir + " is not a regular file"},
      {R"({path: fifo})", t.fx.workdir + "/fifo is not a regular file"},
  };
  for (const auto& c : cases) {
    auto fault = MakeFault("file.corrupt", c.with, t.fx.ctx);
    ASSERT_TRUE(fault.ok()) << c.with;
    auto injected = (*fault)->Inject();
    ASSERT_FALSE(injected.ok()) << c.with;
    EXPECT_EQ(injected.status().message(), c.message);
  }
  EXPECT_EQ(ReadFile(t.target), Original());
  EXPECT_TRUE(t.fx.journal->Entries().empty());
}

TEST(FileCorruptTest, TruncateTakesNoLength) {
  EXPECT_EQ(LoadError("file.corrupt", R"({path: a, mode: truncate, length: 1B})"),
            "fault 'f': mode truncate cuts at `offset`; it takes no length");
}

// A program that is running cannot be opened for writing (ETXTBSY): in place, the fault
// fails and changes nothing; `write: rename` damages a copy and renames it over the file,
// as dpkg does. The running process keeps the old inode; the file on disk is the damaged
// one until the rollback renames the original back.
TEST(FileCorruptTest, ARunningProgramIsOverwrittenOnlyByRename) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  const std::string prog = t / "prog";
  fs::copy_file("/bin/sleep", prog);
  ::chmod(prog.c_str(), 0755);
  const std::string pristine = Sha256::HexOf(ReadFile(prog));
  pid_t pid = fork();
  if (pid == 0) {
    execl(prog.c_str(), prog.c_str(), "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{pid};
  // Running once /proc says the program is its executable.
  for (int i = 0; i < 500 && fs::read_symlink("/proc/" + std::to_string(pid) + "/exe") != prog;
       ++i) {
    usleep(2000);
  }
  ASSERT_EQ(fs::read_symlink("/proc/" + std::to_string(pid) + "/exe"), prog);
  const ino_t running = MetaOf(prog).ino;

  auto in_place = MakeFault("file.corrupt", R"({path: prog, mode: zero, length: 64B})", t.fx.ctx);
  ASSERT_TRUE(in_place.ok());
  auto refused = (*in_place)->Inject();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "cannot open " + prog +
                ": text file busy: it is a running program; `write: rename` overwrites it as dpkg "
                "does");
  EXPECT_EQ(Sha256::HexOf(ReadFile(prog)), pristine);
  EXPECT_TRUE(t.fx.journal->Pending().empty());

  auto fault = MakeFault("file.corrupt", R"({path: prog, mode: zero, length: 64B, write: rename})",
                         t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected,
            "zeroed bytes 0..63 of prog, written as a new file renamed over it (as dpkg installs "
            "one)");
  const std::string damaged = ReadFile(prog);
  EXPECT_EQ(damaged.substr(0, 64), std::string(64, '\0'));
  EXPECT_EQ(damaged.substr(64), ReadFile("/bin/sleep").substr(64));
  EXPECT_NE(MetaOf(prog).ino, running) << "a new file, not the running one";
  EXPECT_EQ(MetaOf(prog).mode & 07777, 0755u);
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").string(), prog + " (deleted)")
      << "the process still runs the old file";
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_EQ(Listing(t.fx.workdir), std::vector<std::string>{"prog"}) << "no temporary left";
  // The damaged program cannot start.
  EXPECT_NE(std::system((prog + " 0 2>/dev/null").c_str()), 0);

  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(Sha256::HexOf(ReadFile(prog)), pristine);
  EXPECT_EQ(std::system((prog + " 0").c_str()), 0) << "the restored program starts again";
}

TEST(FileDeleteTest, DeletedThenRestoredWithItsMetadata) {
  FD_FILE_FIXTURE(t);
  auto fault = MakeFault("file.delete", R"({path: "${workdir}/a.db"})", t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected, "deleted a.db (a copy is saved in the journal)");
  EXPECT_EQ((*fault)->figures(), (FaultFigures{{"file_bytes", 4096}}));
  EXPECT_FALSE(fs::exists(t.target));
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  t.ExpectRestored();
  // Rolling back once more is the journal's recorded answer, not a second restore.
  auto again = (*fault)->Rollback();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *rolled);
}

TEST(FileDeleteTest, AMissingFileFailsWithoutAJournalEntry) {
  FD_FILE_FIXTURE(t);
  auto fault = MakeFault("file.delete", R"({path: nothing-here})", t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << "the file may be created later by a service";
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.status().message(), t.fx.workdir + "/nothing-here does not exist");
  EXPECT_TRUE(t.fx.journal->Entries().empty());
}

TEST(FileDestroyTest, ATreeIsGoneForGoodAndNothingIsJournaled) {
  FD_FILE_FIXTURE(t);
  fs::create_directories(t / "pgdata/base/1");
  WriteFile(t / "pgdata/PG_VERSION", "15\n");
  WriteFile(t / "pgdata/base/1/16384", std::string(8192, 'x'));
  TempDir outside;
  WriteFile(outside / "keep", "keep");
  // A symlink inside the tree is removed, never followed.
  fs::create_symlink(outside / "keep", t / "pgdata/link");
  auto fault = MakeFault("file.destroy", R"({path: "${workdir}/pgdata"})", t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  EXPECT_FALSE((*fault)->Reversible());
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected,
            "destroyed pgdata (6 entries, 8195 bytes of files); nothing was saved: it is not "
            "rolled back");
  EXPECT_EQ((*fault)->figures(),
            (FaultFigures{{"bytes_removed", 8195}, {"entries_removed", 6}, {"files_removed", 2}}));
  EXPECT_FALSE(fs::exists(t / "pgdata"));
  EXPECT_EQ(ReadFile(outside / "keep"), "keep");
  EXPECT_TRUE(t.fx.journal->Entries().empty());
  // A second injection finds nothing to destroy.
  auto again = (*fault)->Inject();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "pgdata does not exist");
}

TEST(FileDestroyTest, TheWorkdirItselfAndPathsOutsideAreRefused) {
  FD_FILE_FIXTURE(t);
  // The workdir by its name, and through a symlink inside it that leads back to it: with
  // allow_paths the workdir alone its parent is already outside; with allow_paths wider
  // than the workdir, the fault itself refuses it, by identity.
  fs::create_directory_symlink(t.fx.workdir, t / "here");
  const std::string wider = fs::path(t.fx.workdir).parent_path();
  for (const auto& allow : {std::vector<std::string>{}, std::vector<std::string>{wider}}) {
    t.fx.ctx.allow_paths = allow.empty() ? std::vector<std::string>{t.fx.workdir} : allow;
    for (const std::string& p : {std::string("${workdir}"), std::string("${workdir}/here/.")}) {
      auto self = MakeFault("file.destroy", R"({path: ")" + p + R"("})", t.fx.ctx);
      ASSERT_TRUE(self.ok()) << p << ": " << self.status().ToString();
      auto injected = (*self)->Inject();
      ASSERT_FALSE(injected.ok()) << p;
      if (allow.empty()) {
        EXPECT_NE(injected.status().message().find("is outside settings.allow_paths"),
                  std::string::npos)
            << p << ": " << injected.status().message();
      } else {
        EXPECT_EQ(injected.status().message(),
                  "file.destroy refuses the workdir itself: name what is inside it")
            << p;
      }
    }
  }
  t.fx.ctx.allow_paths = {t.fx.workdir};
  EXPECT_TRUE(fs::exists(t.target));
  TempDir outside;
  WriteFile(outside / "secret", "keep");
  auto out = MakeFault("file.destroy", R"({path: ")" + outside / "secret" + R"("})", t.fx.ctx);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("is outside settings.allow_paths"), std::string::npos);
  // A parent directory swapped for a symlink that leads out, after the loader's check.
  fs::create_directory(t / "sub");
  WriteFile(t / "sub/secret", "inside");
  auto fault = MakeFault("file.destroy", R"({path: sub/secret})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  fs::remove_all(t / "sub");
  fs::create_directory_symlink(outside.path(), t / "sub");
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_NE(injected.status().message().find("is outside settings.allow_paths"), std::string::npos)
      << injected.status().message();
  EXPECT_EQ(ReadFile(outside / "secret"), "keep");
}

TEST(FileFaultBlastRadiusTest, PathsOutsideAllowPathsAreRefusedBeforeTheRun) {
  FD_FILE_FIXTURE(t);
  TempDir outside;
  WriteFile(outside / "secret", "keep");
  fs::create_symlink(outside / "secret", t / "link");
  for (const std::string& action : {std::string("file.corrupt"), std::string("file.delete")}) {
    for (const std::string& p : {outside / "secret", std::string("${workdir}/../state/x"),
                                 std::string("${workdir}/link")}) {
      auto fault = MakeFault(action, R"({path: ")" + p + R"("})", t.fx.ctx);
      ASSERT_FALSE(fault.ok()) << action << " " << p;
      EXPECT_EQ(fault.status().code(), Status::Code::kInvalid);
      EXPECT_NE(fault.status().message().find("is outside settings.allow_paths"), std::string::npos)
          << fault.status().message();
    }
  }
  EXPECT_EQ(ReadFile(outside / "secret"), "keep");
}

TEST(FileFaultBlastRadiusTest, ASymlinkSwappedInBeforeInjectionIsRefused) {
  FD_FILE_FIXTURE(t);
  TempDir outside;
  WriteFile(outside / "secret", "keep");
  for (const std::string& action : {std::string("file.corrupt"), std::string("file.delete")}) {
    auto fault = MakeFault(
        action, action == "file.corrupt" ? R"({path: a.db, mode: zero})" : R"({path: a.db})",
        t.fx.ctx);
    ASSERT_TRUE(fault.ok());
    fs::rename(t.target, t / "a.db.real");
    fs::create_symlink(outside / "secret", t.target);
    auto injected = (*fault)->Inject();
    ASSERT_FALSE(injected.ok()) << action;
    EXPECT_NE(injected.status().message().find("is outside settings.allow_paths"),
              std::string::npos)
        << injected.status().message();
    fs::remove(t.target);
    fs::rename(t / "a.db.real", t.target);
  }
  // And a directory above the file swapped for a symlink that leads out.
  fs::create_directory(t / "sub");
  WriteFile(t / "sub/secret", "inside");
  auto fault = MakeFault("file.delete", R"({path: sub/secret})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  fs::remove_all(t / "sub");
  fs::create_directory_symlink(outside.path(), t / "sub");
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(ReadFile(outside / "secret"), "keep");
  EXPECT_TRUE(t.fx.journal->Entries().empty());
}

TEST(FileFaultReplayTest, ACrashedRunsFilesComeBackWhenItsJournalIsReplayed) {
  FD_FILE_FIXTURE(t);
  const std::string other = t / "b.conf";
  WriteFile(other, "listen 8080\n");
  ASSERT_EQ(::chmod(other.c_str(), 0600), 0);
  const Meta other_meta = MetaOf(other);
  {
    auto corrupt =
        MakeFault("file.corrupt", R"({path: a.db, mode: truncate, offset: 1B})", t.fx.ctx);
    auto del = MakeFault("file.delete", R"({path: b.conf})", t.fx.ctx);
    ASSERT_TRUE(corrupt.ok() && del.ok());
    ASSERT_TRUE((*corrupt)->Inject().ok());
    ASSERT_TRUE((*del)->Inject().ok());
  }  // the run "dies" without rolling back, and its lock goes with it
  t.fx.journal.reset();
  ASSERT_EQ(ReadFile(t.target).size(), 1u);
  ASSERT_FALSE(fs::exists(other));

  ReplayResult r =
      ReplayJournal(t.fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(r.complete) << (r.left.empty() ? "" : r.left[0]);
  EXPECT_EQ(r.lines.size(), 2u);
  t.ExpectRestored({"a.db", "b.conf"});
  EXPECT_EQ(ReadFile(other), "listen 8080\n");
  EXPECT_EQ(MetaOf(other), other_meta);
  // Closing the journal dropped the saved copies.
  EXPECT_FALSE(fs::exists(t.fx.state_dir + "/runs/test/saved"));

  ReplayResult again =
      ReplayJournal(t.fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(again.complete);
  t.ExpectRestored({"a.db", "b.conf"});
}

TEST(FileRestoreUndoTest, RunsTwiceAndRefusesADamagedCopy) {
  FD_FILE_FIXTURE(t);
  auto fault = MakeFault("file.corrupt", R"({path: a.db, mode: zero})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  ASSERT_TRUE((*fault)->Inject().ok());
  const nlohmann::json args = t.fx.journal->Entries().at(0).args;
  const UndoKind* undo = FindUndoKind(FaultUndoKinds(), "file.restore");
  ASSERT_NE(undo, nullptr);
  // As after a crash between an undo and its "done" line: it runs again.
  ASSERT_TRUE(undo->undo(args, UndoContext{Env::Default()}).ok());
  ASSERT_TRUE(undo->undo(args, UndoContext{Env::Default()}).ok());
  t.ExpectRestored();

  WriteFile(t.target, "changed by the service since");
  WriteFile(args["saved"], "not what was saved");
  auto refused = undo->undo(args, UndoContext{Env::Default()});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("is damaged"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(ReadFile(t.target), "changed by the service since");
  EXPECT_EQ(Listing(t.fx.workdir), std::vector<std::string>{"a.db"});
}

}  // namespace
}  // namespace firedrill::testing
