// Drills across hosts, for real: every host a network namespace with its own sshd
// (tests/integration/netns_hosts.h), firedrill run in the controller's namespace and
// reaching each host over OpenSSH, its agent copied there and run by sshd. Nothing leaves
// the namespaces the test made.
//   - the shipped fleet drill: nginx on two hosts behind HAProxy on a third; one nginx
//     killed, the other host cut off from the balancer; HAProxy routes around both;
//   - the controller SIGKILLed mid-partition: each host's rules gone within the lease
//     plus one second, by the hosts themselves;
//   - the controller's own link cut: the lease lapses and the host reverts itself;
//   - the dead-man off: `firedrill rollback` reaches every host and restores it;
//   - a host that cannot be reached: exit 4 before any fault, naming it and ssh's words.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/integration/harness.h"
#include "tests/integration/netns_hosts.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Skips where namespaces cannot be made, unless FIREDRILL_REQUIRE_NETNS=1 (CI), where
// that is a failure: these tests must never pass by not running.
#define REQUIRE_NETNS()                                     \
  do {                                                      \
    std::string why = NetnsHosts::Unsupported();            \
    if (!why.empty()) {                                     \
      if (getenv("FIREDRILL_REQUIRE_NETNS")) FAIL() << why; \
      GTEST_SKIP() << why;                                  \
    }                                                       \
  } while (0)

std::string FindInPathForTest(const std::string& name) {
  auto r = RunShell({.script = "command -v " + name, .cwd = "/", .timeout = Millis(5000)});
  return r.ok() && r->exit_code == 0 ? r->out : "";
}

std::string RepoPath(const std::string& rel) {
  return std::string(FIREDRILL_SOURCE_DIR) + "/" + rel;
}

// `firedrill ARGS` inside the controller's namespace, as RunFiredrill runs it.
CliResult RunIn(const NetnsHosts& net, const std::vector<std::string>& args, const std::string& cwd,
                Millis timeout = Millis(240000)) {
  std::string cmd = "NO_COLOR=1 FIREDRILL_SSH_CONFIG=" + Quote(net.ssh_config()) +
                    " FIREDRILL_STATE_DIR=" + Quote(cwd + "/state") +
                    " XDG_DATA_HOME=" + Quote(cwd + "/xdg-data") + " exec ip netns exec " +
                    net.ctl_netns() + " " + Quote(FIREDRILL_BIN);
  for (const auto& a : args) cmd += " " + Quote(a);
  auto r = RunShell({.script = cmd, .cwd = cwd, .timeout = timeout, .capture_limit = 4 << 20});
  return ToCliResult(r);
}

// `firedrill ARGS` in the background, in the controller's namespace, its output (and
// nothing for its stdin) in `log`; the PID is the controller's own (ip netns exec execs
// it), for a test that kills it or waits for it.
pid_t SpawnIn(const NetnsHosts& net, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {"ip", "netns", "exec", net.ctl_netns(), FIREDRILL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid == 0) {
    setenv("FIREDRILL_SSH_CONFIG", net.ssh_config().c_str(), 1);
    setenv("NO_COLOR", "1", 1);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    execvp(c[0], c.data());
    _exit(127);
  }
  return pid;
}

// `firedrill run DRILL` in the background (SpawnIn), its report and state under `dir`.
pid_t StartIn(const NetnsHosts& net, const std::string& drill, const std::string& dir) {
  return SpawnIn(net,
                 {"run", drill, "--report-dir", dir + "/report", "--state-dir", dir + "/state",
                  "-q", "--no-history"},
                 dir + "/run.log");
}

// firedrill's nftables tables on a host ("" when there are none).
std::string Tables(const NetnsHosts& net, const std::string& host) {
  auto r = net.RunOnHost(host, "nft list tables | grep firedrill || true");
  return r.out;
}

