// An HTTP load generator: `threads` threads, each an event loop keeping its share of
// `concurrency` keep-alive connections busy, one request in flight on each. Plain HTTP
// goes through Boost.Beast (a request serialised once, a parser that keeps nothing of the
// response but its status: no allocation per request); https through libcurl.
//
// Two models, as the load tools people compare it with:
// - closed (`rate` 0, wrk's): each connection sends its next request when the last one
//   is answered; latency is from send to last byte;
// - open (`rate` set, wrk2's and vegeta's): requests fall due on a fixed schedule whether
//   or not the server keeps up; one that finds every connection busy waits for one and
//   is counted late, and its latency is also measured from when it was due, so a stalled
//   server cannot hide behind the requests it kept from being sent.
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
  int64_t threads = 1;   // each with concurrency / threads connections (the first ones +1)
  Millis timeout{5000};  // per request, connect included
  // Where the load may connect (runner/base/net.h); null: loopback only.
  const NetworkPolicy* policy = nullptr;
};

struct HttpLoadStats {
  uint64_t requests = 0;          // completed: a response, or a transport error
  uint64_t transport_errors = 0;  // no response (refused, reset, timed out)
  uint64_t server_errors = 0;     // HTTP status >= 500
  uint64_t local_errors = 0;      // never sent: this process ran out (descriptors, memory)
  uint64_t connections = 0;       // opened; fewer than requests means keep-alive reuse
  uint64_t late = 0;              // open model: sent > 1 ms after due (no connection free)
  uint64_t unsent = 0;            // open model: due before the stop, never sent
  double seconds = 0;             // from the start of the load to its end
  double cpu_seconds = 0;         // CPU time of the load's threads, user + system, summed
  LatencyHistogram latency;       // send to last byte of every response, 5xx included
  LatencyHistogram intended;      // open model: due time to last byte
  std::string first_error;        // of the first transport error, as words
  std::string first_local_error;  // of the first local error, as words
  std::string stopped_early;      // why a worker ended the load before Stop, if one did

  void Merge(const HttpLoadStats& other);
};

// The descriptors a load of `connections` needs beyond what the process has open now.
// "" when the hard RLIMIT_NOFILE allows them, else why not, with the figures.
std::string DescriptorShortfall(int64_t connections);
// Raises the soft RLIMIT_NOFILE, if it must, so that `connections` more sockets can be
// opened; fails, with the figures, when the hard limit does not allow it.
Status ReserveDescriptors(int64_t connections);

// "19,998 requests in 10.0s (2000.0 req/s), 0 errors, p50 0.31 ms, p99 1.20 ms; 32
// connections opened"
std::string DescribeHttpLoad(const HttpLoadStats& s);

class HttpLoad {
 public:
  // Starts the load threads. Fails (and starts nothing) if a worker cannot be set up.
  // `cancelled` (may be empty) is asked on every turn of the loop, and at least every
  // 50 ms: true ends the load early, as Stop would.
  // The URL is checked here as every drill URL is (runner/base/curl.h), and no connection
  // leaves for an address spec.policy does not allow.
  // REQUIRES: 1 <= spec.threads <= spec.concurrency; spec.rate >= 0.
  static Result<std::unique_ptr<HttpLoad>> Start(HttpLoadSpec spec,
                                                 std::function<bool()> cancelled);
  ~HttpLoad();  // stops the load if Stop was not called
  HttpLoad(const HttpLoad&) = delete;
  HttpLoad& operator=(const HttpLoad&) = delete;

  // Stops the load, abandoning requests in flight (not counted), and joins the threads,
  // which are woken at once.
  // Safe to call more than once; later calls return the same figures.
  HttpLoadStats Stop();

 private:
  struct Impl;
  explicit HttpLoad(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace firedrill
