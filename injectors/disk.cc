// disk.fill: a ballast file fills the filesystem holding `path`.
// Runtime: not built yet (issue "The fault catalog"); the schema validates today.
#include "injectors/fault.h"

namespace firedrill {
namespace {

constexpr FieldSpec kFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "directory on the filesystem to fill (inside allow_paths)",
     .required = true},
    {.name = "size",
     .type = FieldType::kSizeOrPercent,
     .doc = "ballast size, or \"90%\": fill until the filesystem is that full"},
    {.name = "leave_free", .type = FieldType::kSize, .doc = "fill until exactly this much is free"},
};

std::optional<FieldError> Check(const FaultSpec& f) {
  if (f.with.Has("size") == f.with.Has("leave_free")) {
    return FieldError{f.mark, "disk.fill takes exactly one of `size` and `leave_free`"};
  }
  if (f.with.Has("size") && f.with.Size("size").is_percent() && f.with.Size("size").percent > 100) {
    return FieldError{f.with.MarkOf("size"), "size percentage must be at most 100%"};
  }
  return std::nullopt;
}

}  // namespace

extern const FaultAction kDiskFill = {
    .name = "disk.fill",
    .doc = "fill a filesystem with a ballast file",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kFields,
    .example =
        R"({name: fill, at: 2s, action: disk.fill, with: {path: "${workdir}/data", size: 95%}, duration: 20s})",
    .check = Check,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
