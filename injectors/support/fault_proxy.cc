#include "injectors/support/fault_proxy.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "runner/base/text.h"

// linux/netfilter_ipv6/ip6_tables.h defines it too, but drags in the whole of the old
// ip6tables ABI for one number.
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace firedrill {
namespace {

// Above this many bytes waiting in one direction, the proxy stops reading that side and
// lets TCP flow control push back on the sender.
constexpr size_t kMaxQueued = 1 << 20;
constexpr size_t kReadSize = 64 * 1024;
// With nothing due, the loop still wakes this often; Stop() does not depend on it (the
// eventfd wakes the loop), it only bounds the cost of a missed wakeup.
constexpr int kIdlePollMs = 1000;

// Microseconds, so that a chunk is never released before its full delay: poll's
// millisecond timeouts are rounded up, never down.
int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SetInt(int fd, int level, int opt, int value) {
  (void)setsockopt(fd, level, opt, &value, sizeof value);
}

// Closes with an RST rather than a FIN: the peer must not take a broken connection (or
// one whose queued bytes were thrown away) for an orderly end.
void CloseWithReset(int& fd) {
  if (fd < 0) return;
  linger l{.l_onoff = 1, .l_linger = 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
  fd = -1;
}

struct Chunk {
  int64_t due_us;
  std::string data;
  size_t sent = 0;
};

// One direction of a connection.
struct Flow {
  std::deque<Chunk> queue;
  size_t queued = 0;
  int64_t last_due = 0;   // chunks are due in order, so jitter never reorders bytes
  bool eof = false;       // the source ended its side
  bool shut = false;      // ...and that end was passed on
  bool blocked = false;   // the last send hit EAGAIN: wait for POLLOUT
  double credit = 0;      // bandwidth token bucket, in bytes
  int64_t credit_at = 0;  // us
};

struct Conn {
  int client = -1;
  int upstream = -1;
  bool connecting = true;
  bool dead = false;
  int64_t reset_at = 0;  // us; 0: never
  Flow up;               // client -> upstream
  Flow down;             // upstream -> client
};

}  // namespace

class FaultProxy::Loop {
 public:
  explicit Loop(FaultProxy& p)
      : proxy_(p),
        rng_(p.opts_.seed),
        buf_(kReadSize),
        burst_(std::max<double>(static_cast<double>(p.opts_.bandwidth) / 50.0, 1.0)) {}
  ~Loop() {
    for (auto& c : conns_) Kill(*c);
  }

  void Run() {
    std::vector<pollfd> fds;
    while (!proxy_.stop_.load()) {
      int64_t now = NowUs();
      // Due bytes go out and expired connections are reset before the loop sleeps.
      for (auto& c : conns_) Service(*c, now, 0, 0);
      std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->dead; });

      fds.clear();
      fds.push_back({proxy_.wake_, POLLIN, 0});
      const bool room = conns_.size() < proxy_.opts_.max_connections;
      fds.push_back({room ? proxy_.listen4_ : -1, POLLIN, 0});
      fds.push_back({room ? proxy_.listen6_ : -1, POLLIN, 0});
      int64_t wake_at = now + kIdlePollMs * 1000;
      for (auto& c : conns_) {
        fds.push_back(Want(c->client, ClientEvents(*c)));
        fds.push_back(Want(c->upstream, UpstreamEvents(*c)));
        wake_at = std::min(wake_at, NextDue(*c, now));
      }
      int timeout =
          static_cast<int>(std::clamp<int64_t>((wake_at - now + 999) / 1000, 0, kIdlePollMs));
      if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
      now = NowUs();
      if (fds[0].revents) {
        uint64_t n;
        (void)!read(proxy_.wake_, &n, sizeof n);
      }
      // Connections accepted now are serviced on the next round; the indices below
      // belong to the connections that were polled.
      const size_t polled = conns_.size();
      for (size_t i = 0; i < polled; ++i) {
        Service(*conns_[i], now, fds[3 + 2 * i].revents, fds[4 + 2 * i].revents);
      }
      if (fds[1].revents) Accept(proxy_.listen4_, AF_INET, now);
      if (fds[2].revents) Accept(proxy_.listen6_, AF_INET6, now);
    }
  }

 private:
  static pollfd Want(int fd, short events) { return {events ? fd : -1, events, 0}; }

  // An fd with nothing to wait for is left out of poll: a half-closed socket would
  // otherwise report POLLHUP on every round and spin the loop.
  short ClientEvents(const Conn& c) const {
    short e = 0;
    if (c.connecting) return e;
    if (!c.up.eof && c.up.queued < kMaxQueued) e |= POLLIN;
    if (c.down.blocked) e |= POLLOUT;
    return e;
  }
  short UpstreamEvents(const Conn& c) const {
    if (c.connecting) return POLLOUT;
    short e = 0;
    if (!c.down.eof && c.down.queued < kMaxQueued) e |= POLLIN;
    if (c.up.blocked) e |= POLLOUT;
    return e;
  }

  void Accept(int listener, int family, int64_t now) {
    while (conns_.size() < proxy_.opts_.max_connections) {
      int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      proxy_.connections_++;
      auto c = std::make_unique<Conn>();
      c->client = fd;
      SetInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
      c->reset_at =
          proxy_.opts_.reset_after.count() > 0 ? now + proxy_.opts_.reset_after.count() * 1000 : 0;
      for (Flow* f : {&c->up, &c->down}) {
        f->credit = burst_;
        f->credit_at = now;
      }
      if (!ConnectUpstream(*c, family)) {
        proxy_.upstream_failures_++;
        Kill(*c);
        continue;
      }
      conns_.push_back(std::move(c));
    }
  }

  // Where the client meant to go: the other host, for a delay between hosts (the
  // redirect takes only connections to that address and port); else the redirect's
  // original destination when there is one (any 127.x address), else the target port on
  // the loopback address of its family.
  bool ConnectUpstream(Conn& c, int family) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    const uint16_t own = static_cast<uint16_t>(proxy_.port_);
    if (proxy_.upstream_len_ > 0) {
      ss = proxy_.upstream_;
      len = proxy_.upstream_len_;
      family = ss.ss_family;
    } else if (family == AF_INET) {
      sockaddr_in a{};
      socklen_t alen = sizeof a;
      bool nat = getsockopt(c.client, SOL_IP, SO_ORIGINAL_DST, &a, &alen) == 0 &&
                 (ntohl(a.sin_addr.s_addr) >> 24) == 127 && ntohs(a.sin_port) != own;
      if (!nat) {
        a = {};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(proxy_.opts_.target_port));
      }
      memcpy(&ss, &a, sizeof a);
      len = sizeof a;
    } else {
      sockaddr_in6 a{};
      socklen_t alen = sizeof a;
      bool nat = getsockopt(c.client, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &a, &alen) == 0 &&
                 IN6_IS_ADDR_LOOPBACK(&a.sin6_addr) && ntohs(a.sin6_port) != own;
      if (!nat) {
        a = {};
        a.sin6_family = AF_INET6;
        a.sin6_addr = in6addr_loopback;
        a.sin6_port = htons(static_cast<uint16_t>(proxy_.opts_.target_port));
      }
      memcpy(&ss, &a, sizeof a);
      len = sizeof a;
    }
    c.upstream = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.upstream < 0) return false;
    // Without its mark the upstream connection would be redirected back into the proxy.
    if (proxy_.opts_.mark != 0 && setsockopt(c.upstream, SOL_SOCKET, SO_MARK, &proxy_.opts_.mark,
                                             sizeof proxy_.opts_.mark) != 0) {
      return false;
    }
    SetInt(c.upstream, IPPROTO_TCP, TCP_NODELAY, 1);
    if (connect(c.upstream, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      c.connecting = false;
      return true;
    }
    return errno == EINPROGRESS;
  }

  void Service(Conn& c, int64_t now, short crev, short urev) {
    if (c.dead) return;
    if (c.reset_at != 0 && now >= c.reset_at) {
      proxy_.resets_++;
      Kill(c);
      return;
    }
    if (c.connecting) {
      if (!(urev & (POLLOUT | POLLERR | POLLHUP))) return;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        proxy_.upstream_failures_++;
        Kill(c);
        return;
      }
      c.connecting = false;
      return;  // poll again, now for data
    }
    const short readable = POLLIN | POLLHUP | POLLERR;
    if (((crev & readable) && !Read(c.client, c.up, false, now)) ||
        ((urev & readable) && !Read(c.upstream, c.down, true, now))) {
      Kill(c);
      return;
    }
    if (urev & (POLLOUT | POLLERR)) c.up.blocked = false;
    if (crev & (POLLOUT | POLLERR)) c.down.blocked = false;
    if (!Flush(c.upstream, c.up, proxy_.bytes_up_, now) ||
        !Flush(c.client, c.down, proxy_.bytes_down_, now)) {
      Kill(c);
      return;
    }
    if (c.up.shut && c.down.shut) {  // both ends finished and everything delivered
      close(c.client);
      close(c.upstream);
      c.client = c.upstream = -1;
      c.dead = true;
    }
  }

  // false when the connection broke (the caller resets both ends).
  bool Read(int fd, Flow& f, bool down, int64_t now) {
    if (f.eof || f.queued >= kMaxQueued) return true;
    ssize_t n = recv(fd, buf_.data(), buf_.size(), 0);
    if (n == 0) {
      f.eof = true;
      return true;
    }
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    int64_t due = now;
    if (down) {
      int64_t d = proxy_.opts_.delay.count() * 1000;
      int64_t j = proxy_.opts_.jitter.count() * 1000;
      if (j > 0) d += std::uniform_int_distribution<int64_t>(-j, j)(rng_);
      due += std::max<int64_t>(d, 0);
    }
    due = std::max(due, f.last_due);
    f.last_due = due;
    f.queue.push_back(Chunk{due, std::string(buf_.data(), static_cast<size_t>(n))});
    f.queued += static_cast<size_t>(n);
    return true;
  }

  double CreditAt(const Flow& f, int64_t now) const {
    double rate = static_cast<double>(proxy_.opts_.bandwidth);
    return std::min(burst_, f.credit + static_cast<double>(now - f.credit_at) * rate / 1e6);
  }
  void Refill(Flow& f, int64_t now) const {
    f.credit = CreditAt(f, now);
    f.credit_at = now;
  }

  bool Flush(int fd, Flow& f, std::atomic<uint64_t>& delivered, int64_t now) {
    const bool capped = proxy_.opts_.bandwidth > 0;
    while (!f.queue.empty() && !f.blocked) {
      Chunk& ch = f.queue.front();
      if (ch.due_us > now) break;
      size_t want = ch.data.size() - ch.sent;
      if (capped) {
        Refill(f, now);
        want = std::min(want, static_cast<size_t>(f.credit));
        if (want == 0) break;
      }
      ssize_t n = send(fd, ch.data.data() + ch.sent, want, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
        f.blocked = true;
        break;
      }
      size_t sent = static_cast<size_t>(n);
      ch.sent += sent;
      f.queued -= sent;
      if (capped) f.credit -= static_cast<double>(sent);
      delivered += sent;
      if (ch.sent == ch.data.size()) f.queue.pop_front();
    }
    if (f.queue.empty() && f.eof && !f.shut) {
      (void)shutdown(fd, SHUT_WR);
      f.shut = true;
    }
    return true;
  }

  // When this connection next needs the loop without any fd waking it.
  int64_t NextDue(const Conn& c, int64_t now) const {
    int64_t at = c.reset_at != 0 ? c.reset_at : INT64_MAX;
    for (const Flow* f : {&c.up, &c.down}) {
      if (f->queue.empty() || f->blocked) continue;
      int64_t t = f->queue.front().due_us;
      if (proxy_.opts_.bandwidth > 0) {
        const Chunk& ch = f->queue.front();
        double need = std::min(burst_, static_cast<double>(ch.data.size() - ch.sent));
        double have = CreditAt(*f, now);
        if (have < need) {
          double us = std::ceil((need - have) * 1e6 / static_cast<double>(proxy_.opts_.bandwidth));
          t = std::max(t, now + std::max<int64_t>(static_cast<int64_t>(us), 1));
        }
      }
      at = std::min(at, t);
    }
    return std::max(at, now);
  }

  void Kill(Conn& c) {
    CloseWithReset(c.client);
    CloseWithReset(c.upstream);
    c.dead = true;
  }

  FaultProxy& proxy_;
  std::mt19937_64 rng_;
  std::vector<char> buf_;
  const double burst_;  // 20 ms worth of bandwidth: smooth, yet not a wakeup per byte
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace firedrill

