// The webhook probe: notifications posted to it directly (cpp-httplib client), and sent by
// a real Alertmanager (Debian's /usr/bin/prometheus-alertmanager) started on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "probes/http_client.h"
#include "probes/probe_registry.h"
#include "runner/base/env.h"
#include "runner/base/net.h"
#include "runner/drill/context.h"
#include "runner/drill/expand.h"
#include "runner/drill/probe.h"
#include "tests/integration/harness.h"
#include "tests/probes/daemon.h"
#include "tests/testing.h"

namespace firedrill {
namespace {

using ::firedrill::testing::Daemon;
using ::firedrill::testing::TempDir;
using ::firedrill::testing::WriteFile;

constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

Params WebhookParams(const std::string& listen, const std::string& alert,
                     const std::string& status = "firing") {
  Params p;
  p.Set("listen", {listen, {2, 9}});
  p.Set("alert", {alert, {}});
  p.Set("status", {status, {}});
  return p;
}

std::string Notification(const std::string& status,
                         const std::vector<std::pair<std::string, std::string>>& alerts) {
  std::string list;
  for (const auto& [name, alert_status] : alerts) {
    if (!list.empty()) list += ",";
    list += R"({"status":")" + alert_status + R"(","labels":{"alertname":")" + name +
            R"(","instance":"127.0.0.1:9121"},"annotations":{}})";
  }
  return R"({"version":"4","receiver":"probe","status":")" + status + R"(","alerts":[)" + list +
         "]}";
}

// Builds webhook probes listening on ${port:NAME} ports picked for the test.
class Receivers {
 public:
  explicit Receivers(std::vector<std::string> names) {
    std::map<std::string, int> ports;
    std::set<int> taken;
    for (const auto& n : names) {
      auto p = PickFreePort(taken);
      if (!p.ok()) continue;
      ports[n] = *p;
      taken.insert(*p);
    }
    expander_ = Expander("/tmp", ports);
    ctx_.env = Env::Default();
    ctx_.expander = &expander_;
    ctx_.workdir = "/tmp";
  }

  Result<std::unique_ptr<Probe>> Make(const std::string& listen, const std::string& alert,
                                      const std::string& status = "firing") {
    const ProbeKind* kind = FindProbeKind("webhook");
    if (!kind || !kind->make) return Status::Unsupported("webhook probe has no runtime");
    return kind->make(WebhookParams(listen, alert, status), ctx_);
  }

  int port(const std::string& name) const { return expander_.ports().at(name); }

 private:
  Expander expander_;
  RunContext ctx_;
};

// Posts `body` to the receiver; the status, or -1 when no answer came.
int Post(int port, const std::string& body, const std::string& path = "/hook") {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(5, 0);
  auto res = cli.Post(path, body, "application/json");
  return res ? res->status : -1;
}

class WebhookProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto probe = receivers_.Make("127.0.0.1:${port:hook}", "RedisDown");
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    probe_ = std::move(*probe);
  }
  int port() const { return receivers_.port("hook"); }

  Receivers receivers_{{"hook"}};
  std::unique_ptr<Probe> probe_;
};

TEST_F(WebhookProbeTest, FiringNotificationLatches) {
  auto none = probe_->Sample({});
  EXPECT_FALSE(none.passed);
  EXPECT_EQ(none.detail, "no firing notification for RedisDown yet (0 received)");

  EXPECT_EQ(Post(port(), Notification("firing", {{"OtherAlert", "firing"}})), 200);
  EXPECT_EQ(Post(port(), Notification("resolved", {{"RedisDown", "resolved"}})), 200);
  auto others = probe_->Sample({});
  EXPECT_FALSE(others.passed);
  EXPECT_EQ(others.detail, "no firing notification for RedisDown yet (2 received)");

  // Any path: the path is whatever the Alertmanager config says.
  EXPECT_EQ(
      Post(port(), Notification("firing", {{"OtherAlert", "firing"}, {"RedisDown", "firing"}}),
           "/any/path?x=1"),
      200);
  auto fired = probe_->Sample({});
  EXPECT_TRUE(fired.passed) << fired.detail;
  EXPECT_TRUE(std::regex_match(
      fired.detail,
      std::regex(
          R"(firing notification for RedisDown received [0-9.]+m?s after start \(3 notifications\))")))
      << fired.detail;

  // Latched: what arrives later does not undo it.
  EXPECT_EQ(Post(port(), Notification("resolved", {{"RedisDown", "resolved"}})), 200);
  auto still = probe_->Sample({});
  EXPECT_TRUE(still.passed) << still.detail;
  EXPECT_NE(still.detail.find("(4 notifications)"), std::string::npos) << still.detail;
}

