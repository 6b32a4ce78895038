// Never leave a system broken. One drill holds every kind of lasting fault at once (a full
// disk, a corrupted file, drifted config, a paused process, a partition, packet loss and a
// delaying proxy) on a tmpfs and loopback ports of the test's own. Then the run ends badly:
//   - SIGKILL at a random moment (>= 25 times; FIREDRILL_CRASH_ITERATIONS for more), then
//     `firedrill rollback`;
//   - SIGINT once everything is injected;
//   - an abort_when stop condition turning true.
// After each: files byte-identical with their metadata, free space as before, no stopped
// process, nftables ruleset as before, no proxy listening, nothing the drill started alive,
// and a second `firedrill rollback` finds nothing to do.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <cctype>
#include <functional>
#include <random>

#include "injectors/support/tools.h"
#include "reports/json_report.h"
#include "runner/base/sha256.h"
#include "runner/drill/expand.h"
#include "tests/integration/harness.h"
#include "tests/nft_lock.h"
#include "tests/reports/report_contract.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

// A small tmpfs of the test's own for the disk and file faults.
class Tmpfs {
 public:
  explicit Tmpfs(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir_);
    ok_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=32m,mode=0755") == 0;
  }
  ~Tmpfs() {
    if (ok_ && ::umount2(dir_.c_str(), 0) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool ok() const { return ok_; }

 private:
  std::string dir_;
  bool ok_ = false;
};

struct FileFacts {
  std::string sha256;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileFacts&) const = default;
};

std::optional<FileFacts> Facts(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return FileFacts{Sha256::HexOf(ReadFile(path)), st.st_mode, st.st_uid, st.st_gid,
                   st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
}

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return 0;
  return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
}

std::string NftRuleset() {
  auto r = RunShell({.script = "nft list ruleset", .cwd = "/", .timeout = Millis(10000)});
  return r.ok() ? r->out : "nft failed: " + r.status().message();
}

// Listening TCP ports (v4 and v6), from /proc/net/tcp*.
std::set<int> ListeningPorts() {
  std::set<int> ports;
  for (const char* f : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string sl, local, remote, state;
      ss >> sl >> local >> remote >> state;
      if (state != "0A") continue;
      ports.insert(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
    }
  }
  return ports;
}

class Drill {
 public:
  static constexpr int kFaults = 7;

  Drill() : disk_(dir_ / "disk") {}
  bool ready() const { return disk_.ok(); }
  const TempDir& dir() const { return dir_; }
  std::string state() const { return dir_ / "state"; }

  // Lays out the files the faults damage and remembers how the machine looks.
  void Prepare() {
    std::string data;
    std::mt19937 rng(7);
    for (int i = 0; i < 64 * 1024; ++i) data.push_back(static_cast<char>(rng()));
    WriteFile(Disk("data.bin"), data);
    WriteFile(Disk("app.conf"), "# app\nappendfsync always\nmaxclients 100\n");
    ::chmod(Disk("data.bin").c_str(), 0640);
    for (const char* f : {"data.bin", "app.conf"}) {
      struct timespec old[2] = {{1700000000, 123456789}, {1700000000, 123456789}};
      ::utimensat(AT_FDCWD, Disk(f).c_str(), old, 0);
    }
    before_files_ = {Facts(Disk("data.bin")), Facts(Disk("app.conf"))};
    before_free_ = FreeBytes(dir_ / "disk");
    before_nft_ = NftRuleset();
    before_listening_ = ListeningPorts();
    fs::remove_all(dir_ / "STOP");
    // Each iteration reads only its own run's journal.
    fs::remove_all(state());
  }

