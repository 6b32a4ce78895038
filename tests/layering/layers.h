// The layer order of the product's folders, and the check that every `#include "..."` in
// the product follows it. The rules are data, in the tables below and nowhere else: the
// checker, its messages and the order they print are all derived from them, so a new
// layer is one line here. Standard library only, so that the build can run the check
// before (and whether or not) any product layer compiles.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace firedrill::layering {

struct Layer {
  std::string_view folder;  // from the repository root; its subfolders belong to it too
  std::string_view name;    // as the order is written in messages
  int rank;                 // a file may include its own layer and any of lower rank
};

// Lowest first. Same rank means neither is built on the other.
inline constexpr Layer kLayers[] = {
    {"runner/base", "base", 1},     {"runner/journal", "journal", 2},
    {"runner/drill", "drill", 3},   {"injectors", "injectors", 4},
    {"probes", "probes", 4},        {"runner/loader", "loader", 5},
    {"runner/engine", "engine", 6}, {"reports", "reports", 7},
    {"runner/cli", "cli", 8},
};

// Layers of the same rank that must never include each other. Injectors and probes are
// peers that only the loader joins: each library links fd_drill alone, so an include
// between them would compile against code its target does not link.
struct Apart {
  std::string_view a;
  std::string_view b;
};
inline constexpr Apart kApart[] = {{"injectors", "probes"}};

// Top-level folders of the repository that are never product code, so the product may
// not include from them even though their headers exist.
inline constexpr std::string_view kNotProduct[] = {"tests", "bench"};

struct Violation {
  std::string file;     // relative to the root, with '/' separators
  int line = 0;         // 1-based; 0 when the file itself is misplaced
  std::string include;  // as written between the quotes; empty when line is 0
  std::string message;  // explains the rule broken, naming the layers involved

  // `file:line: message`, or `file: message` for a misplaced file.
  std::string ToString() const;
};

struct Report {
  std::vector<Violation> violations;  // sorted by file, then line
  int files = 0;                      // .cc and .h files read
  int includes = 0;                   // quoted includes judged
};

// The path between the quotes of an `#include "..."` line (leading whitespace, space
// after '#' and a trailing comment allowed); nullopt for any other line, `<...>` includes
// included: those are library headers, not ours to order.
std::optional<std::string> QuotedInclude(std::string_view line);

// Reads every .cc and .h file under the product's folders of `root` (the top-level
// folders of kLayers) and judges each quoted include against the tables above.
Report CheckLayering(const std::filesystem::path& root);

// "base < journal < drill < injectors, probes < loader < engine < reports < cli".
std::string LayerOrder();

}  // namespace firedrill::layering
