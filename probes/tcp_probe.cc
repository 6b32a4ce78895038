// tcp: a TCP connect to host:port.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "runner/base/net.h"
#include "runner/base/text.h"
#include "runner/base/unique_fd.h"
#include "runner/base/values.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

using Clock = std::chrono::steady_clock;

// Cancellation is noticed within this long while waiting for a connection.
constexpr int kPollSliceMs = 100;

// "127.0.0.1:80", "localhost:80", "[::1]:80" (the forms the loader accepts), checked again
// here because a ${port:NAME} reference only becomes a number at run time.
Result<HostPort> SplitAddress(const std::string& text) {
  auto hp = SplitHostPort(text);
  if (!hp) return Status::Invalid("bad address " + text);
  if (!PortNumber(hp->port)) return Status::Invalid("bad port in address " + text);
  return *hp;
}

using AddressList = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;

// The addresses of `hp`, in the resolver's order. `numeric_only`: without asking a
// resolver, so never blocking; EAI_NONAME then means `hp.host` is a name.
Result<AddressList> Resolve(const HostPort& hp, bool numeric_only, int* gai_error = nullptr) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (numeric_only ? AI_NUMERICHOST : 0);
  addrinfo* found = nullptr;
  int gai = ::getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &found);
  if (gai_error) *gai_error = gai;
  if (gai != 0) {
    return Status::Failed("cannot resolve " + hp.host + ": " +
                          (gai == EAI_SYSTEM ? ErrnoText(errno) : std::string(gai_strerror(gai))));
  }
  return AddressList(found, &::freeaddrinfo);
}

// What a tcp probe connects to. Shared with the samples in flight, so that a probe
// destroyed meanwhile leaves none of them pointing at it.
struct TcpTarget {
  // REQUIRES: ctx.expander is set and ctx outlives the target.
  TcpTarget(const Params& p, const RunContext& ctx)
      : address(p.String("address")), timeout(p.Duration("timeout")), ctx(ctx) {}

  Result<HostPort> Expand(const SampleVars& vars) const {
    auto text = ctx.expander->Expand(address, vars.seq);
    if (!text.ok()) return text.status();
    return SplitAddress(*text);
  }

  // Ok when `ai` may be connected to: the address the connection would go to, whatever the
  // drill wrote and however it resolved (runner/base/net.h).
  Status Allowed(const addrinfo* ai) const {
    const NetworkPolicy& policy = ctx.network ? *ctx.network : NetworkPolicy::LoopbackOnly();
    return policy.CheckConnect(ai->ai_addr);
  }

  Status TimedOut() const { return Status::Timeout("timed out after " + FormatDuration(timeout)); }

  static ProbeOutcome Connected(Clock::time_point start) {
    auto ms = std::chrono::duration_cast<Millis>(Clock::now() - start).count();
    return {true, "connected in " + std::to_string(ms) + "ms"};
  }

  std::string address;
  Millis timeout;
  const RunContext& ctx;
};

// One sample through the loop: the address resolved (a name on the blocking pool, as
// getaddrinfo has no asynchronous form; a number at once), then each of its addresses
// connected to in turn, as Sample does, with nothing waiting on a thread. Its socket and
// timer are not thread-safe and the loop has several threads: everything after the start
// runs on a strand of its own.
class TcpAttempt : public std::enable_shared_from_this<TcpAttempt> {
 public:
  TcpAttempt(std::shared_ptr<const TcpTarget> target, EventLoop& loop, SampleDone done)
      : target_(std::move(target)),
        loop_(loop),
        strand_(boost::asio::make_strand(loop.io())),
        socket_(strand_),
        timer_(strand_),
        done_(std::move(done)) {}

  void Start(HostPort hp) {
    failure_ = "no address for " + hp.host;
    // Real sockets wait in real time, so the deadline uses the steady clock, not Env.
    start_ = Clock::now();
    deadline_ = start_ + target_->timeout;
    int gai = 0;
    auto numeric = Resolve(hp, /*numeric_only=*/true, &gai);
    if (gai != EAI_NONAME) {
      boost::asio::post(strand_, [self = shared_from_this(), r = std::move(numeric)]() mutable {
        self->Resolved(std::move(r));
      });
      return;
    }
    loop_.Blocking([self = shared_from_this(), hp = std::move(hp)] {
      boost::asio::post(self->strand_,
                        [self, r = Resolve(hp, false)]() mutable { self->Resolved(std::move(r)); });
    });
  }

 private:
  void Resolved(Result<AddressList> list) {
    if (!list.ok()) return Finish({false, list.status().message()});
    list_ = std::move(*list);
    next_ = list_.get();
    Tick();
    TryNext();
  }

