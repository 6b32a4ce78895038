// http: one request through libcurl; checks status, body and latency.
#include <curl/curl.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>

#include "probes/probe.h"
#include "probes/probe_util.h"
#include "runner/values.h"

namespace firedrill {
namespace {

// A health check needs the start of a body, not all of it; an endless stream must not
// grow without bound.
constexpr size_t kBodyCap = 1 << 20;

// curl_global_init is not thread-safe and probes are built on several threads.
Status InitCurlOnce() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  return Status::Ok();
}

struct Transfer {
  std::string body;
  bool truncated = false;
  const RunContext* ctx = nullptr;
};

// Called from inside libcurl, which is C: nothing may be thrown through these.
size_t OnBody(char* data, size_t size, size_t count, void* user) noexcept {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  try {
    if (t->body.size() + n > kBodyCap) {
      t->body.append(data, kBodyCap - t->body.size());
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
  return static_cast<Transfer*>(user)->ctx->cancelled() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::string RangeText(StatusRange r) {
  if (r.lo == r.hi) return std::to_string(r.lo);
  return std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

class HttpProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe.
  HttpProbe(const Params& p, const RunContext& ctx)
      : url_(p.String("url")),
        method_(p.String("method")),
        timeout_(p.Duration("timeout")),
        ctx_(ctx) {
    if (p.Has("headers")) headers_ = p.Map("headers");
    if (p.Has("body")) body_ = p.String("body");
    const Params& e = p.Object("expect");
    status_ = e.Range("status");
    if (e.Has("body_matches")) body_re_.emplace(e.String("body_matches"));
    if (e.Has("max_latency")) max_latency_ = e.Duration("max_latency");
  }

  ProbeOutcome Sample(const SampleVars& vars) override {
    auto url = ctx_.expander->Expand(url_, vars.seq);
    if (!url.ok()) return {false, url.status().message()};
    std::optional<std::string> body;
    if (body_) {
      auto b = ctx_.expander->Expand(*body_, vars.seq);
      if (!b.ok()) return {false, b.status().message()};
      body = std::move(*b);
    } else if (method_ == "POST" || method_ == "PUT" || method_ == "PATCH") {
      // An empty body still gets "Content-Length: 0", which some servers insist on.
      body.emplace();
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    for (const auto& [name, value] : headers_) {
      auto v = ctx_.expander->Expand(value, vars.seq);
      if (!v.ok()) return {false, v.status().message()};
      // "Name:" alone would delete a header curl adds itself; "Name;" sends it empty.
      std::string line = v->empty() ? name + ";" : name + ": " + *v;
      curl_slist* next = curl_slist_append(headers.get(), line.c_str());
      if (!next) return {false, "out of memory building headers"};
      headers.release();
      headers.reset(next);
    }

    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return {false, "curl_easy_init failed"};
    CURL* c = curl.get();
    Transfer t;
    t.ctx = &ctx_;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url->c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    // Sampling threads must not get SIGALRM from curl's resolver timeouts.
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    // A drill sends traffic only where it says: never through a proxy from the
    // environment (http_proxy, ...), and never follow a redirect elsewhere.
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    // Each sample measures a fresh connection, as a new client would see the service.
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    if (method_ == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method_ != "GET") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_.c_str());
    }
    if (body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str());
      // POSTFIELDS turns the request into a POST; keep the method the drill asked for.
      if (method_ == "GET") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
    }
    if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.truncated)) {
      return {false, TransferError(c, rc, errbuf)};
    }

    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_off_t total_us = 0;
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);
    const int64_t ms = total_us / 1000;
    if (code < status_.lo || code > status_.hi) {
      return {false, std::to_string(code) + " (expected " + RangeText(status_) + ")"};
    }
    if (body_re_) {
      auto re = body_re_->Compile(*ctx_.expander, vars.seq);
      if (!re.ok()) return {false, re.status().message()};
      switch (BoundedSearch(**re, t.body, std::chrono::steady_clock::now() + kMatchBudget)) {
        case SearchResult::kFound:
          break;
        case SearchResult::kNotFound:
          return {false, std::to_string(code) + ", body " + Quoted(t.body) + " does not match " +
                             body_re_->Shown()};
        case SearchResult::kGaveUp:
          return {false, std::to_string(code) + ", matching the body against " + body_re_->Shown() +
                             " took too long, gave up"};
      }
    }
    if (max_latency_ && ms > max_latency_->count()) {
      return {false, "latency " + std::to_string(ms) + "ms > " + FormatDuration(*max_latency_)};
    }
    return {true, std::to_string(code) + " in " + std::to_string(ms) + "ms"};
  }

 private:
  std::string TransferError(CURL* c, CURLcode rc, const char* errbuf) const {
    if (rc == CURLE_OPERATION_TIMEDOUT) return "timed out after " + FormatDuration(timeout_);
    if (rc == CURLE_ABORTED_BY_CALLBACK) return "cancelled";
    long os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
      return ErrnoText(static_cast<int>(os_errno));
    }
    return OneLine(errbuf[0] ? errbuf : curl_easy_strerror(rc));
  }

  std::string url_;
  std::string method_;
  std::map<std::string, std::string> headers_;
  std::optional<std::string> body_;
  Millis timeout_;
  StatusRange status_;
  std::optional<Pattern> body_re_;
  std::optional<Millis> max_latency_;
  const RunContext& ctx_;
};

constexpr const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

constexpr FieldSpec kExpectFields[] = {
    {.name = "status",
     .type = FieldType::kStatusRange,
     .doc = "status code, or [lo, hi] inclusive",
     .default_value = "[200, 399]"},
    {.name = "body_matches", .type = FieldType::kRegex, .doc = "regex searched for in the body"},
    {.name = "max_latency",
     .type = FieldType::kDuration,
     .doc = "slower answers fail",
     .min = 1,
     .max = 600000},
};

constexpr FieldSpec kFields[] = {
    {.name = "url", .type = FieldType::kUrl, .doc = "http:// or https:// URL", .required = true},
    {.name = "method",
     .type = FieldType::kEnum,
     .doc = "request method",
     .default_value = "GET",
     .choices = kMethods},
    {.name = "headers", .type = FieldType::kStringMap, .doc = "request headers"},
    {.name = "body", .type = FieldType::kString, .doc = "request body"},
    {.name = "timeout",
     .type = FieldType::kDuration,
     .doc = "whole-request timeout",
     .default_value = "5s",
     .min = 1,
     .max = 600000},
    {.name = "expect",
     .type = FieldType::kObject,
     .doc = "what passing means",
     .fields = kExpectFields},
};

// REQUIRES: ctx.expander is set and ctx outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  FD_RETURN_IF_ERROR(InitCurlOnce());
  return std::unique_ptr<Probe>(new HttpProbe(p, ctx));
}

}  // namespace

extern const ProbeKind kHttpProbe = {
    .name = "http",
    .doc = "send an HTTP request; pass on the expected status, body and latency",
    .fields = kFields,
    .example =
        R"({http: {url: "http://127.0.0.1:8080/health", expect: {status: 200, max_latency: 500ms}}})",
    .check = nullptr,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
