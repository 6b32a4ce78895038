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

}  // namespace firedrill
