// Reading a report.json tolerantly, for every renderer (junit.xml, report.html,
// postmortem.md, the Pushgateway body). `firedrill report DIR` renders a report that may
// come from another version of firedrill or have been edited by hand, so a missing key or
// a value of another type reads as absent, never as a reason to throw.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace firedrill::report_json {

// `j[key]` when `j` is an object that has it, else null.
const nlohmann::json* Member(const nlohmann::json& j, const char* key);
// `j[key]`, or a null value.
const nlohmann::json& Field(const nlohmann::json& j, const char* key);

// nullopt (or "" / an empty array or object) when `key` is missing or of another type.
std::string Text(const nlohmann::json& j, const char* key);
std::optional<int64_t> Int(const nlohmann::json& j, const char* key);  // a float truncates
std::optional<double> Number(const nlohmann::json& j, const char* key);
std::optional<bool> Bool(const nlohmann::json& j, const char* key);
const nlohmann::json& Array(const nlohmann::json& j, const char* key);
const nlohmann::json& Object(const nlohmann::json& j, const char* key);

// The first timeline event of `type` (and `name`, unless null); null when there is none.
const nlohmann::json* FindEvent(const nlohmann::json& report, std::string_view type,
                                const char* name = nullptr);

}  // namespace firedrill::report_json
