// Reading a drill's YAML with positions: every value the sections ask for comes with the
// checks that are the same everywhere (a map where a map belongs, known keys only, no key
// twice, durations with units, names that are names, ${...} references that exist where
// they are used), and every problem is recorded at its file:line:column. Nothing here knows
// what a drill means; the sections (runner/loader/sections.h) do.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runner/base/values.h"
#include "runner/drill/schema.h"
#include "runner/loader/loader.h"

namespace firedrill {

// Where in a drill a string sits, which decides the ${} references it may use.
enum class RefScope { kNormal, kData };

Mark MarkOf(const YAML::Node& n);

// The allowed keys of a map, as Reader::Keys takes them.
inline std::vector<std::string> Names(std::initializer_list<const char*> keys) {
  return std::vector<std::string>(keys.begin(), keys.end());
}

class Reader {
 public:
  Reader(std::string file, std::string source, const LoadOptions& opts)
      : file_(std::move(file)), source_(std::move(source)), opts_(opts) {}

  const LoadOptions& options() const { return opts_; }

  // ---- diagnostics -------------------------------------------------------------------
  void ErrorAt(Mark m, std::string message);
  void Error(const YAML::Node& n, std::string message) { ErrorAt(MarkOf(n), std::move(message)); }
  void NoteAt(Mark m, std::string message);
  // Every error reported, the ones past the first kMaxErrors (not kept) included, so that a
  // caller can tell whether a step found anything wrong however many came before.
  size_t error_count() const { return error_count_; }
  // Errors sorted by position (the order a person reads the file in), then notes.
  std::vector<Diagnostic> TakeErrors();
  std::vector<Diagnostic> TakeNotes() { return std::move(notes_); }

  // ---- structure ---------------------------------------------------------------------
  bool IsMap(const YAML::Node& n, const std::string& what);
  bool IsSeq(const YAML::Node& n, const std::string& what);
  // ", got 'x'", ", got a list", ...: what was found instead.
  static std::string Got(const YAML::Node& n);

  struct Entry {
    YAML::Node key;
    YAML::Node value;
  };
  using Entries = std::map<std::string, Entry>;
  // The keys of `map` that are `allowed`; unknown, duplicate and non-scalar keys are
  // reported (with the nearest allowed name for a typo) and left out.
  Entries Keys(const YAML::Node& map, const std::vector<std::string>& allowed,
               const std::string& where);

  // For each map in the list `section`, its allowed keys and its `name` (checked: present,
  // well formed, unique in the section; "" when not, after saying why). A section that is
  // not a list, and items that are not maps, are reported and skipped.
  void ForEachNamed(const YAML::Node& section, const std::string& section_name,
                    const std::string& item, const std::vector<std::string>& allowed,
                    const std::function<void(const YAML::Node& node, Entries& keys,
                                             const std::string& name)>& fn);

  // ---- values ------------------------------------------------------------------------
  std::optional<std::string> Scalar(const YAML::Node& n, const std::string& what);
  // A scalar whose ${...} references are valid where it sits (see drill/expand.h).
  std::optional<std::string> Text(const YAML::Node& n, const std::string& what,
                                  RefScope scope = RefScope::kNormal);
  std::optional<Millis> DurationOf(const YAML::Node& n, const std::string& what, int64_t min_ms = 0,
                                   int64_t max_ms = 0);
  // max == 0: no upper bound.
  std::optional<int64_t> IntOf(const YAML::Node& n, const std::string& what, double min,
                               double max);
  std::optional<bool> BoolOf(const YAML::Node& n, const std::string& what);

  // A name of something in a drill: [a-z0-9][a-z0-9_-]*, at most 128 characters.
  bool CheckName(const YAML::Node& n, const std::string& name, const std::string& what);
  // Remembers where each name was first seen; a second one is an error.
  bool UniqueName(std::map<std::string, Mark>& seen, const std::string& name, Mark m,
                  const std::string& what);

  // The position of the reference starting at byte `offset` of a scalar's value.
  Mark OffsetMark(const YAML::Node& n, size_t offset);

  // Every ${port:NAME} seen so far, by NAME.
  const std::set<std::string>& ports() const { return ports_; }
  // Every ${host:NAME} seen so far, where it was written.
  const std::vector<std::pair<std::string, Mark>>& host_refs() const { return host_refs_; }

 private:
  static constexpr size_t kMaxErrors = 100;
  bool CheckRefs(const YAML::Node& n, const std::string& text, RefScope scope,
                 const std::string& what);

  std::string file_;
  std::string source_;
  const LoadOptions& opts_;
  std::vector<Diagnostic> errors_;
  size_t error_count_ = 0;
  std::vector<Diagnostic> notes_;
  std::set<std::string> ports_;
  std::vector<std::pair<std::string, Mark>> host_refs_;
};

}  // namespace firedrill
