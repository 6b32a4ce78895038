// The report contract as a test can check it: every key docs/report-format.md documents,
// with its JSON type. Test-only code: the shipped binary writes reports, it does not judge
// them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace firedrill {

// Checks a parsed report against the documented contract: every documented key present
// with its JSON type, null only where a metric may never have happened, and the
// cross-checks that catch a 0 written for "never happened". Extensions written by
// ReportJson are type-checked when present. Returns one line per problem; empty = valid.
std::vector<std::string> CheckReportKeys(const nlohmann::json& report);

}  // namespace firedrill
