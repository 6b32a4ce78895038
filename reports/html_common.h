// What the HTML report's page and its SVG timeline share: escaping, tolerant reading of
// report.json, and how times and event types are shown. Internal to reports/.
//
// The renderer reads a report.json that may come from another version of firedrill or have
// been edited by hand (`firedrill report DIR` re-renders from it), so every reader here
// takes a missing key or a value of the wrong type as absent, never as a reason to throw.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "reports/report_reader.h"

namespace firedrill::html {

// `text` safe as HTML text or inside a double- or single-quoted attribute: valid UTF-8,
// & < > " ' as character references, and the control characters HTML forbids (all of C0
// but tab, newline and carriage return; DEL; C1) as U+FFFD, since command output can hold
// anything.
std::string Escape(std::string_view text);

// At most `max` code points of `text` (unescaped), with "…" when cut.
std::string Shorten(std::string_view text, size_t max);

// The tolerant readers of report.json (reports/report_reader.h).
using report_json::Array;
using report_json::Bool;
using report_json::Int;
using report_json::Number;
using report_json::Object;
using report_json::Text;

// "+0.401s", "+1m05.300s": time since the run started, as the terminal shows it.
std::string Offset(int64_t t_ms);

// "99.9%": never rounds a loss away into 100.0%, nor a little into 0.0%.
std::string Percent(double ratio);

// How an event type is drawn, by its shape (prefixes and suffixes) rather than a closed
// list, because the engine's set of types grows.
enum class Tone { kPhase, kFault, kGood, kBad, kHint, kResponse, kOther };
Tone ToneOf(std::string_view type);
// The CSS class of a tone: "t-fault", "t-good", ...
const char* ToneClass(Tone tone);

// The CSS class of a verdict ("v-passed", ...); "v-error" for one this version does not know,
// so a class attribute never carries text from the report.
const char* VerdictClass(std::string_view verdict);

}  // namespace firedrill::html
