// The harness of the drills-across-hosts tests itself: its hosts answer over ssh as
// themselves, each other, and nobody outside; and it leaves nothing behind.
#include "tests/integration/netns_hosts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/testing.h"

namespace firedrill::testing {
namespace {

using ::testing::HasSubstr;

// `script` in the machine's own namespace.
CliResult Here(const std::string& script) {
  auto r = RunShell({.script = script, .cwd = "/", .timeout = Millis(10000)});
  if (!r.ok()) return {.exit_code = -1, .out = "", .err = r.status().ToString()};
  return {.exit_code = r->timed_out ? -2 : r->exit_code, .out = r->out, .err = r->err};
}

std::string Describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

TEST(NetnsHostsTest, HostsAnswerOverSshOnlyInsideTheirNamespaces) {
  FD_REQUIRE_NETNS_HOSTS();
  TempDir dir;
  std::vector<std::string> namespaces;
  std::vector<pid_t> sshds;
  {
    const auto start = std::chrono::steady_clock::now();
    NetnsHosts hosts(dir.path(), {"alpha", "beta", "gamma"});
    ASSERT_EQ(hosts.error(), "");
    RecordProperty(
        "setup_ms",
        static_cast<int>(
            std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count()));
    namespaces = {hosts.ctl_netns()};
    for (const auto& name : hosts.names()) {
      namespaces.push_back(hosts.host_netns(name));
      sshds.push_back(hosts.sshd_pid(name));
      ASSERT_GT(sshds.back(), 0) << name;
      // The sshd runs in the host's namespace, not the machine's.
      CliResult where = hosts.RunInCtl("ip netns identify " + std::to_string(hosts.sshd_pid(name)));
      EXPECT_EQ(where.out, hosts.host_netns(name) + "\n") << Describe(where);

      // Each host is itself: ssh by name lands on the host with that address.
      CliResult r = hosts.Ssh(name, "ip -4 -o addr show eth0");
      EXPECT_EQ(r.exit_code, 0) << name << ": " << Describe(r);
      EXPECT_THAT(r.out, HasSubstr("inet " + hosts.address(name) + "/24")) << name;
    }
    EXPECT_EQ(hosts.address("alpha"), "10.77.0.11");
    // By address too: the client config and known_hosts cover both.
    CliResult by_addr =
        hosts.RunInCtl("ssh -F " + Quote(hosts.ssh_config()) + " -n 10.77.0.12 'ip -4 -o addr'");
    EXPECT_EQ(by_addr.exit_code, 0) << Describe(by_addr);
    EXPECT_THAT(by_addr.out, HasSubstr("inet 10.77.0.12/24"));

    // Host to host over the bridge: alpha's own ssh client, in alpha's namespace, to beta.
    CliResult hop = hosts.RunOnHost("alpha", hosts.SshCommand("beta", "ip -4 -o addr show eth0"));
    EXPECT_EQ(hop.exit_code, 0) << Describe(hop);
    EXPECT_THAT(hop.out, HasSubstr("inet " + hosts.address("beta") + "/24"));

    // The machine's own namespace has no way in. A connect alone proves nothing: a
    // default route may lead to a gateway that accepts any connection (this VM's does)
    // and then says nothing. An sshd greets first, so no greeting means no sshd of ours.
    CliResult outside =
        Here("timeout 1 bash -c 'exec 3<>/dev/tcp/10.77.0.11/22 && head -c 7 <&3' 2>&1");
    EXPECT_THAT(outside.out, ::testing::Not(HasSubstr("SSH-2.0")))
        << "the root namespace reached alpha's sshd";
    CliResult route = Here("ip -o route get 10.77.0.11");
    EXPECT_THAT(route.out, ::testing::Not(HasSubstr("fdbr0"))) << route.out;
    CliResult links = Here("ip -o link show");
    EXPECT_THAT(links.out, ::testing::Not(HasSubstr("fdbr0")));
  }
  CliResult list = Here("ip netns list");
  EXPECT_EQ(list.exit_code, 0) << Describe(list);
  for (const auto& ns : namespaces) {
    EXPECT_THAT(list.out, ::testing::Not(HasSubstr(ns))) << ns << " survived";
  }
  for (pid_t p : sshds) EXPECT_TRUE(Gone(p)) << "sshd " << p << " survived";
}

TEST(NetnsHostsTest, KillSshdMakesTheHostUnreachable) {
  FD_REQUIRE_NETNS_HOSTS();
  TempDir dir;
  NetnsHosts hosts(dir.path(), {"alpha", "beta"});
  ASSERT_EQ(hosts.error(), "");
  const pid_t old = hosts.sshd_pid("alpha");

  ASSERT_EQ(hosts.KillSshd("alpha"), "");
  EXPECT_EQ(hosts.sshd_pid("alpha"), 0);
  EXPECT_TRUE(Gone(old));
  const auto start = std::chrono::steady_clock::now();
  CliResult dead = hosts.Ssh("alpha", "true");
  EXPECT_EQ(dead.exit_code, 255) << Describe(dead);  // ssh's own failure, not the command's
  EXPECT_THAT(dead.err, HasSubstr("Connection refused"));
  // Refused, not lost: the host is up, only nothing listens.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  CliResult other = hosts.Ssh("beta", "true");
  EXPECT_EQ(other.exit_code, 0) << "beta went down with alpha: " << Describe(other);

  ASSERT_EQ(hosts.StartSshd("alpha"), "");
  EXPECT_GT(hosts.sshd_pid("alpha"), 0);
  CliResult back = hosts.Ssh("alpha", "true");
  EXPECT_EQ(back.exit_code, 0) << Describe(back);
}

TEST(NetnsHostsTest, AnSshdThatDoesNotComeUpIsReportedWithItsLog) {
  FD_REQUIRE_NETNS_HOSTS();
  TempDir dir;
  NetnsHosts hosts(dir.path(), {"alpha"});
  ASSERT_EQ(hosts.error(), "");
  ASSERT_EQ(hosts.KillSshd("alpha"), "");
  WriteFile(dir / "sshd_config-alpha", "NoSuchOption yes\n");

  const std::string why = hosts.StartSshd("alpha");
  EXPECT_THAT(why, HasSubstr("the sshd of alpha exited (exit 255)"));
  EXPECT_THAT(why, HasSubstr("Bad configuration option: NoSuchOption"));
  EXPECT_EQ(hosts.sshd_pid("alpha"), 0);
}

TEST(NetnsHostsTest, BreakLinkDropsTheHostOffTheNetwork) {
  FD_REQUIRE_NETNS_HOSTS();
  TempDir dir;
  NetnsHosts hosts(dir.path(), {"alpha", "beta"});
  ASSERT_EQ(hosts.error(), "");

  ASSERT_EQ(hosts.BreakLink("alpha"), "");
  const auto start = std::chrono::steady_clock::now();
  CliResult lost = hosts.Ssh("alpha", "true");
  EXPECT_EQ(lost.exit_code, 255) << Describe(lost);
  EXPECT_THAT(lost.err, ::testing::Not(HasSubstr("Connection refused"))) << lost.err;
  EXPECT_GT(hosts.sshd_pid("alpha"), 0) << "its sshd still runs; only the cable is out";
  // Nothing answered: ssh gave up at its ConnectTimeout (3 s).
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
  CliResult other = hosts.Ssh("beta", "true");
  EXPECT_EQ(other.exit_code, 0) << Describe(other);

  ASSERT_EQ(hosts.RestoreLink("alpha"), "");
  CliResult back = hosts.Ssh("alpha", "true");
  EXPECT_EQ(back.exit_code, 0) << Describe(back);
}

TEST(NetnsHostsTest, FailedSetupLeavesNothingBehind) {
  FD_REQUIRE_NETNS_HOSTS();
  TempDir dir;
  // The network comes up; the keys cannot be written.
  NetnsHosts hosts(dir / "missing", {"alpha", "beta"});
  EXPECT_THAT(hosts.error(), HasSubstr("ssh-keygen"));
  EXPECT_EQ(hosts.sshd_pid("alpha"), 0);
  CliResult list = Here("ip netns list");
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(hosts.ctl_netns())));
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(hosts.host_netns("alpha"))));
}

