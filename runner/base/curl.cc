#include "runner/base/curl.h"

#include <sys/socket.h>

#include <mutex>

namespace firedrill {
namespace {

// Called by libcurl for every socket it is about to connect, after the name is resolved:
// the address here is the one the packets would go to.
curl_socket_t OpenSocket(void* user, curlsocktype, curl_sockaddr* address) noexcept {
  auto* guard = static_cast<ConnectGuard*>(user);
  const NetworkPolicy& policy = guard->policy ? *guard->policy : NetworkPolicy::LoopbackOnly();
  Status allowed = policy.CheckConnect(&address->addr);
  if (!allowed.ok()) {
    guard->refused = allowed.message();
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

}  // namespace

Status InitCurl() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  return Status::Ok();
}

std::string UrlPart(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, 0) != CURLUE_OK || !value) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

Result<CurlUrl> ParseDrillUrl(const std::string& text) {
  FD_RETURN_IF_ERROR(InitCurl());
  CurlUrl url(curl_url());
  if (!url) return Status::Internal("curl_url: out of memory");
  if (CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), CURLU_DISALLOW_USER);
      rc != CURLUE_OK) {
    if (rc == CURLUE_USER_NOT_ALLOWED) {
      return Status::Invalid(
          "has a user name or password before the host (user@host); a "
          "drill's URL names its host alone");
    }
    return Status::Invalid(std::string("is not a URL libcurl can use: ") + curl_url_strerror(rc));
  }
  const std::string scheme = UrlPart(url.get(), CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") {
    return Status::Invalid("must be http:// or https://, not " + scheme + "://");
  }
  // Belt and braces: CURLU_DISALLOW_USER covers these, and what is refused here is never sent.
  if (!UrlPart(url.get(), CURLUPART_USER).empty() ||
      !UrlPart(url.get(), CURLUPART_PASSWORD).empty() ||
      !UrlPart(url.get(), CURLUPART_OPTIONS).empty()) {
    return Status::Invalid("has a user name or password before the host (user@host)");
  }
  return url;
}

void ApplyLocalOnly(CURL* c, ConnectGuard* guard) {
  // Sampling threads must not get SIGALRM from curl's resolver timeouts.
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // Never through a proxy from the environment (http_proxy, ...), never a redirect
  // elsewhere: a drill sends traffic only where it says.
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, guard);
}

}  // namespace firedrill
