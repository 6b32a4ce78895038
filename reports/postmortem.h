// postmortem.md: the first draft of a game-day postmortem, in the fields of Google's SRE
// postmortem template, so the review starts from what was measured instead of a blank
// page. Everything a run can know is filled in; only what people must judge or decide is
// left as an `_TODO: ..._` placeholder (docs/history-and-postmortem.md lists which is which).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace firedrill {

// The draft, from report.json alone (so `firedrill report DIR` can render it again from a
// kept report). Tolerates a report with keys missing or null: what is absent is left out
// or said to be unknown, never invented. `score_parts` is used when present.
std::string PostmortemMarkdown(const nlohmann::json& report);

}  // namespace firedrill
