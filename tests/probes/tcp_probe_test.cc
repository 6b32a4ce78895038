// The tcp probe against real sockets on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/probes/sample_ways.h"

namespace firedrill {
namespace {

using ::firedrill::testing::Collect;
using ::firedrill::testing::Failed;
using ::firedrill::testing::Outcomes;
using ::firedrill::testing::SampleBy;
using ::firedrill::testing::TestLoop;
using ::firedrill::testing::ThreadCount;
using ::firedrill::testing::Way;
using ::firedrill::testing::WayName;

// A socket bound to a free loopback port; listening or not. Closed when the test ends.
class BoundSocket {
 public:
  // `backlog` < 0: bound but not listening, so connections to the port are refused
  // while no other process can take the port.
  BoundSocket(int family, int backlog) {
    fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(*a);
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return;
    if (backlog >= 0 && ::listen(fd_, backlog) != 0) return;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
    port_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~BoundSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  BoundSocket(const BoundSocket&) = delete;
  BoundSocket& operator=(const BoundSocket&) = delete;
  int port() const { return port_; }  // 0 when setup failed

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Non-blocking connections that are never accepted; closed when the test ends.
class PendingConnections {
 public:
  PendingConnections(int port, int n) {
    for (int i = 0; i < n; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port));
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
      fds_.push_back(fd);
    }
  }
  ~PendingConnections() {
    for (int fd : fds_) ::close(fd);
  }

 private:
  std::vector<int> fds_;
};

Params TcpParams(const std::string& address, Millis timeout = Millis(2000)) {
  Params p;
  p.Set("address", {address, {}});
  p.Set("timeout", {timeout, {}});
  return p;
}

// Every case runs both ways: Sample, and SampleAsync on a real event loop; the outcome
// must be the same.
class TcpProbeTest : public ::testing::TestWithParam<Way> {
 protected:
  void SetUp() override {
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
    loop_ = TestLoop();
    ASSERT_TRUE(loop_);
  }

  std::unique_ptr<Probe> Make(const Params& p) {
    const ProbeKind* kind = FindProbeKind("tcp");
    if (!kind || !kind->make) return nullptr;
    auto probe = kind->make(p, ctx_);
    EXPECT_TRUE(probe.ok()) << probe.status().ToString();
    return probe.ok() ? std::move(*probe) : nullptr;
  }

  ProbeOutcome SampleOnce(const Params& p) {
    auto probe = Make(p);
    if (!probe) return Failed("no probe");
    return SampleBy(GetParam(), *probe, loop_.get());
  }

  void UsePorts(std::map<std::string, int> ports) {
    expander_ = Expander("/tmp", std::move(ports));
  }

  Expander expander_{"/tmp", {}};
  RunContext ctx_;
  std::unique_ptr<EventLoop> loop_;
};

INSTANTIATE_TEST_SUITE_P(Ways, TcpProbeTest, ::testing::Values(Way::kSample, Way::kSampleAsync),
                         WayName);

bool IsConnectedDetail(const std::string& d) {
  return std::regex_match(d, std::regex("connected in [0-9]+ms"));
}

TEST_P(TcpProbeTest, ConnectsToAListeningSocket) {
  BoundSocket server(AF_INET, 16);
  ASSERT_NE(server.port(), 0);
  auto out = SampleOnce(TcpParams("127.0.0.1:" + std::to_string(server.port())));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsConnectedDetail(out.detail)) << out.detail;
}

// localhost may resolve to ::1 first; the IPv4-only listener must still be found.
TEST_P(TcpProbeTest, LocalhostTriesEveryAddress) {
  BoundSocket server(AF_INET, 16);
  ASSERT_NE(server.port(), 0);
  auto out = SampleOnce(TcpParams("localhost:" + std::to_string(server.port())));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsConnectedDetail(out.detail)) << out.detail;
}

TEST_P(TcpProbeTest, ConnectsToIpv6Literal) {
  BoundSocket server(AF_INET6, 16);
  if (server.port() == 0) GTEST_SKIP() << "no IPv6 loopback on this machine";
  auto out = SampleOnce(TcpParams("[::1]:" + std::to_string(server.port())));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsConnectedDetail(out.detail)) << out.detail;
}

TEST_P(TcpProbeTest, ClosedPortIsRefused) {
  BoundSocket closed(AF_INET, -1);
  ASSERT_NE(closed.port(), 0);
  auto out = SampleOnce(TcpParams("127.0.0.1:" + std::to_string(closed.port())));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "connection refused");
}

