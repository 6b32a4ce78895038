#include "runner/drill/fault.h"

#include <cmath>

namespace firedrill {

void Fault::SetFigure(const std::string& name, double value) {
  if (std::isfinite(value)) figures_[name] = value;
}

std::vector<std::string> HostsActedOn(const FaultSpec& f, const FaultAction& a) {
  if (f.host.empty()) return {};
  std::vector<std::string> on = {f.host};
  if (a.on_peer_too && f.with.Has("peer")) on.push_back(f.with.String("peer"));
  return on;
}

std::string WhyNotRunnable(const FaultAction& k) {
  if (!k.make) return "not built yet";
  return k.unsupported ? k.unsupported() : "";
}

}  // namespace firedrill
