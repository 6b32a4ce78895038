// A real nginx for tests that need an HTTP server outside this process (its own accept
// queue, no threads in ours): Debian's /usr/sbin/nginx on a free loopback port.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "probes/http_client.h"
#include "runner/base/net.h"
#include "tests/probes/daemon.h"
#include "tests/testing.h"

namespace firedrill::testing {

// Debian's nginx on a free loopback port, everything it writes inside `dir`; stopped and
// reaped when the test ends (Daemon). One process, no workers: nothing changes user.
class Nginx {
 public:
  explicit Nginx(const std::string& dir) {
    auto port = PickFreePort({});
    if (!port.ok()) return;
    port_ = *port;
    WriteFile(dir + "/nginx.conf", R"(
daemon off;
master_process off;
worker_processes 1;
pid )" + dir + R"(/nginx.pid;
error_log )" + dir + R"(/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path )" + dir + R"(/body;
  proxy_temp_path )" + dir + R"(/proxy;
  fastcgi_temp_path )" + dir + R"(/fastcgi;
  uwsgi_temp_path )" + dir + R"(/uwsgi;
  scgi_temp_path )" + dir + R"(/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:)" + std::to_string(port_) +
                                       R"(;
    location = /status { stub_status; }
    location = /echo { return 200 "ok $arg_n"; }
    location / { return 200 "ok\n"; }
  }
}
)");
    daemon_ = std::make_unique<Daemon>(
        std::vector<std::string>{"/usr/sbin/nginx", "-p", dir, "-c", dir + "/nginx.conf", "-e",
                                 dir + "/error.log"},
        dir + "/nginx.out");
    ready_ = daemon_->WaitReady(Url("/status"), Millis(5000));
  }
  bool ready() const { return ready_; }
  // nginx's one process (master_process off): the test's own, to pause and resume.
  pid_t pid() const { return daemon_ ? daemon_->pid() : 0; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string Log() const { return daemon_ ? daemon_->LogTail() : "no port"; }

  // stub_status: "Active connections: N", then "accepts handled requests" over their
  // values. Every read is itself one request and one connection, counted in what it reads.
  struct Status {
    int64_t active = -1;
    int64_t requests = -1;
  };
  Status Read() const {
    auto r = HttpRequest({.url = Url("/status"), .timeout = Millis(2000)}, nullptr);
    Status s;
    std::smatch m;
    if (r.ok() && std::regex_search(r->body, m,
                                    std::regex(R"(Active connections: (\d+)\s+server accepts )"
                                               R"(handled requests\s+\d+ \d+ (\d+))"))) {
      s.active = std::stoll(m[1]);
      s.requests = std::stoll(m[2]);
    }
    return s;
  }

 private:
  int port_ = 0;
  std::unique_ptr<Daemon> daemon_;
  bool ready_ = false;
};

}  // namespace firedrill::testing
