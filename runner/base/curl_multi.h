// libcurl's multi socket interface on the run's event loop: a transfer waits in the loop's
// epoll (through Asio) for its sockets and its timeout, instead of holding a thread in
// curl_easy_perform. One per EventLoop lane (Of: a lane is an EventLoop), made on first
// use, destroyed with the loop: transfers started on different lanes share nothing.
//
// libcurl's multi handle is not thread-safe, and Perform, Cancel and the loop's destruction
// may come from other threads, so every call on it, and every callback libcurl makes from
// it, runs on one strand (on a lane, that is its one thread). A transfer's `done` runs off
// that strand: turning a large answer into an outcome (a regex over 1 MiB, 8 MiB of JSON)
// holds up no other transfer's socket work.
//
// Threads: libcurl resolves names with its threaded resolver (Debian's build), a thread
// per lookup. A numeric address (127.0.0.1, [::1]) is never looked up, and `localhost` is
// answered by libcurl itself, so the loopback probes of a drill start no thread at all;
// only a named host does, for as long as its lookup takes.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "runner/base/event_loop.h"

namespace firedrill {

class CurlMulti {
 public:
  using Id = uint64_t;
  using Done = std::function<void(CURLcode)>;

  // The instance of `loop` (a lane). Safe from any thread.
  static CurlMulti& Of(EventLoop& loop);

  // Ends every transfer it still has: one in flight with CURLE_ABORTED_BY_CALLBACK, one
  // that ended with its own result; each `done` is called here, on this thread.
  // REQUIRES: no loop thread runs (EventLoop destroys it after joining them); the `done`s
  // called here start no new transfer on this loop.
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // Runs the transfer `easy` is set up for and calls `done` once with its result, on a
  // loop thread (or in the destructor, when the loop ends first): CURLE_OK or libcurl's
  // error; CURLE_ABORTED_BY_CALLBACK when cancelled (Cancel, or `cancel` found true: it is
  // checked every 100 ms); CURLE_OUT_OF_MEMORY or CURLE_FAILED_INIT when the multi handle
  // cannot take it. Sets CURLOPT_CLOSESOCKETFUNCTION on `easy`, so that the loop stops
  // watching a socket before it is closed (and its number reused). Safe from any thread.
  // REQUIRES: `easy` is in no other transfer and untouched until `done`; `cancel` (may be
  // null) outlives the transfer; `done` does not throw.
  Id Perform(CURL* easy, Done done, const std::atomic<bool>* cancel = nullptr);

  // Ends transfer `id` early if it has not ended yet (`done` gets
  // CURLE_ABORTED_BY_CALLBACK); else nothing. Safe from any thread.
  void Cancel(Id id);

  // Transfers whose `done` has not run yet.
  size_t Pending() const;

 private:
  friend class EventLoop;  // makes it, through Service
  explicit CurlMulti(EventLoop& loop);

  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace firedrill
