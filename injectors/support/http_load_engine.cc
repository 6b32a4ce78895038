#include "injectors/support/http_load_engine.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "runner/base/curl.h"
#include "runner/base/text.h"

namespace firedrill {
namespace {

using Clock = std::chrono::steady_clock;

// Longer than this behind schedule (every connection busy, or the thread descheduled),
// the schedule restarts from now: a saturated target is not hit with a burst to catch up,
// and the achieved rate honestly falls short of the asked one.
constexpr auto kMaxLag = std::chrono::milliseconds(100);
// The longest the loop sleeps without looking at `cancel` (Stop wakes it at once).
constexpr int kPollMs = 50;

size_t Discard(char*, size_t size, size_t count, void*) noexcept { return size * count; }

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatMs(double micros) {
  double ms = micros / 1000;
  if (ms < 10) return fmt::format("{:.2f} ms", ms);
  if (ms < 100) return fmt::format("{:.1f} ms", ms);
  return fmt::format("{:.0f} ms", ms);
}

std::string TransferErrorText(CURL* h, CURLcode rc, const ConnectGuard& guard) {
  // Refused by the policy, and no other address was connected instead.
  if (rc == CURLE_COULDNT_CONNECT && !guard.refused.empty()) return guard.refused;
  long os_errno = 0;
  curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
  if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
    return ErrnoText(static_cast<int>(os_errno));
  }
  return curl_easy_strerror(rc);
}

}  // namespace

// The loop is libcurl's event-driven form (curl_multi_socket_action over epoll): each
// wake-up costs work for the sockets that are ready only, not for every connection, which
// is what lets one thread keep up with wrk.
struct HttpLoad::Impl {
  HttpLoadSpec spec;
  std::function<bool()> cancelled;
  CURLM* multi = nullptr;
  std::vector<CURL*> handles;  // CURLOPT_PRIVATE holds each one's index
  std::vector<Clock::time_point> started;
  curl_slist* headers = nullptr;
  CurlUrl url;         // shared, read-only, by every handle
  ConnectGuard guard;  // one for all handles: they all run on the load thread
  int epoll_fd = -1;
  int wake_fd = -1;                                // an eventfd: Stop ends the wait at once
  std::optional<Clock::time_point> curl_deadline;  // libcurl's timer (TIMERFUNCTION)
  std::atomic<bool> stop{false};
  std::thread thread;
  bool joined = false;
  HttpLoadStats stats;

  ~Impl() {
    // libcurl's order: handles out of the multi (Loop did that), then each handle, then
    // the multi, which closes the pooled connections (telling OnSocket: epoll stays open).
    for (CURL* h : handles) curl_easy_cleanup(h);
    if (multi) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    if (wake_fd >= 0) close(wake_fd);
    if (epoll_fd >= 0) close(epoll_fd);
  }

  // What epoll holds for each socket (by descriptor). A socket libcurl stops watching
  // between two requests on a keep-alive connection is silenced, not removed, which saves
  // a system call per request; an event on a silenced socket (the peer closed it, say)
  // removes it for good.
  enum class Watch : uint8_t { kNone, kActive, kSilenced };
  std::vector<Watch> watch;

  Watch& WatchOf(curl_socket_t fd) {
    if (static_cast<size_t>(fd) >= watch.size()) watch.resize(static_cast<size_t>(fd) + 64);
    return watch[static_cast<size_t>(fd)];
  }

