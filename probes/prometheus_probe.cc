// prometheus: an instant query's value, or an alert's state, via the HTTP API.
#include <charconv>
#include <cmath>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/alert_text.h"
#include "probes/http_client.h"
#include "runner/base/curl.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

using nlohmann::json;

// A query answer or an alert list is small; a Prometheus with a great many active alerts
// can answer a few MiB. Anything larger is refused rather than parsed half.
constexpr size_t kAnswerCap = 8 << 20;
// Details list at most this many values; a query over many series would flood the line.
constexpr size_t kValuesShown = 5;

// `expect.value`: an operator and a number, applied to every series.
struct Comparison {
  enum class Op { kGt, kGe, kLt, kLe, kEq, kNe };
  Op op = Op::kGt;
  double rhs = 0;
  std::string text;  // as shown in details: "> 0"

  // NaN satisfies nothing, not even "!= 0": a NaN series has no value to judge.
  bool Holds(double v) const {
    if (std::isnan(v)) return false;
    switch (op) {
      case Op::kGt:
        return v > rhs;
      case Op::kGe:
        return v >= rhs;
      case Op::kLt:
        return v < rhs;
      case Op::kLe:
        return v <= rhs;
      case Op::kEq:
        return v == rhs;
      case Op::kNe:
        return v != rhs;
    }
    return false;
  }
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Prometheus writes sample values as Go's strconv does: "1", "1e+06", "NaN", "+Inf", "-Inf".
std::optional<double> ParseSampleValue(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Result<Comparison> ParseComparison(std::string_view text) {
  static constexpr std::pair<const char*, Comparison::Op> kOps[] = {
      {">=", Comparison::Op::kGe}, {"<=", Comparison::Op::kLe}, {"==", Comparison::Op::kEq},
      {"!=", Comparison::Op::kNe}, {">", Comparison::Op::kGt},  {"<", Comparison::Op::kLt},
  };
  const std::string why = "expect.value " + Quoted(text) +
                          " is not a comparison: write an operator (>, >=, <, <=, ==, !=) "
                          "and a number, like \"> 0\" or \"== 1\"";
  std::string_view s = Trim(text);
  for (const auto& [sym, op] : kOps) {
    std::string_view symbol(sym);
    if (s.substr(0, symbol.size()) != symbol) continue;
    std::string_view number = Trim(s.substr(symbol.size()));
    auto v = ParseSampleValue(number);
    // "inf" and "nan" parse, but a threshold that is not a finite number is a typo.
    if (!v || !std::isfinite(*v)) return Status::Invalid(why);
    return Comparison{op, *v, std::string(symbol) + " " + std::string(number)};
  }
  return Status::Invalid(why);
}

std::string JoinValues(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size() && i < kValuesShown; ++i) {
    if (i > 0) out += ", ";
    out += OneLine(values[i], 24);
  }
  if (values.size() > kValuesShown) out += ", ...";
  return out;
}

const json* Member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string StringMember(const json& j, const char* key) {
  const json* m = Member(j, key);
  return m && m->is_string() ? m->get_ref<const std::string&>() : std::string();
}

// What a prometheus probe asks and how it judges the answer. Shared with the samples in
// flight, so that a probe destroyed meanwhile leaves none of them pointing at it.
class PrometheusCheck {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the check; exactly one of `query`
  // (with `comparison`) or `alert` is set (Check guarantees it).
  PrometheusCheck(const Params& p, std::optional<Comparison> comparison, const RunContext& ctx)
      : url_(p.String("url")),
        comparison_(std::move(comparison)),
        state_(p.String("state")),
        timeout_(p.Duration("timeout")),
        ctx_(ctx) {
    if (p.Has("query")) query_ = p.String("query");
    if (p.Has("alert")) alert_ = p.String("alert");
  }

  const RunContext& ctx() const { return ctx_; }

  // This sample's request, and the query it asks (expanded; "" for an alert).
  struct Request {
    HttpRequestSpec http;
    std::string query;
  };
  Result<Request> MakeRequest(const SampleVars& vars) const {
    auto base = ctx_.expander->Expand(url_, vars.seq);
    if (!base.ok()) return base.status();
    while (!base->empty() && base->back() == '/') base->pop_back();
    std::string url;
    std::string query;
    if (query_) {
      auto q = ctx_.expander->Expand(*query_, vars.seq);
      if (!q.ok()) return q.status();
      query = std::move(*q);
      auto escaped = UrlEscape(query);
      if (!escaped.ok()) return escaped.status();
      url = *base + "/api/v1/query?query=" + *escaped;
    } else {
      url = *base + "/api/v1/alerts";
    }
    return Request{
        {.url = url, .timeout = timeout_, .max_body_bytes = kAnswerCap, .policy = ctx_.network},
        std::move(query)};
  }