  std::string Yaml(bool with_abort) const {
    const std::string disk = dir_ / "disk";
    std::string y =
        R"(apiVersion: firedrill/v1
name: crash-drill
settings: {probe_interval: 100ms, settle: 10s, timeout: 2m, stop_grace: 2s,
           workdir: ")" +
        dir_.path() + R"(/work", allow_paths: [")" + disk + R"("]}
services:
  - name: frozen
    run: exec redis-server --port ${port:frozen} --bind 127.0.0.1 --save "" --dir ${workdir}
    ready: {tcp: {address: "127.0.0.1:${port:frozen}"}, within: 10s}
  - name: slowed
    run: exec redis-server --port ${port:slowed} --bind 127.0.0.1 --save "" --dir ${workdir}
    ready: {tcp: {address: "127.0.0.1:${port:slowed}"}, within: 10s}
steady_state:
  - name: up
    probe: {tcp: {address: "127.0.0.1:${port:frozen}"}}
faults:
  - {name: fill, at: 0s, action: disk.fill, with: {path: ")" +
        disk + R"(", size: 60%}, duration: 60s}
  - {name: corrupt, at: 0s, action: file.corrupt, with: {path: ")" +
        disk + R"(/data.bin", mode: garbage, offset: 100B, length: 4KiB, seed: 3}, duration: 60s}
  - {name: drift, at: 0s, action: config.set, with: {path: ")" +
        disk +
        R"(/app.conf", match: "appendfsync always", replace: "appendfsync no"}, duration: 60s}
  - {name: freeze, at: 0s, action: process.pause, target: {service: frozen}, duration: 60s}
  - {name: cut, at: 0s, action: network.partition, with: {port: "${port:cut}"}, duration: 60s}
  - {name: lossy, at: 0s, action: network.loss, with: {port: "${port:lossy}", loss: 50%}, duration: 60s}
  - {name: slow, at: 0s, action: network.delay, with: {port: "${port:slowed}", delay: 200ms}, duration: 60s}
recovery: {within: 90s, steady_for: 1s}
)";
    if (with_abort) {
      y += "abort_when:\n  - {name: stop-file, probe: {file: {path: \"" + dir_.path() +
           "/STOP\", expect: {exists: true}}}}\n";
    }
    return y;
  }

  // Starts `firedrill run` in the background.
  pid_t Start(bool with_abort) {
    WriteFile(dir_ / "drill.yaml", Yaml(with_abort));
    fs::remove_all(dir_ / "report");
    pid_t pid = fork();
    if (pid == 0) {
      int out = ::open((dir_ / "run.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(out, 2);
      setenv("NO_COLOR", "1", 1);
      execl(FIREDRILL_BIN, FIREDRILL_BIN, "run", (dir_ / "drill.yaml").c_str(), "--report-dir",
            (dir_ / "report").c_str(), "--state-dir", state().c_str(), "-q", "--no-history",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  }

  // Waits (bounded) until every fault of the running drill is journaled.
  bool WaitAllInjected() {
    for (int i = 0; i < 3000; ++i) {
      int n = 0;
      for (const auto& l : JournalLines(state())) {
        if (l.value("op", "") == "intend" && l.value("owner", "").rfind("fault ", 0) == 0) ++n;
      }
      if (n >= kFaults) {
        usleep(300000);  // the last change follows its journal line
        return true;
      }
      usleep(10000);
    }
    return false;
  }

  CliResult Rollback() { return RunFiredrill({"rollback", "--state-dir", state()}, dir_.path()); }

  // The machine is exactly as before the drill.
  void ExpectRestored(const std::string& when) {
    SCOPED_TRACE(when);
    std::vector<std::optional<FileFacts>> now = {Facts(Disk("data.bin")), Facts(Disk("app.conf"))};
    EXPECT_TRUE(now == before_files_) << "a file differs from its original";
    EXPECT_EQ(FreeBytes(dir_ / "disk"), before_free_) << "disk usage is not back";
    for (const auto& e : fs::directory_iterator(dir_ / "disk")) {
      std::string n = e.path().filename();
      EXPECT_TRUE(n == "data.bin" || n == "app.conf") << "left in the filesystem: " << n;
    }
    EXPECT_EQ(NftRuleset(), before_nft_) << "nftables ruleset differs";
    std::set<int> listening = ListeningPorts();
    for (int p : listening) {
      EXPECT_TRUE(before_listening_.count(p) || !journaled_port(p)) << "port " << p << " listens";
    }
    // Nothing the drill started is alive (its redis servers carry the work dir).
    PidReaper reaper;
    for (pid_t p : ProcessesWithArg(dir_.path() + "/work")) {
      auto st = ReadProcStat(p);
      ADD_FAILURE() << "process " << p << " survived (state " << (st ? st->state : '?') << ")";
      reaper.Watch(p);
      ::kill(p, SIGCONT);
    }
    for (const auto& l : JournalLines(state())) {
      if (l.value("op", "") != "intend" || l.value("kind", "") != "process.group") continue;
      pid_t pgid = l["args"].value("pid", 0);
      // Zombies do not count: after a SIGKILL their new parent may be slow to reap them.
      EXPECT_FALSE(Env::Default()->GroupAlive(pgid)) << "process group " << pgid << " survived";
    }
    // A run killed before its journal existed leaves nothing behind it either.
    std::error_code ec;
    for (const auto& r : fs::directory_iterator(fs::path(state()) / "runs", ec)) {
      EXPECT_FALSE(fs::exists(r.path() / "journal.creating")) << r.path() << " was left";
    }
    // And there is nothing left to do.
    CliResult again = Rollback();
    EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_NE(again.out.find("nothing to roll back"), std::string::npos) << again.out;
  }

 private:
  std::string Disk(const std::string& name) const { return dir_.path() + "/disk/" + name; }
  // Is `port` one the drill could have opened (a proxy's, as its journal says)?
  // Whether `port` is one of the numbers an intent names, compared whole: another test's
  // port that is only part of a pid or a byte count in this journal is not the drill's.
  bool journaled_port(int port) {
    std::function<bool(const nlohmann::json&)> names = [&](const nlohmann::json& j) {
      if (j.is_number_integer()) return j.get<int64_t>() == port;
      if (j.is_string()) {
        const std::string& s = j.get_ref<const std::string&>();
        for (size_t i = 0; i < s.size();) {
          if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
            ++i;
            continue;
          }
          size_t end = i;
          while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
          if (end - i <= 5 && std::stoi(s.substr(i, end - i)) == port) return true;
          i = end;
        }
        return false;
      }
      if (!j.is_structured()) return false;
      for (const auto& v : j) {
        if (names(v)) return true;
      }
      return false;
    };
    for (const auto& l : JournalLines(state())) {
      if (l.value("op", "") == "intend" && names(l["args"])) return true;
    }
    return false;
  }

  TempDir dir_;
  Tmpfs disk_;
  std::vector<std::optional<FileFacts>> before_files_;
  uint64_t before_free_ = 0;
  std::string before_nft_;
  std::set<int> before_listening_;
};

int WaitExit(pid_t pid, int seconds) {
  int status = 0;
  for (int i = 0; i < seconds * 100; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    usleep(10000);
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

TEST(CrashTest, SigkillAtRandomMomentsThenRollbackRestoresEverything) {
  NftLock lock;
  Drill d;
  if (!d.ready()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  int iterations = 25;
  if (const char* n = getenv("FIREDRILL_CRASH_ITERATIONS")) iterations = std::max(1, atoi(n));
  unsigned seed = std::random_device{}();
  if (const char* s = getenv("FIREDRILL_CRASH_SEED")) seed = static_cast<unsigned>(atol(s));
  std::mt19937 rng(seed);
  // From before the journal exists, through services starting and every injection, to
  // well inside the fault phase.
  // Every other kill lands in the first 400 ms, where the journal is created, services
  // start and the seven injections follow one another.
  std::uniform_int_distribution<int> early_ms(0, 400), any_ms(0, 1800);
  auto when_ms = [&](std::mt19937& g) { return (g() & 1) ? early_ms(g) : any_ms(g); };
  int killed_with_faults = 0;
  for (int i = 0; i < iterations; ++i) {
    const int ms = when_ms(rng);
    SCOPED_TRACE("iteration " + std::to_string(i) + ", SIGKILL after " + std::to_string(ms) +
                 " ms (FIREDRILL_CRASH_SEED=" + std::to_string(seed) + ")");
    d.Prepare();
    pid_t pid = d.Start(false);
    PidReaper reaper;
    reaper.Watch(pid);
    usleep(static_cast<useconds_t>(ms) * 1000);
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    for (const auto& l : JournalLines(d.state())) {
      if (l.value("op", "") == "intend" && l.value("owner", "").rfind("fault ", 0) == 0) {
        ++killed_with_faults;
        break;
      }
    }
    CliResult r = d.Rollback();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    d.ExpectRestored("after SIGKILL and firedrill rollback");
    if (HasFailure()) break;  // one broken iteration says it all
  }
  std::printf("%d of %d SIGKILLs caught faults in place (FIREDRILL_CRASH_SEED=%u)\n",
              killed_with_faults, iterations, seed);
  // The random moments must really have caught faults in place, not only startups.
  EXPECT_GE(killed_with_faults, iterations / 5);
}

TEST(CrashTest, SigintTwiceRollsEverythingBackAndExits3) {
  NftLock lock;
  Drill d;
  if (!d.ready()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  d.Prepare();
  pid_t pid = d.Start(false);
  PidReaper reaper;
  reaper.Watch(pid);
  ASSERT_TRUE(d.WaitAllInjected()) << ReadFile(d.dir() / "run.log");
  ::kill(pid, SIGINT);
  // An impatient operator: the second Ctrl-C is reported and changes nothing.
  usleep(50000);
  ::kill(pid, SIGINT);
  EXPECT_EQ(WaitExit(pid, 60), 3) << ReadFile(d.dir() / "run.log");
  EXPECT_NE(ReadFile(d.dir() / "run.log").find("still rolling back, please wait"),
            std::string::npos)
      << ReadFile(d.dir() / "run.log");
  auto report = ReadJson(d.dir() / "report/report.json");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ((*report)["verdict"], "aborted");
  EXPECT_EQ((*report)["aborted_reason"], "interrupted by the operator");
  EXPECT_EQ((*report)["journal"]["closed"], true);
  for (const auto& f : (*report)["faults"]) EXPECT_EQ(f["rollback"], "ok") << f.dump();
  d.ExpectRestored("after SIGINT");
}

TEST(CrashTest, AbortWhenStopsTheDrillAndRollsEverythingBack) {
  NftLock lock;
  Drill d;
  if (!d.ready()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  d.Prepare();
  pid_t pid = d.Start(true);
  PidReaper reaper;
  reaper.Watch(pid);
  ASSERT_TRUE(d.WaitAllInjected()) << ReadFile(d.dir() / "run.log");
  WriteFile(d.dir() / "STOP", "stop\n");
  EXPECT_EQ(WaitExit(pid, 60), 3) << ReadFile(d.dir() / "run.log");
  auto report = ReadJson(d.dir() / "report/report.json");
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(CheckReportKeys(*report).empty())
      << ::testing::PrintToString(CheckReportKeys(*report));
  EXPECT_EQ((*report)["verdict"], "aborted");
  EXPECT_EQ((*report)["aborted_reason"].get<std::string>().rfind("stop condition stop-file", 0), 0u)
      << (*report)["aborted_reason"];
  for (const auto& f : (*report)["faults"]) EXPECT_EQ(f["rollback"], "ok") << f.dump();
  d.ExpectRestored("after abort_when");
}

// A daemon a remediation step starts (as `pg_ctl start` does: setsid, a group of its own)
// outlives the step, and a SIGKILLed runner has no teardown to stop it: the run journals
// it when it sees it, and `firedrill rollback` stops it.
TEST(CrashTest, ADaemonARemediationStepStartedIsStoppedByRollback) {
  TempDir dir;
  const std::string state = dir / "state";
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: daemon-left
settings: {probe_interval: 100ms, timeout: 2m}
services:
  - {name: idle, run: "exec sleep 300"}
steady_state:
  - {name: ok, probe: {command: {run: "true"}}}
faults:
  - {name: freeze, at: 0s, action: process.pause, target: {service: idle}, duration: 90s}
recovery:
  within: 90s
  remediation:
    - after: 0s
      # The step ends once the daemon has its own session (as pg_ctl waits for the server):
      # a step's group is killed when it ends, and a daemon still in it would die too.
      run: >-
        setsid sh -c 'echo $$ > daemon.pid; exec sleep 299' </dev/null >/dev/null 2>&1 &
        for i in $(seq 100); do [ -s daemon.pid ] && break; sleep 0.05; done
)");
  pid_t pid = StartRun(dir / "drill.yaml", dir.path(), state);
  PidReaper reaper;
  reaper.Watch(pid);
  const nlohmann::json intent = WaitForIntent(state, "orphan ", 10);
  const pid_t daemon = intent.is_object() ? intent.value("pid", 0) : 0;
  ASSERT_GT(daemon, 1) << "the daemon was never journaled\n" << ReadFile(dir / "run.log");
  reaper.Watch(daemon);
  std::ifstream comm("/proc/" + std::to_string(daemon) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "sleep");
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_FALSE(Gone(daemon)) << "the daemon must outlive the runner for this test to mean anything";
  CliResult r = RunFiredrill({"rollback", "--state-dir", state}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("stopped process group " + std::to_string(daemon)), std::string::npos)
      << r.out;
  // Reparented to init (or to this test), it may stay a zombie a moment: Gone counts that.
  for (int i = 0; i < 200 && !Gone(daemon); ++i) usleep(10000);
  EXPECT_TRUE(Gone(daemon));
}

// Setup outlives a SIGKILLed runner too unless journaled: a tmpfs and a loop-mounted image
// made by `setup:`, a service using the image, then SIGKILL mid-drill: `firedrill rollback`
// unmounts both, detaches the loop device and removes the image.
TEST(CrashTest, SetupMountsAndLoopDevicesAreTakenDownByRollback) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  TempDir dir;
  const std::string work = dir / "work";
  const std::string state = dir / "state";
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: setup-left
settings: {probe_interval: 100ms, timeout: 2m, workdir: ")" +
                                    work + R"("}
setup:
  - {name: scratch, action: disk.tmpfs, with: {path: "${workdir}/scratch", size: 4MiB}}
  - {name: disk-a, action: disk.image, with: {image: "${workdir}/a.img", path: "${workdir}/a", size: 16MiB}}
services:
  - {name: server, run: "cd a && exec sleep 300"}
steady_state:
  - {name: ok, probe: {command: {run: "test -d a/lost+found"}}}
faults:
  - {name: freeze, at: 0s, action: process.pause, target: {service: server}, duration: 90s}
recovery: {within: 90s}
)");
  pid_t pid = StartRun(dir / "drill.yaml", dir.path(), state);
  PidReaper reaper;
  reaper.Watch(pid);
  struct Unmount {
    std::string work;
    ~Unmount() {
      for (const char* m : {"/a", "/scratch"}) ::umount2((work + m).c_str(), MNT_DETACH);
      (void)std::system((FindTool("losetup") + " -j '" + work +
                         "/a.img' | cut -d: -f1 | xargs -r " + FindTool("losetup") + " -d")
                            .c_str());
    }
  } guard{work};
  // Until the fault is journaled: both setup steps and the service are in place by then.
  ASSERT_TRUE(WaitForIntent(state, "fault freeze", 10).is_object()) << ReadFile(dir / "run.log");
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  auto mounted = [&](const std::string& p) {
    return std::system(("mountpoint -q '" + p + "'").c_str()) == 0;
  };
  auto loops = [&] {
    FILE* f = ::popen((FindTool("losetup") + " -j '" + work + "/a.img'").c_str(), "r");
    std::string out;
    char buf[256];
    while (f && std::fgets(buf, sizeof buf, f)) out += buf;
    if (f) ::pclose(f);
    return out;
  };
  ASSERT_TRUE(mounted(work + "/a") && mounted(work + "/scratch") && !loops().empty())
      << "the setup must be in place when the runner dies, for this test to mean anything";
  CliResult r = RunFiredrill({"rollback", "--state-dir", state}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(mounted(work + "/a"));
  EXPECT_FALSE(mounted(work + "/scratch"));
  EXPECT_EQ(loops(), "");
  EXPECT_FALSE(std::filesystem::exists(work + "/a.img"));
  CliResult again = RunFiredrill({"rollback", "--state-dir", state}, dir.path());
  EXPECT_NE(again.out.find("nothing to roll back"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace firedrill::testing