  // libcurl says which sockets to watch, and for what; called from inside libcurl.
  static int OnSocket(CURL*, curl_socket_t fd, int what, void* self, void*) noexcept {
    auto* impl = static_cast<Impl*>(self);
    Watch& w = impl->WatchOf(fd);
    epoll_event ev{};
    ev.data.fd = fd;
    if (what == CURL_POLL_REMOVE) {
      if (w == Watch::kActive) {
        // Fails only if the socket was closed meanwhile, which removed it from epoll.
        w = epoll_ctl(impl->epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ? Watch::kSilenced
                                                                   : Watch::kNone;
      }
      return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    // `w` may be stale (a descriptor closed and reused drops out of epoll by itself): if
    // the operation it implies fails, the other one is right.
    int op = w == Watch::kNone ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(impl->epoll_fd, op, fd, &ev) != 0) {
      op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
      if (epoll_ctl(impl->epoll_fd, op, fd, &ev) != 0) {
        w = Watch::kNone;
        return 0;
      }
    }
    w = Watch::kActive;
    return 0;
  }

  static int OnTimer(CURLM*, long timeout_ms, void* self) noexcept {
    auto* impl = static_cast<Impl*>(self);
    if (timeout_ms < 0) {
      impl->curl_deadline.reset();
    } else {
      impl->curl_deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  Status Setup() {
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) return Status::Internal("epoll_create1: " + ErrnoText(errno));
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) return Status::Internal("eventfd: " + ErrnoText(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
      return Status::Internal("epoll_ctl: " + ErrnoText(errno));
    }
    multi = curl_multi_init();
    if (!multi) return Status::Internal("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &OnSocket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &OnTimer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    // One request per connection at a time: `concurrency` connections, as asked.
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(spec.concurrency));
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(spec.concurrency));
    // A large body would otherwise wait up to a second for "100 Continue". Only then: a
    // header list costs libcurl work on every request.
    if (spec.body && spec.body->size() > 1024) {
      headers = curl_slist_append(nullptr, "Expect:");
      if (!headers) return Status::Internal("out of memory building headers");
    }
    // Parsed once here rather than by libcurl for every request, and checked as every
    // drill URL is (runner/base/curl.h).
    auto parsed = ParseDrillUrl(spec.url);
    if (!parsed.ok()) return Status::Invalid("URL " + spec.url + " " + parsed.status().message());
    url = std::move(*parsed);
    guard.policy = spec.policy;
    started.resize(static_cast<size_t>(spec.concurrency));
    for (int64_t i = 0; i < spec.concurrency; ++i) {
      CURL* h = curl_easy_init();
      if (!h) return Status::Internal("curl_easy_init failed");
      handles.push_back(h);
      curl_easy_setopt(h, CURLOPT_PRIVATE, reinterpret_cast<char*>(static_cast<intptr_t>(i)));
      ApplyLocalOnly(h, &guard);
      curl_easy_setopt(h, CURLOPT_CURLU, url.get());
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.timeout.count()));
      curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Discard);
      if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      if (spec.method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
      } else if (spec.method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
      }
      if (spec.body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(spec.body->size()));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, spec.body->c_str());
        // POSTFIELDS turns the request into a POST; keep the method the drill asked for.
        if (spec.method == "GET") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "GET");
      }
    }
    return Status::Ok();
  }

  bool Cancelled() const { return stop.load() || (cancelled && cancelled()); }

  size_t IndexOf(CURL* h) const {
    char* p = nullptr;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, &p);
    return static_cast<size_t>(reinterpret_cast<intptr_t>(p));
  }

  // Latency is from the request's start (added to the multi handle) to the moment its
  // response was complete, as this thread saw it: what a client of the service waits.
  void Record(CURL* h, CURLcode rc, Clock::time_point now) {
    ++stats.requests;
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    stats.connections += static_cast<uint64_t>(connects);
    if (rc != CURLE_OK) {
      ++stats.transport_errors;
      if (stats.first_error.empty()) stats.first_error = TransferErrorText(h, rc, guard);
      return;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 500) ++stats.server_errors;
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now - started[IndexOf(h)]).count();
    stats.latency.Record(static_cast<uint64_t>(std::max<int64_t>(micros, 0)));
  }

  // Collects finished transfers; their handles become idle again.
  void Collect(std::vector<CURL*>& idle) {
    const Clock::time_point now = Clock::now();
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* h = m->easy_handle;
      Record(h, m->data.result, now);
      curl_multi_remove_handle(multi, h);
      idle.push_back(h);
    }
  }

  static int CeilMs(Clock::duration d) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
    return static_cast<int>(std::clamp<int64_t>(ms, 0, kPollMs));
  }

  void Loop() {
    pthread_setname_np(pthread_self(), "fd-http-load");  // for top -H, and the benchmark
    const Clock::time_point t0 = Clock::now();
    // Request n of the current schedule is due at base + n / rate: computed, not
    // accumulated, so rounding never drifts the rate.
    Clock::time_point base = t0;
    uint64_t n = 0;
    auto due = [&] {
      return base + std::chrono::nanoseconds(std::llround(static_cast<double>(n) * 1e9 /
                                                          static_cast<double>(spec.rate)));
    };
    std::vector<CURL*> idle(handles.rbegin(), handles.rend());
    epoll_event events[64];
    int running = 0;
    while (!Cancelled()) {
      Clock::time_point now = Clock::now();
      while (!idle.empty() && (spec.rate == 0 || due() <= now)) {
        if (spec.rate > 0) {
          if (now - due() > kMaxLag) {
            base = now;
            n = 0;
          }
          ++n;
        }
        CURL* h = idle.back();
        started[IndexOf(h)] = now;
        CURLMcode mc = curl_multi_add_handle(multi, h);
        if (mc != CURLM_OK) return Abandon(t0, curl_multi_strerror(mc));
        idle.pop_back();
      }
      // New transfers start from libcurl's timer (adding one sets it to 0 ms).
      if (curl_deadline && *curl_deadline <= Clock::now()) {
        curl_deadline.reset();
        CURLMcode mc = curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        if (mc != CURLM_OK) return Abandon(t0, curl_multi_strerror(mc));
        Collect(idle);
      }
      if (spec.rate == 0 && !idle.empty()) continue;  // refill at once
      int wait = kPollMs;
      if (curl_deadline) wait = std::min(wait, CeilMs(*curl_deadline - Clock::now()));
      if (spec.rate > 0 && !idle.empty()) wait = std::min(wait, CeilMs(due() - Clock::now()));
      const int ready = epoll_wait(epoll_fd, events, 64, wait);
      for (int i = 0; i < ready; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_fd) continue;  // Stop: seen at the top of the loop
        if (WatchOf(fd) == Watch::kSilenced) {
          // Error and hang-up are reported even with no events asked for.
          epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
          WatchOf(fd) = Watch::kNone;
          continue;
        }
        const uint32_t e = events[i].events;
        const int flags = ((e & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                          ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                          ((e & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        CURLMcode mc = curl_multi_socket_action(multi, fd, flags, &running);
        if (mc != CURLM_OK) return Abandon(t0, curl_multi_strerror(mc));
      }
      Collect(idle);
    }
    Abandon(t0, "");
  }

  // Ends the load: requests still in flight are dropped and not counted.
  void Abandon(Clock::time_point t0, std::string why) {
    stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (CURL* h : handles) curl_multi_remove_handle(multi, h);
    stats.stopped_early = std::move(why);
  }
};

HttpLoad::HttpLoad(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpLoad::~HttpLoad() {
  if (impl_) Stop();
}

Result<std::unique_ptr<HttpLoad>> HttpLoad::Start(HttpLoadSpec spec,
                                                  std::function<bool()> cancelled) {
  FD_RETURN_IF_ERROR(InitCurl());
  auto impl = std::make_unique<Impl>();
  impl->spec = std::move(spec);
  impl->cancelled = std::move(cancelled);
  FD_RETURN_IF_ERROR(impl->Setup());
  Impl* raw = impl.get();
  try {
    impl->thread = std::thread([raw] { raw->Loop(); });
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("cannot start the load thread: ") + e.what());
  }
  return std::unique_ptr<HttpLoad>(new HttpLoad(std::move(impl)));
}

HttpLoadStats HttpLoad::Stop() {
  if (!impl_->joined) {
    impl_->stop = true;
    eventfd_write(impl_->wake_fd, 1);
    impl_->thread.join();
    impl_->joined = true;
  }
  return impl_->stats;
}

std::string DescribeHttpLoad(const HttpLoadStats& s) {
  double rate = s.seconds > 0 ? static_cast<double>(s.requests) / s.seconds : 0;
  std::string out = fmt::format("{} requests in {:.1f}s ({:.1f} req/s), ", Thousands(s.requests),
                                s.seconds, rate);
  uint64_t errors = s.transport_errors + s.server_errors;
  if (errors == 0) {
    out += "0 errors";
  } else {
    out += fmt::format(
        "{} errors ({} transport{}, {} HTTP 5xx)", Thousands(errors), Thousands(s.transport_errors),
        s.first_error.empty() ? "" : ": " + OneLine(s.first_error, 60), Thousands(s.server_errors));
  }
  if (s.latency.count() > 0) {
    out += ", p50 " + FormatMs(s.latency.Percentile(0.5)) + ", p99 " +
           FormatMs(s.latency.Percentile(0.99));
  }
  out += fmt::format("; {} connection{} opened", Thousands(s.connections),
                     s.connections == 1 ? "" : "s");
  if (!s.stopped_early.empty()) out += "; load stopped early: " + s.stopped_early;
  return out;
}

}  // namespace firedrill
