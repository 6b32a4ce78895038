// The first line of defence: a drill file may come from anyone, and yaml-cpp trusts its
// input. It builds every node before anyone can look (a 1 MiB list of numbers takes 240 MB),
// shares aliased nodes so that a "billion laughs" file, or one whose alias points into
// itself, only blows up when walked, and its only guard (recursion depth 2000) reports
// "bad file" at 1:1. So the raw bytes are checked first, then the structure on yaml-cpp's
// event stream, which builds nothing, and only then does YAML::Load run. Each refusal is
// one error at the first offending byte or node.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "runner/drill/schema.h"
#include "runner/loader/loader.h"

namespace firedrill {

// A refusal of the whole file, and where.
struct Rejection {
  Mark mark;
  std::string message;
};

// Line and column of byte `at`, 1-based. Columns count bytes, as yaml-cpp's marks do, so
// every position in one report means the same thing; a leading byte-order mark is not
// counted, as yaml-cpp skips it.
Mark MarkAt(std::string_view text, size_t at);

// At 1:1: the whole file is the problem, not a place in it. `size` as it should be shown
// ("300.0KiB", "more than 256.0KiB").
Rejection TooBig(const std::string& size, const LoadOptions& opts);

// The first byte that makes `text` something other than YAML text in UTF-8. yaml-cpp would
// take NUL bytes, control characters and broken UTF-8 into scalars, and they would end up
// in commands, file names and terminals.
std::optional<Rejection> CheckEncoding(std::string_view text);

// Runs yaml-cpp's parser over `text` without building a node and refuses, at the first
// node past it, more than one document, nesting deeper than opts.max_depth, more than
// opts.max_nodes nodes (an alias counted as what it copies), more than opts.max_aliases
// aliases, or an alias inside the node it names. Text that is not YAML is refused here
// too ("not valid YAML: ..." at yaml-cpp's mark).
std::optional<Rejection> CheckStructure(const std::string& text, const LoadOptions& opts);

}  // namespace firedrill
