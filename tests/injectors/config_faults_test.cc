// config.set on real files on a tmpfs: exactly the matched text changes, a drift that
// changes nothing fails, the original comes back byte for byte with its metadata, also
// from a crashed run's journal.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "injectors/fault_registry.h"
#include "tests/injectors/file_fixture.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

const std::string kConf =
    "port 6379\n"
    "replicaof 127.0.0.1 6379\n"
    "save \"\"\n";

struct ConfigFixture : TmpfsFixture {
  std::string target = *this / "replica.conf";
  Meta meta;
  void SetUp() {
    WriteFile(target, kConf);
    SetDistinctMeta(target);
    meta = MetaOf(target);
  }
  void ExpectRestored() {
    EXPECT_EQ(ReadFile(target), kConf);
    EXPECT_EQ(MetaOf(target), meta);
    EXPECT_EQ(Listing(fx.workdir), std::vector<std::string>{"replica.conf"});
  }
};

#define FD_CONFIG_FIXTURE(t)       \
  ConfigFixture t;                 \
  FD_SKIP_UNLESS_MOUNTED(t.tmpfs); \
  t.SetUp()

TEST(ConfigSetTest, ReplacesExactlyTheMatchedTextAndRestoresIt) {
  FD_CONFIG_FIXTURE(t);
  auto fault = MakeFault(
      "config.set",
      R"y({path: "${workdir}/replica.conf", match: "^replicaof (\\S+) \\d+$", replace: "replicaof $1 1"})y",
      t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(ReadFile(t.target), "port 6379\nreplicaof 127.0.0.1 1\nsave \"\"\n");
  EXPECT_EQ(*injected, R"(replaced 1 match(es) of /^replicaof (\S+) \d+$/ in replica.conf: )"
                       R"("replicaof 127.0.0.1 6379" -> "replicaof 127.0.0.1 1")");
  EXPECT_EQ((*fault)->figures(), (FaultFigures{{"replacements", 1}}));
  // Written as a config tool would: same mode and owner, a new mtime, nothing left over.
  const Meta drifted = MetaOf(t.target);
  EXPECT_EQ(drifted.mode, t.meta.mode);
  EXPECT_EQ(drifted.uid, 1234u);
  EXPECT_EQ(drifted.gid, 5678u);
  EXPECT_NE(drifted.mtime_ns, t.meta.mtime_ns);
  EXPECT_EQ(Listing(t.fx.workdir), std::vector<std::string>{"replica.conf"});

  auto rolled = (*fault)->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  t.ExpectRestored();
}

TEST(ConfigSetTest, EveryMatchIsReplacedAndAMatchMaySpanLines) {
  FD_CONFIG_FIXTURE(t);
  auto fault = MakeFault(
      "config.set",
      R"y({path: replica.conf, match: "6379\n(\\w+)", replace: "7000 [$1] $$ $& ${workdir}"})y",
      t.fx.ctx);
  ASSERT_TRUE(fault.ok()) << fault.status().ToString();
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  const std::string w = t.fx.workdir;
  EXPECT_EQ(ReadFile(t.target), "port 7000 [replicaof] $ 6379\nreplicaof " + w +
                                    " 127.0.0.1 7000 [save] $ 6379\nsave " + w + " \"\"\n");
  EXPECT_TRUE(injected->starts_with("replaced 2 match(es) of ")) << *injected;
  EXPECT_EQ((*fault)->figures(), (FaultFigures{{"replacements", 2}}));
  ASSERT_TRUE((*fault)->Rollback().ok());
  t.ExpectRestored();
}

TEST(ConfigSetTest, NoMatchFailsAndChangesNothing) {
  FD_CONFIG_FIXTURE(t);
  auto fault = MakeFault("config.set", R"y({path: replica.conf, match: "^bind .*$", replace: x})y",
                         t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.status().message(),
            "/^bind .*$/ matches nothing in replica.conf: nothing changed");
  EXPECT_TRUE(t.fx.journal->Entries().empty());
  EXPECT_EQ(MetaOf(t.target).ino, t.meta.ino);
  t.ExpectRestored();
}

TEST(ConfigSetTest, AReplacementThatChangesNothingFails) {
  FD_CONFIG_FIXTURE(t);
  auto fault =
      MakeFault("config.set",
                R"y({path: replica.conf, match: "^port (\\d+)", replace: "port $1"})y", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(
      injected.status().message(),
      R"(replica.conf already reads that way after replacing /^port (\d+)/: nothing changed)");
  EXPECT_TRUE(t.fx.journal->Entries().empty());
  t.ExpectRestored();
}

TEST(ConfigSetTest, LargeFilesAreRefusedAndAGreedyPatternSurvivesARealisticOne) {
  FD_CONFIG_FIXTURE(t);
  // About the size of Redis's own redis.conf, matched as a whole by a pattern that makes
  // libstdc++ recurse once per character: far deeper than a default 8 MiB stack allows.
  std::string big;
  while (big.size() < (100u << 10)) big += "# a comment line of a long configuration file\n";
  WriteFile(t / "big.conf", big);
  auto fault = MakeFault("config.set", R"y({path: big.conf, match: "[\\s\\S]*", replace: "gone"})y",
                         t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  auto injected = (*fault)->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  // The whole text, then the empty match at its end.
  EXPECT_EQ(ReadFile(t / "big.conf"), "gonegone");
  ASSERT_TRUE((*fault)->Rollback().ok());
  EXPECT_EQ(ReadFile(t / "big.conf"), big);

  WriteFile(t / "huge.conf", std::string((256u << 10) + 1, 'x'));
  auto huge = MakeFault("config.set", R"y({path: huge.conf, match: x, replace: y})y", t.fx.ctx);
  ASSERT_TRUE(huge.ok());
  auto refused = (*huge)->Inject();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "huge.conf is 256.0KiB: config.set edits text files up to 256.0KiB");
}

TEST(ConfigSetTest, OutsideAllowPathsAndThroughSymlinksIsRefused) {
  FD_CONFIG_FIXTURE(t);
  TempDir outside;
  WriteFile(outside / "app.conf", "port 1\n");
  fs::create_symlink(outside / "app.conf", t / "link.conf");
  auto made = MakeFault("config.set", R"y({path: link.conf, match: port, replace: x})y", t.fx.ctx);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), Status::Code::kInvalid);

  auto fault =
      MakeFault("config.set", R"y({path: replica.conf, match: port, replace: x})y", t.fx.ctx);
  ASSERT_TRUE(fault.ok());
  fs::rename(t.target, t / "real.conf");
  fs::create_symlink(outside / "app.conf", t.target);
  auto injected = (*fault)->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_NE(injected.status().message().find("is outside settings.allow_paths"), std::string::npos)
      << injected.status().message();
  EXPECT_EQ(ReadFile(outside / "app.conf"), "port 1\n");
  EXPECT_TRUE(t.fx.journal->Entries().empty());
  fs::remove(t.target);
  fs::remove(t / "link.conf");
  fs::rename(t / "real.conf", t.target);
}

TEST(ConfigSetTest, ACrashedRunsDriftIsUndoneByReplayingItsJournal) {
  FD_CONFIG_FIXTURE(t);
  {
    auto fault =
        MakeFault("config.set",
                  R"y({path: replica.conf, match: "^save .*$", replace: "save 1 1"})y", t.fx.ctx);
    ASSERT_TRUE(fault.ok());
    ASSERT_TRUE((*fault)->Inject().ok());
  }
  t.fx.journal.reset();
  ASSERT_EQ(ReadFile(t.target), "port 6379\nreplicaof 127.0.0.1 6379\nsave 1 1\n");
  ReplayResult r =
      ReplayJournal(t.fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(r.complete) << (r.left.empty() ? "" : r.left[0]);
  t.ExpectRestored();
  ReplayResult again =
      ReplayJournal(t.fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(again.complete);
  t.ExpectRestored();
}

}  // namespace
}  // namespace firedrill::testing
