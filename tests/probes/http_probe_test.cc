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
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/probes/nginx.h"
#include "tests/probes/sample_ways.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::ClosedPort;
using ::firedrill::testing::Collect;
using ::firedrill::testing::Failed;
using ::firedrill::testing::Nginx;
using ::firedrill::testing::Outcomes;
using ::firedrill::testing::SampleAsyncAndWait;
using ::firedrill::testing::SampleBy;
using ::firedrill::testing::ScopedEnvVar;
using ::firedrill::testing::SilentListener;
using ::firedrill::testing::TempDir;
using ::firedrill::testing::TestLoop;
using ::firedrill::testing::ThreadCount;
using ::firedrill::testing::Way;
using ::firedrill::testing::WayName;

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
    server_.Get("/peer", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(peers_mu_);
        peers_.push_back(req.remote_port);
      }
      res.set_content("peer", "text/plain");
    });
    // The Connection header as it arrived, and how many there were.
    server_.Get("/connection", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.get_header_value("Connection") + " " +
                          std::to_string(req.get_header_value_count("Connection")),
                      "text/plain");
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
  // The client port of every request to /peer, in order.
  std::vector<int> Peers() const {
    std::lock_guard lock(peers_mu_);
    return peers_;
  }

 private:
  mutable std::mutex peers_mu_;
  std::vector<int> peers_;
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

// Every case runs both ways: Sample, and SampleAsync on a real event loop; the outcome
// must be the same.
class HttpProbeTest : public ::testing::TestWithParam<Way> {
 protected:
  void SetUp() override {
    ASSERT_GT(server_.port(), 0);
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
    if (GetParam() == Way::kSampleAsync) {
      loop_ = TestLoop();
      ASSERT_TRUE(loop_);
    }
  }

  std::unique_ptr<Probe> Make(const HttpSpec& s) {
    const ProbeKind* kind = FindProbeKind("http");
    if (!kind || !kind->make) return nullptr;
    auto probe = kind->make(HttpParams(s), ctx_);
    EXPECT_TRUE(probe.ok()) << probe.status().ToString();
    return probe.ok() ? std::move(*probe) : nullptr;
  }

  ProbeOutcome SampleOnce(const HttpSpec& s, std::optional<int64_t> seq = {}) {
    auto probe = Make(s);
    if (!probe) return Failed("no probe");
    return SampleBy(GetParam(), *probe, loop_.get(), {.seq = seq});
  }

  TestServer server_;
  Expander expander_{"/tmp", {}};
  RunContext ctx_;
  std::unique_ptr<EventLoop> loop_;  // for SampleAsync
};

INSTANTIATE_TEST_SUITE_P(Ways, HttpProbeTest, ::testing::Values(Way::kSample, Way::kSampleAsync),
                         WayName);

bool IsOkDetail(const std::string& d, int code = 200) {
  return std::regex_match(d, std::regex(std::to_string(code) + " in [0-9]+ms"));
}

TEST_P(HttpProbeTest, OkPasses) {
  auto out = SampleOnce({.url = server_.Url("/ok")});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsOkDetail(out.detail)) << out.detail;
}

TEST_P(HttpProbeTest, HeadPasses) {
  auto out = SampleOnce({.url = server_.Url("/ok"), .method = "HEAD"});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsOkDetail(out.detail)) << out.detail;
}

TEST_P(HttpProbeTest, ServerErrorFailsWithTheRange) {
  auto out = SampleOnce({.url = server_.Url("/fail")});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "503 (expected 200-399)");
}

TEST_P(HttpProbeTest, ExactStatusIsHonoured) {
  auto want503 = SampleOnce({.url = server_.Url("/fail"), .status = {503, 503}});
  EXPECT_TRUE(want503.passed) << want503.detail;
  EXPECT_TRUE(IsOkDetail(want503.detail, 503)) << want503.detail;
  auto want200 = SampleOnce({.url = server_.Url("/fail"), .status = {200, 200}});
  EXPECT_FALSE(want200.passed);
  EXPECT_EQ(want200.detail, "503 (expected 200)");
}

TEST_P(HttpProbeTest, RedirectsAreNotFollowed) {
  auto out = SampleOnce({.url = server_.Url("/redirect"), .status = {302, 302}});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsOkDetail(out.detail, 302)) << out.detail;
}