// Waits at most `limit` for `pred`; how long it took, or nullopt.
template <typename Pred>
std::optional<Millis> WaitFor(Pred pred, Millis limit) {
  const auto start = Clock::now();
  while (Clock::now() - start < limit) {
    if (pred()) return std::chrono::duration_cast<Millis>(Clock::now() - start);
    usleep(20000);
  }
  return std::nullopt;
}

// A partition of two hosts from each other, lasting longer than any test waits: only a
// revert ends it early. `lease` is settings.lease.
std::string PartitionDrill(const std::string& lease, const std::string& duration = "2m") {
  return R"(apiVersion: firedrill/v1
name: hosts-partition
settings: {probe_interval: 200ms, settle: 10s, timeout: 3m, lease: )" +
         lease + R"(}
hosts:
  - {name: a, ssh: {destination: a, options: [-F, "${env:FIREDRILL_SSH_CONFIG}"]}}
  - {name: b, ssh: {destination: b, options: [-F, "${env:FIREDRILL_SSH_CONFIG}"]}}
steady_state:
  - {name: a-answers, probe: {command: {run: "true", host: a}}}
  - {name: b-answers, probe: {command: {run: "true", host: b}}}
faults:
  - {name: cut-a-from-b, at: 0s, action: network.partition, host: a, with: {peer: b}, duration: )" +
         duration + R"(}
recovery: {within: 30s, steady_for: 1s}
)";
}

class HostsTest : public ::testing::Test {
 protected:
  std::string NetDir() {
    fs::create_directories(dir_ / "net");
    return dir_ / "net";
  }
  // Runs PartitionDrill(lease, duration) in the background and waits (at most 60 s) until
  // the partition's rules are on both hosts. The controller's PID, or -1 with the run's
  // log in `log`: the controller is killed then, so a failed wait leaves nothing running.
  pid_t StartPartitioned(const NetnsHosts& net, const std::string& lease,
                         const std::string& duration, std::string* log) {
    WriteFile(dir_ / "drill.yaml", PartitionDrill(lease, duration));
    pid_t pid = StartIn(net, dir_ / "drill.yaml", dir_.path());
    if (pid <= 0) return -1;
    if (WaitFor([&] { return Tables(net, "a") != "" && Tables(net, "b") != ""; }, Millis(60000))) {
      return pid;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    *log = ReadFile(dir_ / "run.log");
    return -1;
  }
  // Waits at most 200 s for the controller `pid` to exit; false (and it is killed) when
  // it did not.
  static bool WaitForExit(pid_t pid, int* status) {
    if (WaitFor([&] { return ::waitpid(pid, status, WNOHANG) == pid; }, Millis(200000))) {
      return true;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
  }
  TempDir dir_;
};

TEST_F(HostsTest, TheFleetDrillFailsOverAroundAKilledServerAndAPartitionedHost) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"lb", "web1", "web2"});
  ASSERT_EQ(net.error(), "");
  auto r = RunIn(net,
                 {"run", RepoPath("scenarios/fleet-web-failover.yaml"), "--report-dir",
                  dir_ / "report", "--no-history"},
                 dir_.path());
  auto report = ReadJson(dir_ / "report/report.json");
  ASSERT_TRUE(report) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << report->dump(1);
  EXPECT_EQ((*report)["verdict"], "passed");
  // Both faults went in on their hosts, and both came out.
  ASSERT_EQ((*report)["faults"].size(), 2u);
  for (const auto& f : (*report)["faults"]) {
    EXPECT_FALSE(f["injected_at_ms"].is_null()) << f.dump();
  }
  EXPECT_EQ((*report)["faults"][1]["rollback"], "ok");
  std::string detail = (*report)["faults"][1]["detail"];
  EXPECT_NE(detail.find("on host web2"), std::string::npos) << detail;
  EXPECT_NE(detail.find("on host lb"), std::string::npos) << detail;
  // HAProxy saw each backend go and come back.
  for (const auto& w : (*report)["watches"]) EXPECT_TRUE(w["met"].get<bool>()) << w.dump();
  EXPECT_FALSE((*report)["metrics"]["recovered_after_ms"].is_null());
  // The hosts were reached over ssh and their clocks compared.
  int connected = 0;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "host.connected") {
      ++connected;
      EXPECT_NE(e["detail"].get<std::string>().find("clock offset"), std::string::npos);
    }
  }
  EXPECT_EQ(connected, 3);
  // lb sampled its checks and watches on its own schedule, and said how it kept it.
  bool sampled = false;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "host.sampled" && e["name"] == "lb") {
      sampled = true;
      EXPECT_NE(e["detail"].get<std::string>().find("4 probes on its own clock"), std::string::npos)
          << e.dump();
    }
  }
  EXPECT_TRUE(sampled) << report->dump(1);
  // Nothing is left on any host: no rules, no nginx or haproxy, no run directory.
  for (const std::string h : {"lb", "web1", "web2"}) {
    EXPECT_EQ(Tables(net, h), "") << h;
    auto ps = net.RunOnHost(h, "ip netns identify $$; for p in $(ip netns pids " +
                                   net.host_netns(h) + "); do cat /proc/$p/comm; done");
    EXPECT_EQ(ps.out.find("nginx"), std::string::npos) << h << ": " << ps.out;
    EXPECT_EQ(ps.out.find("haproxy"), std::string::npos) << h << ": " << ps.out;
    EXPECT_EQ(ps.out.find("firedrill"), std::string::npos) << h << ": " << ps.out;
  }
}

