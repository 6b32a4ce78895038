// cpu.stress and memory.stress: load on the machine for the fault's duration.
// Runtime: not built yet; the schema validates today.
#include "injectors/fault.h"

namespace firedrill {
namespace {

constexpr FieldSpec kCpuFields[] = {
    {.name = "workers",
     .type = FieldType::kInt,
     .doc = "busy threads",
     .default_value = "1",
     .min = 1,
     .max = 1024},
    {.name = "load",
     .type = FieldType::kPercent,
     .doc = "duty cycle of each worker",
     .default_value = "100%",
     .min = 1,
     .max = 100},
};

constexpr FieldSpec kMemoryFields[] = {
    {.name = "size",
     .type = FieldType::kSize,
     .doc = "memory to allocate and keep resident",
     .required = true,
     .min = 4096},
};

}  // namespace

extern const FaultAction kCpuStress = {
    .name = "cpu.stress",
    .doc = "keep CPUs busy at a given load",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kCpuFields,
    .example =
        R"({name: burn, at: 0s, action: cpu.stress, with: {workers: 2, load: 80%}, duration: 30s})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

extern const FaultAction kMemoryStress = {
    .name = "memory.stress",
    .doc = "allocate and touch memory so it is really resident",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kMemoryFields,
    .example = R"({name: hog, at: 0s, action: memory.stress, with: {size: 512MiB}, duration: 30s})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
