// disk.fill on a real 16 MiB tmpfs: the free space statvfs reports before, during and after,
// to the block; the write() fallback on ramfs (which has no fallocate); the blast radius;
// and a crashed run's ballast removed by replaying its journal.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>

#include "injectors/fault_registry.h"
#include "injectors/support/file_ops.h"
#include "tests/injectors/file_fixture.h"

namespace firedrill::testing {
namespace {

struct Space {
  uint64_t free, total, block;
};

Space SpaceOf(const std::string& dir) {
  struct statvfs vs {};
  EXPECT_EQ(::statvfs(dir.c_str(), &vs), 0);
  return Space{static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize,
               static_cast<uint64_t>(vs.f_blocks) * vs.f_frsize, vs.f_frsize};
}

// |a - b| <= one block.
void ExpectWithinBlock(uint64_t a, uint64_t b, uint64_t block) {
  EXPECT_LE(a > b ? a - b : b - a, block) << a << " vs " << b;
}

std::vector<std::string> Ballasts(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& n : Listing(dir)) {
    if (n.starts_with(".firedrill-ballast-")) out.push_back(n);
  }
  return out;
}

TEST(DiskFillTest, AbsoluteSizeTakesExactlyThatMuchAndRollbackGivesItBack) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  const Space before = SpaceOf(t.fx.workdir);
  ASSERT_EQ(before.total, 16u << 20);
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}", size: 5MiB})", t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();

  const Space during = SpaceOf(t.fx.workdir);
  EXPECT_EQ(before.free - during.free, 5u << 20);
  auto names = Ballasts(t.fx.workdir);
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(names[0].starts_with(".firedrill-ballast-" + std::to_string(getpid()) + "-"));
  struct stat st {};
  ASSERT_EQ(::stat((t / names[0]).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 5 << 20);
  EXPECT_EQ(*injected, "ballast " + names[0] + " of 5.0MiB (fallocate): 11.0MiB of 16.0MiB free " +
                           "(31.2% used)");
  EXPECT_EQ(Figure(**fault, "ballast_bytes"), 5 << 20);
  EXPECT_EQ(Figure(**fault, "free_bytes"), during.free);
  EXPECT_DOUBLE_EQ(Figure(**fault, "used_percent"), 100.0 * 5 / 16);
  // Journaled before the ballast existed, with its path.
  auto entries = t.fx.journal->Entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "disk.ballast");
  EXPECT_EQ(entries[0].args["path"], t / names[0]);

  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(*rolled, "deleted ballast " + (t / names[0]) + ": 16.0MiB free");
  ExpectWithinBlock(SpaceOf(t.fx.workdir).free, before.free, before.block);
  EXPECT_TRUE(Ballasts(t.fx.workdir).empty());
}

TEST(DiskFillTest, PercentFillsUntilTheFilesystemIsThatFull) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  WriteFile(t / "data", std::string(1 << 20, 'x'));  // some of it already used
  const Space before = SpaceOf(t.fx.workdir);
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}", size: 90%})", t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  const Space during = SpaceOf(t.fx.workdir);
  // 10 % of 16 MiB left available.
  const auto want_free =
      static_cast<uint64_t>(std::llround(0.1 * static_cast<double>(before.total)));
  ExpectWithinBlock(during.free, want_free, before.block);
  EXPECT_LE(during.free, want_free);
  // The file's size: the filesystem takes whole blocks for it.
  ExpectWithinBlock(static_cast<uint64_t>(Figure(**fault, "ballast_bytes")),
                    before.free - during.free, before.block);
  EXPECT_EQ(Figure(**fault, "free_bytes"), during.free) << *injected;
  // Within one block (4 KiB of 16 MiB is 0.025 %) of the asked 90 %, never short of it.
  EXPECT_GE(Figure(**fault, "used_percent"), 90.0) << *injected;
  EXPECT_LE(Figure(**fault, "used_percent"), 90.03) << *injected;
  ASSERT_TRUE((*fault)->Rollback().ok());
  ExpectWithinBlock(SpaceOf(t.fx.workdir).free, before.free, before.block);
}