TEST_F(HostsTest, ControllerKilledMidPartitionEachHostRevertsWithinTheLeasePlusOneSecond) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a", "b"});
  ASSERT_EQ(net.error(), "");
  std::string log;
  pid_t pid = StartPartitioned(net, "3s", "2m", &log);
  ASSERT_GT(pid, 0) << "the partition never went in: " << log;
  // The hosts really cannot talk.
  EXPECT_NE(net.RunOnHost("a", "timeout 2 ssh -F " + Quote(net.ssh_config()) + " b true").exit_code,
            0);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  auto gone =
      WaitFor([&] { return Tables(net, "a") == "" && Tables(net, "b") == ""; }, Millis(10000));
  ASSERT_TRUE(gone) << "a: " << Tables(net, "a") << " b: " << Tables(net, "b");
  EXPECT_LE(gone->count(), 3000 + 1000);
  // No controller ran meanwhile: the hosts did it themselves, and say so.
  EXPECT_TRUE(ProcessesWithArg(dir_ / "drill.yaml").empty());
  EXPECT_EQ(net.RunOnHost("a", "timeout 2 ssh -F " + Quote(net.ssh_config()) + " b true").exit_code,
            0);
}

TEST_F(HostsTest, AFaultThatCutsTheControllersLinkIsRevertedByTheHostWhichThenRejoins) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a", "b"});
  ASSERT_EQ(net.error(), "");
  std::string log;
  pid_t pid = StartPartitioned(net, "2s", "12s", &log);
  ASSERT_GT(pid, 0) << "the partition never went in: " << log;
  // Host a drops off the controller's network: no EOF reaches its agent, only silence.
  ASSERT_EQ(net.BreakLink("a"), "");
  auto gone = WaitFor([&] { return Tables(net, "a") == ""; }, Millis(10000));
  EXPECT_TRUE(gone) << Tables(net, "a");
  if (gone) {
    EXPECT_LE(gone->count(), 2000 + 1000);
  }
  ASSERT_EQ(net.RestoreLink("a"), "");
  // The run notices, reports the host lost, confirms the revert once it is back, and
  // re-joins it while the partition of b still lasts.
  int status = 0;
  ASSERT_TRUE(WaitForExit(pid, &status));
  auto report = ReadJson(dir_ / "report/report.json");
  ASSERT_TRUE(report) << ReadFile(dir_ / "run.log");
  std::optional<int64_t> lost, confirmed, rejoined;
  for (const auto& e : (*report)["timeline"]) {
    if (e["name"] != "a") continue;
    const int64_t t = e["t_ms"].get<int64_t>();
    if (e["type"] == "host.lost" && !lost) lost = t;
    if (e["type"] == "host.revert_confirmed" && !confirmed) confirmed = t;
    if (e["type"] == "host.rejoined" && !rejoined) rejoined = t;
  }
  ASSERT_TRUE(lost) << report->dump(1);
  ASSERT_TRUE(confirmed) << report->dump(1);
  ASSERT_TRUE(rejoined) << report->dump(1);
  EXPECT_LE(*lost, *confirmed);
  EXPECT_LE(*confirmed, *rejoined);
  // Within the run, not at its teardown: before the 12 s partition of b ended.
  const auto& fault = (*report)["faults"][0];
  ASSERT_FALSE(fault["rolled_back_at_ms"].is_null()) << fault.dump();
  EXPECT_LT(*rejoined, fault["rolled_back_at_ms"].get<int64_t>()) << report->dump(1);
  // Undone after all, by the host: no leftover, and not the exit of a failed rollback.
  EXPECT_EQ(fault["rollback"], "ok") << report->dump(1);
  std::string undone;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "fault.rolled_back") undone = e["detail"];
  }
  EXPECT_EQ(undone.rfind("on host a: reverted by its dead-man, confirmed when it was re-joined; "
                         "on host b: ",
                         0),
            0u)
      << report->dump(1);
  // a's probe answered again on its new agent, so the steady state came back: the drill
  // passed, its recovery measured.
  EXPECT_FALSE((*report)["metrics"]["recovered_after_ms"].is_null()) << report->dump(1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << report->dump(1);
  EXPECT_EQ(Tables(net, "a"), "");
  EXPECT_EQ(Tables(net, "b"), "");
}

