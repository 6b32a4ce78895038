#include "runner/drill/fault.h"

namespace firedrill {

std::string WhyNotRunnable(const FaultAction& k) {
  if (!k.make) return "not built yet";
  return k.unsupported ? k.unsupported() : "";
}

}  // namespace firedrill
