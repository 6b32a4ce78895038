// The blast radius of file and disk faults: a path is acceptable only if, with `..` and
// every symlink that exists resolved, it lies inside one of allow_paths (resolved the same
// way). A symlink inside that points outside is therefore refused.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runner/base/status.h"

namespace firedrill {

// `p` is `root` or below it, component by component (both already resolved or normalised).
bool PathWithin(const std::filesystem::path& p, const std::filesystem::path& root);

// Returns `path` resolved (relative paths against `base`), or kInvalid naming the path and
// the allowed roots. Parts of the path that do not exist yet are normalised lexically.
Result<std::string> ResolveInside(const std::string& path, const std::string& base,
                                  const std::vector<std::string>& allow);

}  // namespace firedrill