  ProbeOutcome Judge(const Result<HttpResponse>& resp, const std::string& query) const {
    if (!resp.ok()) return {false, resp.status().message()};
    // nlohmann is an edge: its accessors throw on a type they were not asked about.
    try {
      auto answer = Decode(*resp);
      if (!answer.ok()) return {false, answer.status().message()};
      return query_ ? JudgeQuery(*answer, query) : JudgeAlerts(*answer);
    } catch (const std::exception& e) {
      return {false, "unexpected answer from Prometheus: " + OneLine(e.what())};
    }
  }

 private:
  // The `data` member of a successful API answer.
  static Result<json> Decode(const HttpResponse& resp) {
    if (resp.truncated) {
      return Status::Failed("answer larger than " + FormatBytes(kAnswerCap) + ", not judged");
    }
    json j = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    const bool is_json = !j.is_discarded();
    // The API explains its errors in the body: {"status":"error","error":"..."}.
    const std::string error = is_json ? StringMember(j, "error") : "";
    if (resp.status != 200) {
      std::string d = "HTTP " + std::to_string(resp.status);
      if (!error.empty()) d += ": " + OneLine(error);
      return Status::Failed(d);
    }
    if (!is_json) return Status::Failed("answer is not JSON: " + Quoted(resp.body, 40));
    if (StringMember(j, "status") != "success") {
      return Status::Failed("Prometheus answered " + Quoted(StringMember(j, "status")) +
                            (error.empty() ? "" : ": " + OneLine(error)));
    }
    const json* data = Member(j, "data");
    if (!data || !data->is_object()) return Status::Failed("answer has no `data` object");
    return *data;
  }

  ProbeOutcome JudgeQuery(const json& data, const std::string& query) const {
    const std::string type = StringMember(data, "resultType");
    const json* result = Member(data, "result");
    if (!result) return {false, "answer has no `data.result`"};
    std::vector<std::string> values;  // as Prometheus wrote them
    if (type == "vector") {
      if (!result->is_array()) return {false, "`data.result` of a vector is not a list"};
      for (const json& series : *result) {
        const json* value = Member(series, "value");
        if (!value || !value->is_array() || value->size() != 2 || !(*value)[1].is_string()) {
          return {false, "a series has no [time, \"value\"] pair"};
        }
        values.push_back((*value)[1].get_ref<const std::string&>());
      }
    } else if (type == "scalar") {
      if (!result->is_array() || result->size() != 2 || !(*result)[1].is_string()) {
        return {false, "a scalar answer has no [time, \"value\"] pair"};
      }
      values.push_back((*result)[1].get_ref<const std::string&>());
    } else {
      return {false, "result type " + Quoted(type, 20) +
                         " cannot be compared (write a query that returns an instant vector "
                         "or a scalar)"};
    }
    if (values.empty()) return {false, "no series for " + OneLine(query)};
    ProbeOutcome out = JudgeValues(values);
    if (values.size() == 1) {
      auto v = ParseSampleValue(values[0]);
      if (v && std::isfinite(*v)) out.value = *v;
    }
    return out;
  }

  ProbeOutcome JudgeValues(const std::vector<std::string>& values) const {
    std::vector<std::string> failing;
    for (const std::string& v : values) {
      auto d = ParseSampleValue(v);
      if (!d || !comparison_->Holds(*d)) failing.push_back(v);
    }
    const std::string n = std::to_string(values.size());
    if (failing.empty()) {
      return {true, n + " series, all " + comparison_->text + " (" + JoinValues(values) + ")"};
    }
    return {false, std::to_string(failing.size()) + " of " + n + " series not " +
                       comparison_->text + ": " + JoinValues(failing)};
  }

  ProbeOutcome JudgeAlerts(const json& data) const {
    const json* alerts = Member(data, "alerts");
    if (!alerts || !alerts->is_array()) return {false, "answer has no `data.alerts` list"};
    // The API lists only pending and firing alerts; an inactive one is simply absent.
    const json* wanted = nullptr;  // first of this name in the wanted state
    const json* other = nullptr;   // first of this name in another state
    size_t matches = 0;
    size_t others = 0;
    for (const json& a : *alerts) {
      const json* labels = Member(a, "labels");
      if (!labels || StringMember(*labels, "alertname") != *alert_) {
        ++others;
        continue;
      }
      if (StringMember(a, "state") == state_) {
        if (!wanted) wanted = &a;
        ++matches;
      } else if (!other) {
        other = &a;
      }
    }
    auto describe = [this](const json& a) {
      return *alert_ + " " + OneLine(StringMember(a, "state"), 20) +
             BriefLabels(*Member(a, "labels")) + BriefSummary(a);
    };
    if (state_ == "inactive") {
      if (other) return {false, describe(*other) + ", not inactive"};
      return {true, *alert_ + " inactive (not pending or firing)"};
    }
    if (wanted) {
      std::string d = describe(*wanted);
      if (matches > 1) d += " (and " + std::to_string(matches - 1) + " more)";
      return {true, d};
    }
    if (other) return {false, describe(*other) + ", not " + state_};
    return {false, "no " + *alert_ + " alert pending or firing (" + std::to_string(others) +
                       (others == 1 ? " other alert)" : " other alerts)")};
  }

