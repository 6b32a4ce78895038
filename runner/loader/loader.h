// Loading a drill file: YAML -> Scenario, validated against the contract and against the
// probe and fault registries. Every problem is reported with file:line:column; loading
// never touches the system.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runner/drill/scenario.h"

namespace firedrill {

struct Diagnostic {
  std::string file;
  Mark mark;
  std::string message;
  // "drill.yaml:12:5: error: unknown key 'timout'; did you mean 'timeout'?"
  std::string ToString(const char* severity = "error") const;
};

struct LoadResult {
  std::optional<Scenario> scenario;  // set only when there are no errors
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> notes;  // valid, but worth knowing (e.g. not runnable here)
  bool ok() const { return errors.empty() && scenario.has_value(); }
};

struct LoadOptions {
  // Reject the drill if it uses a probe kind or fault action this build cannot run yet
  // (what `run` needs); `validate` reports those as notes instead.
  bool require_runnable = false;
  // Limits on hostile input (docs/drill-format.md, "Limits"). Drills are small and come from
  // anyone, and yaml-cpp has no limits of its own, so past these a drill is refused before yaml-cpp
  // builds a single node: memory and time stay bounded whatever the file holds.
  // yaml-cpp's scanner can buffer every token of a flow collection before it emits the
  // first event (`{[a], [a], ...`): about 290 bytes of memory per byte of such a file.
  size_t max_bytes = 256 << 10;
  size_t max_depth = 64;     // maps and lists nested in each other
  size_t max_nodes = 50000;  // scalars, maps and lists, each alias counted as what it copies
  size_t max_aliases = 64;   // `*name` uses
  // RE2 bounds a pattern's memory itself (runner/base/regex.h); this only keeps a drill's
  // patterns to a size a person writes.
  size_t max_regex_bytes = 16 << 10;
  // What `ansible-inventory --list` printed for the drill's `hosts_from:`, as the
  // controller read it: used instead of running Ansible (a host's agent loads the drill
  // where neither the inventory nor Ansible may be).
  std::optional<std::string> inventory_json = std::nullopt;
};

LoadResult LoadScenarioFile(const std::string& path, const LoadOptions& opts = {});
LoadResult LoadScenarioText(const std::string& text, const std::string& file_name,
                            const LoadOptions& opts = {});

}  // namespace firedrill
