// network.partition, network.loss and network.delay against real sockets on loopback,
// real nftables and a network namespace of the test's own. Every test checks that the
// machine's ruleset afterwards is exactly the one before (RulesetGuard), pass or fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "injectors/fault_registry.h"
#include "injectors/support/nft.h"
#include "runner/drill/fault.h"
#include "runner/loader/loader.h"
#include "tests/injectors/injector_fixture.h"
#include "tests/injectors/net_testing.h"

namespace firedrill::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A fault entry as the loader would hand it over, defaults filled in.
FaultSpec Spec(const std::string& action, std::map<std::string, Param::Value> with) {
  FaultSpec f;
  f.name = "net";
  f.action = action;
  if (action == "network.partition" && !with.count("mode")) with["mode"] = std::string("drop");
  if (action == "network.delay" && !with.count("jitter")) with["jitter"] = Millis(0);
  for (auto& [k, v] : with) {
    Param p;
    p.value = v;
    f.with.Set(k, p);
  }
  return f;
}

std::unique_ptr<Fault> Make(const FaultSpec& f, const RunContext& ctx) {
  auto made = FindFaultAction(f.action)->make(f, ctx);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(*made) : nullptr;
}

std::string TableIn(const std::string& detail) {
  std::smatch m;
  std::regex re("nft table inet (firedrill_[0-9]+_[0-9]+)");
  return std::regex_search(detail, m, re) ? m[1].str() : "";
}

int ProxyPortIn(const std::string& detail) {
  std::smatch m;
  std::regex re("fault proxy 127\\.0\\.0\\.1:([0-9]+)");
  return std::regex_search(detail, m, re) ? std::stoi(m[1].str()) : 0;
}

// Round trip in milliseconds over an open connection; -1 when it failed.
double RttMs(Client& c) {
  int64_t t0 = NowUs();
  if (c.Exchange("ping", 2000) != 0) return -1;
  return static_cast<double>(NowUs() - t0) / 1000.0;
}

TEST(NetworkFaultTest, EveryNetworkActionRunsHere) {
  for (const char* name : {"network.loss", "network.partition", "network.delay"}) {
    EXPECT_EQ(WhyNotRunnable(*FindFaultAction(name)), "") << name;
  }
}

