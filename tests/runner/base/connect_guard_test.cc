// The connect-time guard holds even when the loader is bypassed: the http client, the
// HTTP load engine and the tcp probe are called directly with a non-loopback address
// that is really reachable (a network namespace of the test's own, behind a veth pair,
// listening on an address from a private /30), and no connection arrives there, while a
// plain socket to the same address does get through and the same calls with a policy
// that names the host connect. So the refusal is the policy's, not an unreachable host.
//
// Every packet these tests send goes to loopback or over the veth pair into the test's
// namespace, which has no other link and no route out; both are deleted when a test
// ends, pass or fail. Tests skip when the machine cannot make them (no `ip`, no
// CAP_NET_ADMIN, no veth).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "injectors/support/http_load_engine.h"
#include "probes/http_client.h"
#include "runner/base/net.h"
#include "runner/base/subprocess.h"
#include "tests/probes/probe_test_base.h"
#include "tests/probes/sample_ways.h"

namespace firedrill::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

constexpr char kWhy[] = ": a drill sends traffic only to loopback and the hosts it names";

// How long a connection that was going to arrive could still be on its way after the call
// that would have made it returned: far above the microseconds a veth pair takes.
constexpr Millis kQuiet{300};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

int MsUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// `cmd` through /bin/sh: "" when it exited 0, else what went wrong. (tests' Sh() counts a
// failure against the test; here a failure may only mean the machine cannot do this.)
std::string Shell(const std::string& cmd, std::string* out = nullptr) {
  auto r = RunShell({.script = cmd, .cwd = "/", .timeout = Millis(10000)});
  if (!r.ok()) return cmd + ": " + r.status().ToString();
  if (out) *out = r->out;
  if (r->exit_code != 0) return cmd + ": " + r->Describe() + " " + r->err;
  return "";
}

uint32_t ParseV4(const std::string& text) {
  in_addr a{};
  return inet_pton(AF_INET, text.c_str(), &a) == 1 ? ntohl(a.s_addr) : 0;
}

