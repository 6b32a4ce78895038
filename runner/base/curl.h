// libcurl as every part of firedrill uses it: one process-wide initialisation, one parser
// for the URLs a drill writes (libcurl's own, the one that makes the request, so no other
// parser can read a URL differently), and one policy applied to every transfer: no proxy
// from the environment, no redirect, http and https only, no signals, and a socket-open
// hook that refuses any address the network policy does not allow (runner/base/net.h),
// whatever the URL said and however it resolved.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "runner/base/net.h"
#include "runner/base/status.h"

namespace firedrill {

// Initialises libcurl once per process (curl_global_init is not thread-safe).
Status InitCurl();

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

// A drill's URL as libcurl reads it: http or https, no user name, password or login
// options (`http://127.0.0.1:80@10.0.0.1/` names user `127.0.0.1`, password `80` and host
// 10.0.0.1: refused). kInvalid says why.
Result<CurlUrl> ParseDrillUrl(const std::string& url);
// A part of a parsed URL (CURLUPART_HOST, ...), "" when it has none. The host comes as
// libcurl will use it: an IPv4 address in any form (2130706433, 0x7f.1) normalised to
// dotted decimal, an IPv6 address in brackets.
std::string UrlPart(CURLU* url, CURLUPart part);

// What the socket-open hook of a transfer saw. Lives as long as the transfer.
struct ConnectGuard {
  const NetworkPolicy* policy = nullptr;  // null: loopback only
  // Why the last connection was refused, if one was. A transfer that ends with
  // CURLE_COULDNT_CONNECT while this is set was refused by the policy.
  std::string refused;
};

// Applies the policy above to `curl`. REQUIRES: `guard` outlives every transfer of `curl`.
void ApplyLocalOnly(CURL* curl, ConnectGuard* guard);

}  // namespace firedrill