  std::string url_;
  std::optional<std::string> query_;
  std::optional<Comparison> comparison_;
  std::optional<std::string> alert_;
  std::string state_;
  Millis timeout_;
  const RunContext& ctx_;
};

class PrometheusProbe final : public Probe {
 public:
  // REQUIRES: as PrometheusCheck's; ctx also outlives the probe's samples.
  PrometheusProbe(const Params& p, std::optional<Comparison> comparison, const RunContext& ctx)
      : check_(std::make_shared<const PrometheusCheck>(p, std::move(comparison), ctx)) {}

  ProbeOutcome Sample(const SampleVars& vars) override {
    auto req = check_->MakeRequest(vars);
    if (!req.ok()) return {false, req.status().message()};
    return check_->Judge(HttpRequest(req->http, check_->ctx().cancel), req->query);
  }

  void SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done) override {
    auto req = check_->MakeRequest(vars);
    if (!req.ok()) return done({false, req.status().message()});
    HttpRequestAsync(
        req->http, loop, check_->ctx().cancel,
        [check = check_, query = std::move(req->query),
         done = std::move(done)](Result<HttpResponse> resp) { done(check->Judge(resp, query)); },
        &session_);
  }

 private:
  std::shared_ptr<const PrometheusCheck> check_;
  HttpSession session_;  // one sample at a time (the Probe contract)
};

constexpr const char* kAlertStates[] = {"firing", "pending", "inactive"};

constexpr FieldSpec kExpectFields[] = {
    {.name = "value",
     .type = FieldType::kString,
     .doc = "comparison applied to every series: \"> 0\", \"== 1\", \"<= 0.5\""},
};

constexpr FieldSpec kFields[] = {
    {.name = "url", .type = FieldType::kUrl, .doc = "Prometheus base URL", .required = true},
    {.name = "query", .type = FieldType::kString, .doc = "PromQL for /api/v1/query"},
    {.name = "expect",
     .type = FieldType::kObject,
     .doc = "with query: the value test",
     .fields = kExpectFields},
    {.name = "alert", .type = FieldType::kString, .doc = "alert name for /api/v1/alerts"},
    {.name = "state",
     .type = FieldType::kEnum,
     .doc = "with alert: the state to wait for",
     .default_value = "firing",
     .choices = kAlertStates},
    {.name = "timeout",
     .type = FieldType::kDuration,
     .doc = "HTTP timeout",
     .default_value = "5s",
     .min = 1,
     .max = 600000},
};

bool HasExpectValue(const Params& p) { return p.Has("expect") && p.Object("expect").Has("value"); }

std::optional<FieldError> Check(const Params& p, Mark mark) {
  if (p.Has("query") == p.Has("alert")) {
    return FieldError{mark, "a prometheus probe has either `query` (with expect.value) or `alert`"};
  }
  if (p.Has("query") && !HasExpectValue(p)) {
    return FieldError{mark, "a prometheus query needs expect: {value: \"> 0\"}"};
  }
  if (p.Has("alert") && HasExpectValue(p)) {
    return FieldError{p.MarkOf("expect"),
                      "expect.value applies to a `query`; an `alert` probe waits for its `state`"};
  }
  if (HasExpectValue(p)) {
    const Params& e = p.Object("expect");
    auto c = ParseComparison(e.String("value"));
    if (!c.ok()) return FieldError{e.MarkOf("value"), c.status().message()};
  }
  return std::nullopt;
}

// REQUIRES: ctx.expander is set and ctx outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  // The loader ran Check already; params built by other means get the same answer here.
  if (auto e = Check(p, {})) return Status::Invalid(e->message);
  FD_RETURN_IF_ERROR(InitCurl());
  std::optional<Comparison> comparison;
  if (p.Has("query")) {
    auto c = ParseComparison(p.Object("expect").String("value"));
    if (!c.ok()) return c.status();
    comparison = std::move(*c);
  }
  return std::unique_ptr<Probe>(new PrometheusProbe(p, std::move(comparison), ctx));
}

}  // namespace

extern const ProbeKind kPrometheusProbe = {
    .name = "prometheus",
    .doc = "query Prometheus (value test) or check an alert's state",
    .fields = kFields,
    .example = R"({prometheus: {url: "http://127.0.0.1:9090", alert: RedisDown, state: firing}})",
    .check = Check,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