std::string V4Text(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

uint32_t Mask(int prefix) { return prefix <= 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

// Whether the /30 at `net` overlaps any address or route the machine has (every routing
// table, the local one included, so every address is there too). The default route is
// left out: the /30's own route is more specific, and it covers everything anyway.
bool SubnetInUse(uint32_t net, const std::string& routes) {
  std::stringstream in(routes);
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream words(line);
    std::string dst;
    words >> dst;
    for (const char* type : {"local", "broadcast", "unicast", "anycast", "multicast", "blackhole",
                             "unreachable", "prohibit", "throw", "nat"}) {
      if (dst == type) words >> dst;
    }
    if (dst.empty() || dst == "default") continue;
    const size_t slash = dst.find('/');
    const int prefix = slash == std::string::npos ? 32 : std::stoi(dst.substr(slash + 1));
    const uint32_t other = ParseV4(dst.substr(0, slash));
    const uint32_t m = Mask(std::min(prefix, 30));
    if ((other & m) == (net & m)) return true;
  }
  return false;
}

// A network namespace `fdcg<pid>` joined to this one by a veth pair (`fdcgh<pid>` here,
// `fdcgn<pid>` there) on a private /30: host_addr() here, ns_addr() there. The pid keeps
// the names and the subnet apart from those of a concurrently running test process.
// Deleted, pair and namespace, when it goes out of scope.
class VethNamespace {
 public:
  VethNamespace()
      : ns_("fdcg" + std::to_string(getpid())),
        host_if_("fdcgh" + std::to_string(getpid())),
        ns_if_("fdcgn" + std::to_string(getpid())) {
    if (!Shell("command -v ip >/dev/null").empty()) {
      unavailable_ = "no `ip` command (apt-get install iproute2)";
      return;
    }
    // Leftovers of an earlier process with this pid that was killed mid-test.
    Shell("ip link del " + host_if_ + " 2>/dev/null; ip netns del " + ns_ + " 2>/dev/null");
    if (std::string e = Shell("ip netns add " + ns_); !e.empty()) {
      unavailable_ = "cannot create a network namespace (needs root / CAP_NET_ADMIN): " + e;
      return;
    }
    made_ = true;
    if (std::string e =
            Shell("ip link add " + host_if_ + " type veth peer name " + ns_if_ + " netns " + ns_);
        !e.empty()) {
      unavailable_ = "cannot create a veth pair: " + e;
      return;
    }
    std::string routes;
    if (std::string e = Shell("ip -4 route show table all", &routes); !e.empty()) {
      broken_ = e;
      return;
    }
    // 10.213.0.0/16 first, then 198.18.0.0/16 (RFC 2544 benchmarking), a /30 picked by pid,
    // moving on from one the machine already uses.
    const uint32_t pools[] = {ParseV4("10.213.0.0"), ParseV4("198.18.0.0")};
    uint32_t net = 0;
    for (int i = 0; i < 64 && !net; ++i) {
      for (uint32_t pool : pools) {
        const uint32_t candidate = pool + ((static_cast<uint32_t>(getpid()) + i) % 16384) * 4;
        if (!SubnetInUse(candidate, routes)) {
          net = candidate;
          break;
        }
      }
    }
    if (!net) {
      unavailable_ = "every candidate /30 in 10.213.0.0/16 and 198.18.0.0/16 is in use here";
      return;
    }
    host_addr_ = V4Text(net + 1);
    ns_addr_ = V4Text(net + 2);
    broken_ =
        Shell("ip addr add " + host_addr_ + "/30 dev " + host_if_ + " && ip link set " + host_if_ +
              " up && ip -n " + ns_ + " link set lo up && ip -n " + ns_ + " addr add " + ns_addr_ +
              "/30 dev " + ns_if_ + " && ip -n " + ns_ + " link set " + ns_if_ + " up");
  }

  ~VethNamespace() {
    if (!made_) return;
    // The pair goes first and explicitly: a socket still open in the namespace would keep
    // it (and its end of the pair) alive after `ip netns del`.
    Shell("ip link del " + host_if_ + " 2>/dev/null");
    EXPECT_EQ(Shell("ip netns del " + ns_), "");
    EXPECT_NE(Shell("ip link show " + host_if_ + " 2>/dev/null"), "")
        << host_if_ << " is still there";
  }
  VethNamespace(const VethNamespace&) = delete;
  VethNamespace& operator=(const VethNamespace&) = delete;

  // Why this machine cannot run the test; "" when it can.
  const std::string& unavailable() const { return unavailable_; }
  // Why setting up failed although the machine can do it; "" when ready.
  const std::string& broken() const { return broken_; }
  const std::string& name() const { return ns_; }
  const std::string& ns_addr() const { return ns_addr_; }
  const std::string& host_addr() const { return host_addr_; }

  // Runs `f` on a thread that has entered the namespace: sockets made there belong to
  // it, whichever thread uses them later. "" when it ran, else why not.
  std::string Run(const std::function<void()>& f) const {
    std::string error;
    std::thread t([&] {
      Fd ns(::open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC));
      if (ns.get() < 0 || ::setns(ns.get(), CLONE_NEWNET) != 0) {
        error = "entering " + ns_ + ": " + std::strerror(errno);
        return;
      }
      f();
    });
    t.join();
    return error;
  }

  // TCP segments the namespace has received (Tcp InSegs): a SYN counts, so an unchanged
  // count means not even an attempt reached it. -1 when it cannot be read.
  int64_t TcpSegmentsIn() const {
    int64_t n = -1;
    // thread-self: /proc/self/net would be the namespace of the process's main thread.
    Run([&] {
      std::stringstream in(ReadFile("/proc/thread-self/net/snmp"));
      std::string header, values;
      while (std::getline(in, header) && header.rfind("Tcp:", 0) != 0) {
      }
      if (!std::getline(in, values)) return;
      std::stringstream names(header), counts(values);
      std::string name, count;
      while (names >> name && counts >> count) {
        if (name == "InSegs") n = std::stoll(count);
      }
    });
    return n;
  }

  // The count once the segments already on their way (the close of a connection) are in:
  // it has not moved for 50 ms, or 2 s have passed.
  int64_t SettledTcpSegmentsIn() const {
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    int64_t last = TcpSegmentsIn();
    while (Clock::now() < deadline) {
      std::this_thread::sleep_for(Millis(50));
      const int64_t now = TcpSegmentsIn();
      if (now == last) break;
      last = now;
    }
    return last;
  }

 private:
  std::string ns_, host_if_, ns_if_;
  std::string host_addr_, ns_addr_;
  bool made_ = false;
  std::string unavailable_, broken_;
};

