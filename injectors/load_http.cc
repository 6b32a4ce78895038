#include "injectors/load_http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <system_error>
#include <thread>
#include <vector>

#include "probes/http_client.h"
#include "runner/text.h"

namespace firedrill {
namespace {

using Clock = std::chrono::steady_clock;

// Longer than this behind schedule (every connection busy, or the thread descheduled),
// the schedule restarts from now: a saturated target is not hit with a burst to catch up,
// and the achieved rate honestly falls short of the asked one.
constexpr auto kMaxLag = std::chrono::milliseconds(100);
// The longest the loop sleeps without looking at its stop flag and `cancel`.
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

std::string TransferErrorText(CURL* h, CURLcode rc) {
  long os_errno = 0;
  curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
  if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
    return ErrnoText(static_cast<int>(os_errno));
  }
  return curl_easy_strerror(rc);
}

}  // namespace

struct HttpLoad::Impl {
  HttpLoadSpec spec;
  const std::atomic<bool>* cancel = nullptr;
  CURLM* multi = nullptr;
  std::vector<CURL*> handles;
  curl_slist* headers = nullptr;
  std::atomic<bool> stop{false};
  std::thread thread;
  bool joined = false;
  HttpLoadStats stats;

  ~Impl() {
    // libcurl's order: handles out of the multi (Loop did that), then each handle, then
    // the multi, which closes the pooled connections.
    for (CURL* h : handles) curl_easy_cleanup(h);
    if (multi) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
  }

  Status Setup() {
    multi = curl_multi_init();
    if (!multi) return Status::Internal("curl_multi_init failed");
    // One request per connection at a time: `concurrency` connections, as asked.
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(spec.concurrency));
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(spec.concurrency));
    // A body over 1 KiB would otherwise wait up to a second for "100 Continue".
    headers = curl_slist_append(nullptr, "Expect:");
    if (!headers) return Status::Internal("out of memory building headers");
    for (int64_t i = 0; i < spec.concurrency; ++i) {
      CURL* h = curl_easy_init();
      if (!h) return Status::Internal("curl_easy_init failed");
      handles.push_back(h);
      curl_easy_setopt(h, CURLOPT_URL, spec.url.c_str());
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.timeout.count()));
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
      // A drill sends traffic only where it says: no proxy from the environment, no
      // redirect followed elsewhere.
      curl_easy_setopt(h, CURLOPT_PROXY, "");
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
      curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Discard);
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
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

  bool Cancelled() const { return stop.load() || (cancel && cancel->load()); }

  void Record(CURL* h, CURLcode rc) {
    ++stats.requests;
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    stats.connections += static_cast<uint64_t>(connects);
    if (rc != CURLE_OK) {
      ++stats.transport_errors;
      if (stats.first_error.empty()) stats.first_error = TransferErrorText(h, rc);
      return;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 500) ++stats.server_errors;
    curl_off_t micros = 0;
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &micros);
    stats.latency.Record(static_cast<uint64_t>(std::max<curl_off_t>(micros, 0)));
  }

  void Loop() {
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
        CURLMcode mc = curl_multi_add_handle(multi, idle.back());
        if (mc != CURLM_OK) return Abandon(t0, curl_multi_strerror(mc));
        idle.pop_back();
      }
      int running = 0;
      CURLMcode mc = curl_multi_perform(multi, &running);
      if (mc != CURLM_OK) return Abandon(t0, curl_multi_strerror(mc));
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* h = m->easy_handle;
        Record(h, m->data.result);
        curl_multi_remove_handle(multi, h);
        idle.push_back(h);
      }
      long wait = kPollMs;
      long curl_wait = -1;
      curl_multi_timeout(multi, &curl_wait);
      if (curl_wait >= 0) wait = std::min(wait, curl_wait);
      if (!idle.empty()) {
        if (spec.rate == 0) {
          wait = 0;
        } else {
          auto until = std::chrono::ceil<std::chrono::milliseconds>(due() - Clock::now());
          wait = std::clamp<long>(static_cast<long>(until.count()), 0, wait);
        }
      }
      if (wait > 0) curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait), nullptr);
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
                                                  const std::atomic<bool>* cancel) {
  FD_RETURN_IF_ERROR(InitHttpClient());
  auto impl = std::make_unique<Impl>();
  impl->spec = std::move(spec);
  impl->cancel = cancel;
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
    curl_multi_wakeup(impl_->multi);
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
