// http.load: request load against a URL (libcurl multi interface).
// Runtime: not built yet; the schema validates today.
#include "injectors/fault.h"

namespace firedrill {
namespace {

constexpr const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};

constexpr FieldSpec kFields[] = {
    {.name = "url",
     .type = FieldType::kUrl,
     .doc = "target URL (loopback or a named host)",
     .required = true},
    {.name = "rate",
     .type = FieldType::kInt,
     .doc = "requests per second; 0 = as fast as possible",
     .default_value = "0",
     .min = 0,
     .max = 1000000},
    {.name = "concurrency",
     .type = FieldType::kInt,
     .doc = "connections in flight",
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

}  // namespace

extern const FaultAction kHttpLoad = {
    .name = "http.load",
    .doc = "send HTTP load at a rate over N connections",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kFields,
    .example =
        R"({name: spike, at: 0s, action: http.load, with: {url: "http://127.0.0.1:8080/", rate: 2000, concurrency: 32}, duration: 20s})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
