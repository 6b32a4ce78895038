// config.set: a regex replacement inside a text file (configuration drift).
// Runtime: not built yet; the schema validates today.
#include "injectors/fault.h"

namespace firedrill {
namespace {

constexpr FieldSpec kFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "text file (inside allow_paths)",
     .required = true},
    {.name = "match", .type = FieldType::kRegex, .doc = "regex to replace", .required = true},
    {.name = "replace",
     .type = FieldType::kString,
     .doc = "replacement ($1 for groups)",
     .required = true},
};

}  // namespace

extern const FaultAction kConfigSet = {
    .name = "config.set",
    .doc = "rewrite part of a config file with a regex",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kFields,
    .example =
        R"({name: drift, at: 1s, action: config.set, with: {path: "${workdir}/replica.conf", match: "^replicaof .*$", replace: "replicaof 127.0.0.1 1"}})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
