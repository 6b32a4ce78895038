#include "runner/base/curl_multi.h"

#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "runner/base/curl.h"

namespace firedrill {
namespace {

// How soon a transfer notices that its `cancel` flag was set (as the tcp probe does).
constexpr std::chrono::milliseconds kCancelCheck{100};

}  // namespace

struct CurlMulti::State {
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // A socket libcurl asked the loop to watch. The descriptor only borrows the fd: libcurl
  // opened it and closes it (OnClose), so it is released, never closed, here.
  struct Socket {
    explicit Socket(boost::asio::io_context& io) : fd(io) {}
    ~Socket() { Release(); }
    void Release() {
      if (fd.is_open()) fd.release();  // cancels the waits below (operation_aborted)
    }
    boost::asio::posix::stream_descriptor fd;
    int want = 0;  // CURL_POLL_IN | CURL_POLL_OUT, as libcurl last said
    bool reading = false;
    bool writing = false;
  };

  enum class Phase { kQueued, kRunning, kEnded };
  struct Transfer {
    CURL* easy = nullptr;
    Done done;
    const std::atomic<bool>* cancel = nullptr;
    Phase phase = Phase::kQueued;
    CURLcode result = CURLE_OK;
  };

  explicit State(EventLoop& l)
      : loop(l), strand(boost::asio::make_strand(l.io())), timer(l.io()), cancel_timer(l.io()) {}

  // --- Called by libcurl, on the strand, from inside a multi call. C: nothing is thrown.

  static int OnSocket(CURL*, curl_socket_t fd, int what, void* user, void*) noexcept {
    auto* s = static_cast<State*>(user);
    if (what == CURL_POLL_REMOVE) {
      s->Forget(fd);
      return 0;
    }
    try {
      auto it = s->sockets.find(fd);
      if (it == s->sockets.end()) {
        auto sock = std::make_shared<Socket>(s->loop.io());
        boost::system::error_code ec;
        sock->fd.assign(fd, ec);
        // -1 fails the transfers on this socket (libcurl 7.88 and later; earlier ones
        // ignore it, and the transfer ends at its timeout).
        if (ec) return -1;
        it = s->sockets.emplace(fd, std::move(sock)).first;
      }
      it->second->want = what;
      s->Arm(fd, it->second);
    } catch (const std::bad_alloc&) {
      return -1;
    }
    return 0;
  }

  static int OnTimer(CURLM*, long timeout_ms, void* user) noexcept {
    auto* s = static_cast<State*>(user);
    try {
      s->SetTimeout(timeout_ms);
    } catch (const std::bad_alloc&) {
      return -1;
    }
    return 0;
  }