// The other order: the fault's end comes while its host is still out of reach, so its
// rollback there fails; the host comes back later in the run, its revert is confirmed and
// it re-joins, and the failed rollback counts as done (by the host) with no exit 4.
TEST_F(HostsTest, AFaultThatEndsWhileItsHostIsLostIsConfirmedRolledBackWhenTheHostRejoins) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a", "b"});
  ASSERT_EQ(net.error(), "");
  std::string log;
  pid_t pid = StartPartitioned(net, "2s", "4s", &log);
  ASSERT_GT(pid, 0) << "the partition never went in: " << log;
  ASSERT_EQ(net.BreakLink("a"), "");
  // b's side goes only after the run gave up on a's rollback (a was found lost).
  auto b_undone = WaitFor([&] { return Tables(net, "b") == ""; }, Millis(60000));
  EXPECT_TRUE(b_undone) << Tables(net, "b");
  EXPECT_EQ(Tables(net, "a"), "") << "a reverted itself when its lease lapsed";
  ASSERT_EQ(net.RestoreLink("a"), "");
  int status = 0;
  ASSERT_TRUE(WaitForExit(pid, &status));
  auto report = ReadJson(dir_ / "report/report.json");
  ASSERT_TRUE(report) << ReadFile(dir_ / "run.log");
  bool rejoined = false;
  std::string undone;
  for (const auto& e : (*report)["timeline"]) {
    rejoined |= e["type"] == "host.rejoined" && e["name"] == "a";
    if (e["type"] == "fault.rolled_back") undone = e["detail"];
  }
  EXPECT_TRUE(rejoined) << report->dump(1);
  EXPECT_EQ(undone, "by the dead-man of host a, confirmed when it was reached again")
      << report->dump(1);
  EXPECT_EQ((*report)["faults"][0]["rollback"], "ok") << report->dump(1);
  EXPECT_TRUE((*report)["leftovers"].empty()) << report->dump(1);
  // a's probe answered again after the re-join: the steady state recovered.
  EXPECT_FALSE((*report)["metrics"]["recovered_after_ms"].is_null()) << report->dump(1);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << report->dump(1);
}