// A listener whose accept queue is full drops new SYNs, so the connect hangs: the one
// way to see a connect timeout on loopback.
TEST_P(TcpProbeTest, FullAcceptQueueTimesOut) {
  BoundSocket server(AF_INET, 0);
  ASSERT_NE(server.port(), 0);
  PendingConnections fill(server.port(), 8);
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce(TcpParams("127.0.0.1:" + std::to_string(server.port()), Millis(300)));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "timed out after 300ms");
  // It waited for the timeout, and not for the kernel's own (minutes): wide bounds.
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST_P(TcpProbeTest, PortReferenceIsExpanded) {
  BoundSocket server(AF_INET, 16);
  ASSERT_NE(server.port(), 0);
  UsePorts({{"web", server.port()}});
  auto out = SampleOnce(TcpParams("127.0.0.1:${port:web}"));
  EXPECT_TRUE(out.passed) << out.detail;
}

TEST_P(TcpProbeTest, BadPortAfterExpansionFails) {
  UsePorts({{"zero", 0}});
  auto out = SampleOnce(TcpParams("127.0.0.1:${port:zero}"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "bad port in address 127.0.0.1:0");
}

// The run is torn down while the connect waits: it gives up soon, not at its timeout.
TEST_P(TcpProbeTest, RunCancelledWhileConnectingGivesUp) {
  BoundSocket server(AF_INET, 0);
  ASSERT_NE(server.port(), 0);
  PendingConnections fill(server.port(), 8);
  std::atomic<bool> cancel{false};
  ctx_.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce(TcpParams("127.0.0.1:" + std::to_string(server.port()), Millis(60000)));
  auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "cancelled");
  EXPECT_LT(took, std::chrono::seconds(3));
}

// Connects that hang, many at once on a loop of 2 threads: none holds a thread, and each
// times out on time.
TEST(TcpProbeAsyncTest, ManyHangingConnectsHoldNoThreads) {
  BoundSocket server(AF_INET, 0);
  ASSERT_NE(server.port(), 0);
  PendingConnections fill(server.port(), 8);
  Expander expander("/tmp", {});
  RunContext ctx;
  ctx.env = Env::Default();
  ctx.expander = &expander;
  constexpr int kSamples = 100;
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < kSamples; ++i) {
    auto p = FindProbeKind("tcp")->make(
        TcpParams("127.0.0.1:" + std::to_string(server.port()), Millis(500)), ctx);
    ASSERT_TRUE(p.ok());
    probes.push_back(std::move(*p));
  }
  auto loop = TestLoop(2, 1);
  ASSERT_TRUE(loop);
  const int started = ThreadCount();
  auto outcomes = std::make_shared<Outcomes>();
  const auto start = std::chrono::steady_clock::now();
  for (auto& p : probes) p->SampleAsync({}, *loop, Collect(outcomes));
  int most = started;
  while (outcomes->Count() < kSamples &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    most = std::max(most, ThreadCount());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(outcomes->WaitFor(kSamples, Millis(1000)), static_cast<size_t>(kSamples));
  const auto took = std::chrono::steady_clock::now() - start;
  for (const ProbeOutcome& o : outcomes->Get()) EXPECT_EQ(o.detail, "timed out after 500ms");
  EXPECT_LE(most, started + 1);
  // All waited at once: one timeout, not a hundred of them in turn.
  EXPECT_LT(took, std::chrono::seconds(5));
}

// A probe destroyed while its connect waits, and a loop destroyed while others do: no
// crash, nothing touched after it is gone (ASan checks that).
TEST(TcpProbeAsyncTest, ProbeAndLoopDestroyedWhileConnectsWait) {
  BoundSocket server(AF_INET, 0);
  ASSERT_NE(server.port(), 0);
  PendingConnections fill(server.port(), 8);
  Expander expander("/tmp", {});
  RunContext ctx;
  ctx.env = Env::Default();
  ctx.expander = &expander;
  const Params params = TcpParams("127.0.0.1:" + std::to_string(server.port()), Millis(300));
  auto outcomes = std::make_shared<Outcomes>();
  {
    auto loop = TestLoop();
    ASSERT_TRUE(loop);
    auto gone = FindProbeKind("tcp")->make(params, ctx);
    ASSERT_TRUE(gone.ok());
    (*gone)->SampleAsync({}, *loop, Collect(outcomes));
    gone->reset();
    ASSERT_EQ(outcomes->WaitFor(1, Millis(5000)), 1u);
    EXPECT_EQ(outcomes->Get()[0].detail, "timed out after 300ms");

    auto waiting = FindProbeKind("tcp")->make(params, ctx);
    ASSERT_TRUE(waiting.ok());
    (*waiting)->SampleAsync({}, *loop, Collect(outcomes));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // A sample still waiting when the loop goes is dropped with it, as the loop drops every
  // handler it has not run.
  EXPECT_LE(outcomes->Count(), 2u);
}

}  // namespace
}  // namespace firedrill
