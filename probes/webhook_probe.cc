// webhook: an Alertmanager webhook notification for an alert has arrived.
//
// The probe is a small HTTP server, started when the probe is built (before the drill's
// services, so Alertmanager finds it from its first notification) and stopped when the
// probe is destroyed. cpp-httplib serves it; its handlers run on its own threads, so the
// state they record is behind a mutex.
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "runner/base/net.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

using nlohmann::json;

// An Alertmanager notification is a few KiB per alert; anything beyond this is refused
// (413) before it is read, so a runaway sender cannot grow the drill's memory.
constexpr size_t kMaxBody = 1 << 20;
// Notifications are counted, not stored, so their number costs nothing; the count is
// capped only so that it cannot overflow in a drill left running for ages.
constexpr int64_t kMaxCount = int64_t{1} << 40;
// Alertmanager sends one notification at a time per route; a few workers are plenty.
constexpr size_t kWorkers = 4;
// How long the listener may take to start, and the server to stop.
constexpr auto kStartBudget = std::chrono::seconds(5);
constexpr auto kStopBudget = std::chrono::seconds(10);
constexpr auto kPollStep = std::chrono::milliseconds(5);

// A listener may only be bound on this machine's loopback: `localhost`, or a numeric
// address (read as getaddrinfo reads it) that is loopback.
bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  auto found = NumericAddresses(host);
  return !found.empty() && std::all_of(found.begin(), found.end(), [](const sockaddr_storage& s) {
    return IsLoopbackAddress(reinterpret_cast<const sockaddr*>(&s));
  });
}

std::string StringAt(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

class WebhookProbe final : public Probe {
 public:
  WebhookProbe(std::string alert, std::string status)
      : alert_(std::move(alert)), status_(std::move(status)) {}

  ~WebhookProbe() override { Stop(); }

  // Binds and starts serving; on failure nothing is left running.
  Status Start(const std::string& host, int port) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
    // httplib sets SO_REUSEPORT by default, which would let a second receiver share the
    // port silently and get half the notifications; a taken port must be an error.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server_.set_payload_max_length(kMaxBody);
    server_.set_read_timeout(2, 0);
    server_.set_write_timeout(2, 0);
    // One request per connection: an idle keep-alive connection would hold stop() up for
    // the keep-alive timeout.
    server_.set_keep_alive_max_count(1);
    // The path is whatever the Alertmanager config says; any path is accepted. (httplib
    // matches it with std::regex, whose recursion depth its 8 KiB URI limit bounds.)
    server_.Post("/.*", [this](const httplib::Request& req, httplib::Response& res) {
      OnNotification(req, res);
    });
    if (!server_.bind_to_port(host, port)) {
      return Status::Failed("cannot listen on " + Shown(host, port) +
                            ": the port is taken, or the address is not local");
    }
    start_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      listen_done_ = true;
    });
    // stop() does nothing until the accept loop runs; wait for it so that the destructor
    // can always stop the server.
    const auto deadline = std::chrono::steady_clock::now() + kStartBudget;
    while (!server_.is_running() && !listen_done_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(kPollStep);
    }
    if (!server_.is_running() && listen_done_) {
      Stop();
      return Status::Failed("the receiver on " + Shown(host, port) + " stopped at once");
    }
    return Status::Ok();
  }

  ProbeOutcome Sample(const SampleVars&) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string counts = std::to_string(received_) + " received";
    if (rejected_ > 0) counts += ", " + std::to_string(rejected_) + " rejected";
    // Latched: the question is whether such a notification was sent, and one was.
    if (matched_after_) {
      return {true, status_ + " notification for " + alert_ + " received " +
                        FormatDuration(*matched_after_) + " after start (" +
                        std::to_string(received_) +
                        (received_ == 1 ? " notification)" : " notifications)")};
    }
    return {false, "no " + status_ + " notification for " + alert_ + " yet (" + counts + ")"};
  }

 private:
  static std::string Shown(const std::string& host, int port) {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }

  // Runs on an httplib worker thread. httplib catches what a handler throws, but only to
  // answer 500; the parse is kept exception-free and the rest guarded anyway.
  void OnNotification(const httplib::Request& req, httplib::Response& res) {
    bool valid = false;
    bool matches = false;
    try {
      json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      auto alerts = j.is_object() ? j.find("alerts") : j.end();
      valid = !j.is_discarded() && j.is_object() && alerts != j.end() && alerts->is_array();
      if (valid) {
        for (const json& a : *alerts) {
          auto labels = a.is_object() ? a.find("labels") : a.end();
          if (labels == a.end()) continue;
          // Per alert: one notification can carry firing and resolved alerts together.
          if (StringAt(*labels, "alertname") == alert_ && StringAt(a, "status") == status_) {
            matches = true;
            break;
          }
        }
      }
    } catch (const std::exception&) {
      valid = false;
    }
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!valid) {
        rejected_ = std::min(rejected_ + 1, kMaxCount);
      } else {
        received_ = std::min(received_ + 1, kMaxCount);
        if (matches && !matched_after_) {
          matched_after_ = std::chrono::duration_cast<Millis>(now - start_);
        }
      }
    }
    // Alertmanager retries what is not a 2xx; a payload it cannot fix is answered 400.
    res.status = valid ? 200 : 400;
    res.set_content(valid ? "ok\n" : "not an Alertmanager webhook notification\n", "text/plain");
  }

  void Stop() {
    if (!thread_.joinable()) return;
    // stop() works only once the accept loop runs (Start waited for that), and may be
    // called only once: a second call while the loop winds down trips an assert in httplib.
    const auto deadline = std::chrono::steady_clock::now() + kStopBudget;
    while (!listen_done_ && std::chrono::steady_clock::now() < deadline) {
      if (server_.is_running()) {
        server_.stop();
        break;
      }
      std::this_thread::sleep_for(kPollStep);
    }
    thread_.join();
  }

  const std::string alert_;
  const std::string status_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> listen_done_{false};
  std::chrono::steady_clock::time_point start_;

  std::mutex mu_;  // guards what the handlers record, below
  int64_t received_ = 0;
  int64_t rejected_ = 0;
  std::optional<Millis> matched_after_;
};