TEST(DiskFillTest, LeaveFreeLeavesExactlyThatMuch) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  const Space before = SpaceOf(t.fx.workdir);
  // Not a multiple of the block size: the ballast takes whole blocks, so at most one
  // block less than asked stays free.
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}", leave_free: 3000KiB})", t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  ASSERT_TRUE((*fault)->Inject().ok());
  const Space during = SpaceOf(t.fx.workdir);
  EXPECT_LE(during.free, 3000u << 10);
  ExpectWithinBlock(during.free, 3000u << 10, before.block);
  EXPECT_EQ(Figure(**fault, "free_bytes"), during.free);
  ExpectWithinBlock(static_cast<uint64_t>(Figure(**fault, "ballast_bytes")),
                    before.free - during.free, before.block);
  ASSERT_TRUE((*fault)->Rollback().ok());
  ExpectWithinBlock(SpaceOf(t.fx.workdir).free, before.free, before.block);
}

TEST(DiskFillTest, AFilesystemAlreadyThatFullIsLeftAlone) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  WriteFile(t / "data", std::string(8 << 20, 'x'));  // 50 % used
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}", size: 40%})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected,
            "nothing to fill: . has 8.0MiB of 16.0MiB free (50.0% used), already past 40% used");
  // Measured all the same: no ballast, and the filesystem as it was.
  EXPECT_EQ(Figure(**fault, "ballast_bytes"), 0);
  EXPECT_EQ(Figure(**fault, "free_bytes"), 8 << 20);
  EXPECT_DOUBLE_EQ(Figure(**fault, "used_percent"), 50.0);
  EXPECT_TRUE(Ballasts(t.fx.workdir).empty());
  EXPECT_TRUE(t.fx.journal->Entries().empty());
  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(*rolled, "nothing was filled");
}

TEST(DiskFillTest, ABallastBiggerThanWhatIsFreeFailsBeforeAnythingIsDone) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}", size: 64MiB})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.status().message(),
            "asked for 64.0MiB of ballast, but only 16.0MiB is free (size: 100% fills whatever "
            "is free)");
  EXPECT_TRUE(Ballasts(t.fx.workdir).empty());
  EXPECT_TRUE(t.fx.journal->Entries().empty());
}

TEST(DiskFillTest, ThePathMustBeADirectoryThatExists) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  WriteFile(t / "file", "x");
  for (const auto& [path, message] : std::vector<std::pair<std::string, std::string>>{
           {"file", " is not a directory"}, {"later", " does not exist"}}) {
    auto fault = MakeFault("disk.fill", "{path: " + path + ", size: 1MiB}", t.fx.ctx);
    ASSERT_TRUE(fault.ok()) << "it may be created by a service before the fault is due";
    auto injected = (*fault)->Inject();
    ASSERT_FALSE(injected.ok());
    EXPECT_EQ(injected.status().message(), (t / path) + message);
  }
  EXPECT_TRUE(t.fx.journal->Entries().empty());
}

TEST(DiskFillTest, SizeAndLeaveFreeAreCheckedWhenTheDrillLoads) {
  EXPECT_EQ(LoadError("disk.fill", R"({path: /x, size: 1MiB, leave_free: 1MiB})"),
            "fault 'f': disk.fill takes exactly one of `size` and `leave_free`");
  EXPECT_EQ(LoadError("disk.fill", R"({path: /x, size: 0B})"),
            "fault 'f': a ballast of 0 bytes fills nothing");
}

TEST(DiskFillTest, OutsideAllowPathsIsRefusedBeforeTheRun) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  TempDir outside;
  for (const std::string& p :
       {outside.path(), std::string("${workdir}/../state"), std::string("../state")}) {
    auto fault = MakeFault("disk.fill", R"({path: ")" + p + R"(", size: 1MiB})", t.fx.ctx);
    ASSERT_FALSE(fault.ok()) << p;
    EXPECT_EQ(fault.status().code(), Status::Code::kInvalid);
    EXPECT_NE(fault.status().message().find("outside settings.allow_paths"), std::string::npos)
        << fault.status().message();
  }
  // A symlink inside the workdir that leads out of it.
  std::filesystem::create_directory_symlink(outside.path(), t / "escape");
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}/escape", size: 1MiB})", t.fx.ctx);
  ASSERT_FALSE(fault.ok());
  EXPECT_NE(fault.status().message().find("resolves to " + outside.path()), std::string::npos)
      << fault.status().message();
}

