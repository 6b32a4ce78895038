// The https worker of http.load: libcurl's event-driven form (curl_multi_socket_action over
// epoll), for what Beast does not cover here (TLS). Each wake-up costs work for the sockets
// that are ready only, not for every connection. libcurl is an edge: C, nothing thrown
// through it, failures counted or returned as Status.
#include <curl/curl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <vector>

#include "injectors/support/http_load_worker.h"
#include "runner/base/curl.h"
#include "runner/base/text.h"

namespace firedrill::load {
namespace {

size_t Discard(char*, size_t size, size_t count, void*) noexcept { return size * count; }

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

class CurlWorker final : public Worker {
 public:
  explicit CurlWorker(WorkerSpec spec) : spec_(std::move(spec)) {
    if (spec_.rate > 0) schedule_ = Schedule(spec_.rate, spec_.start);
  }

  ~CurlWorker() override {
    // libcurl's order: handles out of the multi (Run did that), then each handle, then
    // the multi, which closes the pooled connections (telling OnSocket: epoll stays open).
    for (CURL* h : handles_) curl_easy_cleanup(h);
    if (multi_) curl_multi_cleanup(multi_);
    curl_slist_free_all(headers_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  Status Setup();
  void Run() override;
  void Stop() override {
    stop_ = true;
    eventfd_write(wake_fd_, 1);
  }
  const HttpLoadStats& stats() const override { return stats_; }
  Clock::time_point ended() const override { return ended_; }

 private:
  // What epoll holds for each socket (by descriptor). A socket libcurl stops watching
  // between two requests on a keep-alive connection is silenced, not removed, which saves
  // a system call per request; an event on a silenced socket (the peer closed it, say)
  // removes it for good.
  enum class Watch : uint8_t { kNone, kActive, kSilenced };

  Watch& WatchOf(curl_socket_t fd) {
    if (static_cast<size_t>(fd) >= watch_.size()) watch_.resize(static_cast<size_t>(fd) + 64);
    return watch_[static_cast<size_t>(fd)];
  }

  // libcurl says which sockets to watch, and for what; called from inside libcurl.
  static int OnSocket(CURL*, curl_socket_t fd, int what, void* self, void*) noexcept;
  static int OnTimer(CURLM*, long timeout_ms, void* self) noexcept {
    auto* w = static_cast<CurlWorker*>(self);
    if (timeout_ms < 0) {
      w->curl_deadline_.reset();
    } else {
      w->curl_deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  bool Cancelled() const { return stop_.load() || (spec_.cancelled && spec_.cancelled()); }
  size_t IndexOf(CURL* h) const {
    char* p = nullptr;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, &p);
    return static_cast<size_t>(reinterpret_cast<intptr_t>(p));
  }
  void Record(CURL* h, CURLcode rc, Clock::time_point now);
  void Collect(std::vector<CURL*>& idle);
  void Abandon(std::string why) {
    ended_ = Clock::now();
    stats_.unsent = schedule_.UnsentAt(ended_);
    for (CURL* h : handles_) curl_multi_remove_handle(multi_, h);
    stats_.stopped_early = std::move(why);
  }

  WorkerSpec spec_;
  Schedule schedule_;
  CURLM* multi_ = nullptr;
  std::vector<CURL*> handles_;  // CURLOPT_PRIVATE holds each one's index
  std::vector<Clock::time_point> sent_;
  std::vector<Clock::time_point> intended_;
  curl_slist* headers_ = nullptr;
  CurlUrl url_;         // shared, read-only, by every handle
  ConnectGuard guard_;  // one for all handles: they all run on this worker's thread
  int epoll_fd_ = -1;
  int wake_fd_ = -1;                                // an eventfd: Stop ends the wait at once
  std::optional<Clock::time_point> curl_deadline_;  // libcurl's timer (TIMERFUNCTION)
  std::atomic<bool> stop_{false};
  std::vector<Watch> watch_;
  HttpLoadStats stats_;
  Clock::time_point ended_{};
};

int CurlWorker::OnSocket(CURL*, curl_socket_t fd, int what, void* self, void*) noexcept {
  auto* worker = static_cast<CurlWorker*>(self);
  Watch& w = worker->WatchOf(fd);
  epoll_event ev{};
  ev.data.fd = fd;
  if (what == CURL_POLL_REMOVE) {
    if (w == Watch::kActive) {
      // Fails only if the socket was closed meanwhile, which removed it from epoll.
      w = epoll_ctl(worker->epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0 ? Watch::kSilenced
                                                                    : Watch::kNone;
    }
    return 0;
  }
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  // `w` may be stale (a descriptor closed and reused drops out of epoll by itself): if
  // the operation it implies fails, the other one is right.
  int op = w == Watch::kNone ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(worker->epoll_fd_, op, fd, &ev) != 0) {
    op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(worker->epoll_fd_, op, fd, &ev) != 0) {
      w = Watch::kNone;
      return 0;
    }
  }
  w = Watch::kActive;
  return 0;
}

Status CurlWorker::Setup() {
  const HttpLoadSpec& spec = *spec_.load;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Status::Internal("epoll_create1: " + ErrnoText(errno));
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::Internal("eventfd: " + ErrnoText(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return Status::Internal("epoll_ctl: " + ErrnoText(errno));
  }
  multi_ = curl_multi_init();
  if (!multi_) return Status::Internal("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // One request per connection at a time: `connections` connections, as asked.
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(spec_.connections));
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(spec_.connections));
  // A large body would otherwise wait up to a second for "100 Continue". Only then: a
  // header list costs libcurl work on every request.
  if (spec.body && spec.body->size() > 1024) {
    headers_ = curl_slist_append(nullptr, "Expect:");
    if (!headers_) return Status::Internal("out of memory building headers");
  }
  // Parsed once here rather than by libcurl for every request.
  auto parsed = ParseDrillUrl(spec.url);
  if (!parsed.ok()) return Status::Invalid("URL " + spec.url + " " + parsed.status().message());
  url_ = std::move(*parsed);
  guard_.policy = spec.policy;
  sent_.resize(static_cast<size_t>(spec_.connections));
  intended_.resize(static_cast<size_t>(spec_.connections));
  for (int64_t i = 0; i < spec_.connections; ++i) {
    CURL* h = curl_easy_init();
    if (!h) return Status::Internal("curl_easy_init failed");
    handles_.push_back(h);
    curl_easy_setopt(h, CURLOPT_PRIVATE, reinterpret_cast<char*>(static_cast<intptr_t>(i)));
    ApplyLocalOnly(h, &guard_);
    curl_easy_setopt(h, CURLOPT_CURLU, url_.get());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.timeout.count()));
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Discard);
    if (headers_) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_);
    if (spec.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (spec.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
    }
    if (spec.body) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(spec.body->size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, spec.body->c_str());
      // POSTFIELDS turns the request into a POST; keep the method the drill asked for.
      if (spec.method == "GET") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "GET");
    }
  }
  return Status::Ok();
}

