// The http probe against a real HTTP server (cpp-httplib) on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::ClosedPort;
using ::firedrill::testing::ScopedEnvVar;

// An HTTP server on a free loopback port, serving until the test ends (pass or fail).
class TestServer {
 public:
  TestServer() {
    server_.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello world", "text/plain");
    });
    server_.Get("/fail", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("down", "text/plain");
    });
    server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      res.set_content("slow", "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(2 << 20, 'a') + "END", "text/plain");
    });
    server_.Get("/redirect",
                [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ok"); });
    auto echo = [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.method + " " + req.body + " " + req.get_header_value("X-Probe"),
                      "text/plain");
    };
    server_.Post("/echo", echo);
    server_.Put("/echo", echo);
    server_.Delete("/echo", echo);
    server_.Get("/echo", echo);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs; wait for it so teardown cannot hang.
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~TestServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

struct HttpSpec {
  std::string url;
  std::string method = "GET";
  std::map<std::string, std::string> headers{};
  std::optional<std::string> body{};
  Millis timeout{5000};
  StatusRange status{200, 399};
  std::optional<std::string> body_matches{};
  std::optional<Millis> max_latency{};
};

// Params as the loader hands them over: validated, with every default filled in.
Params HttpParams(const HttpSpec& s) {
  auto expect = std::make_shared<Params>();
  expect->Set("status", {s.status, {}});
  if (s.body_matches) expect->Set("body_matches", {*s.body_matches, {}});
  if (s.max_latency) expect->Set("max_latency", {*s.max_latency, {}});
  Params p;
  p.Set("url", {s.url, {}});
  p.Set("method", {s.method, {}});
  if (!s.headers.empty()) p.Set("headers", {s.headers, {}});
  if (s.body) p.Set("body", {*s.body, {}});
  p.Set("timeout", {s.timeout, {}});
  p.Set("expect", {expect, {}});
  return p;
}

class HttpProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(server_.port(), 0);
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
  }

  ProbeOutcome SampleOnce(const HttpSpec& s, std::optional<int64_t> seq = {}) {
    const ProbeKind* kind = FindProbeKind("http");
    if (!kind || !kind->make) return {false, "http probe has no runtime"};
    auto probe = kind->make(HttpParams(s), ctx_);
    if (!probe.ok()) return {false, probe.status().ToString()};
    return (*probe)->Sample({.seq = seq});
  }

  TestServer server_;
  Expander expander_{"/tmp", {}};
  RunContext ctx_;
};

bool IsOkDetail(const std::string& d, int code = 200) {
  return std::regex_match(d, std::regex(std::to_string(code) + " in [0-9]+ms"));
}

TEST_F(HttpProbeTest, OkPasses) {
  auto out = SampleOnce({.url = server_.Url("/ok")});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsOkDetail(out.detail)) << out.detail;
}

TEST_F(HttpProbeTest, HeadPasses) {
  auto out = SampleOnce({.url = server_.Url("/ok"), .method = "HEAD"});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsOkDetail(out.detail)) << out.detail;
}

TEST_F(HttpProbeTest, ServerErrorFailsWithTheRange) {
  auto out = SampleOnce({.url = server_.Url("/fail")});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "503 (expected 200-399)");
}

TEST_F(HttpProbeTest, ExactStatusIsHonoured) {
  auto want503 = SampleOnce({.url = server_.Url("/fail"), .status = {503, 503}});
  EXPECT_TRUE(want503.passed) << want503.detail;
  EXPECT_TRUE(IsOkDetail(want503.detail, 503)) << want503.detail;
  auto want200 = SampleOnce({.url = server_.Url("/fail"), .status = {200, 200}});
  EXPECT_FALSE(want200.passed);
  EXPECT_EQ(want200.detail, "503 (expected 200)");
}

TEST_F(HttpProbeTest, RedirectsAreNotFollowed) {
  auto out = SampleOnce({.url = server_.Url("/redirect"), .status = {302, 302}});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsOkDetail(out.detail, 302)) << out.detail;
}

TEST_F(HttpProbeTest, BodyMatchesIsChecked) {
  auto pass = SampleOnce({.url = server_.Url("/ok"), .body_matches = "^hello wor.d$"});
  EXPECT_TRUE(pass.passed) << pass.detail;
  auto fail = SampleOnce({.url = server_.Url("/ok"), .body_matches = "goodbye"});
  EXPECT_FALSE(fail.passed);
  EXPECT_EQ(fail.detail, "200, body \"hello world\" does not match /goodbye/");
}

