// Where a drill may send traffic, decided on the address a socket is about to connect to,
// not on how the drill wrote it: loopback (127.0.0.0/8, ::1, and ::ffff:127.0.0.0/104,
// which reaches 127.0.0.0/8) and the addresses of the hosts the drill names under
// `hosts:`. The loader checks what a drill writes (runner/loader/locality.h); this is the
// second check, where the connection is made, so that no disagreement between a parser, a
// resolver and the code that connects can send a byte anywhere else.
//
// Addresses the operator gives on the command line (not a drill file) are the operator's
// and go through no policy; a drill file can never name them.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runner/base/status.h"

namespace firedrill {

bool IsLoopbackAddress(const sockaddr* addr);
// "127.0.0.1:6379", "[::1]:80"; "" for a family other than IPv4 and IPv6.
std::string AddressText(const sockaddr* addr);

class NetworkPolicy {
 public:
  // Loopback only.
  NetworkPolicy() = default;

  // Also allows every address `host` has, a numeric address or a name resolved now (the
  // addresses are what is compared later, so a name that later resolves elsewhere does not
  // widen the policy). Fails when it has none.
  Status AllowHost(const std::string& host);

  // Ok when `addr` may be connected to; else kFailed saying which address was refused and
  // why ("refused to connect to 10.0.0.1:80: ...").
  Status CheckConnect(const sockaddr* addr) const;

  // The policy when a drill names no hosts.
  static const NetworkPolicy& LoopbackOnly();

 private:
  std::set<std::string> allowed_;  // numeric addresses, IPv4-mapped IPv6 written as IPv4
};

// "127.0.0.1:6379", "localhost:80", "[::1]:80" split into host (without brackets) and port
// (not checked). The port is what follows the last ':' outside any `${...}`, so that
// `localhost:${port:redis}` splits before the reference. nullopt when there is no port.
struct HostPort {
  std::string host;
  std::string port;
};
std::optional<HostPort> SplitHostPort(std::string_view text);
// A decimal port, 1..65535.
std::optional<int> PortNumber(std::string_view text);

// The addresses `host` (a numeric address in any form getaddrinfo reads: 127.1,
// 0x7f000001, ::ffff:127.0.0.1) stands for, without asking a resolver; empty when it is not
// numeric.
std::vector<sockaddr_storage> NumericAddresses(const std::string& host);

// Picks a free loopback TCP port by binding port 0; avoids `taken`.
Result<int> PickFreePort(const std::set<int>& taken);

}  // namespace firedrill
