// network.loss and network.partition: nftables rules in a table of the fault's own, scoped
// to one loopback port or to one network namespace. network.delay: firedrill's fault proxy
// (injectors/fault_proxy.h) made transparent by an nftables redirect of the port.
//
// Why a proxy and not netem: the kernels this is built for may lack netem (sch_netem) and
// classful qdiscs, and a qdisc on `lo` would slow every loopback port of the machine,
// while a proxy in front of one port delays that port alone.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <cmath>
#include <mutex>

#include "injectors/journaled_fault.h"
#include "injectors/support/fault_proxy.h"
#include "injectors/support/nft.h"
#include "runner/base/net.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"

namespace firedrill {
namespace {

// Marks the fault proxy's own upstream sockets ("fdrp"), so that its connection to the
// real port is not redirected back into itself.
constexpr uint32_t kProxyMark = 0x66647270;

// Loopback packets pass the input hook exactly once each, in either direction, so a port
// scope needs one chain there. A namespace's traffic also leaves through other interfaces:
// its output chain takes what does not go to `lo` (which the input chain sees anyway), so
// no packet is counted twice against `loss`.
std::string ChainHead(const std::string& hook) {
  return "type filter hook " + hook + " priority -10; policy accept;";
}

enum class Verdict { kDrop, kReject, kLoss };

struct Scope {
  int port = 0;       // loopback port, or 0 with a namespace or a peer
  std::string netns;  // expanded
  // A partition between two hosts: this host's traffic with the peer's address, both ways.
  std::string peer;
  std::string peer_address;  // numeric, IPv4 or IPv6
  bool peer_v6 = false;
  std::string proto;  // tcp, udp, or "" for every protocol (namespace only)
};

struct Rules {
  Verdict verdict = Verdict::kDrop;
  int64_t loss_bp = 0;  // basis points: numgen's resolution is 0.01%
};

// The verdict for packets already matched by `match` (which ends in a protocol match when
// `proto` is set).
std::vector<std::string> Verdicts(const std::string& match, const std::string& proto,
                                  const Rules& r) {
  switch (r.verdict) {
    case Verdict::kDrop:
      return {match + "drop"};
    case Verdict::kLoss:
      // numgen cannot compare against its own modulus: 100% is a plain drop.
      if (r.loss_bp >= 10000) return {match + "drop"};
      return {match + fmt::format("numgen random mod 10000 < {} drop", r.loss_bp)};
    case Verdict::kReject:
      break;
  }
  if (proto == "tcp") return {match + "reject with tcp reset"};
  if (!proto.empty()) return {match + "reject with icmpx type port-unreachable"};
  return {match + "meta l4proto tcp reject with tcp reset",
          match + "reject with icmpx type port-unreachable"};
}

std::string FilterScript(const std::string& table, const Scope& s, const Rules& r) {
  // A reject answers with a TCP reset or an ICMP error that itself crosses these hooks;
  // those must pass, or the rejection would be swallowed and look like a drop.
  std::vector<std::string> head;
  if (r.verdict == Verdict::kReject) {
    head = {"tcp flags & rst == rst accept", "icmp type destination-unreachable accept",
            "icmpv6 type destination-unreachable accept"};
  }
  auto chain = [&](const char* hook, const std::vector<std::string>& rules) {
    std::string out = fmt::format("  chain {} {{\n    {}\n", hook, ChainHead(hook));
    for (const auto& l : head) out += "    " + l + "\n";
    for (const auto& l : rules) out += "    " + l + "\n";
    return out + "  }\n";
  };
  std::string proto = s.proto.empty() ? "" : "meta l4proto " + s.proto + " ";
  std::string body;
  if (s.port != 0) {
    std::vector<std::string> rules;
    for (const char* addr : {"ip daddr 127.0.0.0/8 ", "ip6 daddr ::1 "}) {
      for (const char* dir : {"dport", "sport"}) {
        for (auto& v : Verdicts(addr + proto + fmt::format("th {} {} ", dir, s.port), s.proto, r)) {
          rules.push_back(std::move(v));
        }
      }
    }
    body = chain("input", rules);
  } else if (!s.peer_address.empty()) {
    const std::string family = s.peer_v6 ? "ip6 " : "ip ";
    body = chain("input", Verdicts(family + "saddr " + s.peer_address + " " + proto, s.proto, r)) +
           chain("output", Verdicts(family + "daddr " + s.peer_address + " " + proto, s.proto, r));
  } else {
    body = chain("input", Verdicts(proto, s.proto, r)) +
           chain("output", Verdicts("oifname != \"lo\" " + proto, s.proto, r));
  }
  return "table inet " + table + " {\n" + body + "}\n";
}

std::string Subject(const Scope& s) {
  std::string proto = s.proto.empty() ? "every protocol" : s.proto;
  if (s.port != 0) return fmt::format("{} port {} on loopback", proto, s.port);
  if (!s.peer.empty())
    return fmt::format("traffic with host {} ({}, {})", s.peer, s.peer_address, proto);
  return fmt::format("network namespace {} ({})", s.netns, proto);
}

std::string TableNote(const std::string& table, const std::string& netns) {
  return "nft table inet " + table + (netns.empty() ? "" : " in " + netns);
}

// network.loss and network.partition: one table, created whole, deleted whole.
class FilterFault final : public JournaledFault {
 public:
  FilterFault(std::string name, Scope scope, Rules rules, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), scope_(std::move(scope)), rules_(rules) {}

