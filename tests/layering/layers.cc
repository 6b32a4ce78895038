// The layering check: a line-by-line read of the product's sources, judged against the
// tables in layers.h. Plain string handling is enough: the input is our own tree, and
// every project include is written one way, from the repository root.
#include "tests/layering/layers.h"

#include <algorithm>
#include <fstream>
#include <system_error>

namespace firedrill::layering {
namespace {

namespace fs = std::filesystem;

bool Under(std::string_view path, std::string_view folder) {
  return path.size() > folder.size() && path.substr(0, folder.size()) == folder &&
         path[folder.size()] == '/';
}

// The deepest layer folder holding `path`, so that a layer nested in another's folder
// (none is, today) would still win over its parent.
const Layer* LayerOf(std::string_view path) {
  const Layer* best = nullptr;
  for (const Layer& layer : kLayers) {
    if (Under(path, layer.folder) && (!best || layer.folder.size() > best->folder.size())) {
      best = &layer;
    }
  }
  return best;
}

bool KeptApart(const Layer& x, const Layer& y) {
  for (const Apart& apart : kApart) {
    if ((apart.a == x.name && apart.b == y.name) || (apart.a == y.name && apart.b == x.name)) {
      return true;
    }
  }
  return false;
}

std::string Quoted(std::string_view include) { return "#include \"" + std::string(include) + "\""; }

// Why `from` may not include `to`, or "" if it may.
std::string RankViolation(const Layer& from, const Layer& to, std::string_view include) {
  if (&from == &to) return "";
  if (to.rank == from.rank) {
    if (!KeptApart(from, to)) return "";
    return Quoted(include) + ": " + std::string(from.folder) + " and " + std::string(to.folder) +
           " (both rank " + std::to_string(from.rank) +
           ") must never include each other; what both need belongs in a lower layer (order: " +
           LayerOrder() + ")";
  }
  if (to.rank < from.rank) return "";
  bool has_lower = std::any_of(std::begin(kLayers), std::end(kLayers),
                               [&](const Layer& l) { return l.rank < from.rank; });
  return Quoted(include) + ": " + std::string(from.folder) + " (rank " + std::to_string(from.rank) +
         ") may include only " + std::string(from.folder) +
         (has_lower ? " and the layers below it" : "") + "; " + std::string(to.folder) + " (rank " +
         std::to_string(to.rank) + ") is above it (order: " + LayerOrder() + ")";
}

// Why a path that is in no layer folder may not be included.
std::string NoLayerViolation(std::string_view normal, std::string_view include) {
  for (std::string_view other : kNotProduct) {
    if (Under(normal, other)) {
      return Quoted(include) + ": " + std::string(other) +
             "/ is not product code; the product never includes it";
    }
  }
  return Quoted(include) +
         ": in no layer folder; product code includes only its layers' headers, written from "
         "the repository root (e.g. \"runner/base/status.h\")";
}

void CheckFile(const fs::path& root, const std::string& rel, Report& report) {
  ++report.files;
  const Layer* from = LayerOf(rel);
  if (!from) {
    std::string folders;
    for (const Layer& layer : kLayers) {
      folders += (folders.empty() ? "" : ", ") + std::string(layer.folder);
    }
    report.violations.push_back(
        {rel, 0, "", "product files live in a layer folder (" + folders + "), not here"});
    return;
  }
  std::ifstream in(root / rel);
  if (!in) {
    report.violations.push_back({rel, 0, "", "cannot be read"});
    return;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::optional<std::string> include = QuotedInclude(line);
    if (!include) continue;
    ++report.includes;
    // Spelled from the root, but "a/../b" would still name b: judge what it names.
    std::string normal = fs::path(*include).lexically_normal().generic_string();
    std::string message;
    if (const Layer* to = LayerOf(normal)) {
      message = RankViolation(*from, *to, *include);
      std::error_code ec;
      if (message.empty() && !fs::is_regular_file(root / normal, ec)) {
        message = Quoted(*include) + ": no such file under " + std::string(to->folder) +
                  "/ (project includes are written from the repository root)";
      }
    } else {
      message = NoLayerViolation(normal, *include);
    }
    if (!message.empty()) report.violations.push_back({rel, number, *include, message});
  }
}

}  // namespace

std::string Violation::ToString() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

std::optional<std::string> QuotedInclude(std::string_view line) {
  auto skip_blanks = [&line] {
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  };
  skip_blanks();
  if (!line.starts_with('#')) return std::nullopt;
  line.remove_prefix(1);
  skip_blanks();
  constexpr std::string_view kInclude = "include";
  if (!line.starts_with(kInclude)) return std::nullopt;
  line.remove_prefix(kInclude.size());
  skip_blanks();
  if (!line.starts_with('"')) return std::nullopt;
  line.remove_prefix(1);
  size_t end = line.find('"');
  if (end == std::string_view::npos) return std::nullopt;  // the compiler will say so
  return std::string(line.substr(0, end));
}

std::string LayerOrder() {
  std::vector<Layer> by_rank(std::begin(kLayers), std::end(kLayers));
  std::stable_sort(by_rank.begin(), by_rank.end(),
                   [](const Layer& x, const Layer& y) { return x.rank < y.rank; });
  std::string order;
  for (size_t i = 0; i < by_rank.size(); ++i) {
    if (i > 0) order += by_rank[i].rank == by_rank[i - 1].rank ? ", " : " < ";
    order += by_rank[i].name;
  }
  return order;
}

Report CheckLayering(const fs::path& root) {
  std::vector<std::string> tops;
  for (const Layer& layer : kLayers) {
    std::string top(layer.folder.substr(0, layer.folder.find('/')));
    if (std::find(tops.begin(), tops.end(), top) == tops.end()) tops.push_back(top);
  }
  std::vector<std::string> files;
  for (const std::string& top : tops) {
    if (!fs::is_directory(root / top)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".cc" || ext == ".h")) {
        files.push_back(entry.path().lexically_relative(root).generic_string());
      }
    }
  }
  // Directory order is the file system's; a sorted list gives the same report everywhere.
  std::sort(files.begin(), files.end());
  Report report;
  for (const std::string& rel : files) CheckFile(root, rel, report);
  return report;
}

}  // namespace firedrill::layering