class ConnectGuardTest : public ProbeTestBase {
 protected:
  void SetUp() override {
    ProbeTestBase::SetUp();
    net_ = std::make_unique<VethNamespace>();
    if (!net_->unavailable().empty()) GTEST_SKIP() << net_->unavailable();
    ASSERT_EQ(net_->broken(), "");
    std::string error;
    ASSERT_EQ(net_->Run([&] { error = Listen(); }), "");
    ASSERT_EQ(error, "");
    address_ = net_->ns_addr() + ":" + std::to_string(port_);
    refusal_ = "refused to connect to " + address_ + kWhy;
    ASSERT_NO_FATAL_FAILURE(ExpectPlainSocketGetsThrough());
  }

  void TearDown() override {
    // Before the namespace goes: an open socket would keep it alive.
    listener_.Reset();
    net_.reset();
  }

  // On the namespace's address, port 0; run inside the namespace.
  std::string Listen() {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(ParseV4(net_->ns_addr()));
    socklen_t len = sizeof a;
    if (fd.get() < 0 || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd.get(), 64) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return std::string("listening on ") + net_->ns_addr() + ": " + std::strerror(errno);
    }
    port_ = ntohs(a.sin_port);
    listener_ = std::move(fd);
    return "";
  }

  // The next connection to arrive at the listener within `wait`, accepted; -1 if none did.
  Fd Accept(Millis wait) {
    const auto deadline = Clock::now() + wait;
    for (;;) {
      Fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c.get() >= 0) return c;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return Fd();
      pollfd p{listener_.get(), POLLIN, 0};
      const int left = MsUntil(deadline);
      if (left == 0 || ::poll(&p, 1, left) == 0) return Fd();
    }
  }

  // How many connections arrive within `window` (each accepted and closed).
  int Arrivals(Millis window) {
    const auto deadline = Clock::now() + window;
    int n = 0;
    while (Accept(Millis(MsUntil(deadline))).get() >= 0) ++n;
    return n;
  }

  // The control: the address is reachable from here, and the listener sees exactly the
  // one connection a plain socket makes. Leaves the namespace quiet again.
  void ExpectPlainSocketGetsThrough() {
    const int64_t before = net_->SettledTcpSegmentsIn();
    ASSERT_GE(before, 0) << "cannot read the namespace's TCP counters";
    {
      Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      ASSERT_GE(s.get(), 0) << std::strerror(errno);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(ParseV4(net_->ns_addr()));
      a.sin_port = htons(static_cast<uint16_t>(port_));
      int rc = ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
      int err = rc == 0 ? 0 : errno;
      if (err == EINPROGRESS) {
        pollfd p{s.get(), POLLOUT, 0};
        err = ETIMEDOUT;
        if (::poll(&p, 1, 2000) == 1) {
          socklen_t len = sizeof err;
          ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
      ASSERT_EQ(err, 0) << "plain connect to " << address_ << ": " << std::strerror(err);
      EXPECT_GE(Accept(Millis(2000)).get(), 0) << "the control connection did not arrive";
      EXPECT_EQ(Arrivals(Millis(100)), 0) << "one connect, one connection";
    }
    const int64_t after = net_->SettledTcpSegmentsIn();
    EXPECT_GT(after, before) << "the counter must see the control's segments";
  }

  // Nothing reached the namespace since `segments_before` was read: no connection at the
  // listener, not a single TCP segment (a SYN counts).
  void ExpectNothingArrived(int64_t segments_before) {
    EXPECT_EQ(Arrivals(kQuiet), 0) << "a connection reached " << address_;
    EXPECT_EQ(net_->TcpSegmentsIn(), segments_before) << "TCP segments reached " << address_;
  }

  Params TcpParams() {
    Params p;
    p.Set("address", {address_, {}});
    p.Set("timeout", {Millis(2000), {}});
    return p;
  }

  std::unique_ptr<VethNamespace> net_;
  Fd listener_;  // in the namespace; non-blocking
  int port_ = 0;
  std::string address_;  // NS_ADDR:PORT
  std::string refusal_;  // what the guard says about it
};

TEST_F(ConnectGuardTest, HttpRequestRefusesANonLoopbackAddress) {
  const int64_t before = net_->SettledTcpSegmentsIn();
  // No policy: loopback only, as for a drill that names no hosts.
  auto r = HttpRequest({.url = "http://" + address_ + "/", .timeout = Millis(2000)}, nullptr);
  ASSERT_FALSE(r.ok()) << "HTTP " << r->status;
  EXPECT_EQ(r.status().code(), Status::Code::kFailed);
  EXPECT_THAT(r.status().message(), HasSubstr("refused to connect to " + address_));
  EXPECT_EQ(r.status().message(), refusal_);
  ExpectNothingArrived(before);
}

TEST_F(ConnectGuardTest, HttpRequestRefusesWithAPolicyThatNamesAnotherHost) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost(net_->host_addr()).ok());
  const int64_t before = net_->SettledTcpSegmentsIn();
  auto r = HttpRequest(
      {.url = "http://" + address_ + "/", .timeout = Millis(2000), .policy = &policy}, nullptr);
  ASSERT_FALSE(r.ok()) << "HTTP " << r->status;
  EXPECT_EQ(r.status().message(), refusal_);
  ExpectNothingArrived(before);
}

