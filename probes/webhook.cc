// webhook: an Alertmanager webhook notification for an alert has arrived.
#include "probes/probe.h"

namespace firedrill {
namespace {

constexpr const char* kStatuses[] = {"firing", "resolved"};

constexpr FieldSpec kFields[] = {
    {.name = "listen",
     .type = FieldType::kAddress,
     .doc = "address:port to receive on",
     .required = true},
    {.name = "alert",
     .type = FieldType::kString,
     .doc = "alertname label to wait for",
     .required = true},
    {.name = "status",
     .type = FieldType::kEnum,
     .doc = "notification status",
     .default_value = "firing",
     .choices = kStatuses},
};

}  // namespace

extern const ProbeKind kWebhookProbe = {
    .name = "webhook",
    .doc = "receive Alertmanager webhooks; pass once one for the alert arrives",
    .fields = kFields,
    .example = R"({webhook: {listen: "127.0.0.1:9099", alert: RedisDown, status: firing}})",
    .check = nullptr,
    .make = nullptr,
    .unsupported = nullptr,
};

}  // namespace firedrill
