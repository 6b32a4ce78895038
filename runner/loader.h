// Loading a drill file: YAML -> Scenario, validated against the contract and against the
// probe and fault registries. Every problem is reported with file:line:column; loading
// never touches the system.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runner/scenario.h"

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
  size_t max_bytes = 4 << 20;  // drill files are small; anything larger is a mistake
};

LoadResult LoadScenarioFile(const std::string& path, const LoadOptions& opts = {});
LoadResult LoadScenarioText(const std::string& text, const std::string& file_name,
                            const LoadOptions& opts = {});

}  // namespace firedrill
