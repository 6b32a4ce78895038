// http.load: request load against a URL, from load threads of the runner's own
// (injectors/support/http_load_engine.h): Boost.Beast for http, libcurl for https.
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
  // Descriptors for every connection are made sure of now too (the soft RLIMIT_NOFILE
  // raised if it must be), so that a large `concurrency` is never a burst of "errors" that
  // look like the server's.
  Status Prepare() override {
    FD_RETURN_IF_ERROR(InitCurl());
    FD_RETURN_IF_ERROR(ReserveDescriptors(spec_.concurrency));
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
    SetFigure("local_errors", static_cast<double>(st.local_errors));
    SetFigure("connections", static_cast<double>(st.connections));
    SetFigure("threads", static_cast<double>(spec_.threads));
    SetFigure("duration_ms", std::round(st.seconds * 1000));
    if (st.seconds > 0) SetFigure("rate", static_cast<double>(st.requests) / st.seconds);
    SetFigure("cpu_ms", std::round(st.cpu_seconds * 1000));
    if (st.requests > 0) {
      SetFigure("cpu_us_per_request",
                std::round(st.cpu_seconds * 1e7 / static_cast<double>(st.requests)) / 10);
    }
    // Without a single response there is no latency to speak of: left out, not 0.
    // Names written out, not built, so that the docs test finds each one.
    if (const LatencyHistogram& h = st.latency; h.count() > 0) {
      SetFigure("latency_ms.p50", h.Percentile(0.5) / 1000);
      SetFigure("latency_ms.p90", h.Percentile(0.9) / 1000);
      SetFigure("latency_ms.p99", h.Percentile(0.99) / 1000);
      SetFigure("latency_ms.p999", h.Percentile(0.999) / 1000);
      SetFigure("latency_ms.max", static_cast<double>(h.max()) / 1000);
    }
    if (spec_.rate > 0) {
      if (const LatencyHistogram& h = st.intended; h.count() > 0) {
        SetFigure("intended_latency_ms.p50", h.Percentile(0.5) / 1000);
        SetFigure("intended_latency_ms.p90", h.Percentile(0.9) / 1000);
        SetFigure("intended_latency_ms.p99", h.Percentile(0.99) / 1000);
        SetFigure("intended_latency_ms.p999", h.Percentile(0.999) / 1000);
        SetFigure("intended_latency_ms.max", static_cast<double>(h.max()) / 1000);
      }
      SetFigure("late", static_cast<double>(st.late));
      SetFigure("unsent", static_cast<double>(st.unsent));
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
    if (spec.threads > 1) what += fmt::format(" on {} threads", spec.threads);
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
    {.name = "threads",
     .type = FieldType::kInt,
     .doc = "load threads, each with its share of the connections and of the rate (at most "
            "concurrency)",
     .default_value = "1",
     .min = 1,
     .max = 64},
    {.name = "timeout",
     .type = FieldType::kDuration,
     .doc = "limit for each request, connect included; one past it is a transport error",
     .default_value = "5s",
     .min = 1,
     .max = 3600000},
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
  spec.threads = f.with.Int("threads");
  spec.timeout = f.with.Duration("timeout");
  spec.policy = ctx.network;
  return std::unique_ptr<Fault>(new HttpLoadFault(f.name, std::move(spec), ctx));
}

// At load, at the value's place: more threads than connections, or more connections than
// this process may ever open.
std::optional<FieldError> Check(const FaultSpec& f) {
  if (f.with.Int("threads") > f.with.Int("concurrency")) {
    return FieldError{f.with.MarkOf("threads"),
                      fmt::format("threads ({}) must not exceed concurrency ({}): each thread "
                                  "keeps connections of its own",
                                  f.with.Int("threads"), f.with.Int("concurrency"))};
  }
  if (std::string why = DescriptorShortfall(f.with.Int("concurrency")); !why.empty()) {
    return FieldError{f.with.MarkOf("concurrency"), why};
  }
  return std::nullopt;
}

}  // namespace

extern const FaultAction kHttpLoad = {
    .name = "http.load",
    .doc =
        "send HTTP load at a rate over N keep-alive connections; reports rate, errors, latency "
        "percentiles (from the due time too when paced)",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kFields,
    .example =
        R"({name: spike, at: 0s, action: http.load, with: {url: "http://127.0.0.1:8080/", rate: 2000, concurrency: 32}, duration: 20s})",
    .check = Check,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