TEST_F(ConnectGuardTest, HttpLoadRefusesANonLoopbackAddress) {
  const int64_t before = net_->SettledTcpSegmentsIn();
  auto load = HttpLoad::Start(
      {.url = "http://" + address_ + "/", .rate = 50, .concurrency = 2, .timeout = Millis(2000)},
      {});
  ASSERT_TRUE(load.ok()) << load.status().ToString();
  std::this_thread::sleep_for(kQuiet);  // the length of the load
  HttpLoadStats stats = (*load)->Stop();
  EXPECT_GT(stats.requests, 0u) << DescribeHttpLoad(stats);
  EXPECT_EQ(stats.transport_errors, stats.requests) << DescribeHttpLoad(stats);
  EXPECT_EQ(stats.connections, 0u) << DescribeHttpLoad(stats);
  EXPECT_THAT(stats.first_error, HasSubstr("refused to connect to " + address_));
  EXPECT_EQ(stats.first_error, refusal_);
  ExpectNothingArrived(before);
}

TEST_F(ConnectGuardTest, TcpProbeRefusesANonLoopbackAddress) {
  auto probe = MakeProbe("tcp", TcpParams());
  ASSERT_TRUE(probe);
  const int64_t before = net_->SettledTcpSegmentsIn();
  ProbeOutcome out = probe->Sample({});
  EXPECT_FALSE(out.passed) << out.detail;
  EXPECT_THAT(out.detail, HasSubstr("refused to connect to " + address_));
  EXPECT_EQ(out.detail, refusal_);
  ExpectNothingArrived(before);
}

// The same client, the same address, a policy that names the host: the connection is
// made, so the refusals above are the policy's and not an address the client cannot reach.
TEST_F(ConnectGuardTest, HttpRequestConnectsWhenThePolicyNamesTheHost) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost(net_->ns_addr()).ok());
  std::string request;
  std::thread server([&] {
    Fd c = Accept(Millis(3000));
    if (c.get() < 0) return;
    const auto deadline = Clock::now() + std::chrono::seconds(3);
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      pollfd p{c.get(), POLLIN, 0};
      const int left = MsUntil(deadline);
      if (left == 0 || ::poll(&p, 1, left) != 1) return;
      const ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    constexpr char kAnswer[] =
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!::send(c.get(), kAnswer, sizeof kAnswer - 1, MSG_NOSIGNAL);
  });
  auto r = HttpRequest(
      {.url = "http://" + address_ + "/", .timeout = Millis(2000), .policy = &policy}, nullptr);
  server.join();
  EXPECT_THAT(request, StartsWith("GET / HTTP/1.1\r\n")) << "the request never arrived";
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 204);
}

