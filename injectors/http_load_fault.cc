// http.load: request load against a URL, from a thread of the runner driving a libcurl
// multi handle (injectors/load_http.h).
#include <fmt/format.h>

#include <cmath>

#include "injectors/journaled_fault.h"
#include "injectors/support/http_load_engine.h"
#include "runner/base/curl.h"
#include "runner/drill/fault.h"

namespace firedrill {
namespace {

// The load thread dies with the runner, however it ends, so the journal only records
// that it ran (`in-process`); stopping it is this object's job, and the journal entry is
// marked done with the figures once it has stopped.
class HttpLoadFault final : public JournaledFault {
 public:
  HttpLoadFault(std::string name, HttpLoadSpec spec, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), spec_(std::move(spec)) {}

  // libcurl's one-off global set-up (TLS libraries included) happens here, not while the
  // fault clock runs; and a URL that a ${...} reference made unusable stops the run
  // before anything starts, not when the load is due.
  Status Prepare() override {
    FD_RETURN_IF_ERROR(InitCurl());
    auto url = ctx().expander->Expand(spec_.url);
    if (!url.ok()) return url.status();
    if (auto parsed = ParseDrillUrl(*url); !parsed.ok()) {
      return Status::Invalid("URL " + *url + " " + parsed.status().message());
    }
    return Status::Ok();
  }

  Result<std::string> Rollback() override {
    const HttpLoadStats st = load_->Stop();
    // Known only now: the figures cover the whole duration of the load.
    SetFigure("requests", static_cast<double>(st.requests));
    SetFigure("errors", static_cast<double>(st.transport_errors + st.server_errors));
    SetFigure("transport_errors", static_cast<double>(st.transport_errors));
    SetFigure("server_errors", static_cast<double>(st.server_errors));
    SetFigure("connections", static_cast<double>(st.connections));
    SetFigure("duration_ms", std::round(st.seconds * 1000));
    if (st.seconds > 0) SetFigure("rate", static_cast<double>(st.requests) / st.seconds);
    // Without a single response there is no latency to speak of: left out, not 0.
    if (st.latency.count() > 0) {
      SetFigure("latency_ms.p50", st.latency.Percentile(0.5) / 1000);
      SetFigure("latency_ms.p99", st.latency.Percentile(0.99) / 1000);
    }
    return Finish("stopped: " + DescribeHttpLoad(st));
  }

 private:
  Result<std::string> Apply() override {
    HttpLoadSpec spec = spec_;
    auto url = ctx().expander->Expand(spec.url);
    if (!url.ok()) return url.status();
    spec.url = std::move(*url);
    if (spec.body) {
      auto body = ctx().expander->Expand(*spec.body);
      if (!body.ok()) return body.status();
      spec.body = std::move(*body);
    }
    std::string pace = spec.rate > 0 ? fmt::format("{} req/s", spec.rate) : "full speed";
    std::string what = fmt::format("{} {} at {} over {} connections", spec.method, spec.url, pace,
                                   spec.concurrency);
    auto recorded = Record("in-process", {{"what", "http.load thread (" + what + ")"}});
    if (!recorded.ok()) return recorded.status();
    // The run's teardown, or the operator's Ctrl-C, ends the load at once.
    auto load = HttpLoad::Start(std::move(spec), [&ctx = ctx()] { return ctx.cancelled(); });
    if (!load.ok()) {
      (void)Finish("never started: " + load.status().message());
      return load.status();
    }
    load_ = std::move(*load);
    return what;
  }

  HttpLoadSpec spec_;
  std::unique_ptr<HttpLoad> load_;  // stops the load when the fault is dropped
};

constexpr const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};

constexpr FieldSpec kFields[] = {
    {.name = "url",
     .type = FieldType::kUrl,
     .doc = "target URL (loopback or a named host)",
     .required = true},
    {.name = "rate",
     .type = FieldType::kInt,
     .doc = "requests per second, paced on a schedule; 0 = as fast as the connections allow",
     .default_value = "0",
     .min = 0,
     .max = 1000000},
    {.name = "concurrency",
     .type = FieldType::kInt,
     .doc = "keep-alive connections, one request in flight on each",
     .default_value = "8",
     .min = 1,
     .max = 10000},
    {.name = "method",
     .type = FieldType::kEnum,
     .doc = "request method",
     .default_value = "GET",
     .choices = kMethods},
    {.name = "body", .type = FieldType::kString, .doc = "request body"},
};

Result<std::unique_ptr<Fault>> Make(const FaultSpec& f, const RunContext& ctx) {
  HttpLoadSpec spec;
  spec.url = f.with.String("url");
  spec.method = f.with.String("method");
  if (f.with.Has("body")) spec.body = f.with.String("body");
  spec.rate = f.with.Int("rate");
  spec.concurrency = f.with.Int("concurrency");
  spec.timeout = ctx.default_timeout;
  spec.policy = ctx.network;
  return std::unique_ptr<Fault>(new HttpLoadFault(f.name, std::move(spec), ctx));
}

}  // namespace

extern const FaultAction kHttpLoad = {
    .name = "http.load",
    .doc = "send HTTP load at a rate over N keep-alive connections; reports rate, errors, p50/p99",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kFields,
    .example =
        R"({name: spike, at: 0s, action: http.load, with: {url: "http://127.0.0.1:8080/", rate: 2000, concurrency: 32}, duration: 20s})",
    .check = nullptr,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
