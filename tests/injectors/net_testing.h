// Real network endpoints for the network fault tests: a TCP echo server, a UDP counter,
// clients with deadlines, a network namespace of the test's own, and a guard that the
// machine's nftables ruleset is the same after a test as before it. Every one of them
// undoes itself when the test ends, pass or fail.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/subprocess.h"
#include "tests/nft_lock.h"

namespace firedrill::testing {

inline int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// `cmd` through /bin/sh; its stdout, or "" when it failed (the failure is reported).
inline std::string Sh(const std::string& cmd) {
  auto r = RunShell({.script = cmd, .cwd = "/", .timeout = std::chrono::milliseconds(10000)});
  EXPECT_TRUE(r.ok() && r->exit_code == 0)
      << cmd << ": " << (r.ok() ? r->Describe() + " " + r->err : r.status().ToString());
  return r.ok() ? r->out : "";
}

inline std::string InNs(const std::string& netns, const std::string& cmd) {
  return netns.empty() ? cmd : "ip netns exec " + netns + " " + cmd;
}

// The ruleset as `nft list ruleset` prints it, without the tables of firedrill runs in
// other processes: ctest may run two of these tests at once, each with its own tables.
inline std::string RulesetOfThisProcess(const std::string& netns = "") {
  std::stringstream in(Sh(InNs(netns, "nft list ruleset")));
  const std::string own = "firedrill_" + std::to_string(getpid()) + "_";
  std::string out, line;
  bool skip = false;
  while (std::getline(in, line)) {
    if (line.rfind("table ", 0) == 0) {
      skip = line.find(" firedrill_") != std::string::npos && line.find(own) == std::string::npos;
    }
    if (!skip) out += line + "\n";
    if (line == "}") skip = false;
  }
  return out;
}

// The nft tables this process made ("inet firedrill_<pid>_<n>"), one per line.
inline std::vector<std::string> OwnTables(const std::string& netns = "") {
  std::stringstream in(Sh(InNs(netns, "nft list tables")));
  const std::string own = " firedrill_" + std::to_string(getpid()) + "_";
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(own) != std::string::npos) out.push_back(line.substr(6));  // after "table "
  }
  return out;
}

// Asserts at the end of its scope that the ruleset is what it was at the start, then
// deletes whatever firedrill table of this process is still there, so that a failing
// test leaves nothing behind for the next one. A guard of the host's ruleset holds the
// tests' nftables lock meanwhile (tests/nft_lock.h), so that no other test compares the
// host's ruleset while this one has a table there. (A namespace's ruleset is the test's
// own; and an flock taken twice by one process would wait for itself.)
class RulesetGuard {
 public:
  explicit RulesetGuard(std::string netns = "")
      : lock_(netns.empty() ? std::make_unique<NftLock>() : nullptr),
        netns_(std::move(netns)),
        before_(RulesetOfThisProcess(netns_)) {}
  ~RulesetGuard() {
    EXPECT_EQ(RulesetOfThisProcess(netns_), before_) << "nftables ruleset changed by the test";
    for (const auto& t : OwnTables(netns_)) Sh(InNs(netns_, "nft delete table " + t));
  }
  RulesetGuard(const RulesetGuard&) = delete;
  RulesetGuard& operator=(const RulesetGuard&) = delete;

 private:
  std::unique_ptr<NftLock> lock_;  // first: taken before the ruleset is read
  std::string netns_;
  std::string before_;
};

// A network namespace `fdtest<pid>` with its loopback up, deleted at the end of scope.
class Netns {
 public:
  Netns() : name_("fdtest" + std::to_string(getpid())) {
    Sh("ip netns del " + name_ + " 2>/dev/null; ip netns add " + name_ + " && ip -n " + name_ +
       " link set lo up");
  }
  ~Netns() { Sh("ip netns del " + name_); }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  const std::string& name() const { return name_; }

  // Runs `f` on a thread that has entered the namespace. Sockets made there belong to
  // the namespace for good, whichever thread uses them later.
  void Run(const std::function<void()>& f) const {
    std::thread t([&] {
      int fd = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0) << strerror(errno);
      ASSERT_EQ(setns(fd, CLONE_NEWNET), 0) << strerror(errno);
      close(fd);
      f();
    });
    t.join();
  }

 private:
  std::string name_;
};

inline void SetLoopback(sockaddr_storage* ss, socklen_t* len, int family, int port) {
  *ss = {};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *a;
  }
}