 private:
  Result<std::string> Apply() override {
    if (!scope_.netns.empty() && !NetnsExists(scope_.netns)) {
      return Status::NotFound("network namespace " + scope_.netns +
                              " does not exist (see `ip netns list`)");
    }
    const std::string table = NewNftTableName();
    auto recorded = Record(kUndoNftTable.name, NftTableArgs(table, scope_.netns));
    if (!recorded.ok()) return recorded.status();
    if (Status s = RunNft(FilterScript(table, scope_, rules_), scope_.netns); !s.ok()) {
      // nft applies a file atomically: nothing was made, and the entry is closed so that
      // no rollback is left pending for it.
      (void)Undo();
      return s;
    }
    MarkEffective(ctx().env);
    std::string what;
    switch (rules_.verdict) {
      case Verdict::kDrop:
        what = Subject(scope_) + " cut off (drop)";
        break;
      case Verdict::kReject:
        what = Subject(scope_) + " cut off (reject)";
        break;
      case Verdict::kLoss:
        what = fmt::format("{:g}% of packets dropped: {}",
                           static_cast<double>(rules_.loss_bp) / 100, Subject(scope_));
        break;
    }
    return what + ", " + TableNote(table, scope_.netns);
  }

  Scope scope_;
  Rules rules_;
};

// `port` is text so that a drill can name the port it picked for a service
// (`${port:redis}`); a literal is checked at load time, a reference once expanded
// (PortNumber, runner/base/net.h).
std::string NotAPort(const std::string& text) {
  return "port '" + OneLine(text, 40) + "' is not a port number (1..65535)";
}

Result<std::string> Expanded(const RunContext& ctx, const std::string& text) {
  if (!ctx.expander) return text;
  return ctx.expander->Expand(text);
}

Result<int> PortOf(const FaultSpec& f, const RunContext& ctx) {
  auto text = Expanded(ctx, f.with.String("port"));
  if (!text.ok()) return text.status();
  auto port = PortNumber(*text);
  if (!port) return Status::Invalid(NotAPort(*text));
  return *port;
}

// The address `with.peer` was reached at, as this run's controller connected to it: never
// an address the drill wrote, so a fault between hosts cannot be aimed anywhere else.
Status PeerOf(const FaultSpec& f, const RunContext& ctx, Scope* s) {
  s->peer = f.with.String("peer");
  if (!ctx.host_addresses || !ctx.host_addresses->count(s->peer)) {
    return Status::Invalid("peer '" + OneLine(s->peer, 64) +
                           "' is not a host this run reached (a fault between hosts runs on "
                           "a host, `host:`, against another)");
  }
  s->peer_address = ctx.host_addresses->at(s->peer);
  in6_addr a6{};
  in_addr a4{};
  if (inet_pton(AF_INET, s->peer_address.c_str(), &a4) == 1) {
    s->peer_v6 = false;
  } else if (inet_pton(AF_INET6, s->peer_address.c_str(), &a6) == 1) {
    s->peer_v6 = true;
  } else {
    return Status::Invalid("host " + s->peer + " was reached at '" + OneLine(s->peer_address, 64) +
                           "', which is not a numeric address");
  }
  return Status::Ok();
}

Result<Scope> ScopeOf(const FaultSpec& f, const RunContext& ctx) {
  if (int(f.with.Has("port")) + int(f.with.Has("netns")) + int(f.with.Has("peer")) != 1) {
    return Status::Invalid(f.action + (f.action == "network.partition"
                                           ? " takes exactly one of `port`, `netns` and `peer`"
                                           : " takes exactly one of `port` and `netns`"));
  }
  Scope s;
  if (f.with.Has("peer")) {
    if (Status st = PeerOf(f, ctx, &s); !st.ok()) return st;
    if (f.with.Has("protocol")) s.proto = f.with.String("protocol");
    return s;
  }
  if (f.with.Has("port")) {
    auto port = PortOf(f, ctx);
    if (!port.ok()) return port.status();
    s.port = *port;
    s.proto = f.with.Has("protocol") ? f.with.String("protocol") : "tcp";
    return s;
  }
  auto ns = Expanded(ctx, f.with.String("netns"));
  if (!ns.ok()) return ns.status();
  if (!ValidNetnsName(*ns)) {
    return Status::Invalid("netns '" + OneLine(*ns, 64) +
                           "' is not a network namespace name (letters, digits, _ . -)");
  }
  s.netns = *ns;
  if (f.with.Has("protocol")) s.proto = f.with.String("protocol");
  return s;
}

Result<std::unique_ptr<Fault>> MakeLoss(const FaultSpec& f, const RunContext& ctx) {
  auto s = ScopeOf(f, ctx);
  if (!s.ok()) return s.status();
  Rules r{.verdict = Verdict::kLoss, .loss_bp = std::llround(f.with.Percent("loss") * 100)};
  return std::unique_ptr<Fault>(new FilterFault(f.name, std::move(*s), r, ctx));
}

Result<std::unique_ptr<Fault>> MakePartition(const FaultSpec& f, const RunContext& ctx) {
  auto s = ScopeOf(f, ctx);
  if (!s.ok()) return s.status();
  Rules r{.verdict = f.with.String("mode") == "reject" ? Verdict::kReject : Verdict::kDrop};
  return std::unique_ptr<Fault>(new FilterFault(f.name, std::move(*s), r, ctx));
}

// Would `tc ... netem` work here? Asked once, in a network namespace of its own that
// dies with the probe, so the machine's `lo` is never touched. It takes tens of
// milliseconds (up to its 5 s timeout on a loaded machine), so DelayFault::Prepare asks
// before the fault phase, and Apply then finds the answer cached.
std::string NetemNote() {
  static std::once_flag once;
  static std::string note;
  std::call_once(once, [] {
    auto r = RunShell({.script = "exec unshare --net tc qdisc add dev lo root netem delay 1ms",
                       .cwd = "/",
                       .timeout = Millis(5000)});
    if (r.ok() && r->exit_code == 0) {
      note = "netem exists here, but a proxy delays one port alone";
    } else if (r.ok() && r->err.find("qdisc kind is unknown") != std::string::npos) {
      note = "this kernel has no netem";
    } else {
      // No right to make a namespace, or no tc: say so rather than guess.
      note = "netem not checked";
    }
  });
  return note;
}

std::string DelaySettings(const ProxyOptions& o) {
  std::string s = "delay " + FormatDuration(o.delay);
  if (o.jitter.count() > 0) s += " +/- " + FormatDuration(o.jitter);
  if (o.bandwidth > 0) s += ", bandwidth " + FormatBytes(o.bandwidth) + "/s";
  if (o.reset_after.count() > 0) s += ", reset after " + FormatDuration(o.reset_after);
  return s;
}

// This host's new connections to `port` (on loopback, or at the peer's address) go to the
// proxy instead. A redirect in the output hook sends them to the proxy's loopback
// listener of the same family, whatever address they were for.
std::string RedirectScript(const std::string& table, int port, const Scope& peer,
                           const FaultProxy& proxy) {
  std::string s = "table inet " + table + " {\n  chain to_proxy {\n" +
                  "    type nat hook output priority -100; policy accept;\n" +
                  fmt::format("    meta mark {:#x} return\n", kProxyMark);
  if (!peer.peer_address.empty()) {
    s += fmt::format("    {} daddr {} tcp dport {} redirect to :{}\n", peer.peer_v6 ? "ip6" : "ip",
                     peer.peer_address, port, proxy.port());
    return s + "  }\n}\n";
  }
  s += fmt::format("    ip daddr 127.0.0.0/8 tcp dport {} redirect to :{}\n", port, proxy.port());
  if (proxy.has_ipv6()) {
    s += fmt::format("    ip6 daddr ::1 tcp dport {} redirect to :{}\n", port, proxy.port());
  }
  return s + "  }\n}\n";
}

std::string ProxyReport(const ProxyStats& st) {
  std::string s = fmt::format("fault proxy stopped after {} connection(s), {} up, {} down",
                              st.connections, FormatBytes(st.bytes_up), FormatBytes(st.bytes_down));
  if (st.resets > 0) s += fmt::format(", {} reset", st.resets);
  if (st.upstream_failures > 0) s += fmt::format(", {} refused upstream", st.upstream_failures);
  return s;
}

// network.delay. The proxy runs as a thread of the runner (journaled `in-process`: it
// dies with the run); the redirect is an nft table (journaled `nft.table`, so a dead run's
// redirect is removed by `firedrill rollback`). New connections to the port are proxied;
// ones already open when the fault starts are left alone (NAT decides at a connection's
// first packet).
class DelayFault final : public JournaledFault {
 public:
  DelayFault(std::string name, ProxyOptions opts, Scope peer, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), opts_(std::move(opts)), peer_(std::move(peer)) {}
  ~DelayFault() override {
    if (proxy_) proxy_->Stop();
  }

