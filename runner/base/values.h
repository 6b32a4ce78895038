// Parsing of the scalar value forms of the drill format: durations, sizes, percents.
// Each returns the value, or a message saying what was expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "runner/base/status.h"

namespace firedrill {

using Millis = std::chrono::milliseconds;

// "250ms", "5s", "2m", "1h", "1m30s", "1.5s". A bare number is an error.
Result<Millis> ParseDuration(std::string_view text);
// "512KiB", "64MiB", "1GiB", "100B", "10MB" (decimal units too). A bare number is an error.
Result<uint64_t> ParseSize(std::string_view text);
// "90%" -> 90.0
Result<double> ParsePercent(std::string_view text);

// 1500ms -> "1.5s", 120000 -> "2m", 250 -> "250ms": the shortest exact form.
std::string FormatDuration(Millis d);
std::string FormatBytes(uint64_t bytes);
// A measured duration for people: "0.850s", "2.170s", "1m05.300s", "1h02m05.300s". Always
// millisecond precision, unlike FormatDuration, which gives the shortest exact form and
// suits configured values ("15s", "2m").
std::string HumanMillis(int64_t ms);

}  // namespace firedrill