TEST_F(HostsTest, WithTheDeadManOffRollbackReachesEveryHostAfterAControllerCrash) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a", "b"});
  ASSERT_EQ(net.error(), "");
  std::string log;
  pid_t pid = StartPartitioned(net, "0s", "2m", &log);
  ASSERT_GT(pid, 0) << "the partition never went in: " << log;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  // Nobody reverts the hosts by themselves now.
  usleep(3000000);
  EXPECT_NE(Tables(net, "a"), "");
  EXPECT_NE(Tables(net, "b"), "");
  auto r = RunIn(net, {"rollback", "--state-dir", dir_ / "state"}, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("host a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("host b"), std::string::npos) << r.out;
  EXPECT_EQ(Tables(net, "a"), "");
  EXPECT_EQ(Tables(net, "b"), "");
  // And a second rollback has nothing left to do.
  auto again = RunIn(net, {"rollback", "--state-dir", dir_ / "state"}, dir_.path());
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("nothing to roll back"), std::string::npos) << again.out;
}

TEST_F(HostsTest, AnUnreachableHostFailsTheRunBeforeAnyFault) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a", "b"});
  ASSERT_EQ(net.error(), "");
  ASSERT_EQ(net.KillSshd("b"), "");
  WriteFile(dir_ / "drill.yaml", PartitionDrill("3s"));
  auto r = RunIn(net, {"run", dir_ / "drill.yaml", "--report-dir", dir_ / "report", "--no-history"},
                 dir_.path());
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  auto report = ReadJson(dir_ / "report/report.json");
  ASSERT_TRUE(report) << r.out << r.err;
  EXPECT_EQ((*report)["verdict"], "error");
  const std::string all = report->dump();
  EXPECT_NE(all.find("host b is unreachable"), std::string::npos) << all;
  EXPECT_NE(all.find("Connection refused"), std::string::npos) << all;
  for (const auto& f : (*report)["faults"]) EXPECT_TRUE(f["injected_at_ms"].is_null()) << f.dump();
  for (const auto& e : (*report)["timeline"]) EXPECT_NE(e["type"], "fault.injected");
  EXPECT_EQ(Tables(net, "a"), "");
  // Host a, reached, was put back: no agent and no run directory left there.
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(net.cache_dir("a") + "/firedrill-agent/runs", ec)) << ec.message();
}

// hosts_from: the hosts and groups of an Ansible inventory, read by Ansible's own
// ansible-inventory; `host: GROUP` acts on every member, each copy on its own.
TEST_F(HostsTest, AnInventorysGroupActsOnEveryMemberHost) {
  REQUIRE_NETNS();
  if (FindInPathForTest("ansible-inventory").empty()) {
    if (getenv("FIREDRILL_REQUIRE_NETNS")) FAIL() << "ansible-inventory not installed";
    GTEST_SKIP() << "ansible-inventory not installed (apt-get install ansible-core)";
  }
  NetnsHosts net(NetDir(), {"lb", "web1", "web2"});
  ASSERT_EQ(net.error(), "");
  WriteFile(dir_ / "inventory.ini",
            "[web]\nweb1 ansible_host=" + net.address("web1") +
                "\nweb2 ansible_host=" + net.address("web2") +
                " ansible_user=root\n\n[balancers]\nlb ansible_host=" + net.address("lb") + "\n");
  WriteFile(dir_ / "drill.yaml", R"(apiVersion: firedrill/v1
name: inventory-groups
settings: {probe_interval: 200ms, settle: 10s, timeout: 1m, lease: 3s}
hosts_from: inventory.ini
steady_state:
  - {name: up, probe: {command: {run: "true", host: web}}}
faults:
  - name: mark
    host: web
    action: command
    with: {run: "ip -4 -o addr show eth0 | awk '{print $4}' >> )" +
                                     dir_.path() + R"(/marks", rollback: "echo undone >> )" +
                                     dir_.path() + R"(/marks"}
recovery: {within: 10s, steady_for: 500ms}
)");
  auto r = RunIn(net, {"run", dir_ / "drill.yaml", "--report-dir", dir_ / "report", "--no-history"},
                 dir_.path());
  auto report = ReadJson(dir_ / "report/report.json");
  ASSERT_TRUE(report) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> faults, checks;
  for (const auto& f : (*report)["faults"]) faults.push_back(f["name"]);
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "host.connected") checks.push_back(e["name"]);
  }
  EXPECT_EQ(faults, (std::vector<std::string>{"mark@web1", "mark@web2"}));
  std::sort(checks.begin(), checks.end());
  // lb is in the inventory but nothing of the drill uses it: never connected.
  EXPECT_EQ(checks, (std::vector<std::string>{"web1", "web2"}));
  const std::string marks = ReadFile(dir_ / "marks");
  EXPECT_NE(marks.find(net.address("web1") + "/24"), std::string::npos) << marks;
  EXPECT_NE(marks.find(net.address("web2") + "/24"), std::string::npos) << marks;
  EXPECT_EQ(marks.find(net.address("lb")), std::string::npos) << marks;
}