TEST_P(HttpProbeTest, BodyMatchesIsChecked) {
  auto pass = SampleOnce({.url = server_.Url("/ok"), .body_matches = "^hello wor.d$"});
  EXPECT_TRUE(pass.passed) << pass.detail;
  auto fail = SampleOnce({.url = server_.Url("/ok"), .body_matches = "goodbye"});
  EXPECT_FALSE(fail.passed);
  EXPECT_EQ(fail.detail, "200, body \"hello world\" does not match /goodbye/");
}

TEST_P(HttpProbeTest, SlowAnswerFailsMaxLatency) {
  auto out = SampleOnce({.url = server_.Url("/slow"), .max_latency = Millis(100)});
  EXPECT_FALSE(out.passed);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(out.detail, m, std::regex("latency ([0-9]+)ms > 100ms")))
      << out.detail;
  // The handler sleeps 300ms, so the measured latency cannot be less.
  EXPECT_GE(std::stoi(m[1]), 300);
}

TEST_P(HttpProbeTest, TimeoutFails) {
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce({.url = server_.Url("/slow"), .timeout = Millis(100)});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "timed out after 100ms");
  EXPECT_LT(took, std::chrono::seconds(5));  // wide: only "did not wait for the server"
}

TEST_P(HttpProbeTest, ClosedPortIsRefused) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  auto out = SampleOnce({.url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/"});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "connection refused");
}

TEST_P(HttpProbeTest, MethodHeadersAndBodyAreSentExpanded) {
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
TEST_P(HttpProbeTest, GetWithBodyStaysGet) {
  auto out = SampleOnce(
      {.url = server_.Url("/echo"), .method = "GET", .body = "q", .body_matches = "^GET "});
  EXPECT_TRUE(out.passed) << out.detail;
}

// Only the first MiB is read: a match past it is not seen, and the cut is no error.
TEST_P(HttpProbeTest, BodyReadIsCappedAtOneMiB) {
  auto head = SampleOnce({.url = server_.Url("/big"), .body_matches = "^a"});
  EXPECT_TRUE(head.passed) << head.detail;
  auto tail = SampleOnce({.url = server_.Url("/big"), .body_matches = "END"});
  EXPECT_FALSE(tail.passed);
  EXPECT_EQ(tail.detail, "200, body \"" + std::string(80, 'a') + "...\" does not match /END/");
}

// A drill sends traffic only where it names: a proxy in the environment is not used.
TEST_P(HttpProbeTest, EnvironmentProxyIsIgnored) {
  ClosedPort proxy;
  ScopedEnvVar http_proxy("http_proxy", "http://127.0.0.1:" + std::to_string(proxy.port()));
  ScopedEnvVar all_proxy("ALL_PROXY", "http://127.0.0.1:" + std::to_string(proxy.port()));
  ScopedEnvVar no_proxy("no_proxy", std::nullopt);
  ScopedEnvVar no_proxy_upper("NO_PROXY", std::nullopt);
  auto out = SampleOnce({.url = server_.Url("/ok")});
  EXPECT_TRUE(out.passed) << out.detail;
}

// Probes sample from threads of their own; the first ones also race to initialise libcurl
// (and, for SampleAsync, to make the loop's CurlMulti).
TEST_P(HttpProbeTest, ProbesSampleInParallel) {
  constexpr int kThreads = 4;
  constexpr int kSamples = 10;
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto probe = FindProbeKind("http")->make(HttpParams({.url = server_.Url("/ok")}), ctx_);
      if (!probe.ok()) return;
      for (int j = 0; j < kSamples; ++j) {
        passed += SampleBy(GetParam(), **probe, loop_.get()).passed ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), kThreads * kSamples);
}

TEST_P(HttpProbeTest, CancelledRunGivesUp) {
  std::atomic<bool> cancel{true};
  ctx_.cancel = &cancel;
  auto out = SampleOnce({.url = server_.Url("/slow")});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "cancelled");
}

// A server that takes the connection and never answers: the timeout ends the wait.
TEST_P(HttpProbeTest, SilentServerTimesOut) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce({.url = silent.Url(), .timeout = Millis(200)});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "timed out after 200ms");
  EXPECT_GE(took, std::chrono::milliseconds(190));
  EXPECT_LT(took, std::chrono::seconds(5));
}

