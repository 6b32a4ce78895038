// http: one request through libcurl; checks status, body and latency.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "probes/http_client.h"
#include "runner/base/curl.h"
#include "runner/base/regex.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

// A health check needs the start of a body, not all of it; an endless stream must not
// grow without bound.
constexpr size_t kBodyCap = 1 << 20;

std::string RangeText(StatusRange r) {
  if (r.lo == r.hi) return std::to_string(r.lo);
  return std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

// What an http probe sends and how it judges the answer. Shared with the samples in
// flight, so that a probe destroyed meanwhile leaves none of them pointing at it. Used by
// one sample at a time (the Probe contract): the body pattern caches its expansion.
class HttpCheck {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the check.
  HttpCheck(const Params& p, const RunContext& ctx)
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

  const RunContext& ctx() const { return ctx_; }

  // The request for this sample, its references expanded.
  Result<HttpRequestSpec> Request(const SampleVars& vars) const {
    auto url = ctx_.expander->Expand(url_, vars.seq);
    if (!url.ok()) return url.status();
    std::optional<std::string> body;
    if (body_) {
      auto b = ctx_.expander->Expand(*body_, vars.seq);
      if (!b.ok()) return b.status();
      body = std::move(*b);
    } else if (method_ == "POST" || method_ == "PUT" || method_ == "PATCH") {
      // An empty body still gets "Content-Length: 0", which some servers insist on.
      body.emplace();
    }
    HttpRequestSpec req{.method = method_,
                        .url = std::move(*url),
                        .body = std::move(body),
                        .timeout = timeout_,
                        .max_body_bytes = kBodyCap,
                        .policy = ctx_.network};
    for (const auto& [name, value] : headers_) {
      auto v = ctx_.expander->Expand(value, vars.seq);
      if (!v.ok()) return v.status();
      req.headers.emplace_back(name, std::move(*v));
    }
    return req;
  }

  ProbeOutcome Judge(const SampleVars& vars, const Result<HttpResponse>& resp) {
    if (!resp.ok()) return {false, resp.status().message()};
    const long code = resp->status;
    const int64_t ms = resp->elapsed.count();
    const std::string& resp_body = resp->body;
    if (code < status_.lo || code > status_.hi) {
      return {false, std::to_string(code) + " (expected " + RangeText(status_) + ")"};
    }
    if (body_re_) {
      auto re = body_re_->Compile(*ctx_.expander, vars.seq);
      if (!re.ok()) return {false, re.status().message()};
      if (!RegexSearch(**re, resp_body)) {
        return {false, std::to_string(code) + ", body " + Quoted(resp_body) + " does not match " +
                           body_re_->Shown()};
      }
    }
    if (max_latency_ && ms > max_latency_->count()) {
      return {false, "latency " + std::to_string(ms) + "ms > " + FormatDuration(*max_latency_)};
    }
    return {true, std::to_string(code) + " in " + std::to_string(ms) + "ms"};
  }

 private:
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

class HttpProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe and its samples.
  HttpProbe(const Params& p, const RunContext& ctx) : check_(std::make_shared<HttpCheck>(p, ctx)) {}

  ProbeOutcome Sample(const SampleVars& vars) override {
    auto req = check_->Request(vars);
    if (!req.ok()) return {false, req.status().message()};
    return check_->Judge(vars, HttpRequest(*req, check_->ctx().cancel));
  }

  void SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done) override {
    auto req = check_->Request(vars);
    if (!req.ok()) return done({false, req.status().message()});
    HttpRequestAsync(
        *req, loop, check_->ctx().cancel,
        [check = check_, vars, done = std::move(done)](Result<HttpResponse> resp) {
          done(check->Judge(vars, resp));
        },
        &session_);
  }

 private:
  std::shared_ptr<HttpCheck> check_;
  HttpSession session_;  // one sample at a time (the Probe contract)
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
  FD_RETURN_IF_ERROR(InitCurl());
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