// A remediation step with host: runs there, by the host's agent, in the host's workdir:
// what the on-call would type on that machine.
TEST_F(HostsTest, ARemediationStepRunsOnItsHost) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a"});
  ASSERT_EQ(net.error(), "");
  WriteFile(dir_ / "drill.yaml", R"(apiVersion: firedrill/v1
name: remote-remediation
settings: {probe_interval: 100ms, settle: 10s, timeout: 1m, lease: 3s}
hosts:
  - {name: a, ssh: {destination: a}}
services:
  - {name: keeper, host: a, run: "touch ${workdir}/ok && exec sleep 600"}
steady_state:
  - {name: ok-there, probe: {file: {host: a, path: "${workdir}/ok", expect: {exists: true}}}}
faults:
  - {name: lose-it, host: a, action: command, with: {run: "rm ${workdir}/ok", rollback: "true"}}
recovery:
  within: 20s
  steady_for: 500ms
  remediation:
    - {after: 1s, host: a, run: "ip -4 -o addr show eth0 > ${workdir}/where && touch ${workdir}/ok"}
)");
  auto r = RunIn(net, {"run", dir_ / "drill.yaml", "--report-dir", dir_ / "report", "--no-history"},
                 dir_.path());
  auto report = ReadJson(dir_ / "report/report.json");
  ASSERT_TRUE(report) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  bool done = false;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "remediation.done") {
      done = true;
      EXPECT_EQ(e["detail"].get<std::string>().rfind("on host a: exit 0", 0), 0u) << e.dump();
    }
  }
  EXPECT_TRUE(done) << report->dump(1);
  EXPECT_FALSE((*report)["metrics"]["recovered_after_ms"].is_null());
  EXPECT_GE((*report)["metrics"]["recovered_after_ms"].get<int64_t>(), 1000);
  // The master's control socket was under the state directory, and is gone with the run.
  const std::string control = dir_ / "state/ssh/";
  bool connected = false;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] != "host.connected") continue;
    connected = true;
    EXPECT_NE(e["detail"].get<std::string>().find("control socket in " + control),
              std::string::npos)
        << e.dump();
  }
  EXPECT_TRUE(connected);
  EXPECT_TRUE(fs::is_empty(control)) << control;
}

