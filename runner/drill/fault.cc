#include "runner/drill/fault.h"

#include <cmath>

namespace firedrill {

void Fault::SetFigure(const std::string& name, double value) {
  if (std::isfinite(value)) figures_[name] = value;
}

std::string WhyNotRunnable(const FaultAction& k) {
  if (!k.make) return "not built yet";
  return k.unsupported ? k.unsupported() : "";
}

}  // namespace firedrill
