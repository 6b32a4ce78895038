// The HTML report's timeline as inline SVG: one lane per fault, per watch and per
// steady-state check, a lane for the response (remediation, hints), the phases, and lines at
// the moments the metrics measure. Internal to reports/; docs/html-report.md describes it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace firedrill::html {

// The <svg> element for `report` (a parsed report.json). Its size is bounded whatever the
// number of events: runs of samples become segments, and markers closer than a few pixels
// become one marker that says how many it stands for.
std::string TimelineSvg(const nlohmann::json& report);

// What the timeline's colours and symbols mean, as HTML.
std::string TimelineLegend();

}  // namespace firedrill::html
