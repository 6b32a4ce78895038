// The debrief of a `firedrill train` session, shown on screen at its end and kept as
// debrief.md in its report directory: what happened and when (the trainee's own actions
// among the system's), the figures (time to acknowledge, to the first note, to recover;
// hints used; false declarations), the score with its parts, and what the runbook says the
// fix is. Markdown that reads as plain text on a terminal.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace firedrill {

// From report.json alone (mode "train"), and the runbook's text ("" when the drill has
// none or it could not be read: said so, not left blank).
std::string DebriefMarkdown(const nlohmann::json& report, const std::string& runbook);

}  // namespace firedrill