TEST_F(HttpProbeTest, SlowAnswerFailsMaxLatency) {
  auto out = SampleOnce({.url = server_.Url("/slow"), .max_latency = Millis(100)});
  EXPECT_FALSE(out.passed);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(out.detail, m, std::regex("latency ([0-9]+)ms > 100ms")))
      << out.detail;
  // The handler sleeps 300ms, so the measured latency cannot be less.
  EXPECT_GE(std::stoi(m[1]), 300);
}

TEST_F(HttpProbeTest, TimeoutFails) {
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce({.url = server_.Url("/slow"), .timeout = Millis(100)});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "timed out after 100ms");
  EXPECT_LT(took, std::chrono::seconds(5));  // wide: only "did not wait for the server"
}

TEST_F(HttpProbeTest, ClosedPortIsRefused) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  auto out = SampleOnce({.url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/"});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "connection refused");
}

TEST_F(HttpProbeTest, MethodHeadersAndBodyAreSentExpanded) {
  HttpSpec s{.url = server_.Url("/echo"),
             .method = "POST",
             .headers = {{"X-Probe", "v${seq}"}},
             .body = "x=${seq}",
             .body_matches = "^POST x=${seq} v${seq}$"};
  auto out = SampleOnce(s, 7);
  EXPECT_TRUE(out.passed) << out.detail;
  s.method = "PUT";
  s.body_matches = "^PUT x=8 v8$";
  out = SampleOnce(s, 8);
  EXPECT_TRUE(out.passed) << out.detail;
}

// libcurl turns a request with a body into a POST unless told otherwise. (cpp-httplib
// drops GET bodies, so only the method is checked.)
TEST_F(HttpProbeTest, GetWithBodyStaysGet) {
  auto out = SampleOnce(
      {.url = server_.Url("/echo"), .method = "GET", .body = "q", .body_matches = "^GET "});
  EXPECT_TRUE(out.passed) << out.detail;
}

// Only the first MiB is read: a match past it is not seen, and the cut is no error.
TEST_F(HttpProbeTest, BodyReadIsCappedAtOneMiB) {
  auto head = SampleOnce({.url = server_.Url("/big"), .body_matches = "^a"});
  EXPECT_TRUE(head.passed) << head.detail;
  auto tail = SampleOnce({.url = server_.Url("/big"), .body_matches = "END"});
  EXPECT_FALSE(tail.passed);
  EXPECT_EQ(tail.detail, "200, body \"" + std::string(80, 'a') + "...\" does not match /END/");
}

// A drill sends traffic only where it names: a proxy in the environment is not used.
TEST_F(HttpProbeTest, EnvironmentProxyIsIgnored) {
  ClosedPort proxy;
  ScopedEnvVar http_proxy("http_proxy", "http://127.0.0.1:" + std::to_string(proxy.port()));
  ScopedEnvVar all_proxy("ALL_PROXY", "http://127.0.0.1:" + std::to_string(proxy.port()));
  ScopedEnvVar no_proxy("no_proxy", std::nullopt);
  ScopedEnvVar no_proxy_upper("NO_PROXY", std::nullopt);
  auto out = SampleOnce({.url = server_.Url("/ok")});
  EXPECT_TRUE(out.passed) << out.detail;
}

// Probes sample from threads of their own; the first ones also race to initialise libcurl.
TEST_F(HttpProbeTest, ProbesSampleInParallel) {
  constexpr int kThreads = 4;
  constexpr int kSamples = 10;
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto probe = FindProbeKind("http")->make(HttpParams({.url = server_.Url("/ok")}), ctx_);
      if (!probe.ok()) return;
      for (int j = 0; j < kSamples; ++j) passed += (*probe)->Sample({}).passed ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), kThreads * kSamples);
}

TEST_F(HttpProbeTest, CancelledRunGivesUp) {
  std::atomic<bool> cancel{true};
  ctx_.cancel = &cancel;
  auto out = SampleOnce({.url = server_.Url("/slow")});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "cancelled");
}

}  // namespace
}  // namespace firedrill
