// CurlMulti on a real event loop, with plain libcurl handles against real sockets on
// loopback: HTTP servers (nginx for many connections at once: cpp-httplib listens with a
// backlog of 5, and the SYNs it drops are retried only after a second; cpp-httplib for one),
// a port that refuses, and one that takes connections and never answers.
#include "runner/base/curl_multi.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/curl.h"
#include "runner/base/env.h"
#include "runner/base/event_loop.h"
#include "tests/probes/nginx.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::ClosedPort;
using ::firedrill::testing::Nginx;
using ::firedrill::testing::OpenFdCount;
using ::firedrill::testing::SilentListener;
using ::firedrill::testing::TempDir;
using ::firedrill::testing::ThreadCount;
using Clock = std::chrono::steady_clock;

// A real event loop: 2 threads and 1 blocking thread by default, like the engine's here.
std::unique_ptr<EventLoop> TestLoop(int threads = 2, int blocking = 1) {
  auto loop = EventLoop::Start(Env::Default(), threads, blocking);
  EXPECT_TRUE(loop.ok()) << loop.status().ToString();
  return loop.ok() ? std::move(*loop) : nullptr;
}

class Server {
 public:
  Server() {
    server_.Get("/ok", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content("ok " + req.get_param_value("n"), "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~Server() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// An easy handle for `url` that keeps the body, and what its transfer came to.
struct Easy {
  explicit Easy(const std::string& url, long timeout_ms = 5000) : curl(curl_easy_init()) {
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  }
  ~Easy() { curl_easy_cleanup(curl); }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
  long Status() const {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }

  CURL* curl;
  std::string body;
};

// The results `done` was called with, per transfer, and on which threads.
class Results {
 public:
  CurlMulti::Done For(int key) {
    return [this, key](CURLcode rc) {
      std::lock_guard lock(mu_);
      got_[key].push_back(rc);
      threads_.push_back(std::this_thread::get_id());
      cv_.notify_all();
    };
  }
  bool WaitFor(size_t transfers, Millis wait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, wait, [&] { return got_.size() >= transfers; });
  }
  std::map<int, std::vector<CURLcode>> Get() {
    std::lock_guard lock(mu_);
    return got_;
  }
  std::vector<std::thread::id> Threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, std::vector<CURLcode>> got_;
  std::vector<std::thread::id> threads_;
};

class CurlMultiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCurl().ok()); }
};

TEST_F(CurlMultiTest, ManyTransfersCompleteOnTheLoopThreads) {
  TempDir dir;
  Nginx nginx(dir.path());
  ASSERT_TRUE(nginx.ready()) << nginx.Log();
  const int fds_before = OpenFdCount();
  const int threads_before = ThreadCount();
  constexpr int kTransfers = 200;
  Results results;
  std::vector<std::unique_ptr<Easy>> easies;
  {
    auto loop = TestLoop(2, 0);
    ASSERT_TRUE(loop);
    CurlMulti& multi = CurlMulti::Of(*loop);
    EXPECT_EQ(&multi, &CurlMulti::Of(*loop)) << "one per loop";
    for (int i = 0; i < kTransfers; ++i) {
      easies.push_back(std::make_unique<Easy>(nginx.Url("/echo?n=" + std::to_string(i))));
      multi.Perform(easies.back()->curl, results.For(i));
    }
    ASSERT_TRUE(results.WaitFor(kTransfers, Millis(20000)));
    EXPECT_LE(ThreadCount(), threads_before + 2) << "a thread per transfer?";
    EXPECT_EQ(multi.Pending(), 0u);
  }
  auto got = results.Get();
  for (int i = 0; i < kTransfers; ++i) {
    ASSERT_EQ(got[i].size(), 1u) << i;
    EXPECT_EQ(got[i][0], CURLE_OK) << i << ": " << curl_easy_strerror(got[i][0]);
    EXPECT_EQ(easies[i]->Status(), 200) << i;
    EXPECT_EQ(easies[i]->body, "ok " + std::to_string(i));
  }
  for (std::thread::id t : results.Threads()) EXPECT_NE(t, std::this_thread::get_id());
  // Every socket curl opened is closed again, and the loop left none behind.
  EXPECT_EQ(OpenFdCount(), fds_before);
}

TEST_F(CurlMultiTest, RefusedConnectionFails) {
  ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  Easy easy("http://127.0.0.1:" + std::to_string(closed.port()) + "/");
  Results results;
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  CurlMulti::Of(*loop).Perform(easy.curl, results.For(0));
  ASSERT_TRUE(results.WaitFor(1, Millis(5000)));
  EXPECT_EQ(results.Get()[0], std::vector<CURLcode>{CURLE_COULDNT_CONNECT});
}

// libcurl's own timeout comes through the timer callback: nothing else would wake it.
TEST_F(CurlMultiTest, LibcurlsTimeoutFires) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  Easy easy(silent.Url(), 200);
  Results results;
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  const auto start = Clock::now();
  CurlMulti::Of(*loop).Perform(easy.curl, results.For(0));
  ASSERT_TRUE(results.WaitFor(1, Millis(10000)));
  const auto took = Clock::now() - start;
  EXPECT_EQ(results.Get()[0], std::vector<CURLcode>{CURLE_OPERATION_TIMEDOUT});
  EXPECT_GE(took, Millis(190));
  EXPECT_LT(took, Millis(3000));
}