  // Connects to the next address; when none is left, the last failure is the outcome.
  void TryNext() {
    for (; next_ && !finished_; next_ = next_->ai_next) {
      const addrinfo* ai = next_;
      if (Status allowed = target_->Allowed(ai); !allowed.ok()) {
        failure_ = allowed.message();
        continue;
      }
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
      // Made here rather than by Asio, which would leave it inheritable by children.
      const int fd =
          ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        failure_ = "socket: " + ErrnoText(errno);
        continue;
      }
      boost::asio::ip::tcp::endpoint to;
      std::memcpy(to.data(), ai->ai_addr, ai->ai_addrlen);
      boost::system::error_code ec;
      socket_.assign(to.protocol(), fd, ec);
      if (ec) {
        ::close(fd);
        failure_ = "socket: " + ec.message();
        continue;
      }
      socket_.async_connect(
          to, [self = shared_from_this()](boost::system::error_code ec) { self->Connected(ec); });
      return;
    }
    if (!finished_) Finish({false, failure_});
  }

  void Connected(boost::system::error_code ec) {
    if (finished_) return;
    if (!ec) return Finish(TcpTarget::Connected(start_));
    boost::system::error_code ignored;
    socket_.close(ignored);
    failure_ =
        ec.category() == boost::system::system_category() ? ErrnoText(ec.value()) : ec.message();
    next_ = next_->ai_next;
    TryNext();
  }

  // The deadline, and the run's cancellation, looked at as often as Sample looks.
  void Tick() {
    if (finished_) return;
    if (target_->ctx.cancelled()) return Finish({false, "cancelled"});
    const auto now = Clock::now();
    if (now >= deadline_) return Finish({false, target_->TimedOut().message()});
    timer_.expires_at(std::min(deadline_, now + Millis(kPollSliceMs)));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Tick();
    });
  }

  void Finish(ProbeOutcome out) {
    finished_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);  // a connect still waiting ends with operation_aborted
    done_(std::move(out));
  }

  std::shared_ptr<const TcpTarget> target_;
  EventLoop& loop_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  SampleDone done_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  AddressList list_{nullptr, &::freeaddrinfo};
  const addrinfo* next_ = nullptr;
  std::string failure_;
  bool finished_ = false;
};

class TcpProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe and its samples.
  TcpProbe(const Params& p, const RunContext& ctx)
      : target_(std::make_shared<const TcpTarget>(p, ctx)) {}

  ProbeOutcome Sample(const SampleVars& vars) override {
    auto hp = target_->Expand(vars);
    if (!hp.ok()) return {false, hp.status().message()};

    const auto start = Clock::now();
    const auto deadline = start + target_->timeout;
    auto list = Resolve(*hp, /*numeric_only=*/false);
    if (!list.ok()) return {false, list.status().message()};

    // `localhost` may resolve to ::1 and 127.0.0.1 while the server listens on only one:
    // each address is tried in turn, and the last failure is the one reported.
    std::string failure = "no address for " + hp->host;
    for (addrinfo* ai = list->get(); ai; ai = ai->ai_next) {
      auto r = Connect(ai, deadline);
      if (r.ok()) return TcpTarget::Connected(start);
      failure = r.status().message();
      if (r.status().code() == Status::Code::kTimeout) break;
    }
    return {false, failure};
  }

  void SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done) override {
    auto hp = target_->Expand(vars);
    if (!hp.ok()) return done({false, hp.status().message()});
    std::make_shared<TcpAttempt>(target_, loop, std::move(done))->Start(std::move(*hp));
  }

 private:
  // Ok when a connection to `ai` was established (and closed again) before `deadline`.
  Result<bool> Connect(const addrinfo* ai, Clock::time_point deadline) {
    FD_RETURN_IF_ERROR(target_->Allowed(ai));
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) return Status::Io("socket: " + ErrnoText(errno));
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return true;
    if (errno != EINPROGRESS) return Status::Failed(ErrnoText(errno));
    while (true) {
      if (target_->ctx.cancelled()) return Status::Failed("cancelled");
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
      if (left <= 0) return target_->TimedOut();
      pollfd pfd{fd.get(), POLLOUT, 0};
      int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, kPollSliceMs)));
      if (n < 0 && errno != EINTR) return Status::Io("poll: " + ErrnoText(errno));
      if (n > 0) break;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return Status::Failed(ErrnoText(err));
    return true;
  }

  std::shared_ptr<const TcpTarget> target_;
};

constexpr FieldSpec kFields[] = {
    {.name = "address",
     .type = FieldType::kAddress,
     .doc = "host:port to connect to",
     .required = true},
    {.name = "timeout",
     .type = FieldType::kDuration,
     .doc = "connect timeout",
     .default_value = "2s",
     .min = 1,
     .max = 600000},
};

// REQUIRES: ctx.expander is set and ctx outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  return std::unique_ptr<Probe>(new TcpProbe(p, ctx));
}

}  // namespace

extern const ProbeKind kTcpProbe = {
    .name = "tcp",
    .doc = "connect to host:port; pass when the connection is accepted",
    .fields = kFields,
    .example = R"({tcp: {address: "127.0.0.1:6379", timeout: 1s}})",
    .check = nullptr,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