TEST(NetnsHostsTest, NamespacesOfAGoneProcessAreCleanedUp) {
  FD_REQUIRE_NETNS_HOSTS();
  // A PID that no process has now: a child's, reaped.
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  const std::string stale = "fdc-" + std::to_string(dead) + "-0";
  // Something still running in it, out of any process group of ours, as a crashed run's
  // sshd would be.
  CliResult made = Here("ip netns add " + stale + " && ip netns exec " + stale +
                        " setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $!; wait_for=50; "
                        "while [ $wait_for -gt 0 ] && [ -z \"$(ip netns pids " +
                        stale + ")\" ]; do sleep 0.02; wait_for=$((wait_for-1)); done");
  ASSERT_EQ(made.exit_code, 0) << Describe(made);
  const pid_t sleeper = std::stoi(made.out);
  const std::string live = "fdc-" + std::to_string(getpid()) + "-999999";
  ASSERT_EQ(Here("ip netns add " + live).exit_code, 0);

  NetnsHosts::CleanStale();
  CliResult list = Here("ip netns list");
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(stale)));
  EXPECT_THAT(list.out, HasSubstr(live)) << "a live process's namespace was deleted";
  for (int i = 0; i < 100 && !Gone(sleeper); ++i) usleep(10000);
  EXPECT_TRUE(Gone(sleeper)) << "the process left in " << stale << " survived";
  Here("ip netns del " + live);
}

}  // namespace
}  // namespace firedrill::testing
