// Small text helpers shared by the report writers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace firedrill {

// `s` with every invalid UTF-8 sequence replaced by U+FFFD. Probe and command output end
// up in reports verbatim, and JSON (and terminals) need valid UTF-8.
std::string ValidUtf8(std::string_view s);

// A measured duration for people: "0.850s", "2.170s", "1m05.300s", "1h02m05.300s".
// Always millisecond precision, unlike FormatDuration (runner/values.h) which gives the
// shortest exact form and suits configured values ("15s", "2m").
std::string HumanMillis(int64_t ms);

}  // namespace firedrill
