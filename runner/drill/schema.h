// The field schema shared by every registry (probe kinds, fault actions). The loader
// validates a YAML map against a table of FieldSpec and produces Params; `firedrill
// faults`/`probes` and docs/drill-format.md print the same tables.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runner/base/values.h"

namespace firedrill {

// A position in a drill file, 1-based. line == 0 means "no position known".
struct Mark {
  int line = 0;
  int column = 0;
};

enum class FieldType {
  kString,  // free text; ${} expands at run time
  kRegex,   // RE2 regex (runner/base/regex.h), compiled at load time
  kInt,     // integer within [min, max]
  kBool,
  kDuration,       // 250ms, 5s, 2m, 1h (bounds in ms)
  kSize,           // 512KiB, 64MiB (bounds in bytes)
  kSizeOrPercent,  // a size, or "90%" of a filesystem
  kPercent,        // 0%..100% (bounds in percent)
  kSignal,         // SIGKILL, KILL, 9
  kStringList,
  kStringMap,    // headers
  kStatusRange,  // 200 or [200, 299]
  kEnum,         // one of `choices`
  kObject,       // nested map with its own `fields`
  kAddress,      // host:port (loopback or a named host)
  kUrl,          // http(s)://host:port/... (loopback or a named host)
  kPath,         // a filesystem path; ${} expands
};

const char* FieldTypeName(FieldType t);

struct FieldSpec {
  const char* name = "";
  FieldType type = FieldType::kString;
  const char* doc = "";
  bool required = false;
  const char* default_value = nullptr;  // written as in YAML; parsed like user input
  double min = 0;                       // numeric bounds; max == 0 means unbounded
  double max = 0;
  std::span<const char* const> choices = {};  // kEnum
  std::span<const FieldSpec> fields = {};     // kObject
};

struct SizeValue {
  uint64_t bytes = 0;
  double percent = -1;  // >= 0 when written as "NN%"
  bool is_percent() const { return percent >= 0; }
};

struct StatusRange {
  int64_t lo = 0;
  int64_t hi = 0;
};

class Params;

// A problem a registry's cross-field check found, and where.
struct FieldError {
  Mark mark;
  std::string message;
};

// One validated field value with the place it was written.
struct Param {
  using Value =
      std::variant<std::string, int64_t, bool, Millis, SizeValue, double, std::vector<std::string>,
                   std::map<std::string, std::string>, StatusRange, std::shared_ptr<Params>>;
  Value value;
  Mark mark;
};

// Validated fields of one probe, fault `with`, or nested object. Getters REQUIRE that the
// key holds that type (the schema guarantees it); defaults are filled in by the loader.
class Params {
 public:
  bool Has(std::string_view key) const { return values_.count(std::string(key)) > 0; }
  void Set(std::string key, Param p) { values_[std::move(key)] = std::move(p); }

  const std::string& String(std::string_view key) const;
  int64_t Int(std::string_view key) const;
  bool Bool(std::string_view key) const;
  Millis Duration(std::string_view key) const;
  SizeValue Size(std::string_view key) const;
  double Percent(std::string_view key) const;
  const std::vector<std::string>& List(std::string_view key) const;
  const std::map<std::string, std::string>& Map(std::string_view key) const;
  StatusRange Range(std::string_view key) const;
  const Params& Object(std::string_view key) const;
  Mark MarkOf(std::string_view key) const;

  const std::map<std::string, Param>& values() const { return values_; }
  bool empty() const { return values_.empty(); }

 private:
  const Param& Get(std::string_view key) const;
  std::map<std::string, Param> values_;
};

}  // namespace firedrill
