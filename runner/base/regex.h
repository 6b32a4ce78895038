// Regular expressions from drill files, through RE2: linear time in the text searched, no
// recursion, and memory bounded while compiling and matching, whatever the pattern; and
// the syntax Prometheus and Alertmanager users already write. RE2 has no backreferences
// and no lookaround; a pattern that uses them is refused with a message that says so.
//
// Every pattern is compiled in multiline mode (`^` and `$` also match at line breaks), so
// `^OK$` matches the output "OK\n" the way a drill author reading it expects; `.` does not
// match a line break.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>

#include "runner/base/status.h"

namespace firedrill {

// The memory RE2 may use for one compiled pattern and its matching automata (its default).
inline constexpr int64_t kRegexMemory = int64_t{8} << 20;

// kInvalid naming RE2 and what it could not take ("RE2 cannot compile it: missing ): (a").
Result<std::unique_ptr<RE2>> CompileRegex(std::string_view pattern);

// Is there a match anywhere in `text`? On a match, `*match_pos` (if given) is where it
// starts and `*match` (if given) what it matched.
bool RegexSearch(const RE2& re, std::string_view text, size_t* match_pos = nullptr,
                 std::string_view* match = nullptr);

// `text` with every match of `re` replaced by `rewrite`, written as a drill writes a
// replacement: `$1`..`$99` for a group, `$&` for the whole match, `$$` for one dollar; any
// other character stands for itself. Empty matches are replaced too (at most one per
// position). kInvalid when the rewrite names a group the pattern does not have.
struct Replaced {
  std::string text;
  size_t matches = 0;
  std::string first_before, first_after;  // the first match and what replaced it
};
Result<Replaced> RegexReplaceAll(const RE2& re, std::string_view text, std::string_view rewrite);

}  // namespace firedrill
