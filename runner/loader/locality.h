// Traffic stays local, as the loader sees it: every URL and host:port a drill writes must
// name loopback or a host the drill names under `hosts:`. This is a security boundary (a
// drill file may come from anyone, and a URL that reads local to one parser and remote to
// another would aim a load spike at another machine), so it decides with the parsers that
// will act on the text: libcurl's URL API for URLs (runner/base/curl.h) and getaddrinfo
// for numeric hosts, never with a pattern of its own. The run checks again on every
// connection (runner/base/net.h).
//
// Only the port may be a reference (${port:NAME}); the host is judged as written.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace firedrill {

class Locality {
 public:
  // The address part of a host's ssh destination (user@ADDRESS) under `hosts:`.
  void AddHostAddress(const std::string& address);

  // "" when a drill may send traffic to `url` (its text as written, ${...} unexpanded);
  // else why not, as a sentence to follow "probe.http.url: ".
  std::string CheckUrl(std::string_view url) const;
  // The same for "host:port" (tcp addresses, webhook listeners).
  std::string CheckAddress(std::string_view address) const;

 private:
  // "" when `host` (without brackets) is loopback or a named host.
  std::string CheckHost(const std::string& host) const;

  std::set<std::string> addresses_;  // as written, and numeric ones also normalised
};

}  // namespace firedrill