// The run is torn down while the sample waits: it gives up soon, not at its timeout.
TEST_P(HttpProbeTest, RunCancelledWhileWaitingGivesUp) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  std::atomic<bool> cancel{false};
  ctx_.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto out = SampleOnce({.url = silent.Url(), .timeout = Millis(60000)});
  auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "cancelled");
  EXPECT_LT(took, std::chrono::seconds(3));
}

// ---------------------------------------------------------------------------------------
// What only SampleAsync does: wait without a thread, on a loop that may go first.

class HttpProbeAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
  }

  std::unique_ptr<Probe> Make(const HttpSpec& s) {
    auto probe = FindProbeKind("http")->make(HttpParams(s), ctx_);
    EXPECT_TRUE(probe.ok()) << probe.status().ToString();
    return probe.ok() ? std::move(*probe) : nullptr;
  }

  Expander expander_{"/tmp", {}};
  RunContext ctx_;
};

// 200 samples at once on a loop of 2 threads, against nginx (another process, so every
// thread counted is this one's): all pass, and no thread is made for any of them.
TEST_F(HttpProbeAsyncTest, ManyConcurrentSamplesHoldNoThreads) {
  TempDir dir;
  Nginx nginx(dir.path());
  ASSERT_TRUE(nginx.ready()) << nginx.Log();
  constexpr int kSamples = 200;
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < kSamples; ++i) {
    probes.push_back(Make({.url = nginx.Url("/"), .body_matches = "^ok$"}));
    ASSERT_TRUE(probes.back());
  }
  const int before = ThreadCount();
  ASSERT_GT(before, 0);
  auto loop = TestLoop(2, 1);
  ASSERT_TRUE(loop);
  const int started = ThreadCount();  // the loop's 2 threads and its 1 blocking thread
  EXPECT_EQ(started, before + 3);
  auto outcomes = std::make_shared<Outcomes>();
  for (auto& p : probes) p->SampleAsync({}, *loop, Collect(outcomes));
  int most = started;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (outcomes->Count() < kSamples && std::chrono::steady_clock::now() < deadline) {
    most = std::max(most, ThreadCount());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(outcomes->WaitFor(kSamples, Millis(1000)), static_cast<size_t>(kSamples));
  int passed = 0;
  for (const ProbeOutcome& o : outcomes->Get()) {
    passed += o.passed ? 1 : 0;
    EXPECT_TRUE(o.passed) << o.detail;
  }
  EXPECT_EQ(passed, kSamples);
  // Not one thread more while 200 requests were in flight (a small allowance, in case the
  // runtime starts one of its own, would still catch a thread per request).
  EXPECT_LE(most, started + 1) << before << " threads before the loop, " << started << " with it, "
                               << most << " at most while sampling";
  RecordProperty("threads_before_loop", before);
  RecordProperty("threads_with_loop", started);
  RecordProperty("threads_most_while_sampling", most);
}

// A probe destroyed while its sample waits: the sample still ends and reports, touching
// nothing of the probe (ASan checks that).
TEST_F(HttpProbeAsyncTest, ProbeDestroyedWhileItsSampleWaits) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  auto probe = Make({.url = silent.Url(), .timeout = Millis(300), .body_matches = "x"});
  ASSERT_TRUE(probe);
  auto outcomes = std::make_shared<Outcomes>();
  probe->SampleAsync({}, *loop, Collect(outcomes));
  probe.reset();
  ASSERT_EQ(outcomes->WaitFor(1, Millis(10000)), 1u);
  EXPECT_EQ(outcomes->Get()[0].detail, "timed out after 300ms");
}

