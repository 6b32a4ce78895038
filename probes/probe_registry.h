// The probe kinds, in the order `firedrill probes` lists them. Adding a kind: one new file
// ending in its ProbeKind, and one line in probe_registry.cc.
#pragma once

#include <span>
#include <string_view>

#include "runner/drill/probe.h"

namespace firedrill {

std::span<const ProbeKind* const> ProbeKinds();
const ProbeKind* FindProbeKind(std::string_view name);

// `host:`, which every kind takes: the probe runs on that host of `hosts:`, through its
// agent (the engine routes it; the kind itself never sees the difference).
extern const FieldSpec kProbeHostField;

}  // namespace firedrill