// network.delay between hosts: a's new connections to b's port go through a fault proxy
// on a, behind a redirect on a alone. Only that pair and that port slow down: a's
// connections to b's other port, and the controller's to the same port, do not.
TEST_F(HostsTest, ADelayBetweenHostsSlowsOnlyThatHostsConnectionsToThePeersPort) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a", "b"});
  ASSERT_EQ(net.error(), "");
  WriteFile(dir_ / "drill.yaml", R"(apiVersion: firedrill/v1
name: hosts-delay
settings: {probe_interval: 200ms, settle: 10s, timeout: 2m, lease: 5s}
hosts:
  - {name: a, ssh: {destination: a}}
  - {name: b, ssh: {destination: b}}
services:
  - name: web
    host: b
    run: |
      mkdir -p ${workdir}/www ${workdir}/tmp
      echo hello > ${workdir}/www/index.html
      cat > ${workdir}/nginx.conf <<CONF
      master_process off; daemon off; pid ${workdir}/nginx.pid; error_log stderr warn;
      events { worker_connections 64; }
      http {
        access_log off;
        client_body_temp_path ${workdir}/tmp; proxy_temp_path ${workdir}/tmp;
        fastcgi_temp_path ${workdir}/tmp; uwsgi_temp_path ${workdir}/tmp; scgi_temp_path ${workdir}/tmp;
        server { listen 18081; listen 18082; root ${workdir}/www; }
      }
      CONF
      exec nginx -e stderr -p ${workdir} -c ${workdir}/nginx.conf
    ready: {tcp: {address: 127.0.0.1:18081}, within: 10s}
steady_state:
  - name: fast-from-a
    probe: {command: {host: a, run: "curl -sf -m 0.5 -o /dev/null http://${host:b}:18081/"}}
faults:
  - {name: slow-b, at: 0s, host: a, action: network.delay, with: {peer: b, port: 18081, delay: 800ms}, duration: 8s}
recovery: {within: 20s, steady_for: 500ms}
)");
  pid_t pid = StartIn(net, dir_ / "drill.yaml", dir_.path());
  ASSERT_GT(pid, 0);
  int status = 0;
  bool exited = false;
  const bool redirected = WaitFor(
                              [&] {
                                exited = exited || ::waitpid(pid, &status, WNOHANG) == pid;
                                return exited || Tables(net, "a") != "";
                              },
                              Millis(60000))
                              .has_value() &&
                          !exited;
  // Seconds a GET takes from inside the namespace `where` runs in.
  auto seconds = [&](bool from_a, int port) {
    const std::string curl = "curl -s -o /dev/null -m 5 -w '%{time_total}' http://" +
                             net.address("b") + ":" + std::to_string(port) + "/";
    CliResult r = from_a ? net.RunOnHost("a", curl) : net.RunInCtl(curl);
    return r.exit_code == 0 ? std::stod(r.out) : -1.0;
  };
  double a_delayed = -1, a_other = -1, ctl_same = -1;
  std::string b_tables;
  if (redirected) {
    a_delayed = seconds(true, 18081);
    a_other = seconds(true, 18082);
    ctl_same = seconds(false, 18081);
    b_tables = Tables(net, "b");
  }
  if (!exited) ::waitpid(pid, &status, 0);
  const std::string log = ReadFile(dir_ / "run.log");
  ASSERT_TRUE(redirected) << log;
  RecordProperty("seconds", fmt::format("a to b:18081 {:.3f}, a to b:18082 {:.3f}, "
                                        "controller to b:18081 {:.3f}",
                                        a_delayed, a_other, ctl_same));
  // The proxy never lets a reply go before its delay; the undelayed requests cross one
  // veth-and-bridge hop, a few milliseconds, so the delay itself is a wide bound for them.
  EXPECT_GE(a_delayed, 0.8) << log;
  EXPECT_GE(a_other, 0.0) << log;
  EXPECT_LT(a_other, 0.8) << log;
  EXPECT_GE(ctl_same, 0.0) << log;
  EXPECT_LT(ctl_same, 0.8) << log;
  EXPECT_EQ(b_tables, "") << "the delay's rules are on a alone";
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  auto report = ReadJson(dir_ / "report/report.json");
  ASSERT_TRUE(report) << log;
  ASSERT_EQ((*report)["faults"].size(), 1u);
  const auto& f = (*report)["faults"][0];
  EXPECT_EQ(f["rollback"], "ok") << f.dump();
  EXPECT_NE(f["detail"].get<std::string>().find("on host a: connections to host b (" +
                                                net.address("b") + ") tcp port 18081 redirected"),
            std::string::npos)
      << f.dump();
  // The steady state broke while the delay lasted and came back after it.
  EXPECT_FALSE((*report)["metrics"]["recovered_after_ms"].is_null()) << report->dump(1);
  EXPECT_GE((*report)["metrics"]["recovered_after_ms"].get<int64_t>(), 8000);
  EXPECT_EQ(Tables(net, "a"), "");
}

