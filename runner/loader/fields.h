// The field-schema engine: a YAML map checked against a table of FieldSpec (the tables of
// the probe kinds and fault actions, runner/drill/schema.h) and turned into Params. Every
// registry's fields are validated here, the same way, so the loader, `firedrill faults` and
// the docs can never disagree about what a field accepts.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <span>
#include <string>

#include "runner/drill/schema.h"
#include "runner/loader/locality.h"
#include "runner/loader/reader.h"

namespace firedrill {

class FieldParser {
 public:
  // Both must outlive the parser.
  FieldParser(Reader& reader, const Locality& locality) : in_(reader), locality_(locality) {}

  // The fields of `map` (absent or null: an empty map) against `fields`: unknown keys,
  // missing required ones and bad values are reported; defaults are filled in, nested
  // objects included. Null when anything was wrong. `owner` positions errors about the
  // map when the map itself is absent (no `with:`).
  std::shared_ptr<Params> Parse(const YAML::Node& map, std::span<const FieldSpec> fields,
                                const std::string& where, RefScope scope, Mark owner = {});

 private:
  std::optional<Param> Field(const FieldSpec& spec, const YAML::Node& n, const std::string& where,
                             RefScope scope);
  std::optional<std::string> Regex(const YAML::Node& n, const std::string& what, RefScope scope);

  Reader& in_;
  const Locality& locality_;
};

}  // namespace firedrill
