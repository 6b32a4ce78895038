#include "runner/base/utf8.h"

namespace firedrill {

Utf8Step NextUtf8(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return Utf8Step{true, 1, c};
  // Lead byte -> sequence length, its payload bits, and the allowed range of the second
  // byte, which is what rules out overlong forms, surrogates and code points past U+10FFFF.
  size_t len = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F;
  } else if (c == 0xE0) {
    len = 3, cp = c & 0x0F, lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    len = 3, cp = c & 0x0F;
  } else if (c == 0xED) {
    len = 3, cp = c & 0x0F, hi = 0x9F;
  } else if (c == 0xF0) {
    len = 4, cp = c & 0x07, lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    len = 4, cp = c & 0x07;
  } else if (c == 0xF4) {
    len = 4, cp = c & 0x07, hi = 0x8F;
  } else {
    return Utf8Step{false, 1, 0};  // a continuation byte, C0, C1 or F5..FF
  }
  size_t good = 1;  // bytes of a valid prefix
  while (good < len && i + good < s.size()) {
    const auto b = static_cast<unsigned char>(s[i + good]);
    if (b < (good == 1 ? lo : 0x80) || b > (good == 1 ? hi : 0xBF)) break;
    cp = (cp << 6) | (b & 0x3F);
    ++good;
  }
  if (good == len) return Utf8Step{true, len, cp};
  return Utf8Step{false, good, 0};
}

std::string ValidUtf8(std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const Utf8Step step = NextUtf8(s, i);
    if (step.valid) {
      out.append(s.substr(i, step.length));
    } else {
      out.append(kReplacement);
    }
    i += step.length;
  }
  return out;
}

std::string_view Utf8Prefix(std::string_view s, size_t max_code_points) {
  size_t i = 0;
  for (size_t n = 0; i < s.size() && n < max_code_points; ++n) i += NextUtf8(s, i).length;
  return s.substr(0, i);
}

}  // namespace firedrill
