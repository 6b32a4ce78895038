// prometheus: an instant query's value, or an alert's state, via the HTTP API.
#include "probes/probe.h"

namespace firedrill {
namespace {

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

std::optional<FieldError> Check(const Params& p, Mark mark) {
  if (p.Has("query") == p.Has("alert")) {
    return FieldError{mark, "a prometheus probe has either `query` (with expect.value) or `alert`"};
  }
  if (p.Has("query") && !p.Object("expect").Has("value")) {
    return FieldError{mark, "a prometheus query needs expect: {value: \"> 0\"}"};
  }
  return std::nullopt;
}

}  // namespace

extern const ProbeKind kPrometheusProbe = {
    .name = "prometheus",
    .doc = "query Prometheus (value test) or check an alert's state",
    .fields = kFields,
    .example = R"({prometheus: {url: "http://127.0.0.1:9090", alert: RedisDown, state: firing}})",
    .check = Check,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
