// report.json: the machine-readable result of one run, in the stable shape documented in
// docs/report-format.md. Dashboards, CI and the history store parse it, so
// keys are never renamed; new ones may be added (see ReportJson for the extensions).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "runner/base/status.h"
#include "runner/drill/scenario.h"
#include "runner/engine/run_record.h"
#include "runner/engine/score.h"

namespace firedrill {

inline constexpr const char* kReportFormat = "firedrill-report/v1";

// Builds the report. Reads only; every string is made valid UTF-8 (command output can be
// anything), so dump() on the result never throws. `file` is the drill file as given.
nlohmann::json ReportJson(const Scenario& scenario, const RunRecord& run, const Outcome& outcome,
                          const std::string& file);

// Writes `report` to `path` through a temporary file in the same directory and a rename,
// so a reader sees either no report or a whole one, never half of it.
Status WriteJsonReport(const std::string& path, const nlohmann::json& report);

// "2026-11-21T23:18:00.632Z": UTC, millisecond precision.
std::string FormatUtcMillis(std::chrono::system_clock::time_point t);

}  // namespace firedrill