TEST(NetworkFaultTest, PartitionDropCutsOffOnlyThatPortUntilRollback) {
  RulesetGuard guard;
  EchoServer target, bystander;
  InjectorFixture fx;
  ASSERT_EQ(RoundTrip(target.port(), 1000), 0);
  auto fault = Make(Spec("network.partition", {{"port", std::to_string(target.port())}}), fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  const std::string table = TableIn(*injected);
  EXPECT_EQ(*injected, "tcp port " + std::to_string(target.port()) +
                           " on loopback cut off (drop), nft table inet " + table);
  EXPECT_THAT(OwnTables(), ::testing::ElementsAre("inet " + table));
  // Dropped SYNs: the client hears nothing at all until it gives up.
  int64_t t0 = NowUs();
  EXPECT_EQ(RoundTrip(target.port(), 300), ETIMEDOUT);
  EXPECT_GE(NowUs() - t0, 300'000);
  EXPECT_EQ(RoundTrip(bystander.port(), 1000), 0) << "another port must not be affected";
  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(*rolled, "deleted nft table inet " + table);
  EXPECT_EQ(RoundTrip(target.port(), 1000), 0);
  EXPECT_TRUE(fx.journal->Pending().empty());
}

TEST(NetworkFaultTest, PartitionRejectFailsFastAndResetsOpenConnections) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  Client open;
  ASSERT_EQ(open.Connect(target.port(), 1000), 0);
  ASSERT_EQ(open.Exchange("before", 1000), 0);
  auto fault = Make(Spec("network.partition", {{"port", std::to_string(target.port())},
                                               {"mode", std::string("reject")}}),
                    fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_THAT(*injected, HasSubstr("cut off (reject)"));
  int64_t t0 = NowUs();
  EXPECT_EQ(RoundTrip(target.port(), 2000), ECONNREFUSED);
  // A reset comes back at once; 200 ms is far above loopback latency, far below the
  // 1 s a SYN retransmission would take.
  EXPECT_LT(NowUs() - t0, 200'000);
  EXPECT_EQ(open.Exchange("during", 2000), ECONNRESET);
  ASSERT_TRUE(fault->Rollback().ok());
  EXPECT_EQ(RoundTrip(target.port(), 1000), 0);
}

TEST(NetworkFaultTest, UdpPartitionRejectAnswersPortUnreachable) {
  RulesetGuard guard;
  UdpPort target;
  InjectorFixture fx;
  auto fault = Make(Spec("network.partition", {{"port", std::to_string(target.port())},
                                               {"protocol", std::string("udp")},
                                               {"mode", std::string("reject")}}),
                    fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Inject().ok());
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss;
  socklen_t len;
  SetLoopback(&ss, &len, AF_INET, target.port());
  ASSERT_EQ(connect(s, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(send(s, "x", 1, 0), 1);
  pollfd p{s, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 1000), 1);
  char c;
  EXPECT_EQ(recv(s, &c, 1, 0), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  close(s);
  ASSERT_TRUE(fault->Rollback().ok());
  EXPECT_EQ(target.Delivered(10), 10);
}

TEST(NetworkFaultTest, LossOfAHundredPercentIsADrop) {
  RulesetGuard guard;
  EchoServer target;
  UdpPort udp;
  InjectorFixture fx;
  auto tcp = Make(Spec("network.loss", {{"port", std::to_string(target.port())}, {"loss", 100.0}}),
                  fx.ctx);
  auto dgram = Make(Spec("network.loss", {{"port", std::to_string(udp.port())},
                                          {"protocol", std::string("udp")},
                                          {"loss", 100.0}}),
                    fx.ctx);
  ASSERT_TRUE(tcp && dgram);
  auto injected = tcp->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_EQ(*injected, "100% of packets dropped: tcp port " + std::to_string(target.port()) +
                           " on loopback, nft table inet " + TableIn(*injected));
  ASSERT_TRUE(dgram->Inject().ok());
  EXPECT_EQ(RoundTrip(target.port(), 300), ETIMEDOUT);
  EXPECT_EQ(udp.Delivered(100), 0);
  ASSERT_TRUE(dgram->Rollback().ok());
  ASSERT_TRUE(tcp->Rollback().ok());
  EXPECT_EQ(RoundTrip(target.port(), 1000), 0);
  EXPECT_EQ(udp.Delivered(100), 100);
}

TEST(NetworkFaultTest, LossOfZeroChangesNothing) {
  RulesetGuard guard;
  EchoServer target;
  UdpPort udp;
  InjectorFixture fx;
  auto tcp =
      Make(Spec("network.loss", {{"port", std::to_string(target.port())}, {"loss", 0.0}}), fx.ctx);
  auto dgram = Make(
      Spec("network.loss",
           {{"port", std::to_string(udp.port())}, {"protocol", std::string("udp")}, {"loss", 0.0}}),
      fx.ctx);
  ASSERT_TRUE(tcp && dgram);
  ASSERT_TRUE(tcp->Inject().ok());
  ASSERT_TRUE(dgram->Inject().ok());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(RoundTrip(target.port(), 1000), 0) << i;
  EXPECT_EQ(udp.Delivered(400), 400);
  ASSERT_TRUE(dgram->Rollback().ok());
  ASSERT_TRUE(tcp->Rollback().ok());
}

// 400 datagrams, each dropped with probability 1/2: the count delivered is binomial with
// mean 200 and standard deviation 10, so 120..280 (30%..70%) is eight deviations wide and
// a correct rule never leaves it; a rule that dropped all, none, or counted every packet
// twice (75% loss, mean 100) would.
TEST(NetworkFaultTest, LossOfFiftyPercentDropsAboutHalf) {
  RulesetGuard guard;
  UdpPort udp;
  InjectorFixture fx;
  auto fault = Make(Spec("network.loss", {{"port", std::to_string(udp.port())},
                                          {"protocol", std::string("udp")},
                                          {"loss", 50.0}}),
                    fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Inject().ok());
  int got = udp.Delivered(400);
  EXPECT_GE(got, 120);
  EXPECT_LE(got, 280);
  std::cout << "loss 50%: " << got << " of 400 datagrams delivered\n";
  ASSERT_TRUE(fault->Rollback().ok());
}

TEST(NetworkFaultTest, PartitionOfANamespaceCutsItsTrafficAndLeavesTheHostAlone) {
  RulesetGuard host_rules;
  Netns ns;
  RulesetGuard ns_rules(ns.name());
  InjectorFixture fx;
  std::unique_ptr<EchoServer> inside;
  ns.Run([&] { inside = std::make_unique<EchoServer>(); });
  int rt = -1;
  ns.Run([&] { rt = RoundTrip(inside->port(), 1000); });
  ASSERT_EQ(rt, 0);
  for (const char* mode : {"drop", "reject"}) {
    auto fault = Make(
        Spec("network.partition", {{"netns", ns.name()}, {"mode", std::string(mode)}}), fx.ctx);
    ASSERT_TRUE(fault);
    auto injected = fault->Inject();
    ASSERT_TRUE(injected.ok()) << injected.status().ToString();
    const std::string table = TableIn(*injected);
    EXPECT_EQ(*injected, "network namespace " + ns.name() + " (every protocol) cut off (" + mode +
                             "), nft table inet " + table + " in " + ns.name());
    EXPECT_THAT(OwnTables(ns.name()), ::testing::ElementsAre("inet " + table));
    EXPECT_THAT(OwnTables(), ::testing::IsEmpty()) << "the host's ruleset must not change";
    ns.Run([&] { rt = RoundTrip(inside->port(), 300); });
    EXPECT_EQ(rt, std::string(mode) == "drop" ? ETIMEDOUT : ECONNREFUSED) << mode;
    auto rolled = fault->Rollback();
    ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
    EXPECT_EQ(*rolled, "deleted nft table inet " + table + " in network namespace " + ns.name());
    ns.Run([&] { rt = RoundTrip(inside->port(), 1000); });
    EXPECT_EQ(rt, 0) << mode;
  }
  inside.reset();
}

TEST(NetworkFaultTest, LossInANamespaceCountsEachPacketOnce) {
  Netns ns;
  RulesetGuard ns_rules(ns.name());
  InjectorFixture fx;
  auto fault = Make(Spec("network.loss",
                         {{"netns", ns.name()}, {"protocol", std::string("udp")}, {"loss", 50.0}}),
                    fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Inject().ok());
  int got = -1;
  ns.Run([&] {
    UdpPort udp;
    got = udp.Delivered(400);
  });
  // As in LossOfFiftyPercentDropsAboutHalf: loopback traffic in the namespace crosses
  // both chains' hooks, and must be counted against `loss` in one of them only.
  EXPECT_GE(got, 120);
  EXPECT_LE(got, 280);
  ASSERT_TRUE(fault->Rollback().ok());
}

TEST(NetworkFaultTest, MissingNamespaceIsAClearErrorAndJournalsNothing) {
  RulesetGuard guard;
  InjectorFixture fx;
  const std::string name = "fdnone" + std::to_string(getpid());
  auto fault = Make(Spec("network.partition", {{"netns", name}}), fx.ctx);
  ASSERT_TRUE(fault);
  auto r = fault->Inject();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "network namespace " + name + " does not exist (see `ip netns list`)");
  EXPECT_TRUE(fx.journal->Entries().empty());
}

TEST(NetworkFaultTest, MakeRefusesWhatIsNotANamespaceName) {
  InjectorFixture fx;
  for (const char* bad : {"../etc", "a b", "x;rm -rf /", "-n"}) {
    auto made = FindFaultAction("network.partition")
                    ->make(Spec("network.partition", {{"netns", std::string(bad)}}), fx.ctx);
    ASSERT_FALSE(made.ok()) << bad;
    EXPECT_THAT(made.status().message(), HasSubstr("is not a network namespace name")) << bad;
  }
  auto both =
      FindFaultAction("network.loss")
          ->make(Spec("network.loss",
                      {{"port", std::string("80")}, {"netns", std::string("x")}, {"loss", 1.0}}),
                 fx.ctx);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().message(), "network.loss takes exactly one of `port` and `netns`");
}

std::string Drill(const std::string& fault) {
  return "apiVersion: firedrill/v1\nname: net\nsteady_state:\n"
         "  - {name: ok, probe: {command: {run: \"true\"}}}\nfaults:\n  - " +
         fault + "\n";
}

std::string Errors(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.errors) out += d.ToString() + "\n";
  return out;
}

// The loader refuses what could never run, with the place: before anything starts.
TEST(NetworkFaultTest, LoaderRefusesBadPortsScopesAndJitter) {
  auto port = LoadScenarioText(
      Drill("{name: a, action: network.partition, with: {port: http}, duration: 1s}"), "d.yaml");
  EXPECT_EQ(Errors(port),
            "d.yaml:6:55: error: fault 'a': port 'http' is not a port number (1..65535) or "
            "${port:NAME}\n");
  auto both = LoadScenarioText(
      Drill("{name: a, action: network.loss, with: {port: 80, netns: x, loss: 5%}, duration: 1s}"),
      "d.yaml");
  EXPECT_THAT(Errors(both), HasSubstr("network.loss takes exactly one of `port` and `netns`"));
  auto jitter = LoadScenarioText(Drill("{name: a, action: network.delay, with: {port: 80, delay: "
                                       "10ms, jitter: 20ms}, duration: 1s}"),
                                 "d.yaml");
  EXPECT_THAT(Errors(jitter), HasSubstr("jitter must not exceed delay"));
}

// `${port:NAME}` is how a drill names the port it picked for a service.
TEST(NetworkFaultTest, PortMayBeAPickedPortReference) {
  RulesetGuard guard;
  EchoServer target;
  auto r = LoadScenarioText(Drill("{name: cut, action: network.partition, with: {port: "
                                  "\"${port:db}\"}, duration: 1s}"),
                            "d.yaml");
  ASSERT_TRUE(r.ok()) << Errors(r);
  InjectorFixture fx;
  fx.expander = Expander(fx.workdir, {{"db", target.port()}});
  auto fault = Make(r.scenario->faults[0], fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  EXPECT_THAT(*injected, HasSubstr("tcp port " + std::to_string(target.port()) + " on loopback"));
  EXPECT_EQ(RoundTrip(target.port(), 300), ETIMEDOUT);
  ASSERT_TRUE(fault->Rollback().ok());
  EXPECT_EQ(RoundTrip(target.port(), 1000), 0);
}

// A run that dies after injecting leaves its table; `firedrill rollback` replays the
// journal in another process (here: after the fault object and the journal are gone).
TEST(NetworkFaultTest, JournalReplayRemovesALeftTableAndTwiceIsHarmless) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  auto fault = Make(Spec("network.partition", {{"port", std::to_string(target.port())}}), fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok());
  const std::string table = TableIn(*injected);
  fault.reset();  // no Rollback(): the run "died"
  fx.journal.reset();
  EXPECT_EQ(RoundTrip(target.port(), 300), ETIMEDOUT) << "the table outlives the fault object";

  auto first = ReplayJournal(fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(first.complete);
  EXPECT_THAT(first.lines, ::testing::ElementsAre("fault net: deleted nft table inet " + table));
  EXPECT_THAT(OwnTables(), ::testing::IsEmpty());
  EXPECT_EQ(RoundTrip(target.port(), 1000), 0);
  auto second = ReplayJournal(fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(second.complete);
  EXPECT_TRUE(second.left.empty());
}

TEST(NetworkFaultTest, TableUndoIsIdempotentAndTouchesOnlyFiredrillTables) {
  RulesetGuard guard;
  UndoContext ctx{Env::Default()};
  const std::string gone = NewNftTableName();
  auto r = kUndoNftTable.undo(NftTableArgs(gone, ""), ctx);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "nft table inet " + gone + " was not there");
  auto other =
      kUndoNftTable.undo({{"family", "inet"}, {"table", "filter"}, {"netns", nullptr}}, ctx);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(), "nft.table: bad table in journal: filter");
  auto ns_gone = kUndoNftTable.undo(NftTableArgs(gone, "fdnone" + std::to_string(getpid())), ctx);
  ASSERT_TRUE(ns_gone.ok());
  EXPECT_THAT(*ns_gone, HasSubstr("is gone"));
}

// network.delay: the real port keeps its number; the redirect sends new connections
// through the proxy. 100 ms on every response: a round trip takes at least 100 ms (the
// proxy never releases early) and, on a loaded 2-core machine, well under 400 ms.
TEST(NetworkFaultTest, DelayAddsLatencyThroughATransparentProxyUntilRollback) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  {
    Client c;
    ASSERT_EQ(c.Connect(target.port(), 1000), 0);
    double base = RttMs(c);
    EXPECT_GE(base, 0);
    EXPECT_LT(base, 20);
  }
  auto fault =
      Make(Spec("network.delay", {{"port", std::to_string(target.port())}, {"delay", Millis(100)}}),
           fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Prepare().ok());
  const int64_t before_inject = Env::Default()->NowMs();
  auto injected = fault->Inject();
  const int64_t after_inject = Env::Default()->NowMs();
  ASSERT_TRUE(injected.ok()) << injected.status().ToString();
  // The moment the redirect was committed, inside Inject.
  ASSERT_TRUE(fault->effective_at_ms().has_value());
  EXPECT_GE(*fault->effective_at_ms(), before_inject);
  EXPECT_LE(*fault->effective_at_ms(), after_inject);
  const int proxy = ProxyPortIn(*injected);
  ASSERT_GT(proxy, 0) << *injected;
  EXPECT_THAT(*injected,
              MatchesRegex("tcp port [0-9]+ on loopback redirected to fault proxy "
                           "127\\.0\\.0\\.1:[0-9]+ \\(delay 100ms; .*netem.*\\), nft table inet "
                           "firedrill_[0-9]+_[0-9]+"));
  Client slow;
  ASSERT_EQ(slow.Connect(target.port(), 1000), 0);
  for (int i = 0; i < 3; ++i) {
    double rtt = RttMs(slow);
    std::cout << "delay 100ms: round trip " << rtt << " ms\n";
    EXPECT_GE(rtt, 100.0);
    EXPECT_LT(rtt, 400.0);
  }
  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_THAT(*rolled, MatchesRegex("fault proxy stopped after .*; deleted nft table inet "
                                    "firedrill_[0-9]+_[0-9]+"));
  // Three 4-byte pings, echoed.
  EXPECT_EQ(fault->figures(), (FaultFigures{{"connections", 1},
                                            {"bytes_to_server", 12},
                                            {"bytes_to_client", 12},
                                            {"resets", 0},
                                            {"upstream_failures", 0}}));
  // The proxied connection ends with the proxy; new ones go straight to the server.
  EXPECT_EQ(slow.WaitEnd(1000), ECONNRESET);
  Client fast;
  ASSERT_EQ(fast.Connect(target.port(), 1000), 0);
  double after = RttMs(fast);
  EXPECT_GE(after, 0);
  EXPECT_LT(after, 20);
  EXPECT_EQ(RoundTrip(proxy, 1000), ECONNREFUSED) << "nothing listens on the proxy port";
  EXPECT_TRUE(fx.journal->Pending().empty());
}

TEST(NetworkFaultTest, DelayReachesIpv6ClientsToo) {
  RulesetGuard guard;
  EchoServer target(AF_INET6);
  InjectorFixture fx;
  auto fault =
      Make(Spec("network.delay", {{"port", std::to_string(target.port())}, {"delay", Millis(80)}}),
           fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Inject().ok());
  Client c;
  ASSERT_EQ(c.Connect(target.port(), 1000, AF_INET6), 0);
  double rtt = RttMs(c);
  EXPECT_GE(rtt, 80.0);
  EXPECT_LT(rtt, 380.0);
  ASSERT_TRUE(fault->Rollback().ok());
}

// delay 60ms +/- 40ms: every round trip in [20, 100] ms plus scheduling slack, and ten of
// them are not all alike (all ten within 10 ms of each other has odds below 1e-6).
TEST(NetworkFaultTest, JitterSpreadsRoundTripsWithinItsBounds) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  auto fault = Make(Spec("network.delay", {{"port", std::to_string(target.port())},
                                           {"delay", Millis(60)},
                                           {"jitter", Millis(40)}}),
                    fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Inject().ok());
  Client c;
  ASSERT_EQ(c.Connect(target.port(), 1000), 0);
  double lo = 1e9, hi = 0;
  for (int i = 0; i < 10; ++i) {
    double rtt = RttMs(c);
    EXPECT_GE(rtt, 20.0);
    EXPECT_LT(rtt, 250.0);
    lo = std::min(lo, rtt);
    hi = std::max(hi, rtt);
  }
  std::cout << "delay 60ms +/- 40ms: round trips " << lo << ".." << hi << " ms\n";
  EXPECT_GE(hi - lo, 10.0);
  ASSERT_TRUE(fault->Rollback().ok());
}

