// One HTTP request through libcurl, for the probes that speak HTTP (http, prometheus):
// waited for on the calling thread (HttpRequest), or through the run's event loop
// (HttpRequestAsync), with the same options, policy and errors either way.
// libcurl is an edge: it is C, so nothing is thrown through it, and every failure comes
// back as a Status whose message reads well as a probe detail ("connection refused").
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runner/base/curl_multi.h"
#include "runner/base/event_loop.h"
#include "runner/base/net.h"
#include "runner/base/status.h"
#include "runner/base/values.h"

namespace firedrill {

struct HttpRequestSpec {
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS
  std::string url;             // http:// or https://
  // Sent in this order. An empty value sends the header empty ("Name;" in curl terms).
  std::vector<std::pair<std::string, std::string>> headers{};
  // Set: sent as the body, even when empty ("Content-Length: 0"), whatever the method.
  std::optional<std::string> body{};
  Millis timeout{5000};  // the whole request, connect included
  // The body is read up to this many bytes; the rest is dropped and `truncated` set.
  size_t max_body_bytes = 1 << 20;
  // Where the request may connect (runner/base/net.h); null: loopback only.
  const NetworkPolicy* policy = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  bool truncated = false;  // the server sent more than max_body_bytes
  Millis elapsed{0};       // the whole transfer, as libcurl measured it
};

// Sends the request on a fresh connection (each sample sees the service as a new client
// would), saying `Connection: close` unless spec.headers set Connection, under the
// local-only policy of runner/base/curl.h: no proxy, no redirect, no
// user name in the URL, and no connection to an address `spec.policy` does not allow.
// Gives up when `cancel` (may be null) becomes true.
//
// Errors (the message is a probe detail): kTimeout "timed out after 5s", kFailed
// "cancelled", "connection refused" (errno text), "refused to connect to 10.0.0.1:80: ..."
// (the policy), or libcurl's own message; kInvalid for a URL the policy refuses; kInternal
// when libcurl cannot start at all.
// REQUIRES: spec.url is an http(s) URL; spec.timeout > 0. Safe to call from any thread.
Result<HttpResponse> HttpRequest(const HttpRequestSpec& spec, const std::atomic<bool>* cancel);

using HttpDone = std::function<void(Result<HttpResponse>)>;
class HttpCall;

// What a caller that sends request after request (a probe) keeps between them, so that
// libcurl's handle and the parsed URL are made once, not at every sample. Connections are
// not kept: every request is still a fresh one. One request at a time per session.
class HttpSession {
 public:
  HttpSession();
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  struct State;

 private:
  friend HttpCall HttpRequestAsync(const HttpRequestSpec&, EventLoop&, const std::atomic<bool>*,
                                   HttpDone, HttpSession*);
  // Shared with the request in flight, so that a session destroyed meanwhile (its probe
  // gone) leaves the transfer its handle.
  std::shared_ptr<State> s_;
};

// A request HttpRequestAsync started. Copyable.
class HttpCall {
 public:
  // Ends the request at once if it has not ended (`done` gets kFailed "cancelled"); else,
  // or for a call never started, nothing. Safe from any thread.
  // REQUIRES: the request's loop has not been destroyed.
  void Cancel() const;

 private:
  friend HttpCall HttpRequestAsync(const HttpRequestSpec&, EventLoop&, const std::atomic<bool>*,
                                   HttpDone, HttpSession*);
  CurlMulti* multi_ = nullptr;
  CurlMulti::Id id_ = 0;
};

// HttpRequest without a thread waiting for it: the transfer runs on `loop`'s CurlMulti
// (runner/base/curl_multi.h), and `done` gets what HttpRequest would have returned, once,
// on a loop thread, never before this returns; "cancelled" when the loop is destroyed
// first (on the thread destroying it). `cancel` is also checked every 100 ms while the
// request waits. Safe from any thread.
// With `session` (may be null), its handle is used instead of a new one.
// REQUIRES: as HttpRequest; `loop` outlives the call, `*cancel` the request; `done` does not
// throw; no other request of `session` is in flight.
HttpCall HttpRequestAsync(const HttpRequestSpec& spec, EventLoop& loop,
                          const std::atomic<bool>* cancel, HttpDone done,
                          HttpSession* session = nullptr);

// Percent-encodes `text` for a URL query component (curl_easy_escape).
Result<std::string> UrlEscape(std::string_view text);

}  // namespace firedrill
