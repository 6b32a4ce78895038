// The blast radius of file and disk faults: a path is acceptable only if, with `..` and
// every symlink that exists resolved, it lies inside one of allow_paths (resolved the same
// way). A symlink inside that points outside is therefore refused.
#pragma once

#include <string>
#include <vector>

#include "runner/base/status.h"

namespace firedrill {

// Returns `path` resolved (relative paths against `base`), or kInvalid naming the path and
// the allowed roots. Parts of the path that do not exist yet are normalised lexically.
Result<std::string> ResolveInside(const std::string& path, const std::string& base,
                                  const std::vector<std::string>& allow);

// The same check at validation time, on the drill's text, before anything runs: `path`
// and the allow_paths entries may use ${workdir} (`workdir` is settings.workdir as written,
// "" for a temporary one). Returns why the path is outside, or "" when it is inside or
// cannot be judged before the run (it uses ${env:...} or ${port:...}); the run checks
// again on the real filesystem, symlinks resolved, right before it acts.
std::string OutsideAllowPathsStatically(const std::string& path,
                                        const std::vector<std::string>& allow,
                                        const std::string& workdir);

}  // namespace firedrill