  // The netem check, once per process, before the fault clock starts (NetemNote).
  Status Prepare() override {
    (void)NetemNote();
    return Status::Ok();
  }

  // The proxy goes first. Its resets reach the clients only while the redirect's NAT still
  // rewrites them: once the last nat chain is gone the kernel stops translating, a reset
  // from the proxy's port is not for the client's socket, and the client hangs until it
  // next sends. The price: a client that connects in the few milliseconds before the
  // redirect is gone is refused.
  Result<std::string> Rollback() override {
    const ProxyStats st = proxy_->Stop();
    SetFigure("connections", static_cast<double>(st.connections));
    SetFigure("bytes_to_server", static_cast<double>(st.bytes_up));
    SetFigure("bytes_to_client", static_cast<double>(st.bytes_down));
    SetFigure("resets", static_cast<double>(st.resets));
    SetFigure("upstream_failures", static_cast<double>(st.upstream_failures));
    std::string report = ProxyReport(st);
    auto done = Finish(proxy_id_, report);
    auto undone = Undo();
    if (!undone.ok()) return undone.status().Annotate(report + "; removing the redirect");
    if (!done.ok()) return done.status();
    return report + "; " + *undone;
  }

 private:
  Result<std::string> Apply() override {
    auto pid = Record(
        "in-process",
        {{"what", peer_.peer.empty() ? fmt::format("fault proxy for port {}", opts_.target_port)
                                     : "fault proxy for " + Where()}});
    if (!pid.ok()) return pid.status();
    proxy_id_ = *pid;
    auto proxy = FaultProxy::Start(opts_);
    if (!proxy.ok()) {
      (void)Finish(proxy_id_, "fault proxy did not start");
      return proxy.status();
    }
    proxy_ = std::move(*proxy);
    if (peer_.peer_v6 && !proxy_->has_ipv6()) {
      (void)Finish(proxy_id_, ProxyReport(proxy_->Stop()));
      return Status::Failed("host " + peer_.peer + " is reached over IPv6, and the fault proxy " +
                            "could not listen on ::1 here");
    }
    const std::string table = NewNftTableName();
    auto tid = Record(kUndoNftTable.name, NftTableArgs(table, ""));
    if (!tid.ok()) {
      (void)Finish(proxy_id_, ProxyReport(proxy_->Stop()));
      return tid.status();
    }
    if (Status s = RunNft(RedirectScript(table, opts_.target_port, peer_, *proxy_), ""); !s.ok()) {
      (void)Undo();
      (void)Finish(proxy_id_, ProxyReport(proxy_->Stop()));
      return s.Annotate("redirecting " + Where() + " to the fault proxy");
    }
    // New connections go through the proxy from here on; anything after this (the netem
    // note, when Prepare did not ask) must not count as the fault's moment.
    MarkEffective(ctx().env);
    return fmt::format("{} redirected to fault proxy {}:{} ({}; {}), {}", Where(),
                       peer_.peer_v6 ? "[::1]" : "127.0.0.1", proxy_->port(), DelaySettings(opts_),
                       NetemNote(), TableNote(table, ""));
  }