TEST(DiskFillTest, ASymlinkSwappedInAfterTheCheckIsRefusedAtInjection) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  TempDir outside;
  std::filesystem::create_directory(t / "data");
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}/data", size: 1MiB})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  std::filesystem::remove(t / "data");
  std::filesystem::create_directory_symlink(outside.path(), t / "data");
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_NE(injected.status().message().find("outside settings.allow_paths"), std::string::npos)
      << injected.status().message();
  EXPECT_TRUE(Listing(outside.path()).empty());
  EXPECT_TRUE(t.fx.journal->Entries().empty());
}

TEST(DiskFillTest, ACrashedRunsBallastGoesWhenItsJournalIsReplayed) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  const Space before = SpaceOf(t.fx.workdir);
  {
    auto fault = MakeFault("disk.fill", R"({path: "${workdir}", leave_free: 1MiB})", t.fx.ctx);
    ASSERT_TRUE(fault.ok());
    ASSERT_TRUE((*fault)->Inject().ok());
  }                      // the run "dies": no rollback
  t.fx.journal.reset();  // and its lock goes with it
  ASSERT_EQ(Ballasts(t.fx.workdir).size(), 1u);
  ExpectWithinBlock(SpaceOf(t.fx.workdir).free, 1u << 20, before.block);

  ReplayResult r =
      ReplayJournal(t.fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(r.complete) << (r.left.empty() ? "" : r.left[0]);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_TRUE(
      r.lines[0].starts_with("fault f: deleted ballast " + t.fx.workdir + "/.firedrill-ballast-"))
      << r.lines[0];
  EXPECT_TRUE(Ballasts(t.fx.workdir).empty());
  ExpectWithinBlock(SpaceOf(t.fx.workdir).free, before.free, before.block);

  ReplayResult again =
      ReplayJournal(t.fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(again.complete);
  EXPECT_EQ(again.lines,
            std::vector<std::string>{"nothing to undo: the run finished its rollback"});
}

TEST(DiskFillTest, TheBallastUndoIsIdempotentAndDeletesNothingButABallast) {
  TempDir dir;
  const UndoKind* undo = FindUndoKind(FaultUndoKinds(), "disk.ballast");
  ASSERT_NE(undo, nullptr);
  const std::string ballast = dir / ".firedrill-ballast-1-1";
  WriteFile(ballast, "x");
  const nlohmann::json args = {{"path", ballast}};
  auto first = undo->undo(args, UndoContext{Env::Default()});
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(std::filesystem::exists(ballast));
  auto second = undo->undo(args, UndoContext{Env::Default()});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "ballast " + ballast + " is already gone");

  const std::string precious = dir / "precious";
  WriteFile(precious, "keep me");
  auto refused = undo->undo({{"path", precious}}, UndoContext{Env::Default()});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "disk.ballast: '" + precious + "' is not a ballast file");
  EXPECT_EQ(ReadFile(precious), "keep me");
}

TEST(DiskFillTest, CancellingStopsTheFillAndRemovesTheBallast) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  const Space before = SpaceOf(t.fx.workdir);
  std::atomic<bool> cancel{true};
  t.fx.ctx.cancel = &cancel;
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}", size: 4MiB})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.status().message(), "filling .: cancelled after 0B of 4.0MiB");
  EXPECT_TRUE(Ballasts(t.fx.workdir).empty());
  EXPECT_TRUE(t.fx.journal->Pending().empty());
  EXPECT_EQ(SpaceOf(t.fx.workdir).free, before.free);
}

// --- FillFile itself: the fallback, the deadline ---