TEST_F(ConnectGuardTest, HttpLoadConnectsWhenThePolicyNamesTheHost) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost(net_->ns_addr()).ok());
  // Nobody answers: the requests are still in flight when the load stops, and the
  // connections they opened are waiting at the listener.
  auto load = HttpLoad::Start({.url = "http://" + address_ + "/",
                               .rate = 50,
                               .concurrency = 2,
                               .timeout = Millis(2000),
                               .policy = &policy},
                              {});
  ASSERT_TRUE(load.ok()) << load.status().ToString();
  EXPECT_GE(Accept(Millis(2000)).get(), 0) << "no connection arrived";
  HttpLoadStats stats = (*load)->Stop();
  EXPECT_THAT(stats.first_error, Not(HasSubstr("refused to connect"))) << DescribeHttpLoad(stats);
}

TEST_F(ConnectGuardTest, TcpProbeConnectsWhenThePolicyNamesTheHost) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost(net_->ns_addr()).ok());
  ctx_.network = &policy;
  auto probe = MakeProbe("tcp", TcpParams());
  ASSERT_TRUE(probe);
  ProbeOutcome out = probe->Sample({});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_THAT(out.detail, StartsWith("connected in "));
  EXPECT_GE(Accept(Millis(2000)).get(), 0) << "the probe's connection did not arrive";
}

// The asynchronous paths (the run's event loop, libcurl's multi interface, Asio's connect)
// check the same address at the same moment.

Result<HttpResponse> HttpRequestThroughLoop(const HttpRequestSpec& spec) {
  auto loop = TestLoop();
  if (!loop) return Status::Internal("no event loop");
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<HttpResponse>> got;
  HttpRequestAsync(spec, *loop, nullptr, [&](Result<HttpResponse> r) {
    std::lock_guard lock(mu);
    got.emplace(std::move(r));
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.has_value(); })) {
    return Status::Timeout("no answer from HttpRequestAsync");
  }
  return std::move(*got);
}

TEST_F(ConnectGuardTest, HttpRequestAsyncRefusesANonLoopbackAddress) {
  const int64_t before = net_->SettledTcpSegmentsIn();
  auto r = HttpRequestThroughLoop({.url = "http://" + address_ + "/", .timeout = Millis(2000)});
  ASSERT_FALSE(r.ok()) << "HTTP " << r->status;
  EXPECT_EQ(r.status().code(), Status::Code::kFailed);
  EXPECT_EQ(r.status().message(), refusal_);
  ExpectNothingArrived(before);
}

TEST_F(ConnectGuardTest, HttpRequestAsyncConnectsWhenThePolicyNamesTheHost) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost(net_->ns_addr()).ok());
  // Nobody answers: the connection arriving is what is looked for.
  auto r = HttpRequestThroughLoop(
      {.url = "http://" + address_ + "/", .timeout = Millis(500), .policy = &policy});
  EXPECT_GE(Accept(Millis(2000)).get(), 0) << "no connection arrived";
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "timed out after 500ms");
}

TEST_F(ConnectGuardTest, TcpProbeSampleAsyncRefusesANonLoopbackAddress) {
  auto probe = MakeProbe("tcp", TcpParams());
  ASSERT_TRUE(probe);
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  const int64_t before = net_->SettledTcpSegmentsIn();
  ProbeOutcome out = SampleAsyncAndWait(*probe, *loop);
  EXPECT_FALSE(out.passed) << out.detail;
  EXPECT_EQ(out.detail, refusal_);
  ExpectNothingArrived(before);
}

TEST_F(ConnectGuardTest, TcpProbeSampleAsyncConnectsWhenThePolicyNamesTheHost) {
  NetworkPolicy policy;
  ASSERT_TRUE(policy.AllowHost(net_->ns_addr()).ok());
  ctx_.network = &policy;
  auto probe = MakeProbe("tcp", TcpParams());
  ASSERT_TRUE(probe);
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  ProbeOutcome out = SampleAsyncAndWait(*probe, *loop);
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_THAT(out.detail, StartsWith("connected in "));
  EXPECT_GE(Accept(Millis(2000)).get(), 0) << "the probe's connection did not arrive";
}

}  // namespace
}  // namespace firedrill::testing
