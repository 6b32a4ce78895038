// UTF-8, the one routine every layer uses: drill files must be UTF-8 (the loader refuses
// anything else at its first bad byte), and text that reaches a report or a terminal
// (command output, log lines) is made valid UTF-8 first, because JSON and terminals need it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace firedrill {

// One step through UTF-8 text: the code point at a position, or the bytes that are not UTF-8
// there (a stray continuation byte, an overlong form, a surrogate, a value past U+10FFFF, a
// sequence cut short).
struct Utf8Step {
  bool valid = false;
  // Valid: the sequence's length, 1 to 4. Invalid: the maximal invalid subpart, the bytes
  // that one U+FFFD replaces under the Unicode "best practice" (at least 1).
  size_t length = 1;
  char32_t code_point = 0;  // when valid
};

// REQUIRES: at < text.size().
Utf8Step NextUtf8(std::string_view text, size_t at);

// `text` with every invalid sequence replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);

// `text` cut to at most `max_code_points` whole code points (an invalid byte counts as one).
std::string_view Utf8Prefix(std::string_view text, size_t max_code_points);

}  // namespace firedrill
