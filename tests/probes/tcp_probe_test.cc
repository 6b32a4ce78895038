// The tcp probe against real sockets on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

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

class TcpProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
  }

  ProbeOutcome SampleOnce(const Params& p) {
    const ProbeKind* kind = FindProbeKind("tcp");
    if (!kind || !kind->make) return {false, "tcp probe has no runtime"};
    auto probe = kind->make(p, ctx_);
    if (!probe.ok()) return {false, probe.status().ToString()};
    return (*probe)->Sample({});
  }

  void UsePorts(std::map<std::string, int> ports) {
    expander_ = Expander("/tmp", std::move(ports));
  }

  Expander expander_{"/tmp", {}};
  RunContext ctx_;
};

bool IsConnectedDetail(const std::string& d) {
  return std::regex_match(d, std::regex("connected in [0-9]+ms"));
}

TEST_F(TcpProbeTest, ConnectsToAListeningSocket) {
  BoundSocket server(AF_INET, 16);
  ASSERT_NE(server.port(), 0);
  auto out = SampleOnce(TcpParams("127.0.0.1:" + std::to_string(server.port())));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsConnectedDetail(out.detail)) << out.detail;
}

// localhost may resolve to ::1 first; the IPv4-only listener must still be found.
TEST_F(TcpProbeTest, LocalhostTriesEveryAddress) {
  BoundSocket server(AF_INET, 16);
  ASSERT_NE(server.port(), 0);
  auto out = SampleOnce(TcpParams("localhost:" + std::to_string(server.port())));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsConnectedDetail(out.detail)) << out.detail;
}

TEST_F(TcpProbeTest, ConnectsToIpv6Literal) {
  BoundSocket server(AF_INET6, 16);
  if (server.port() == 0) GTEST_SKIP() << "no IPv6 loopback on this machine";
  auto out = SampleOnce(TcpParams("[::1]:" + std::to_string(server.port())));
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsConnectedDetail(out.detail)) << out.detail;
}

TEST_F(TcpProbeTest, ClosedPortIsRefused) {
  BoundSocket closed(AF_INET, -1);
  ASSERT_NE(closed.port(), 0);
  auto out = SampleOnce(TcpParams("127.0.0.1:" + std::to_string(closed.port())));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "connection refused");
}

// A listener whose accept queue is full drops new SYNs, so the connect hangs: the one
// way to see a connect timeout on loopback.
TEST_F(TcpProbeTest, FullAcceptQueueTimesOut) {
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

TEST_F(TcpProbeTest, PortReferenceIsExpanded) {
  BoundSocket server(AF_INET, 16);
  ASSERT_NE(server.port(), 0);
  UsePorts({{"web", server.port()}});
  auto out = SampleOnce(TcpParams("127.0.0.1:${port:web}"));
  EXPECT_TRUE(out.passed) << out.detail;
}

TEST_F(TcpProbeTest, BadPortAfterExpansionFails) {
  UsePorts({{"zero", 0}});
  auto out = SampleOnce(TcpParams("127.0.0.1:${port:zero}"));
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "bad port in address 127.0.0.1:0");
}

}  // namespace
}  // namespace firedrill
