// network.loss, network.partition (nftables) and network.delay (a fault proxy).
// Runtime: not built yet; the schema validates today.
#include "injectors/fault.h"

namespace firedrill {
namespace {

constexpr const char* kProtocols[] = {"tcp", "udp"};
constexpr const char* kPartitionModes[] = {"drop", "reject"};

constexpr FieldSpec kLossFields[] = {
    {.name = "port",
     .type = FieldType::kInt,
     .doc = "loopback port to affect",
     .min = 1,
     .max = 65535},
    {.name = "netns", .type = FieldType::kString, .doc = "network namespace to affect"},
    {.name = "protocol",
     .type = FieldType::kEnum,
     .doc = "transport",
     .default_value = "tcp",
     .choices = kProtocols},
    {.name = "loss",
     .type = FieldType::kPercent,
     .doc = "share of packets dropped",
     .required = true,
     .min = 0,
     .max = 100},
};

constexpr FieldSpec kPartitionFields[] = {
    {.name = "port",
     .type = FieldType::kInt,
     .doc = "loopback port to cut off",
     .min = 1,
     .max = 65535},
    {.name = "netns", .type = FieldType::kString, .doc = "network namespace to cut off"},
    {.name = "protocol",
     .type = FieldType::kEnum,
     .doc = "transport",
     .default_value = "tcp",
     .choices = kProtocols},
    {.name = "mode",
     .type = FieldType::kEnum,
     .doc = "drop silently or reject",
     .default_value = "drop",
     .choices = kPartitionModes},
};

constexpr FieldSpec kDelayFields[] = {
    {.name = "port",
     .type = FieldType::kInt,
     .doc = "port whose traffic is delayed",
     .required = true,
     .min = 1,
     .max = 65535},
    {.name = "delay",
     .type = FieldType::kDuration,
     .doc = "added latency",
     .required = true,
     .min = 0,
     .max = 600000},
    {.name = "jitter",
     .type = FieldType::kDuration,
     .doc = "random +/- added to delay",
     .default_value = "0ms",
     .min = 0,
     .max = 600000},
    {.name = "bandwidth", .type = FieldType::kSize, .doc = "bytes per second cap"},
};

std::optional<FieldError> CheckScope(const FaultSpec& f) {
  if (f.with.Has("port") == f.with.Has("netns")) {
    return FieldError{f.mark, f.action + " takes exactly one of `port` and `netns`"};
  }
  return std::nullopt;
}

}  // namespace

extern const FaultAction kNetworkLoss = {
    .name = "network.loss",
    .doc = "drop a share of packets to a port or a network namespace (nftables)",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kLossFields,
    .example =
        R"({name: lossy, at: 0s, action: network.loss, with: {port: 6379, loss: 30%}, duration: 10s})",
    .check = CheckScope,
    .make = nullptr,
    .unsupported = nullptr,
};

extern const FaultAction kNetworkPartition = {
    .name = "network.partition",
    .doc = "cut a port or a network namespace off (nftables drop/reject)",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kPartitionFields,
    .example =
        R"({name: cut, at: 0s, action: network.partition, with: {port: 6379}, duration: 10s})",
    .check = CheckScope,
    .make = nullptr,
    .unsupported = nullptr,
};

extern const FaultAction kNetworkDelay = {
    .name = "network.delay",
    .doc = "add latency/jitter/bandwidth limits to a port (fault proxy, or netem)",
    .target = Use::kForbidden,
    .duration = Use::kRequired,
    .fields = kDelayFields,
    .example =
        R"({name: slow, at: 0s, action: network.delay, with: {port: 6379, delay: 200ms, jitter: 50ms}, duration: 10s})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