// 256 KiB each way at 256 KiB/s per direction (the two directions run side by side): at
// least (256 KiB - one 20 ms burst) / rate = 0.98 s; the upper bound leaves room for a busy
// machine. Without the cap the same transfer takes a few milliseconds. The bytes come
// back whole and in order.
TEST(NetworkFaultTest, BandwidthCapSlowsABulkTransfer) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  auto fault = Make(Spec("network.delay", {{"port", std::to_string(target.port())},
                                           {"delay", Millis(0)},
                                           {"bandwidth", SizeValue{.bytes = 256 * 1024}}}),
                    fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Inject().ok());
  std::string data(256 * 1024, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  Client c;
  ASSERT_EQ(c.Connect(target.port(), 1000), 0);
  std::string got;
  int64_t t0 = NowUs();
  EXPECT_EQ(c.Exchange(data, 10000, &got), 0);
  double ms = static_cast<double>(NowUs() - t0) / 1000.0;
  std::cout << "bandwidth 256KiB/s: 256KiB echoed in " << ms << " ms\n";
  EXPECT_GE(ms, 950.0);
  EXPECT_LT(ms, 3000.0);
  EXPECT_TRUE(got == data) << "bytes reordered or lost";
  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(Figure(*fault, "connections"), 1);
  EXPECT_EQ(Figure(*fault, "bytes_to_server"), 256 * 1024);
  EXPECT_EQ(Figure(*fault, "bytes_to_client"), 256 * 1024);
}

