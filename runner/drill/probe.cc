#include "runner/drill/probe.h"

namespace firedrill {

std::string WhyNotRunnable(const ProbeKind& k) {
  if (!k.make) return "not built yet";
  return k.unsupported ? k.unsupported() : "";
}

}  // namespace firedrill
