#include "reports/report_reader.h"

namespace firedrill::report_json {

using nlohmann::json;

const json* Member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

const json& Field(const json& j, const char* key) {
  static const json kNull;
  const json* v = Member(j, key);
  return v != nullptr ? *v : kNull;
}

std::string Text(const json& j, const char* key) {
  const json* v = Member(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::optional<int64_t> Int(const json& j, const char* key) {
  const json* v = Member(j, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  if (v->is_number_float()) return static_cast<int64_t>(v->get<double>());
  if (v->is_number_unsigned()) return static_cast<int64_t>(v->get<uint64_t>());
  return v->get<int64_t>();
}

std::optional<double> Number(const json& j, const char* key) {
  const json* v = Member(j, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::optional<bool> Bool(const json& j, const char* key) {
  const json* v = Member(j, key);
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json* v = Member(j, key);
  return v != nullptr && v->is_array() ? *v : kEmpty;
}

const json& Object(const json& j, const char* key) {
  static const json kEmpty = json::object();
  const json* v = Member(j, key);
  return v != nullptr && v->is_object() ? *v : kEmpty;
}

const json* FindEvent(const json& report, std::string_view type, const char* name) {
  for (const json& e : Array(report, "timeline")) {
    if (Text(e, "type") == type && (name == nullptr || Text(e, "name") == name)) return &e;
  }
  return nullptr;
}

}  // namespace firedrill::report_json
