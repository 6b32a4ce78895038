#include "runner/drill/schema.h"

#include <cstdio>
#include <cstdlib>

namespace firedrill {

const char* FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kString:
      return "string";
    case FieldType::kRegex:
      return "regex";
    case FieldType::kInt:
      return "integer";
    case FieldType::kBool:
      return "bool";
    case FieldType::kDuration:
      return "duration";
    case FieldType::kSize:
      return "size";
    case FieldType::kSizeOrPercent:
      return "size|percent";
    case FieldType::kPercent:
      return "percent";
    case FieldType::kSignal:
      return "signal";
    case FieldType::kStringList:
      return "list";
    case FieldType::kStringMap:
      return "map";
    case FieldType::kStatusRange:
      return "status";
    case FieldType::kEnum:
      return "enum";
    case FieldType::kObject:
      return "object";
    case FieldType::kAddress:
      return "host:port";
    case FieldType::kUrl:
      return "url";
    case FieldType::kPath:
      return "path";
  }
  return "?";
}

const Param& Params::Get(std::string_view key) const {
  auto it = values_.find(std::string(key));
  if (it == values_.end()) {
    // A missing key here is a schema/registry bug, never user input: fail loudly.
    std::fprintf(stderr, "firedrill: internal error: parameter '%.*s' missing\n",
                 static_cast<int>(key.size()), key.data());
    std::abort();
  }
  return it->second;
}

const std::string& Params::String(std::string_view k) const {
  return std::get<std::string>(Get(k).value);
}
int64_t Params::Int(std::string_view k) const { return std::get<int64_t>(Get(k).value); }
bool Params::Bool(std::string_view k) const { return std::get<bool>(Get(k).value); }
Millis Params::Duration(std::string_view k) const { return std::get<Millis>(Get(k).value); }
SizeValue Params::Size(std::string_view k) const { return std::get<SizeValue>(Get(k).value); }
double Params::Percent(std::string_view k) const { return std::get<double>(Get(k).value); }
const std::vector<std::string>& Params::List(std::string_view k) const {
  return std::get<std::vector<std::string>>(Get(k).value);
}
const std::map<std::string, std::string>& Params::Map(std::string_view k) const {
  return std::get<std::map<std::string, std::string>>(Get(k).value);
}
StatusRange Params::Range(std::string_view k) const { return std::get<StatusRange>(Get(k).value); }
const Params& Params::Object(std::string_view k) const {
  return *std::get<std::shared_ptr<Params>>(Get(k).value);
}
Mark Params::MarkOf(std::string_view k) const {
  auto it = values_.find(std::string(k));
  return it == values_.end() ? Mark{} : it->second.mark;
}

}  // namespace firedrill
