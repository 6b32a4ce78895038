#include "probes/http_client.h"

#include <curl/curl.h>

#include <climits>
#include <memory>
#include <mutex>
#include <new>

#include "runner/base/curl.h"
#include "runner/base/text.h"
#include "runner/base/values.h"

namespace firedrill {
namespace {

struct Transfer {
  ConnectGuard guard;
  std::string body;
  size_t cap = 0;
  bool truncated = false;
  const std::atomic<bool>* cancel = nullptr;
};

// Called from inside libcurl, which is C: nothing may be thrown through these.
size_t OnBody(char* data, size_t size, size_t count, void* user) noexcept {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  try {
    if (t->body.size() + n > t->cap) {
      t->body.append(data, t->cap - t->body.size());
      t->truncated = true;
      return 0;  // stops the transfer (CURLE_WRITE_ERROR); what arrived is judged
    }
    t->body.append(data, n);
  } catch (const std::bad_alloc&) {
    return 0;
  }
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept {
  const auto* t = static_cast<const Transfer*>(user);
  return t->cancel && t->cancel->load() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

Status TransferError(CURL* c, CURLcode rc, const char* errbuf, const Transfer& t, Millis timeout) {
  // Refused by the policy, and no other address was connected instead.
  if (rc == CURLE_COULDNT_CONNECT && !t.guard.refused.empty()) {
    return Status::Failed(t.guard.refused);
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Status::Timeout("timed out after " + FormatDuration(timeout));
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::Failed("cancelled");
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
    return Status::Failed(ErrnoText(static_cast<int>(os_errno)));
  }
  return Status::Failed(OneLine(errbuf[0] ? errbuf : curl_easy_strerror(rc)));
}

}  // namespace

// What one caller keeps between its requests: libcurl's handle (its buffers are allocated
// once, not at every sample) and the last URL parsed. Never a connection: each request
// still opens and closes its own.
struct HttpSession::State {
  std::unique_ptr<CURL, CurlDeleter> curl;
  std::string url_text;  // what `url` was parsed from
  CurlUrl url;
};

HttpSession::HttpSession() : s_(std::make_shared<State>()) {}
HttpSession::~HttpSession() = default;

namespace {

// One request: its spec (the body libcurl sends from), and everything libcurl points at
// while it runs, in one place that lives as long as the transfer.
struct Call {
  Call(const HttpRequestSpec& s, std::shared_ptr<HttpSession::State> session)
      : spec(s), session(std::move(session)) {}
  HttpRequestSpec spec;
  Transfer t;
  // The handle and URL: the session's when there is one, else this call's own.
  std::shared_ptr<HttpSession::State> session;
  CurlUrl url;
  std::unique_ptr<CURL, CurlDeleter> curl;
  CURL* easy = nullptr;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  char errbuf[CURL_ERROR_SIZE] = "";
};

// The call's handle, its options reset, and its parsed URL: the session's when there is one
// (the URL parsed again only when its text changed), else new ones of the call's own.
Status Handle(Call& call) {
  const std::string& text = call.spec.url;
  HttpSession::State* s = call.session.get();
  CurlUrl* url = s ? &s->url : &call.url;
  if (!s || !s->url || s->url_text != text) {
    auto parsed = ParseDrillUrl(text);
    if (!parsed.ok())
      return Status::Invalid("URL " + OneLine(text) + " " + parsed.status().message());
    *url = std::move(*parsed);
    if (s) s->url_text = text;
  }
  auto& handle = s ? s->curl : call.curl;
  if (handle) {
    curl_easy_reset(handle.get());  // every option back to its default; buffers kept
  } else {
    handle.reset(curl_easy_init());
    if (!handle) return Status::Internal("curl_easy_init failed");
  }
  call.easy = handle.get();
  curl_easy_setopt(call.easy, CURLOPT_CURLU, url->get());
  return Status::Ok();
}

// Sets up call.easy for call.spec: every option, both ways of waiting share (on_loop: a
// CurlMulti transfer, else curl_easy_perform on this thread).
Status Setup(Call& call, const std::atomic<bool>* cancel, bool on_loop) {
  const HttpRequestSpec& spec = call.spec;
  auto add = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(call.headers.get(), line.c_str());
    if (!next) return false;
    call.headers.release();
    call.headers.reset(next);
    return true;
  };
  bool connection = false;
  for (const auto& [name, value] : spec.headers) {
    connection = connection || curl_strequal(name.c_str(), "Connection");
    // "Name:" alone would delete a header curl adds itself; "Name;" sends it empty.
    if (!add(value.empty() ? name + ";" : name + ": " + value)) {
      return Status::Internal("out of memory building headers");
    }
  }
  // The connection is used once, so the request says so (unless the drill says otherwise):
  // the server closes first, and the wait after a close (TIME_WAIT) stays with it. Were it
  // firedrill's, a thousand probes would leave tens of thousands of its ports waiting, and
  // every connect would search longer for a free one (at 10,000 requests a second, within
  // seconds: bench/README.md).
  if (!connection && !add("Connection: close")) {
    return Status::Internal("out of memory building headers");
  }

  // The URL as parsed and checked there, not parsed again from text.
  FD_RETURN_IF_ERROR(Handle(call));
  CURL* c = call.easy;
  Transfer& t = call.t;
  t.guard.policy = spec.policy;
  t.cap = spec.max_body_bytes;
  t.cancel = cancel;
  ApplyLocalOnly(c, &t.guard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, call.errbuf);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.timeout.count()));
  // Each request measures a fresh connection, as a new client would see the service.
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  // Waited for on the loop, the transfer's cancel flag is CurlMulti's to watch; a thread
  // in curl_easy_perform has only libcurl's progress callback to notice it.
  if (cancel && !on_loop) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  }
  if (spec.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (spec.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
  }
  if (spec.body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(spec.body->size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, spec.body->c_str());
    // POSTFIELDS turns the request into a POST; keep the method the caller asked for.
    if (spec.method == "GET") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
  }
  if (call.headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, call.headers.get());
  return Status::Ok();
}

// What the transfer that ended with `rc` comes to.
Result<HttpResponse> Finish(Call& call, CURLcode rc) {
  CURL* c = call.easy;
  Transfer& t = call.t;
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.truncated)) {
    return TransferError(c, rc, call.errbuf, t, call.spec.timeout);
  }
  HttpResponse r;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_off_t total_us = 0;
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);
  r.elapsed = Millis(total_us / 1000);
  r.body = std::move(t.body);
  r.truncated = t.truncated;
  // A session's handle outlives this call: nothing of it may point here any more.
  if (call.session) {
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, nullptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
  }
  return r;
}

