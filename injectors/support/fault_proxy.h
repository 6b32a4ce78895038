// firedrill's TCP fault proxy, in the spirit of Toxiproxy: it listens on a loopback port,
// forwards every connection to the real port, and holds bytes back to add latency, jitter
// and a bandwidth cap, or resets connections after a while. network.delay puts it in front
// of a port with an nftables redirect, because the kernels this runs on may have no netem.
//
// One thread per proxy drives every connection with poll(2), so the thread count is fixed
// however many clients connect; at most `max_connections` are open at once (the kernel's
// accept backlog holds the rest).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "runner/base/net.h"
#include "runner/base/status.h"
#include "runner/drill/schema.h"

namespace firedrill {

struct ProxyOptions {
  int target_port = 0;  // the real port, on loopback, reached in the client's address family
  // Another host's numeric address (IPv4 or IPv6) to reach `target_port` at instead of
  // loopback: a delay between hosts, where the redirect takes this host's connections to
  // that address. Start() refuses it unless `policy` allows it: the proxy connects to
  // nothing else.
  std::string upstream_address;
  const NetworkPolicy* policy = nullptr;  // REQUIRES: set when upstream_address is
  // Held back on every chunk the server sends to the client, so a request/response round
  // trip grows by `delay` (like Toxiproxy's downstream latency).
  Millis delay{0};
  Millis jitter{0};        // +/- uniformly per chunk; bytes never overtake each other
  uint64_t bandwidth = 0;  // bytes/s in each direction of each connection; 0: no cap
  Millis reset_after{0};   // reset (RST to both ends) this long after accept; 0: never
  uint32_t mark = 0;       // SO_MARK of the upstream sockets, so a redirect can skip them
  uint64_t seed = 1;       // of the jitter
  size_t max_connections = 256;
};

struct ProxyStats {
  uint64_t connections = 0;        // accepted
  uint64_t bytes_up = 0;           // client -> server, delivered
  uint64_t bytes_down = 0;         // server -> client, delivered
  uint64_t resets = 0;             // by reset_after
  uint64_t upstream_failures = 0;  // the real port refused or broke; the client was reset
};

class FaultProxy {
 public:
  // Binds 127.0.0.1 on a free port (and ::1 on the same port when it can) and starts
  // the proxy's thread.
  static Result<std::unique_ptr<FaultProxy>> Start(const ProxyOptions& opts);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  bool has_ipv6() const { return listen6_ >= 0; }

  // Closes the listeners and every connection and joins the thread; what it did.
  // Idempotent.
  ProxyStats Stop();
  ProxyStats stats() const;

 private:
  class Loop;
  FaultProxy() = default;

  ProxyOptions opts_;
  int port_ = 0;
  int listen4_ = -1;
  int listen6_ = -1;
  int wake_ = -1;                // eventfd: Stop() wakes the loop with it
  sockaddr_storage upstream_{};  // when opts_.upstream_address is set
  socklen_t upstream_len_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> connections_{0}, bytes_up_{0}, bytes_down_{0}, resets_{0},
      upstream_failures_{0};
  std::thread thread_;
};

}  // namespace firedrill