// The status is judged per alert: a "firing" notification may carry resolved alerts.
TEST(WebhookProbeStatusTest, ResolvedIsJudgedPerAlert) {
  Receivers receivers({"hook"});
  auto probe = receivers.Make("localhost:${port:hook}", "RedisDown", "resolved");
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  const int port = receivers.port("hook");
  EXPECT_EQ(Post(port, Notification("firing", {{"RedisDown", "firing"}})), 200);
  EXPECT_FALSE((*probe)->Sample({}).passed);
  EXPECT_EQ(Post(port, Notification("firing", {{"Other", "firing"}, {"RedisDown", "resolved"}})),
            200);
  auto out = (*probe)->Sample({});
  EXPECT_TRUE(out.passed) << out.detail;
  EXPECT_EQ(out.detail.rfind("resolved notification for RedisDown received ", 0), 0u) << out.detail;
}

TEST_F(WebhookProbeTest, MalformedNotificationsAreRejectedNotCounted) {
  const char* bad[] = {"",
                       "{",
                       "[]",
                       "null",
                       R"({"alerts":{}})",
                       R"({"status":"firing"})",
                       "\xff\xfe",
                       R"({"alerts":[{"labels":{"alertname":"RedisDown"})"};
  for (const char* body : bad) EXPECT_EQ(Post(port(), body), 400) << body;
  // Valid envelopes with odd alerts are counted, but match nothing.
  const char* odd[] = {
      R"({"alerts":[]})",
      R"({"alerts":[1,"x",null,[]]})",
      R"({"alerts":[{"labels":"RedisDown","status":"firing"}]})",
      R"({"alerts":[{"labels":{"alertname":1},"status":"firing"}]})",
      R"({"alerts":[{"labels":{"alertname":"RedisDown"},"status":1}]})",
      R"({"alerts":[{"labels":{"alertname":"RedisDown"}}]})",
  };
  for (const char* body : odd) EXPECT_EQ(Post(port(), body), 200) << body;
  auto out = probe_->Sample({});
  EXPECT_FALSE(out.passed);
  EXPECT_EQ(out.detail, "no firing notification for RedisDown yet (6 received, 8 rejected)");
}

TEST_F(WebhookProbeTest, OversizedBodyIsRefused) {
  std::string big = Notification("firing", {{"RedisDown", "firing"}});
  big.insert(big.size() - 1, R"(,"padding":")" + std::string(2 << 20, 'x') + "\"");
  const int status = Post(port(), big);
  // httplib answers 413 without reading the body; the client may see the connection close
  // before it has read the answer.
  EXPECT_TRUE(status == 413 || status == -1) << status;
  auto out = probe_->Sample({});
  EXPECT_FALSE(out.passed) << out.detail;
  // The receiver keeps working.
  EXPECT_EQ(Post(port(), Notification("firing", {{"RedisDown", "firing"}})), 200);
  EXPECT_TRUE(probe_->Sample({}).passed);
}

// A parser or destructor that recursed per nesting level would overflow a worker's stack.
TEST_F(WebhookProbeTest, DeeplyNestedJsonDoesNotCrash) {
  const size_t depth = 200000;  // 400 KiB, under the body limit
  std::string deep = std::string(depth, '[') + std::string(depth, ']');
  EXPECT_EQ(Post(port(), deep), 400);
  std::string in_alerts =
      R"({"alerts":[)" + std::string(depth, '[') + std::string(depth, ']') + "]}";
  EXPECT_EQ(Post(port(), in_alerts), 200);
  EXPECT_EQ(probe_->Sample({}).detail,
            "no firing notification for RedisDown yet (1 received, 1 rejected)");
}