TEST(NetworkFaultTest, ResetAfterResetsProxiedConnections) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  auto fault = Make(Spec("network.delay", {{"port", std::to_string(target.port())},
                                           {"delay", Millis(0)},
                                           {"reset_after", Millis(200)}}),
                    fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok());
  EXPECT_THAT(*injected, HasSubstr("(delay 0s, reset after 200ms;"));
  Client c;
  int64_t t0 = NowUs();
  ASSERT_EQ(c.Connect(target.port(), 1000), 0);
  ASSERT_EQ(c.Exchange("hello", 1000), 0);
  EXPECT_EQ(c.WaitEnd(2000), ECONNRESET);
  double ms = static_cast<double>(NowUs() - t0) / 1000.0;
  EXPECT_GE(ms, 195.0);  // the proxy's clock starts at accept, just after ours
  EXPECT_LT(ms, 1000.0);
  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(Figure(*fault, "connections"), 1);
  EXPECT_EQ(Figure(*fault, "bytes_to_server"), 5);
  EXPECT_EQ(Figure(*fault, "bytes_to_client"), 5);
  EXPECT_EQ(Figure(*fault, "resets"), 1);
  EXPECT_THAT(*rolled, HasSubstr(", 1 reset"));
}

int Threads() {
  return static_cast<int>(std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                                        std::filesystem::directory_iterator()));
}