Result<HttpResponse> Perform(const HttpRequestSpec& spec, const std::atomic<bool>* cancel) {
  Call call(spec, nullptr);
  FD_RETURN_IF_ERROR(Setup(call, cancel, /*on_loop=*/false));
  return Finish(call, curl_easy_perform(call.easy));
}

}  // namespace

Result<HttpResponse> HttpRequest(const HttpRequestSpec& spec, const std::atomic<bool>* cancel) {
  FD_RETURN_IF_ERROR(InitCurl());
  // Strings built here may run out of memory; that must not unwind through a sampler.
  try {
    return Perform(spec, cancel);
  } catch (const std::bad_alloc&) {
    return Status::Internal("out of memory");
  }
}

void HttpCall::Cancel() const {
  if (multi_) multi_->Cancel(id_);
}

HttpCall HttpRequestAsync(const HttpRequestSpec& spec, EventLoop& loop,
                          const std::atomic<bool>* cancel, HttpDone done, HttpSession* session) {
  // As in HttpRequest: running out of memory here must not unwind through a sampler.
  std::shared_ptr<Call> call;
  Status setup = InitCurl();
  if (setup.ok()) {
    try {
      call = std::make_shared<Call>(spec, session ? session->s_ : nullptr);
      setup = Setup(*call, cancel, /*on_loop=*/true);
    } catch (const std::bad_alloc&) {
      setup = Status::Internal("out of memory");
    }
  }
  if (!setup.ok()) {
    loop.Post([setup, done = std::move(done)] { done(setup); });
    return HttpCall();
  }
  CurlMulti& multi = CurlMulti::Of(loop);
  HttpCall handle;
  handle.multi_ = &multi;
  // `call` lives in the callback, so until the transfer has ended, whoever started it.
  CURL* easy = call->easy;
  handle.id_ = multi.Perform(
      easy,
      [call, done = std::move(done)](CURLcode rc) {
        done([&]() -> Result<HttpResponse> {
          try {
            return Finish(*call, rc);
          } catch (const std::bad_alloc&) {
            return Status::Internal("out of memory");
          }
        }());
      },
      cancel);
  return handle;
}

Result<std::string> UrlEscape(std::string_view text) {
  FD_RETURN_IF_ERROR(InitCurl());
  if (text.size() > static_cast<size_t>(INT_MAX)) return Status::Invalid("text too long to escape");
  // A null handle is accepted only by libcurl 7.82 and later; a throwaway one works everywhere.
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");
  char* escaped = curl_easy_escape(curl.get(), text.data(), static_cast<int>(text.size()));
  if (!escaped) return Status::Internal("curl_easy_escape failed");
  std::unique_ptr<char, decltype(&curl_free)> owned(escaped, &curl_free);
  return std::string(owned.get());
}

}  // namespace firedrill
