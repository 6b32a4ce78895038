#include "runner/drill/pattern.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace firedrill {
namespace {

// Depth of libstdc++'s recursive matcher grows with the text it is given: about 0.7 KiB
// of stack per character for `(a|b)*` in a debug build. 2 KiB windows stay far below a
// default 8 MiB thread stack.
constexpr size_t kWindow = 2048;
constexpr size_t kOverlap = 1024;
constexpr size_t kStride = kWindow - kOverlap;
// A match ending this close to a window's end may depend on text past it (a lookahead,
// \b, $); it is left to the next window, which sees that text.
constexpr size_t kGuard = 64;

}  // namespace

Result<const std::regex*> Pattern::Compile(const Expander& expander, std::optional<int64_t> seq) {
  auto text = expander.Expand(text_, seq);
  if (!text.ok()) return text.status().Annotate("regex /" + OneLine(text_) + "/");
  if (re_ && *text == expanded_) return &*re_;
  re_.reset();
  expanded_ = *text;
  try {
    re_.emplace(expanded_, std::regex::ECMAScript | std::regex::multiline);
  } catch (const std::regex_error& e) {
    return Status::Invalid("bad regex " + Shown() + ": " + e.what());
  }
  return &*re_;
}

std::string Pattern::Shown() const {
  return "/" + OneLine(expanded_.empty() ? text_ : expanded_, kDetailTextMax / 2) + "/";
}

SearchResult BoundedSearch(const std::regex& re, std::string_view text,
                           std::chrono::steady_clock::time_point deadline, size_t* match_pos) {
  try {
    std::cmatch m;
    // An empty view may carry a null pointer, which regex_search must not see.
    const char* const base = text.empty() ? "" : text.data();
    for (size_t start = 0;; start += kStride) {
      const size_t end = std::min(start + kWindow, text.size());
      const bool last = end == text.size();
      // Tells the matcher that text precedes the window, so ^ and \b judge its first
      // character by the one before it instead of treating it as the start of input.
      auto flags =
          start > 0 ? std::regex_constants::match_prev_avail : std::regex_constants::match_default;
      if (std::regex_search(base + start, base + end, m, re, flags)) {
        const size_t pos = start + static_cast<size_t>(m.position(0));
        const size_t match_end = pos + static_cast<size_t>(m.length(0));
        if (last || match_end + kGuard <= end) {
          if (match_pos) *match_pos = pos;
          return SearchResult::kFound;
        }
      }
      if (last) return SearchResult::kNotFound;
      if (std::chrono::steady_clock::now() > deadline) return SearchResult::kGaveUp;
    }
  } catch (const std::exception&) {
    // libstdc++ may throw regex_error (complexity) or bad_alloc; either way no answer.
    return SearchResult::kGaveUp;
  }
}

}  // namespace firedrill