  // libcurl asks for a new timeout at every transfer added and at most of its steps. Each
  // change of the loop's earliest timer costs a syscall that reprograms a kernel timer
  // (slow under virtualisation: it was a third of the CPU at 1,000 probes), so a deadline
  // is armed only when it really moves, and "now" is not a timer at all.
  void SetTimeout(long timeout_ms) {
    const uint64_t generation = ++timeout_generation;
    if (timeout_ms < 0) {  // no timeout wanted now
      if (timer_armed) timer.cancel();
      timer_armed = false;
      return;
    }
    if (timeout_ms == 0) {
      // "As soon as possible", which is not "from inside this callback": libcurl must not
      // be re-entered. A deadline set after this one makes it stale.
      if (timer_armed) timer.cancel();
      timer_armed = false;
      boost::asio::post(strand, [this, generation] {
        if (generation == timeout_generation) Action(CURL_SOCKET_TIMEOUT, 0);
      });
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    // The same deadline to the millisecond: the armed timer already serves it.
    if (timer_armed && std::chrono::abs(deadline - timer.expiry()) < std::chrono::milliseconds(1)) {
      timer_generation = generation;
      return;
    }
    timer.expires_at(deadline);  // cancels a wait still pending
    timer_armed = true;
    timer_generation = generation;
    timer.async_wait(boost::asio::bind_executor(strand, [this](boost::system::error_code ec) {
      if (ec) return;  // cancelled or moved: a newer deadline has its own wait
      timer_armed = false;
      if (timer_generation == timeout_generation) Action(CURL_SOCKET_TIMEOUT, 0);
    }));
  }

  // libcurl closes every socket of these transfers through here. One the loop watches is
  // closed by the loop, which thereby stops watching it before its number can mean another
  // file (and, as closing takes it out of epoll anyway, without a syscall to say so).
  static int OnClose(void* user, curl_socket_t fd) noexcept {
    auto* s = static_cast<State*>(user);
    auto it = s->sockets.find(fd);
    if (it == s->sockets.end()) return ::close(fd);
    std::shared_ptr<Socket> sock = std::move(it->second);
    s->sockets.erase(it);
    boost::system::error_code ec;
    sock->fd.close(ec);  // its waits end as operation_aborted
    return ec ? -1 : 0;
  }

  // --- On the strand.

  // Waits for what libcurl wants of `fd` and is not waited for yet.
  void Arm(curl_socket_t fd, const std::shared_ptr<Socket>& sock) {
    using Wait = boost::asio::posix::descriptor_base::wait_type;
    auto wait = [&](Wait w, bool Socket::*busy, int event) {
      (*sock).*busy = true;
      auto ready = [this, fd, sock, busy, event](boost::system::error_code ec) {
        (*sock).*busy = false;
        Ready(fd, sock, event, ec);
      };
      sock->fd.async_wait(w, boost::asio::bind_executor(strand, std::move(ready)));
    };
    if ((sock->want & CURL_POLL_IN) && !sock->reading) {
      wait(Wait::wait_read, &Socket::reading, CURL_CSELECT_IN);
    }
    if ((sock->want & CURL_POLL_OUT) && !sock->writing) {
      wait(Wait::wait_write, &Socket::writing, CURL_CSELECT_OUT);
    }
  }

  void Ready(curl_socket_t fd, const std::shared_ptr<Socket>& sock, int event,
             boost::system::error_code ec) {
    if (ec == boost::asio::error::operation_aborted) return;  // released
    // A socket libcurl stopped watching, or a new one under the same number.
    auto current = [&] {
      auto it = sockets.find(fd);
      return it != sockets.end() && it->second == sock;
    };
    if (!current()) return;
    const int wanted = event == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
    if (!(sock->want & wanted)) return;
    Action(fd, ec ? CURL_CSELECT_ERR : event);
    // libcurl says only what changes; a socket it still wants is waited for again.
    if (current()) Arm(fd, sock);
  }

  void Action(curl_socket_t fd, int events) {
    int running_handles = 0;
    curl_multi_socket_action(multi, fd, events, &running_handles);
    Reap();
  }

  // Ends the transfers libcurl has finished.
  void Reap() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      // `m` is libcurl's until the handle is removed; read it first.
      CURL* easy = m->easy_handle;
      const CURLcode result = m->data.result;
      auto it = running.find(easy);
      if (it == running.end()) {
        curl_multi_remove_handle(multi, easy);
        continue;
      }
      const Id id = it->second;
      Remove(easy);
      End(id, result);
    }
  }

  void Add(Id id) {
    CURL* easy = nullptr;
    {
      std::lock_guard lock(mu);
      auto it = transfers.find(id);
      if (it == transfers.end() || it->second.phase != Phase::kQueued) return;  // cancelled
      easy = it->second.easy;
    }
    if (!multi) return End(id, CURLE_FAILED_INIT);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &OnClose);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
    // Adding sets a timeout of 0 through OnTimer, which starts the transfer.
    if (CURLMcode mc = curl_multi_add_handle(multi, easy); mc != CURLM_OK) {
      curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, nullptr);
      return End(id, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT);
    }
    bool watch = false;
    {
      std::lock_guard lock(mu);
      Transfer& t = transfers.at(id);
      t.phase = Phase::kRunning;
      watch = t.cancel != nullptr;
    }
    running.emplace(easy, id);
    if (watch) WatchCancels();
  }

  // Takes a running transfer out of the multi handle. Its connection closes there (each
  // transfer uses its own), through OnClose, while this state is alive.
  void Remove(CURL* easy) {
    curl_multi_remove_handle(multi, easy);
    running.erase(easy);
    // The handle is the caller's again, perhaps for a transfer of its own.
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, nullptr);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, nullptr);
  }

  void Abort(Id id) {
    CURL* easy = nullptr;
    {
      std::lock_guard lock(mu);
      auto it = transfers.find(id);
      if (it == transfers.end() || it->second.phase == Phase::kEnded) return;
      if (it->second.phase == Phase::kRunning) easy = it->second.easy;
    }
    if (easy) Remove(easy);
    End(id, CURLE_ABORTED_BY_CALLBACK);
  }

  // Records the result, and calls `done` off the strand.
  void End(Id id, CURLcode result) {
    {
      std::lock_guard lock(mu);
      Transfer& t = transfers.at(id);
      t.phase = Phase::kEnded;
      t.result = result;
    }
    boost::asio::post(loop.io(), [this, id] { Deliver(id); });
  }

  void WatchCancels() {
    if (watching) return;
    watching = true;
    cancel_timer.expires_after(kCancelCheck);
    cancel_timer.async_wait(
        boost::asio::bind_executor(strand, [this](boost::system::error_code ec) {
          watching = false;
          if (!ec) CheckCancels();
        }));
  }

  void CheckCancels() {
    std::vector<Id> cancelled;
    bool more = false;
    {
      std::lock_guard lock(mu);
      for (const auto& [easy, id] : running) {
        const Transfer& t = transfers.at(id);
        if (!t.cancel) continue;
        if (t.cancel->load()) {
          cancelled.push_back(id);
        } else {
          more = true;
        }
      }
    }
    for (Id id : cancelled) Abort(id);
    if (more) WatchCancels();
  }

  // Stops watching `fd`, if it was watched.
  void Forget(curl_socket_t fd) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    it->second->Release();
    sockets.erase(it);
  }

  // --- On any loop thread.

  void Deliver(Id id) {
    Done done;
    CURLcode result;
    {
      std::lock_guard lock(mu);
      auto it = transfers.find(id);
      if (it == transfers.end()) return;
      done = std::move(it->second.done);
      result = it->second.result;
      transfers.erase(it);
    }
    done(result);
  }

  EventLoop& loop;
  Strand strand;
  CURLM* multi = nullptr;  // null when libcurl could not make one

  // On the strand.
  boost::asio::steady_timer timer;  // libcurl's timeout: real time, as libcurl measures it
  bool timer_armed = false;         // a wait on `timer` is pending
  uint64_t timeout_generation = 0;  // libcurl's timeout requests so far
  uint64_t timer_generation = 0;    // the request `timer` serves
  boost::asio::steady_timer cancel_timer;
  bool watching = false;  // cancel_timer is set
  std::map<curl_socket_t, std::shared_ptr<Socket>> sockets;
  std::map<CURL*, Id> running;  // in the multi handle

  // From any thread.
  mutable std::mutex mu;
  std::map<Id, Transfer> transfers;  // until `done` runs
  Id next_id = 1;
};