// httplib matches paths with std::regex, which recurses per character; its URI limit must
// keep that from overflowing a worker's stack.
TEST_F(WebhookProbeTest, VeryLongPathDoesNotCrash) {
  const int status = Post(port(), Notification("firing", {{"RedisDown", "firing"}}),
                          "/" + std::string(60000, 'a'));
  EXPECT_NE(status, 200);
  EXPECT_EQ(
      Post(port(), Notification("firing", {{"RedisDown", "firing"}}), "/" + std::string(7000, 'a')),
      200);
  EXPECT_TRUE(probe_->Sample({}).passed);
}

TEST_F(WebhookProbeTest, OtherMethodsAreNotNotifications) {
  httplib::Client cli("127.0.0.1", port());
  auto res = cli.Get("/hook");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(probe_->Sample({}).detail, "no firing notification for RedisDown yet (0 received)");
}

TEST_F(WebhookProbeTest, ConcurrentSendersAndSampler) {
  constexpr int kSenders = 4;
  constexpr int kEach = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> senders;
  for (int i = 0; i < kSenders; ++i) {
    senders.emplace_back([&] {
      for (int j = 0; j < kEach; ++j) {
        ok += Post(port(), Notification("firing", {{"Other", "firing"}})) == 200 ? 1 : 0;
      }
    });
  }
  for (int j = 0; j < 20; ++j) probe_->Sample({});
  for (auto& t : senders) t.join();
  EXPECT_EQ(ok.load(), kSenders * kEach);
  EXPECT_EQ(probe_->Sample({}).detail, "no firing notification for RedisDown yet (40 received)");
}

// The receiver stops with the probe, promptly, and frees its port.
TEST_F(WebhookProbeTest, DestructionStopsTheServer) {
  EXPECT_EQ(Post(port(), Notification("firing", {{"RedisDown", "firing"}})), 200);
  const auto start = std::chrono::steady_clock::now();
  probe_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(Post(port(), "{}"), -1);
  auto again = receivers_.Make("127.0.0.1:${port:hook}", "RedisDown");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(WebhookProbeTest, TakenPortFailsAtMake) {
  // This probe holds the port; a second receiver on it must not share it silently.
  auto second = receivers_.Make("127.0.0.1:${port:hook}", "RedisDown");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), "cannot listen on 127.0.0.1:" + std::to_string(port()) +
                                           ": the port is taken, or the address is not local");
}

TEST(WebhookProbeBindTest, PortHeldByAnotherSocketFailsAtMake) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);
  Receivers receivers({});
  auto probe = receivers.Make("127.0.0.1:" + std::to_string(port), "RedisDown");
  ::close(fd);
  ASSERT_FALSE(probe.ok());
  EXPECT_NE(probe.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos)
      << probe.status().message();
}

TEST(WebhookProbeCheckTest, ListenMustBeLoopback) {
  const ProbeKind* kind = FindProbeKind("webhook");
  ASSERT_NE(kind, nullptr);
  ASSERT_NE(kind->check, nullptr);
  for (const char* ok : {"127.0.0.1:9099", "127.1.2.3:${port:hook}", "localhost:9099", "[::1]:9099",
                         "[::1]:${port:hook}"}) {
    auto e = kind->check(WebhookParams(ok, "A"), {1, 1});
    EXPECT_FALSE(e.has_value()) << ok << ": " << e->message;
  }
  for (const char* bad : {"db1:9099", "10.0.0.2:9099", "0.0.0.0:9099", "[::]:9099", "9099"}) {
    auto e = kind->check(WebhookParams(bad, "A"), {1, 1});
    ASSERT_TRUE(e.has_value()) << bad;
    EXPECT_EQ(e->mark.line, 2) << bad;
    EXPECT_EQ(e->mark.column, 9) << bad;
    EXPECT_NE(e->message.find("must be a loopback address"), std::string::npos) << e->message;
  }
}