// A TCP echo server on loopback (a free port), one poll thread for every connection.
class EchoServer {
 public:
  explicit EchoServer(int family = AF_INET) {
    listen_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss;
    socklen_t len;
    SetLoopback(&ss, &len, family, 0);
    int one = 1;
    setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(bind(listen_, reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
    EXPECT_EQ(listen(listen_, 64), 0);
    getsockname(listen_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    EXPECT_EQ(pipe2(stop_, O_CLOEXEC), 0);
    thread_ = std::thread([this] { Loop(); });
  }
  ~EchoServer() {
    (void)!write(stop_[1], "x", 1);
    thread_.join();
    for (int fd : conns_) close(fd);
    close(listen_);
    close(stop_[0]);
    close(stop_[1]);
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  int port() const { return port_; }

 private:
  void Loop() {
    std::vector<char> buf(64 * 1024);
    for (;;) {
      std::vector<pollfd> fds = {{stop_[0], POLLIN, 0}, {listen_, POLLIN, 0}};
      for (int fd : conns_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
      if (fds[0].revents) return;
      if (fds[1].revents) {
        int c = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns_.push_back(c);
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = recv(fds[i].fd, buf.data(), buf.size(), 0);
        bool ok = n > 0;
        for (ssize_t off = 0; ok && off < n;) {
          ssize_t w = send(fds[i].fd, buf.data() + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          ok = w > 0;
          off += ok ? w : 0;
        }
        if (!ok) {
          close(fds[i].fd);
          std::erase(conns_, fds[i].fd);
        }
      }
    }
  }

  int listen_ = -1;
  int port_ = 0;
  int stop_[2] = {-1, -1};
  std::vector<int> conns_;
  std::thread thread_;
};

// A TCP client socket, closed at the end of scope.
class Client {
 public:
  Client() = default;
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // 0, or the errno that ended the attempt (ETIMEDOUT when `timeout_ms` passed).
  int Connect(int port, int timeout_ms, int family = AF_INET) {
    fd_ = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_storage ss;
    socklen_t len;
    SetLoopback(&ss, &len, family, port);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) return 0;
    if (errno != EINPROGRESS) return errno;
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) == 0) return ETIMEDOUT;
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &el);
    return err;
  }

  // Sends `msg` and waits for exactly as many bytes back; 0, or the errno (ETIMEDOUT,
  // ECONNRESET; EPIPE for an orderly close before the answer).
  int Exchange(const std::string& msg, int timeout_ms, std::string* got = nullptr) {
    if (send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
      return errno;
    }
    std::string in;
    const int64_t end = NowUs() + int64_t{timeout_ms} * 1000;
    while (in.size() < msg.size()) {
      int left = static_cast<int>((end - NowUs()) / 1000);
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) == 0) return ETIMEDOUT;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) continue;
      if (n < 0) return errno;
      if (n == 0) return EPIPE;
      in.append(buf, static_cast<size_t>(n));
    }
    if (got) *got = in;
    return 0;
  }

  // Waits for the connection to end; the errno it ended with (0 for an orderly close,
  // ETIMEDOUT if it did not end in time).
  int WaitEnd(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) == 0) return ETIMEDOUT;
    char c;
    ssize_t n = recv(fd_, &c, 1, 0);
    return n < 0 ? errno : n == 0 ? 0 : EEXIST;
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// connect + one "ping" round trip, each bounded by `timeout_ms`; 0 or the errno.
inline int RoundTrip(int port, int timeout_ms, int family = AF_INET) {
  Client c;
  if (int e = c.Connect(port, timeout_ms, family)) return e;
  return c.Exchange("ping", timeout_ms);
}

// A UDP receiver on a free loopback port: the port the rules under test affect.
class UdpPort {
 public:
  UdpPort() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss;
    socklen_t len;
    SetLoopback(&ss, &len, AF_INET, 0);
    bind(fd_, reinterpret_cast<sockaddr*>(&ss), len);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~UdpPort() { close(fd_); }
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;
  int port() const { return port_; }

  // Sends `count` datagrams to itself in batches, each drained before the next (so the
  // receive buffer never overflows: a datagram lost is lost to the rules under test).
  int Delivered(int count) {
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss;
    socklen_t len;
    SetLoopback(&ss, &len, AF_INET, port_);
    int got = 0;
    for (int sent = 0; sent < count;) {
      for (int i = 0; i < 50 && sent < count; ++i, ++sent) {
        sendto(tx, "d", 1, 0, reinterpret_cast<sockaddr*>(&ss), len);
      }
      pollfd p{fd_, POLLIN, 0};
      char c;
      // Loopback delivers within microseconds; 50 ms of silence means the batch is in.
      while (poll(&p, 1, 50) > 0) got += recv(fd_, &c, 1, 0) == 1 ? 1 : 0;
    }
    close(tx);
    return got;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace firedrill::testing