// Latency is from the request's start (added to the multi handle) to the moment its
// response was complete, as this thread saw it: what a client of the service waits.
void CurlWorker::Record(CURL* h, CURLcode rc, Clock::time_point now) {
  ++stats_.requests;
  long connects = 0;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  stats_.connections += static_cast<uint64_t>(connects);
  if (rc != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT && IsLocalShortage(static_cast<int>(os_errno))) {
      --stats_.requests;
      ++stats_.local_errors;
      if (stats_.first_local_error.empty()) stats_.first_local_error = ErrnoText(os_errno);
      return;
    }
    ++stats_.transport_errors;
    if (stats_.first_error.empty()) stats_.first_error = TransferErrorText(h, rc, guard_);
    return;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 500) ++stats_.server_errors;
  const size_t i = IndexOf(h);
  auto micros = [now](Clock::time_point from) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - from).count();
    return static_cast<uint64_t>(std::max<int64_t>(us, 0));
  };
  stats_.latency.Record(micros(sent_[i]));
  if (schedule_.paced()) stats_.intended.Record(micros(intended_[i]));
}

// Collects finished transfers; their handles become idle again.
void CurlWorker::Collect(std::vector<CURL*>& idle) {
  const Clock::time_point now = Clock::now();
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL* h = m->easy_handle;
    Record(h, m->data.result, now);
    curl_multi_remove_handle(multi_, h);
    idle.push_back(h);
  }
}

int CeilMs(Clock::duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  const auto most = std::chrono::duration_cast<std::chrono::milliseconds>(kSweep).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, most));
}

void CurlWorker::Run() {
  pthread_setname_np(pthread_self(), "fd-http-load");  // for top -H, and the benchmark
  std::vector<CURL*> idle(handles_.rbegin(), handles_.rend());
  epoll_event events[64];
  int running = 0;
  while (!Cancelled()) {
    Clock::time_point now = Clock::now();
    while (!idle.empty() && (!schedule_.paced() || schedule_.next_due() <= now)) {
      CURL* h = idle.back();
      const size_t i = IndexOf(h);
      sent_[i] = now;
      intended_[i] = schedule_.paced() ? schedule_.Take() : now;
      if (now - intended_[i] > kLateAfter) ++stats_.late;
      CURLMcode mc = curl_multi_add_handle(multi_, h);
      if (mc != CURLM_OK) return Abandon(curl_multi_strerror(mc));
      idle.pop_back();
    }
    // New transfers start from libcurl's timer (adding one sets it to 0 ms).
    if (curl_deadline_ && *curl_deadline_ <= Clock::now()) {
      curl_deadline_.reset();
      CURLMcode mc = curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      if (mc != CURLM_OK) return Abandon(curl_multi_strerror(mc));
      Collect(idle);
    }
    if (!schedule_.paced() && !idle.empty()) continue;  // refill at once
    int wait = CeilMs(kSweep);
    if (curl_deadline_) wait = std::min(wait, CeilMs(*curl_deadline_ - Clock::now()));
    if (schedule_.paced() && !idle.empty()) {
      wait = std::min(wait, CeilMs(schedule_.next_due() - Clock::now()));
    }
    const int ready = epoll_wait(epoll_fd_, events, 64, wait);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) continue;  // Stop: seen at the top of the loop
      if (WatchOf(fd) == Watch::kSilenced) {
        // Error and hang-up are reported even with no events asked for.
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        WatchOf(fd) = Watch::kNone;
        continue;
      }
      const uint32_t e = events[i].events;
      const int flags = ((e & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                        ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                        ((e & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
      CURLMcode mc = curl_multi_socket_action(multi_, fd, flags, &running);
      if (mc != CURLM_OK) return Abandon(curl_multi_strerror(mc));
    }
    Collect(idle);
  }
  Abandon("");
}

}  // namespace

Result<std::unique_ptr<Worker>> MakeCurlWorker(WorkerSpec spec) {
  auto w = std::make_unique<CurlWorker>(std::move(spec));
  FD_RETURN_IF_ERROR(w->Setup());
  return std::unique_ptr<Worker>(std::move(w));
}

}  // namespace firedrill::load