// One poll thread carries every proxied connection: 30 open at once, one thread more.
TEST(NetworkFaultTest, DelayProxyIsOneThreadHoweverManyConnections) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  auto fault =
      Make(Spec("network.delay", {{"port", std::to_string(target.port())}, {"delay", Millis(10)}}),
           fx.ctx);
  ASSERT_TRUE(fault);
  const int before = Threads();
  ASSERT_TRUE(fault->Inject().ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 30; ++i) {
    clients.push_back(std::make_unique<Client>());
    ASSERT_EQ(clients.back()->Connect(target.port(), 1000), 0);
    ASSERT_EQ(clients.back()->Exchange("n" + std::to_string(i), 1000), 0);
  }
  EXPECT_EQ(Threads(), before + 1);
  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(Figure(*fault, "connections"), 30) << *rolled;
  EXPECT_EQ(Threads(), before);
}

// Behind the proxy a closed port cannot refuse the connect (the proxy accepted it): the
// client is reset instead, and the rollback detail counts it.
TEST(NetworkFaultTest, DelayOnAClosedPortResetsTheClient) {
  RulesetGuard guard;
  int closed = 0;
  {
    EchoServer gone;  // a port that was free a moment ago
    closed = gone.port();
  }
  InjectorFixture fx;
  auto fault = Make(
      Spec("network.delay", {{"port", std::to_string(closed)}, {"delay", Millis(10)}}), fx.ctx);
  ASSERT_TRUE(fault);
  ASSERT_TRUE(fault->Inject().ok());
  Client c;
  // The reset may come before the connect is even seen to complete.
  int e = c.Connect(closed, 1000);
  if (e == 0) e = c.WaitEnd(1000);
  EXPECT_EQ(e, ECONNRESET);
  auto rolled = fault->Rollback();
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(Figure(*fault, "connections"), 1);
  EXPECT_EQ(Figure(*fault, "bytes_to_server"), 0);
  EXPECT_EQ(Figure(*fault, "bytes_to_client"), 0);
  EXPECT_EQ(Figure(*fault, "upstream_failures"), 1);
  EXPECT_THAT(*rolled, HasSubstr(", 1 refused upstream"));
}