// `firedrill train` with a service on a host: the trainee's `firedrill ctl DIR start
// SERVICE` reaches the agent there, which starts it again; the steady state (sampled on
// that host) comes back and the session ends.
TEST_F(HostsTest, ATraineesCtlStartsAServiceOnItsHost) {
  REQUIRE_NETNS();
  NetnsHosts net(NetDir(), {"a"});
  ASSERT_EQ(net.error(), "");
  WriteFile(dir_ / "drill.yaml", R"(apiVersion: firedrill/v1
name: remote-training
tags: [training, easy]
settings: {probe_interval: 200ms, settle: 10s, timeout: 2m, lease: 5s}
hosts:
  - {name: a, ssh: {destination: a}}
services:
  - {name: worker, host: a, run: "exec sleep 600"}
steady_state:
  - {name: worker-runs, probe: {process: {service: worker, expect: running}}}
faults:
  - {name: kill-worker, action: process.kill, target: {service: worker}, with: {signal: SIGKILL}}
recovery: {within: 60s, steady_for: 500ms}
)");
  const std::string report = dir_ / "report";
  pid_t pid = SpawnIn(net,
                      {"train", dir_ / "drill.yaml", "--trainee", "ada", "--inject-within", "0s",
                       "--no-history", "--report-dir", report, "--state-dir", dir_ / "state"},
                      dir_ / "train.log");
  ASSERT_GT(pid, 0);
  auto ctl = [&](const std::string& verb) {
    return net.RunInCtl(Quote(FIREDRILL_BIN) + " ctl " + Quote(report) + " " + verb + " worker",
                        Millis(60000));
  };
  int status = 0;
  bool exited = false;
  // Until the fault is in: the session's status then says the worker is down there.
  CliResult down;
  auto killed = WaitFor(
      [&] {
        exited = exited || ::waitpid(pid, &status, WNOHANG) == pid;
        if (exited) return true;
        down = ctl("status");
        return down.out.find("stopped") != std::string::npos ||
               down.out.find("exited") != std::string::npos;
      },
      Millis(60000));
  ASSERT_TRUE(killed && !exited) << down.out << down.err << ReadFile(dir_ / "train.log");
  EXPECT_EQ(down.out.rfind("ok: on host a: ", 0), 0u) << down.out;
  CliResult started = ctl("start");
  EXPECT_EQ(started.exit_code, 0) << started.out << started.err;
  EXPECT_EQ(started.out.rfind("ok: on host a: ", 0), 0u) << started.out;
  auto done =
      WaitFor([&] { return exited || ::waitpid(pid, &status, WNOHANG) == pid; }, Millis(90000));
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  ASSERT_TRUE(done) << ReadFile(dir_ / "train.log");
  const std::string log = ReadFile(dir_ / "train.log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  auto rep = ReadJson(report + "/report.json");
  ASSERT_TRUE(rep) << log;
  EXPECT_EQ((*rep)["mode"], "train");
  bool ctl_seen = false;
  for (const auto& e : (*rep)["timeline"]) {
    if (e["type"] == "trainee.ctl" && e["name"] == "worker") {
      ctl_seen = true;
      EXPECT_EQ(e["detail"].get<std::string>().rfind("start: ok: on host a: ", 0), 0u) << e.dump();
    }
  }
  EXPECT_TRUE(ctl_seen) << rep->dump(1);
  EXPECT_FALSE((*rep)["metrics"]["recovered_after_ms"].is_null()) << rep->dump(1);
  // The session's teardown stopped what the trainee started there.
  auto ps = net.RunOnHost("a", "for p in $(ip netns pids " + net.host_netns("a") +
                                   "); do cat /proc/$p/cmdline | tr '\\0' ' '; echo; done");
  EXPECT_EQ(ps.out.find("sleep 600"), std::string::npos) << ps.out;
}

}  // namespace
}  // namespace firedrill::testing
