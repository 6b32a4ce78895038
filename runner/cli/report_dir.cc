#include "runner/cli/report_dir.h"

#include <ctime>

namespace firedrill {

std::string DefaultReportDir(const std::string& label) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return "firedrill-out/" + label + "-" + stamp;
}

}  // namespace firedrill
