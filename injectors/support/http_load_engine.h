// An HTTP load generator: one thread drives a libcurl multi handle with `concurrency`
// easy handles kept busy over keep-alive connections, paced to `rate` requests per second.
// libcurl is an edge: C, nothing thrown through it, failures counted or returned as Status.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "injectors/support/latency_histogram.h"
#include "runner/base/net.h"
#include "runner/base/status.h"
#include "runner/base/values.h"

namespace firedrill {

struct HttpLoadSpec {
  std::string url;
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE, PATCH
  std::optional<std::string> body{};
  int64_t rate = 0;  // requests per second; 0 = as fast as the connections allow
  int64_t concurrency = 8;
  Millis timeout{5000};  // per request, connect included
  // Where the load may connect (runner/base/net.h); null: loopback only.
  const NetworkPolicy* policy = nullptr;
};

struct HttpLoadStats {
  uint64_t requests = 0;          // completed: a response, or a transport error
  uint64_t transport_errors = 0;  // no response (refused, reset, timed out)
  uint64_t server_errors = 0;     // HTTP status >= 500
  uint64_t connections = 0;       // opened; fewer than requests means keep-alive reuse
  double seconds = 0;             // from the start of the load to its end
  LatencyHistogram latency;       // start to last byte of every response, 5xx included
  std::string first_error;        // of the first transport error, as words
  std::string stopped_early;      // why libcurl ended the load before Stop, if it did
};

// "19,998 requests in 10.0s (2000.0 req/s), 0 errors, p50 0.31 ms, p99 1.20 ms; 32
// connections opened"
std::string DescribeHttpLoad(const HttpLoadStats& s);

class HttpLoad {
 public:
  // Starts the load thread. Fails (and starts nothing) if libcurl cannot be set up.
  // `cancelled` (may be empty) is asked on every turn of the loop, and at least every
  // 50 ms: true ends the load early, as Stop would.
  // The URL is checked here as every drill URL is (runner/base/curl.h), and no connection
  // leaves for an address spec.policy does not allow.
  // REQUIRES: spec.concurrency >= 1; spec.rate >= 0.
  static Result<std::unique_ptr<HttpLoad>> Start(HttpLoadSpec spec,
                                                 std::function<bool()> cancelled);
  ~HttpLoad();  // stops the load if Stop was not called
  HttpLoad(const HttpLoad&) = delete;
  HttpLoad& operator=(const HttpLoad&) = delete;

  // Stops the load, abandoning requests in flight (not counted), and joins the thread,
  // which is woken at once (an eventfd in its epoll set).
  // Safe to call more than once; later calls return the same figures.
  HttpLoadStats Stop();

 private:
  struct Impl;
  explicit HttpLoad(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firedrill
