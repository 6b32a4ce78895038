// Pieces the probe kinds share: regex search that neither crashes nor runs unbounded on
// large text. (Short one-line details and workdir paths: runner/text.h.)
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "runner/drill/expand.h"
#include "runner/base/status.h"
#include "runner/base/text.h"

namespace firedrill {

// How long one regex search over a probe's output may take before the probe gives up.
inline constexpr std::chrono::milliseconds kMatchBudget{1000};

// A regex written in a drill, whose text may hold ${...} references. It is expanded at
// sample time and compiled again only when the expansion changes, so a fixed pattern is
// compiled once and `^${seq}$` once per sequence number.
//
// Patterns are ECMAScript in multiline mode: ^ and $ also match at line breaks, so
// `^OK$` matches the output "OK\n" the way a drill author reading it expects.
class Pattern {
 public:
  explicit Pattern(std::string text) : text_(std::move(text)) {}

  // The compiled pattern for this sample, or why there is none (bad expansion, or a
  // regex that only became invalid once expanded).
  Result<const std::regex*> Compile(const Expander& expander, std::optional<int64_t> seq);
  // The last expansion, for details: "/^42$/".
  std::string Shown() const;

 private:
  std::string text_;
  std::string expanded_;
  std::optional<std::regex> re_;
};

enum class SearchResult { kFound, kNotFound, kGaveUp };

// std::regex_search over all of `text`, made safe for large input: libstdc++ matches
// recursively, one stack frame per character, and overflows the stack on a few tens of
// KiB. The text is searched in overlapping windows of a few KiB, so a match longer than
// about 900 characters that straddles a window boundary may be missed. Gives up once
// `deadline` has passed (checked between windows). On kFound, `*match_pos` (if given)
// is where the match starts.
SearchResult BoundedSearch(const std::regex& re, std::string_view text,
                           std::chrono::steady_clock::time_point deadline,
                           size_t* match_pos = nullptr);

}  // namespace firedrill
