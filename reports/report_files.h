// A run's report directory: the files every run leaves, whatever its verdict, and the one
// place that writes them, so `firedrill run` and `firedrill report DIR` cannot disagree.
//
//   report.json    the machine-readable result (docs/report-format.md)
//   summary.txt    the end-of-run summary as the terminal showed it, without colour
//   junit.xml      one <testsuite> for CI (docs/junit.md)
//   report.html    one self-contained page (docs/html-report.md)
//   postmortem.md  a postmortem draft (docs/history-and-postmortem.md)
//   services/      each service's stdout and stderr (written by the engine while it runs)
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/junit_report.h"
#include "runner/base/status.h"

namespace firedrill {

inline constexpr const char* kReportJsonFile = "report.json";
inline constexpr const char* kSummaryFile = "summary.txt";
inline constexpr const char* kJunitFile = "junit.xml";
inline constexpr const char* kHtmlFile = "report.html";
inline constexpr const char* kPostmortemFile = "postmortem.md";

// Writes every file above but services/ into `dir`, each whole or not at all (a temporary
// file and a rename). Tries them all; the status names each one that failed.
// REQUIRES: `dir` exists.
Status WriteReportFiles(const std::string& dir, const nlohmann::json& report,
                        const std::string& summary);

// A gate's one DIR/junit.xml, a <testsuite> per drill in `suites` (their order).
Status WriteCombinedJunit(const std::string& dir, const std::vector<JunitSuite>& suites);

// Reads DIR/report.json (and DIR/summary.txt when it is there) and writes the rendered
// files again: for a run whose renderers changed, or whose files were lost.
Status RenderReportFiles(const std::string& dir);

}  // namespace firedrill