TEST(FillFileTest, WithoutFallocateItWritesZeros) {
  TempDir dir;
  ScopedMount ramfs(dir.path(), "ramfs", "");
  FD_SKIP_UNLESS_MOUNTED(ramfs);
  const std::string path = dir / "ballast";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  ASSERT_GE(fd.get(), 0);
  // ramfs has no fallocate: the first call says EOPNOTSUPP and the fill falls back.
  ASSERT_NE(::fallocate(fd.get(), 0, 0, 4096), 0);
  ASSERT_EQ(errno, EOPNOTSUPP);
  const uint64_t bytes = (3u << 20) + 100;  // not a whole number of write chunks
  auto filled = FillFile(fd.get(), bytes, FillMethod::kAuto,
                         {.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30)});
  ASSERT_TRUE(filled.ok()) << filled.status().ToString();
  EXPECT_TRUE(filled->wrote);
  EXPECT_FALSE(filled->disk_full);
  EXPECT_EQ(filled->bytes, bytes);
  fd.Reset();
  EXPECT_EQ(ReadFile(path), std::string(bytes, '\0'));
}

TEST(FillFileTest, TheWritePathTakesExactlyThatMuchSpace) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  const Space before = SpaceOf(t.fx.workdir);
  {
    UniqueFd fd(::open((t / "b").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    auto filled =
        FillFile(fd.get(), 2u << 20, FillMethod::kWrite,
                 {.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30)});
    ASSERT_TRUE(filled.ok());
    EXPECT_TRUE(filled->wrote);
    EXPECT_EQ(filled->bytes, 2u << 20);
  }
  EXPECT_EQ(before.free - SpaceOf(t.fx.workdir).free, 2u << 20);
  // Past the end of the filesystem: stopped by ENOSPC, not an error.
  UniqueFd fd(::open((t / "c").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  auto full = FillFile(fd.get(), 64u << 20, FillMethod::kWrite,
                       {.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30)});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->disk_full);
  EXPECT_EQ(full->bytes, before.free - (2u << 20));
  EXPECT_EQ(SpaceOf(t.fx.workdir).free, 0u);
}

TEST(FillFileTest, FallocateTakesAllThereIsWhenLessIsFreeThanAsked) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  WriteFile(t / "data", std::string(1000, 'x'));  // so that free is not a power of two
  const Space before = SpaceOf(t.fx.workdir);
  UniqueFd fd(::open((t / "c").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  // tmpfs refuses the whole of a call it cannot satisfy: the fill must step down.
  auto full = FillFile(fd.get(), 64u << 20, FillMethod::kAuto,
                       {.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30)});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->disk_full);
  EXPECT_FALSE(full->wrote);
  EXPECT_EQ(full->bytes, before.free);
  EXPECT_EQ(SpaceOf(t.fx.workdir).free, 0u);
}

TEST(DiskFillTest, AHundredPercentLeavesNothingFree) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  WriteFile(t / "data", std::string(1000, 'x'));
  auto fault = MakeFault("disk.fill", R"({path: "${workdir}", size: 100%})", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(SpaceOf(t.fx.workdir).free, 0u);
  EXPECT_TRUE(injected->ends_with("(fallocate): 0B of 16.0MiB free (100.0% used)")) << *injected;
  EXPECT_EQ(Figure(**fault, "free_bytes"), 0);
  EXPECT_DOUBLE_EQ(Figure(**fault, "used_percent"), 100.0);
  EXPECT_EQ(Figure(**fault, "ballast_bytes"), (16u << 20) - 4096);
  ASSERT_TRUE((*fault)->Rollback().ok());
  EXPECT_EQ(SpaceOf(t.fx.workdir).free, (16u << 20) - 4096);
}

TEST(FillFileTest, APassedDeadlineGivesUp) {
  TmpfsFixture t;
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs);
  UniqueFd fd(::open((t / "c").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  auto late = FillFile(fd.get(), 1u << 20, FillMethod::kWrite,
                       {.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1)});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Status::Code::kTimeout);
  EXPECT_EQ(late.status().message(), "gave up after 0B of 1.0MiB (writing zeros)");
}

}  // namespace
}  // namespace firedrill::testing