TEST_F(CurlMultiTest, CancelEndsATransferOnce) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  Easy easy(silent.Url(), 60000);
  Results results;
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  CurlMulti& multi = CurlMulti::Of(*loop);
  const CurlMulti::Id id = multi.Perform(easy.curl, results.For(0));
  std::this_thread::sleep_for(Millis(100));  // connected and waiting
  const auto start = Clock::now();
  multi.Cancel(id);
  multi.Cancel(id);
  ASSERT_TRUE(results.WaitFor(1, Millis(5000)));
  EXPECT_LT(Clock::now() - start, Millis(1000));
  std::this_thread::sleep_for(Millis(50));
  EXPECT_EQ(results.Get()[0], std::vector<CURLcode>{CURLE_ABORTED_BY_CALLBACK});
  EXPECT_EQ(multi.Pending(), 0u);
  multi.Cancel(id);  // long over: nothing
  multi.Cancel(12345);
}

// Cancelled before it was even added: the strand sees the cancel first or second, and
// either way `done` runs once.
TEST_F(CurlMultiTest, CancelRightAfterPerform) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  constexpr int kTransfers = 20;
  std::vector<std::unique_ptr<Easy>> easies;
  Results results;
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  CurlMulti& multi = CurlMulti::Of(*loop);
  for (int i = 0; i < kTransfers; ++i) {
    easies.push_back(std::make_unique<Easy>(silent.Url(), 60000));
    multi.Cancel(multi.Perform(easies.back()->curl, results.For(i)));
  }
  ASSERT_TRUE(results.WaitFor(kTransfers, Millis(5000)));
  std::this_thread::sleep_for(Millis(50));
  for (const auto& [i, codes] : results.Get()) {
    EXPECT_EQ(codes, std::vector<CURLcode>{CURLE_ABORTED_BY_CALLBACK}) << i;
  }
}

TEST_F(CurlMultiTest, CancelFlagIsNoticedWhileWaiting) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  Easy easy(silent.Url(), 60000);
  Results results;
  std::atomic<bool> cancel{false};
  auto loop = TestLoop();
  ASSERT_TRUE(loop);
  CurlMulti::Of(*loop).Perform(easy.curl, results.For(0), &cancel);
  std::this_thread::sleep_for(Millis(250));
  EXPECT_FALSE(results.WaitFor(1, Millis(0)));
  const auto start = Clock::now();
  cancel = true;
  ASSERT_TRUE(results.WaitFor(1, Millis(5000)));
  EXPECT_LT(Clock::now() - start, Millis(1000));  // checked every 100 ms
  EXPECT_EQ(results.Get()[0], std::vector<CURLcode>{CURLE_ABORTED_BY_CALLBACK});
}

// The loop goes while transfers wait: each `done` runs once, on the thread destroying it,
// and no socket is left open (ASan sees the rest).
TEST_F(CurlMultiTest, DestroyingTheLoopEndsTransfersInFlight) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  const int fds_before = OpenFdCount();
  constexpr int kTransfers = 10;
  std::vector<std::unique_ptr<Easy>> easies;
  Results results;
  {
    auto loop = TestLoop();
    ASSERT_TRUE(loop);
    CurlMulti& multi = CurlMulti::Of(*loop);
    for (int i = 0; i < kTransfers; ++i) {
      easies.push_back(std::make_unique<Easy>(silent.Url(), 60000));
      multi.Perform(easies.back()->curl, results.For(i));
    }
    std::this_thread::sleep_for(Millis(200));  // all connected and waiting
    EXPECT_FALSE(results.WaitFor(1, Millis(0)));
    EXPECT_EQ(multi.Pending(), static_cast<size_t>(kTransfers));
    // And one that was never added.
    easies.push_back(std::make_unique<Easy>(silent.Url(), 60000));
    multi.Perform(easies.back()->curl, results.For(kTransfers));
  }
  auto got = results.Get();
  ASSERT_EQ(got.size(), static_cast<size_t>(kTransfers + 1));
  for (const auto& [i, codes] : got) {
    EXPECT_EQ(codes, std::vector<CURLcode>{CURLE_ABORTED_BY_CALLBACK}) << i;
  }
  for (std::thread::id t : results.Threads()) EXPECT_EQ(t, std::this_thread::get_id());
  EXPECT_EQ(OpenFdCount(), fds_before);
}

// With no loop threads (engine tests), the caller's Drive runs the transfers.
TEST_F(CurlMultiTest, ManualLoopRunsTransfersInDrive) {
  Server server;
  ASSERT_GT(server.port(), 0);
  Easy easy(server.Url("/ok?n=7"));
  Results results;
  auto loop = TestLoop(0, 0);
  ASSERT_TRUE(loop);
  ASSERT_TRUE(loop->manual());
  CurlMulti::Of(*loop).Perform(easy.curl, results.For(0));
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  loop->Drive(Millis(1), [&] { return results.WaitFor(1, Millis(0)) || Clock::now() > deadline; });
  EXPECT_EQ(results.Get()[0], std::vector<CURLcode>{CURLE_OK});
  EXPECT_EQ(easy.body, "ok 7");
}

}  // namespace
}  // namespace firedrill
