// tcp: a TCP connect to host:port.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>

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

class TcpProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe.
  TcpProbe(const Params& p, const RunContext& ctx)
      : address_(p.String("address")), timeout_(p.Duration("timeout")), ctx_(ctx) {}

  ProbeOutcome Sample(const SampleVars& vars) override {
    auto text = ctx_.expander->Expand(address_, vars.seq);
    if (!text.ok()) return {false, text.status().message()};
    auto hp = SplitAddress(*text);
    if (!hp.ok()) return {false, hp.status().message()};

    // Real sockets wait in real time, so the deadline uses the steady clock, not Env.
    const auto start = Clock::now();
    const auto deadline = start + timeout_;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    int gai = ::getaddrinfo(hp->host.c_str(), hp->port.c_str(), &hints, &found);
    if (gai != 0) {
      return {false, "cannot resolve " + hp->host + ": " +
                         (gai == EAI_SYSTEM ? ErrnoText(errno) : std::string(gai_strerror(gai)))};
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);

    // `localhost` may resolve to ::1 and 127.0.0.1 while the server listens on only one:
    // each address is tried in turn, and the last failure is the one reported.
    std::string failure = "no address for " + hp->host;
    for (addrinfo* ai = list.get(); ai; ai = ai->ai_next) {
      auto r = Connect(ai, deadline);
      if (r.ok()) {
        auto ms = std::chrono::duration_cast<Millis>(Clock::now() - start).count();
        return {true, "connected in " + std::to_string(ms) + "ms"};
      }
      failure = r.status().message();
      if (r.status().code() == Status::Code::kTimeout) break;
    }
    return {false, failure};
  }

 private:
  // Ok when a connection to `ai` was established (and closed again) before `deadline`.
  Result<bool> Connect(const addrinfo* ai, Clock::time_point deadline) {
    // The address the connection would go to, whatever the drill wrote and however it
    // resolved (runner/base/net.h).
    const NetworkPolicy& policy = ctx_.network ? *ctx_.network : NetworkPolicy::LoopbackOnly();
    FD_RETURN_IF_ERROR(policy.CheckConnect(ai->ai_addr));
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) return Status::Io("socket: " + ErrnoText(errno));
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return true;
    if (errno != EINPROGRESS) return Status::Failed(ErrnoText(errno));
    while (true) {
      if (ctx_.cancelled()) return Status::Failed("cancelled");
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
      if (left <= 0) return Status::Timeout("timed out after " + FormatDuration(timeout_));
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

  std::string address_;
  Millis timeout_;
  const RunContext& ctx_;
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
