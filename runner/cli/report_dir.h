// Where a command's report goes when --report-dir is not given.
#pragma once

#include <string>

namespace firedrill {

// "firedrill-out/LABEL-20261203T120000Z": relative to where the command runs, one per run
// (to the second, UTC).
std::string DefaultReportDir(const std::string& label);

}  // namespace firedrill