constexpr const char* kStatuses[] = {"firing", "resolved"};

constexpr FieldSpec kFields[] = {
    {.name = "listen",
     .type = FieldType::kAddress,
     .doc = "loopback address:port to receive on",
     .required = true},
    {.name = "alert",
     .type = FieldType::kString,
     .doc = "alertname label to wait for",
     .required = true},
    {.name = "status",
     .type = FieldType::kEnum,
     .doc = "notification status",
     .default_value = "firing",
     .choices = kStatuses},
};

// The receiver runs here, so it can only listen on this machine: a host named under
// `hosts:` passes the address check but cannot be bound.
std::optional<FieldError> Check(const Params& p, Mark mark) {
  auto hp = SplitHostPort(p.String("listen"));
  if (!hp || !IsLoopbackHost(hp->host)) {
    Mark m = p.MarkOf("listen");
    return FieldError{m.line ? m : mark,
                      "webhook listen must be a loopback address (127.0.0.1, [::1] or "
                      "localhost) with a port: the receiver runs on this machine"};
  }
  return std::nullopt;
}

// REQUIRES: ctx.expander is set.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  if (auto e = Check(p, {})) return Status::Invalid(e->message);
  auto listen = ctx.expander->Expand(p.String("listen"));
  if (!listen.ok()) return listen.status();
  auto hp = SplitHostPort(*listen);
  auto port = hp ? PortNumber(hp->port) : std::nullopt;
  if (!hp || !port || !IsLoopbackHost(hp->host)) {
    return Status::Invalid("webhook listen " + Quoted(*listen) + " is not a loopback host:port");
  }
  // httplib and std::thread are edges: a thread that cannot start throws.
  try {
    auto probe = std::make_unique<WebhookProbe>(p.String("alert"), p.String("status"));
    FD_RETURN_IF_ERROR(probe->Start(hp->host, *port));
    return std::unique_ptr<Probe>(std::move(probe));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("starting the webhook receiver: ") + e.what());
  }
}

}  // namespace

extern const ProbeKind kWebhookProbe = {
    .name = "webhook",
    .doc = "receive Alertmanager webhooks; pass once one for the alert arrives",
    .fields = kFields,
    .example = R"({webhook: {listen: "127.0.0.1:9099", alert: RedisDown, status: firing}})",
    .check = Check,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
