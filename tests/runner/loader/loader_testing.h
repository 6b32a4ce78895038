// What the loader tests share: where the repository is, and every diagnostic of a load as
// one text for failure messages.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include "runner/loader/loader.h"

namespace firedrill::testing {

inline std::string SourcePath(const std::string& rel) {
  return std::string(FIREDRILL_SOURCE_DIR) + "/" + rel;
}

inline std::string AllDiagnostics(const LoadResult& r) {
  std::ostringstream o;
  for (const auto& e : r.errors) o << e.ToString("error") << "\n";
  for (const auto& n : r.notes) o << n.ToString("note") << "\n";
  return o.str();
}

inline int64_t Ms(Millis d) { return d.count(); }

}  // namespace firedrill::testing
