#include "runner/base/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "runner/base/text.h"

namespace firedrill {
namespace {

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) connects to a.b.c.d, so it is judged as one.
bool MappedV4(const sockaddr_in6* a, in_addr* out) {
  if (!IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) return false;
  std::memcpy(&out->s_addr, &a->sin6_addr.s6_addr[12], 4);
  return true;
}

// The address alone, as the policy keys it.
std::string HostKey(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, buf, sizeof buf);
  } else if (addr->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(addr);
    in_addr v4{};
    if (MappedV4(a6, &v4)) {
      inet_ntop(AF_INET, &v4, buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
    }
  }
  return buf;
}

}  // namespace

bool IsLoopbackAddress(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr) >> 24) == 127;
  }
  if (addr->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(addr);
    in_addr v4{};
    if (MappedV4(a6, &v4)) return (ntohl(v4.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
  }
  return false;
}

std::string AddressText(const sockaddr* addr) {
  const std::string host = HostKey(addr);
  if (host.empty()) return "";
  const uint16_t port = addr->sa_family == AF_INET
                            ? ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port)
                            : ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port);
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status NetworkPolicy::AllowHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return Status::Failed("cannot resolve host " + host + ": " +
                          (rc == EAI_SYSTEM ? ErrnoText(errno) : std::string(gai_strerror(rc))));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  for (const addrinfo* ai = list.get(); ai; ai = ai->ai_next) {
    std::string key = HostKey(ai->ai_addr);
    if (!key.empty()) allowed_.insert(std::move(key));
  }
  return Status::Ok();
}

Status NetworkPolicy::CheckConnect(const sockaddr* addr) const {
  if (IsLoopbackAddress(addr) || allowed_.count(HostKey(addr))) return Status::Ok();
  const std::string shown = AddressText(addr);
  return Status::Failed(
      "refused to connect to " +
      (shown.empty() ? std::string("an address of family ") + std::to_string(addr->sa_family)
                     : shown) +
      ": a drill sends traffic only to loopback and the hosts it names");
}

const NetworkPolicy& NetworkPolicy::LoopbackOnly() {
  static const NetworkPolicy policy;
  return policy;
}

std::optional<HostPort> SplitHostPort(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    return HostPort{std::string(text.substr(1, close - 1)), std::string(text.substr(close + 2))};
  }
  size_t colon = std::string_view::npos;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") == 0) {
      ++depth;
      ++i;
    } else if (text[i] == '}' && depth > 0) {
      --depth;
    } else if (text[i] == ':' && depth == 0) {
      colon = i;
    }
  }
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return HostPort{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

std::optional<int> PortNumber(std::string_view text) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  const int port = std::stoi(std::string(text));
  if (port < 1 || port > 65535) return std::nullopt;
  return port;
}

std::vector<sockaddr_storage> NumericAddresses(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  std::vector<sockaddr_storage> out;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (const addrinfo* ai = found; ai; ai = ai->ai_next) {
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof ss));
    out.push_back(ss);
  }
  ::freeaddrinfo(found);
  return out;
}

Result<int> PickFreePort(const std::set<int>& taken) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::Io(std::string("socket: ") + ErrnoText(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    // Redis Cluster listens on port+10000 for its bus; keep that port valid too.
    if (port > 0 && port < 55535 && !taken.count(port)) return port;
  }
  return Status::Io("could not find a free loopback port");
}

}  // namespace firedrill