// The loop goes while samples wait: each reports "cancelled" once, on the thread
// destroying the loop, and nothing is left behind (ASan checks that).
TEST_F(HttpProbeAsyncTest, LoopDestroyedWhileSamplesWait) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  constexpr int kSamples = 20;
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < kSamples; ++i) probes.push_back(Make({.url = silent.Url()}));
  auto outcomes = std::make_shared<Outcomes>();
  std::mutex mu;
  std::set<std::thread::id> threads;
  {
    auto loop = TestLoop();
    ASSERT_TRUE(loop);
    for (auto& p : probes) {
      p->SampleAsync({}, *loop, [&, outcomes](ProbeOutcome o) {
        {
          std::lock_guard lock(mu);
          threads.insert(std::this_thread::get_id());
        }
        outcomes->Add(std::move(o));
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(outcomes->Count(), 0u);
  }
  ASSERT_EQ(outcomes->Count(), static_cast<size_t>(kSamples));
  for (const ProbeOutcome& o : outcomes->Get()) EXPECT_EQ(o.detail, "cancelled");
  EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

// A probe keeps its libcurl handle from one sample to the next, never its connection:
// the server (which would keep the connection alive) sees each sample as a new client,
// and an option of one sample (a header) is set again for the next, not left over.
TEST_F(HttpProbeAsyncTest, EverySampleOfAProbeIsAFreshConnection) {
  TestServer server;
  ASSERT_GT(server.port(), 0);
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  auto probe =
      Make({.url = server.Url("/peer"), .headers = {{"X-Probe", "a"}}, .body_matches = "^peer$"});
  ASSERT_TRUE(probe);
  for (int i = 0; i < 3; ++i) {
    auto out = SampleAsyncAndWait(*probe, *loop);
    EXPECT_TRUE(out.passed) << i << ": " << out.detail;
  }
  const std::vector<int> peers = server.Peers();
  ASSERT_EQ(peers.size(), 3u);
  EXPECT_EQ(std::set<int>(peers.begin(), peers.end()).size(), 3u)
      << peers[0] << " " << peers[1] << " " << peers[2];
  // The same probe kind against another path still works from a fresh handle.
  auto echo =
      Make({.url = server.Url("/echo"), .headers = {{"X-Probe", "b"}}, .body_matches = "^GET  b$"});
  ASSERT_TRUE(echo);
  for (int i = 0; i < 2; ++i) {
    auto out = SampleAsyncAndWait(*echo, *loop);
    EXPECT_TRUE(out.passed) << out.detail;
  }
}

// A probe uses its connection once and says so, so the server closes first (and keeps
// the TIME_WAIT); a drill that sets the header itself gets exactly its own.
TEST_F(HttpProbeAsyncTest, TheRequestSaysConnectionCloseUnlessTheDrillSaysOtherwise) {
  TestServer server;
  ASSERT_GT(server.port(), 0);
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  auto plain = Make({.url = server.Url("/connection"), .body_matches = "^close 1$"});
  auto own = Make({.url = server.Url("/connection"),
                   .headers = {{"connection", "keep-alive"}},
                   .body_matches = "^keep-alive 1$"});
  ASSERT_TRUE(plain && own);
  auto a = SampleAsyncAndWait(*plain, *loop);
  EXPECT_TRUE(a.passed) << a.detail;
  auto b = SampleAsyncAndWait(*own, *loop);
  EXPECT_TRUE(b.passed) << b.detail;
  // The blocking way sends the same request.
  auto c = plain->Sample({});
  EXPECT_TRUE(c.passed) << c.detail;
}

// An engine test's loop has no threads: the caller's Drive runs the sample.
TEST_F(HttpProbeAsyncTest, ManualLoopIsDrivenByTheCaller) {
  TestServer server;
  ASSERT_GT(server.port(), 0);
  auto loop = TestLoop(0, 0);
  ASSERT_TRUE(loop);
  auto probe = Make({.url = server.Url("/ok"), .body_matches = "^hello"});
  ASSERT_TRUE(probe);
  auto out = SampleAsyncAndWait(*probe, *loop);
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_TRUE(IsOkDetail(out.detail)) << out.detail;
}

// An expansion that fails never reaches the network, either way.
TEST_F(HttpProbeAsyncTest, BadExpansionFailsAtOnce) {
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  auto probe = Make({.url = "http://127.0.0.1:${port:nope}/"});
  ASSERT_TRUE(probe);
  auto async = SampleAsyncAndWait(*probe, *loop);
  EXPECT_FALSE(async.passed);
  EXPECT_EQ(async.detail, probe->Sample({}).detail);
}

}  // namespace
}  // namespace firedrill