namespace firedrill {

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(const ProxyOptions& opts) {
  std::unique_ptr<FaultProxy> p(new FaultProxy());
  p->opts_ = opts;
  if (!opts.upstream_address.empty()) {
    // The one address this proxy will ever connect to, checked here against the drill's
    // blast radius: the second check, on the very sockaddr connect() is given.
    auto addrs = NumericAddresses(opts.upstream_address);
    if (addrs.empty()) {
      return Status::Invalid("fault proxy: '" + opts.upstream_address +
                             "' is not a numeric address");
    }
    p->upstream_ = addrs.front();
    if (p->upstream_.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&p->upstream_)->sin_port =
          htons(static_cast<uint16_t>(opts.target_port));
      p->upstream_len_ = sizeof(sockaddr_in);
    } else {
      reinterpret_cast<sockaddr_in6*>(&p->upstream_)->sin6_port =
          htons(static_cast<uint16_t>(opts.target_port));
      p->upstream_len_ = sizeof(sockaddr_in6);
    }
    const NetworkPolicy& policy = opts.policy ? *opts.policy : NetworkPolicy::LoopbackOnly();
    if (Status st = policy.CheckConnect(reinterpret_cast<const sockaddr*>(&p->upstream_));
        !st.ok()) {
      return st.Annotate("fault proxy");
    }
  }
  p->listen4_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->listen4_ < 0) return Status::Io("fault proxy: socket: " + ErrnoText(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(p->listen4_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(p->listen4_, 128) != 0 ||
      getsockname(p->listen4_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return Status::Io("fault proxy: listening on 127.0.0.1: " + ErrnoText(errno));
  }
  p->port_ = ntohs(a.sin_port);
  // IPv6 clients of the real port are redirected to ::1 on the same port number; a
  // machine without IPv6, or with that port taken on ::1, gets an IPv4-only proxy.
  p->listen6_ = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->listen6_ >= 0) {
    SetInt(p->listen6_, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    sockaddr_in6 a6{};
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    a6.sin6_port = htons(static_cast<uint16_t>(p->port_));
    if (bind(p->listen6_, reinterpret_cast<sockaddr*>(&a6), sizeof a6) != 0 ||
        listen(p->listen6_, 128) != 0) {
      close(p->listen6_);
      p->listen6_ = -1;
    }
  }
  p->wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (p->wake_ < 0) return Status::Io("fault proxy: eventfd: " + ErrnoText(errno));
  try {
    p->thread_ = std::thread([raw = p.get()] { Loop(*raw).Run(); });
  } catch (const std::system_error& e) {
    return Status::Io(std::string("fault proxy: starting its thread: ") + e.what());
  }
  return p;
}

FaultProxy::~FaultProxy() { Stop(); }

ProxyStats FaultProxy::Stop() {
  if (!stop_.exchange(true) && wake_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  for (int* fd : {&listen4_, &listen6_, &wake_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  return stats();
}

ProxyStats FaultProxy::stats() const {
  return ProxyStats{.connections = connections_.load(),
                    .bytes_up = bytes_up_.load(),
                    .bytes_down = bytes_down_.load(),
                    .resets = resets_.load(),
                    .upstream_failures = upstream_failures_.load()};
}

}  // namespace firedrill
