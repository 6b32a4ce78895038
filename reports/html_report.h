// report.html: one run for people, on a screen at a game day or in a postmortem. Rendered
// from report.json alone, so `firedrill report DIR` can re-render it from a run's directory.
// One self-contained file: inline CSS and SVG, no script, nothing loaded from anywhere, so it
// opens from file:// and can be mailed or attached as it is. docs/html-report.md describes it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "runner/base/status.h"

namespace firedrill {

// The page for `report` (a parsed report.json, as ReportJson builds it or as read back from
// a file). Keys it does not know are passed over and missing ones are shown as absent, so a
// report from another version renders too. Everything from the report is HTML-escaped.
std::string HtmlReport(const nlohmann::json& report);

// Writes HtmlReport(report) to `path` atomically (mode 0644), as WriteJsonReport does.
Status WriteHtmlReport(const std::string& path, const nlohmann::json& report);

}  // namespace firedrill