// ---------------------------------------------------------------------------------------
// A real Alertmanager delivering to the probe.

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Samples until the probe passes or `budget` runs out; the last outcome.
ProbeOutcome SampleUntilPass(Probe& probe, Millis budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  ProbeOutcome out = probe.Sample({});
  while (!out.passed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out = probe.Sample({});
  }
  return out;
}

TEST(WebhookAlertmanagerTest, RealAlertmanagerDeliversFiringAndResolved) {
  if (::access(kAlertmanager, X_OK) != 0) GTEST_FAIL() << kAlertmanager << " missing";
  TempDir dir;
  Receivers receivers({"firing", "resolved", "alertmanager"});
  auto firing = receivers.Make("127.0.0.1:${port:firing}", "TestAlert", "firing");
  ASSERT_TRUE(firing.ok()) << firing.status().ToString();
  auto resolved = receivers.Make("127.0.0.1:${port:resolved}", "TestAlert", "resolved");
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();

  auto hook = [&](const char* name) {
    return "http://127.0.0.1:" + std::to_string(receivers.port(name)) + "/alerts";
  };
  WriteFile(dir / "alertmanager.yml",
            "route:\n"
            "  receiver: probe\n"
            "  group_by: [alertname]\n"
            "  group_wait: 0s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: probe\n"
            "    webhook_configs:\n"
            "      - {url: '" +
                hook("firing") +
                "', send_resolved: true}\n"
                "      - {url: '" +
                hook("resolved") + "', send_resolved: true}\n");
  const std::string am = "127.0.0.1:" + std::to_string(receivers.port("alertmanager"));
  // An empty cluster address turns clustering off; otherwise it gossips on 0.0.0.0:9094.
  Daemon daemon({kAlertmanager, "--config.file=" + (dir / "alertmanager.yml"),
                 "--storage.path=" + (dir / "data"), "--web.listen-address=" + am,
                 "--cluster.listen-address="},
                dir / "alertmanager.log");
  ASSERT_TRUE(daemon.started());
  ASSERT_TRUE(daemon.WaitReady("http://" + am + "/-/ready")) << daemon.LogTail();

  const auto starts = std::chrono::system_clock::now() - std::chrono::minutes(1);
  auto post = [&](const std::string& alerts) {
    return HttpRequest({.method = "POST",
                        .url = "http://" + am + "/api/v2/alerts",
                        .headers = {{"Content-Type", "application/json"}},
                        .body = alerts},
                       nullptr);
  };
  auto sent = post(R"([{"labels":{"alertname":"TestAlert","severity":"page"},"startsAt":")" +
                   Rfc3339(starts) + R"("}])");
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_EQ(sent->status, 200) << sent->body;

  auto fired = SampleUntilPass(**firing, Millis(20000));
  EXPECT_TRUE(fired.passed) << fired.detail << "\n" << daemon.LogTail();
  EXPECT_FALSE((*resolved)->Sample({}).passed);

  // Ending the alert now makes Alertmanager send "resolved" at the next group interval.
  auto ended = post(R"([{"labels":{"alertname":"TestAlert","severity":"page"},"startsAt":")" +
                    Rfc3339(starts) + R"(","endsAt":")" +
                    Rfc3339(std::chrono::system_clock::now()) + R"("}])");
  ASSERT_TRUE(ended.ok()) << ended.status().ToString();
  ASSERT_EQ(ended->status, 200) << ended->body;
  auto over = SampleUntilPass(**resolved, Millis(20000));
  EXPECT_TRUE(over.passed) << over.detail << "\n" << daemon.LogTail();
  EXPECT_EQ(over.detail.rfind("resolved notification for TestAlert received ", 0), 0u)
      << over.detail;
}

}  // namespace
}  // namespace firedrill