CurlMulti& CurlMulti::Of(EventLoop& loop) { return loop.Service<CurlMulti>(); }

CurlMulti::CurlMulti(EventLoop& loop) : s_(std::make_unique<State>(loop)) {
  if (!InitCurl().ok()) return;  // every Perform then ends with CURLE_FAILED_INIT
  s_->multi = curl_multi_init();
  if (!s_->multi) return;
  curl_multi_setopt(s_->multi, CURLMOPT_SOCKETFUNCTION, &State::OnSocket);
  curl_multi_setopt(s_->multi, CURLMOPT_SOCKETDATA, s_.get());
  curl_multi_setopt(s_->multi, CURLMOPT_TIMERFUNCTION, &State::OnTimer);
  curl_multi_setopt(s_->multi, CURLMOPT_TIMERDATA, s_.get());
}

CurlMulti::~CurlMulti() {
  State& s = *s_;
  // No loop thread runs, so the strand's work is done here. Handlers still queued never
  // run: they hold only `s` and ids, and go with the io_context.
  while (!s.running.empty()) {
    const Id id = s.running.begin()->second;
    s.Remove(s.running.begin()->first);
    s.End(id, CURLE_ABORTED_BY_CALLBACK);
  }
  if (s.multi) curl_multi_cleanup(s.multi);  // closes what it still has, through OnClose
  s.multi = nullptr;
  s.sockets.clear();
  s.timer.cancel();
  s.timer_armed = false;
  s.cancel_timer.cancel();
  // Every `done` once: the ended with their result, the queued as aborted.
  while (true) {
    Id id = 0;
    {
      std::lock_guard lock(s.mu);
      if (s.transfers.empty()) break;
      auto& [first, t] = *s.transfers.begin();
      id = first;
      if (t.phase != State::Phase::kEnded) {
        t.phase = State::Phase::kEnded;
        t.result = CURLE_ABORTED_BY_CALLBACK;
      }
    }
    s.Deliver(id);
  }
}

CurlMulti::Id CurlMulti::Perform(CURL* easy, Done done, const std::atomic<bool>* cancel) {
  Id id = 0;
  {
    std::lock_guard lock(s_->mu);
    id = s_->next_id++;
    s_->transfers.emplace(id, State::Transfer{easy, std::move(done), cancel});
  }
  boost::asio::post(s_->strand, [s = s_.get(), id] { s->Add(id); });
  return id;
}

void CurlMulti::Cancel(Id id) {
  boost::asio::post(s_->strand, [s = s_.get(), id] { s->Abort(id); });
}

size_t CurlMulti::Pending() const {
  std::lock_guard lock(s_->mu);
  return s_->transfers.size();
}

}  // namespace firedrill
