// The probe kinds, in the order `firedrill probes` lists them. Adding a kind: one new file
// ending in its ProbeKind, and one line in probe_registry.cc.
#pragma once

#include <span>
#include <string_view>

#include "runner/drill/probe.h"

namespace firedrill {

std::span<const ProbeKind* const> ProbeKinds();
const ProbeKind* FindProbeKind(std::string_view name);

}  // namespace firedrill
