#include "probes/probe_registry.h"

namespace firedrill {

extern const ProbeKind kCommandProbe;
extern const ProbeKind kTcpProbe;
extern const ProbeKind kHttpProbe;
extern const ProbeKind kProcessProbe;
extern const ProbeKind kFileProbe;
extern const ProbeKind kLogProbe;
extern const ProbeKind kPrometheusProbe;
extern const ProbeKind kWebhookProbe;

namespace {
const ProbeKind* const kProbeKinds[] = {
    &kCommandProbe, &kTcpProbe, &kHttpProbe,       &kProcessProbe,
    &kFileProbe,    &kLogProbe, &kPrometheusProbe, &kWebhookProbe,
};
}  // namespace

std::span<const ProbeKind* const> ProbeKinds() { return kProbeKinds; }

const FieldSpec kProbeHostField = {
    .name = "host", .type = FieldType::kString, .doc = "run on this host from `hosts:` (ssh)"};

const ProbeKind* FindProbeKind(std::string_view name) {
  for (const ProbeKind* k : kProbeKinds) {
    if (name == k->name) return k;
  }
  return nullptr;
}

}  // namespace firedrill