  // "tcp port 80 on loopback", "connections to host web2 (10.0.0.12) tcp port 80".
  std::string Where() const {
    if (peer_.peer.empty()) return fmt::format("tcp port {} on loopback", opts_.target_port);
    return fmt::format("connections to host {} ({}) tcp port {}", peer_.peer, peer_.peer_address,
                       opts_.target_port);
  }

  ProxyOptions opts_;
  Scope peer_;  // set for a delay of the connections to another host
  std::unique_ptr<FaultProxy> proxy_;
  uint64_t proxy_id_ = 0;  // id() is the redirect's table, recorded after the proxy
};

Result<std::unique_ptr<Fault>> MakeDelay(const FaultSpec& f, const RunContext& ctx) {
  ProxyOptions o;
  auto port = PortOf(f, ctx);
  if (!port.ok()) return port.status();
  o.target_port = *port;
  o.delay = f.with.Duration("delay");
  o.jitter = f.with.Duration("jitter");
  if (f.with.Has("bandwidth")) o.bandwidth = f.with.Size("bandwidth").bytes;
  if (f.with.Has("reset_after")) o.reset_after = f.with.Duration("reset_after");
  o.mark = kProxyMark;
  o.seed = static_cast<uint64_t>(std::hash<std::string>{}(f.name)) ^
           static_cast<uint64_t>(ctx.env ? ctx.env->NowMs() : 0);
  Scope peer;
  if (f.with.Has("peer")) {
    if (Status st = PeerOf(f, ctx, &peer); !st.ok()) return st;
    o.upstream_address = peer.peer_address;
    o.policy = ctx.network;
  }
  return std::unique_ptr<Fault>(new DelayFault(f.name, std::move(o), std::move(peer), ctx));
}

constexpr const char* kProtocols[] = {"tcp", "udp"};
constexpr const char* kPartitionModes[] = {"drop", "reject"};

constexpr FieldSpec kLossFields[] = {
    {.name = "port",
     .type = FieldType::kString,
     .doc = "loopback port (a number or ${port:NAME}) whose packets, both ways, are dropped"},
    {.name = "netns",
     .type = FieldType::kString,
     .doc = "network namespace (`ip netns`) all of whose packets are subject to loss"},
    {.name = "protocol",
     .type = FieldType::kEnum,
     .doc = "transport affected; default tcp with `port`, every protocol with `netns`",
     .choices = kProtocols},
    {.name = "loss",
     .type = FieldType::kPercent,
     .doc = "share of packets dropped, each at random (0.01% steps)",
     .required = true,
     .min = 0,
     .max = 100},
};

constexpr FieldSpec kPartitionFields[] = {
    {.name = "port",
     .type = FieldType::kString,
     .doc = "loopback port (a number or ${port:NAME}) to cut off, both ways"},
    {.name = "netns",
     .type = FieldType::kString,
     .doc = "network namespace (`ip netns`) to cut off, its own loopback included"},
    {.name = "peer",
     .type = FieldType::kString,
     .doc = "a host of `hosts:` to cut the fault's `host:` off from, both ways (rules on both)"},
    {.name = "protocol",
     .type = FieldType::kEnum,
     .doc = "transport affected; default tcp with `port`, every protocol with `netns`",
     .choices = kProtocols},
    {.name = "mode",
     .type = FieldType::kEnum,
     .doc = "drop silently (timeouts), or reject (TCP reset, ICMP port unreachable)",
     .default_value = "drop",
     .choices = kPartitionModes},
};

constexpr FieldSpec kDelayFields[] = {
    {.name = "port",
     .type = FieldType::kString,
     .doc = "TCP port (a number or ${port:NAME}), on loopback or on `peer`, whose new "
            "connections are proxied",
     .required = true},
    {.name = "peer",
     .type = FieldType::kString,
     .doc = "a host of `hosts:` whose `port` the fault's `host:` reaches through the proxy"},
    {.name = "delay",
     .type = FieldType::kDuration,
     .doc = "added to every server -> client chunk: a round trip grows by this",
     .required = true,
     .min = 0,
     .max = 600000},
    {.name = "jitter",
     .type = FieldType::kDuration,
     .doc = "random +/- added to delay per chunk (bytes keep their order)",
     .default_value = "0ms",
     .min = 0,
     .max = 600000},
    {.name = "bandwidth",
     .type = FieldType::kSize,
     .doc = "bytes per second cap, per connection and direction",
     .min = 1},
    {.name = "reset_after",
     .type = FieldType::kDuration,
     .doc = "reset each proxied connection (RST to both ends) this long after it opened",
     .min = 1,
     .max = 3600000},
};

std::optional<FieldError> CheckPort(const FaultSpec& f) {
  if (!f.with.Has("port")) return std::nullopt;
  const std::string& text = f.with.String("port");
  if (text.find("${") != std::string::npos || PortNumber(text)) return std::nullopt;
  return FieldError{f.with.MarkOf("port"), NotAPort(text) + " or ${port:NAME}"};
}

std::optional<FieldError> CheckScope(const FaultSpec& f) {
  if (f.with.Has("port") == f.with.Has("netns")) {
    return FieldError{f.mark, f.action + " takes exactly one of `port` and `netns`"};
  }
  return CheckPort(f);
}

std::optional<FieldError> CheckPartitionScope(const FaultSpec& f) {
  if (int(f.with.Has("port")) + int(f.with.Has("netns")) + int(f.with.Has("peer")) != 1) {
    return FieldError{f.mark, f.action + " takes exactly one of `port`, `netns` and `peer`"};
  }
  if (f.with.Has("peer")) {
    if (f.host.empty()) {
      return FieldError{f.with.MarkOf("peer"),
                        "`peer` cuts a host off from another: the fault needs `host:` too"};
    }
    if (f.with.String("peer") == f.host) {
      return FieldError{f.with.MarkOf("peer"), "a host cannot be partitioned from itself"};
    }
    return std::nullopt;
  }
  return CheckPort(f);
}

// A delay's `peer`: the host whose port the fault's host reaches through the proxy.
std::optional<FieldError> CheckDelayPeer(const FaultSpec& f) {
  if (f.host.empty()) {
    return FieldError{f.with.MarkOf("peer"),
                      "`peer` slows a host's connections to another: the fault needs `host:` too"};
  }
  if (f.with.String("peer") == f.host) {
    return FieldError{f.with.MarkOf("peer"),
                      "a host's connections to its own port are delayed by `port` alone, "
                      "without `peer`"};
  }
  return std::nullopt;
}

std::optional<FieldError> CheckDelay(const FaultSpec& f) {
  if (f.with.Has("peer")) {
    if (auto e = CheckDelayPeer(f)) return e;
  }
  if (auto e = CheckPort(f)) return e;
  if (f.with.Duration("jitter") > f.with.Duration("delay")) {
    return FieldError{f.with.MarkOf("jitter"),
                      "jitter must not exceed delay (a chunk cannot arrive before it was sent)"};
  }
  return std::nullopt;
}

}  // namespace

extern const FaultAction kNetworkLoss = {
    .name = "network.loss",
    .doc =
        "drop a share of the packets of a loopback port or a network namespace (nftables "
        "table of its own)",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kLossFields,
    .example =
        R"({name: lossy, at: 0s, action: network.loss, with: {port: 6379, loss: 30%}, duration: 10s})",
    .check = CheckScope,
    .make = MakeLoss,
    .unsupported = NftUnsupported,
};

extern const FaultAction kNetworkPartition = {
    .name = "network.partition",
    .doc =
        "cut a loopback port, a network namespace or two hosts off (nftables drop or reject, "
        "in a table of its own)",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kPartitionFields,
    .example =
        R"({name: cut, at: 0s, action: network.partition, with: {port: 6379, mode: reject}, duration: 10s})",
    .check = CheckPartitionScope,
    .make = MakePartition,
    .unsupported = NftUnsupported,
    .on_peer_too = true,
};

extern const FaultAction kNetworkDelay = {
    .name = "network.delay",
    .doc =
        "latency, jitter, bandwidth cap and resets on a loopback TCP port or another host's, "
        "by firedrill's fault proxy behind an nftables redirect (not netem: kernels without "
        "it work too)",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kDelayFields,
    .example =
        R"({name: slow, at: 0s, action: network.delay, with: {port: 6379, delay: 200ms, jitter: 50ms}, duration: 10s})",
    .check = CheckDelay,
    .make = MakeDelay,
    .unsupported = NftUnsupported,
};

}  // namespace firedrill
