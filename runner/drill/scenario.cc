#include "runner/drill/scenario.h"

namespace firedrill {

std::string Target::Describe() const {
  if (!service.empty()) return "service " + service;
  if (!pidfile.empty()) return "pidfile " + pidfile;
  if (pid > 0) return "PID " + std::to_string(pid);
  return "processes named " + name;
}

const char* WatchKindName(WatchKind k) {
  switch (k) {
    case WatchKind::kDetection:
      return "detection";
    case WatchKind::kFailover:
      return "failover";
    case WatchKind::kCustom:
      return "custom";
  }
  return "custom";
}

void ForEachProbe(const Scenario& s,
                  const std::function<void(const ProbeSpec&, const ServiceSpec* service)>& fn) {
  for (const auto& svc : s.services) {
    if (svc.ready) fn(*svc.ready, &svc);
  }
  for (const auto& c : s.steady_state) fn(c.probe, nullptr);
  for (const auto& w : s.watches) fn(w.probe, nullptr);
  for (const auto& c : s.abort_when) fn(c.probe, nullptr);
  if (s.data) {
    fn(s.data->writer, nullptr);
    fn(s.data->verifier, nullptr);
  }
}

}  // namespace firedrill