// A delay between hosts connects to its peer's address alone, and checks it against the
// drill's network policy before the proxy starts: an address the policy does not allow
// (here, a host address with no policy naming it) is refused, nothing is redirected, and
// nothing is left in the journal.
TEST(NetworkFaultTest, ADelaysPeerOutsideThePolicyIsRefusedWhereTheProxyWouldConnect) {
  RulesetGuard guard;
  InjectorFixture fx;
  const std::map<std::string, std::string> hosts = {{"b", "10.77.9.9"}};
  fx.ctx.host_addresses = &hosts;  // fx.ctx.network stays null: loopback only
  FaultSpec f = Spec("network.delay", {{"port", std::string("8080")}, {"delay", Millis(50)}});
  f.host = "a";
  Param peer;
  peer.value = std::string("b");
  f.with.Set("peer", peer);
  auto fault = Make(f, fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_FALSE(injected.ok());
  EXPECT_THAT(injected.status().message(), HasSubstr("refused to connect to 10.77.9.9:8080"));
  EXPECT_EQ(fx.journal->Pending().size(), 0u);
  EXPECT_TRUE(OwnTables("").empty()) << "nothing was redirected";
}

TEST(NetworkFaultTest, DelayReplayRemovesTheRedirectOfADeadRun) {
  RulesetGuard guard;
  EchoServer target;
  InjectorFixture fx;
  auto fault =
      Make(Spec("network.delay", {{"port", std::to_string(target.port())}, {"delay", Millis(50)}}),
           fx.ctx);
  ASSERT_TRUE(fault);
  auto injected = fault->Inject();
  ASSERT_TRUE(injected.ok());
  const std::string table = TableIn(*injected);
  fault.reset();  // the proxy's thread ends with its owner, as it would with the process
  fx.journal.reset();
  // The redirect now points at a closed port.
  EXPECT_EQ(RoundTrip(target.port(), 1000), ECONNREFUSED);
  auto r = ReplayJournal(fx.journal_path(), FaultUndoKinds(), UndoContext{Env::Default()});
  EXPECT_TRUE(r.complete);
  EXPECT_THAT(r.lines, ::testing::ElementsAre("fault net: deleted nft table inet " + table,
                                              "fault net: fault proxy for port " +
                                                  std::to_string(target.port()) +
                                                  ": ended with the run's process"));
  EXPECT_EQ(RoundTrip(target.port(), 1000), 0);
}

}  // namespace
}  // namespace firedrill::testing
