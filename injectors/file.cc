// file.corrupt and file.delete: damage a file; the original is saved first and restored
// byte for byte. Runtime: not built yet; the schema validates today.
#include "injectors/fault.h"

namespace firedrill {
namespace {

constexpr const char* kModes[] = {"flip", "zero", "garbage", "truncate"};

constexpr FieldSpec kCorruptFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "file to corrupt (inside allow_paths)",
     .required = true},
    {.name = "mode",
     .type = FieldType::kEnum,
     .doc = "flip: random bits; zero/garbage: a byte range; truncate: cut at offset",
     .default_value = "flip",
     .choices = kModes},
    {.name = "offset",
     .type = FieldType::kSize,
     .doc = "start of the damaged range",
     .default_value = "0B"},
    {.name = "length",
     .type = FieldType::kSize,
     .doc = "length of the range (default: to the end)"},
    {.name = "count",
     .type = FieldType::kInt,
     .doc = "bits to flip (mode flip)",
     .default_value = "1",
     .min = 1,
     .max = 1000000},
    {.name = "seed",
     .type = FieldType::kInt,
     .doc = "makes flip/garbage reproducible",
     .min = 0,
     .max = 4294967295.0},
};

constexpr FieldSpec kDeleteFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "file to delete (inside allow_paths)",
     .required = true},
};

}  // namespace

extern const FaultAction kFileCorrupt = {
    .name = "file.corrupt",
    .doc = "corrupt a file (bit flips, zeroed or random range, truncation)",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kCorruptFields,
    .example =
        R"({name: corrupt, at: 1s, action: file.corrupt, with: {path: "${workdir}/app.db", mode: flip, count: 8, seed: 42}})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

extern const FaultAction kFileDelete = {
    .name = "file.delete",
    .doc = "delete a file (restored with its metadata)",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kDeleteFields,
    .example =
        R"({name: rm-config, at: 1s, action: file.delete, with: {path: "${workdir}/app.conf"}, duration: 10s})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
