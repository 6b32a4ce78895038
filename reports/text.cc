#include "reports/text.h"

#include <fmt/format.h>

#include <cstdint>

namespace firedrill {

std::string ValidUtf8(std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // Lead byte -> sequence length and the allowed range of the second byte, which is
    // what rules out overlong forms, surrogates and code points above U+10FFFF.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      len = 3;
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;
    }
    size_t good = 0;  // bytes of a valid prefix
    if (len > 0) {
      good = 1;
      while (good < len && i + good < s.size()) {
        const auto b = static_cast<unsigned char>(s[i + good]);
        const unsigned char blo = good == 1 ? lo : 0x80;
        const unsigned char bhi = good == 1 ? hi : 0xBF;
        if (b < blo || b > bhi) break;
        ++good;
      }
    }
    if (len > 0 && good == len) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      // One replacement per maximal invalid prefix (the Unicode "best practice").
      out.append(kReplacement);
      i += good > 0 ? good : 1;
    }
  }
  return out;
}

std::string HumanMillis(int64_t ms) {
  if (ms < 0) return "-" + HumanMillis(ms == INT64_MIN ? INT64_MAX : -ms);
  const int64_t h = ms / 3600000;
  const int64_t m = ms / 60000 % 60;
  const int64_t s = ms / 1000 % 60;
  const int64_t frac = ms % 1000;
  if (h > 0) return fmt::format("{}h{:02}m{:02}.{:03}s", h, m, s, frac);
  if (m > 0) return fmt::format("{}m{:02}.{:03}s", m, s, frac);
  return fmt::format("{}.{:03}s", s, frac);
}

}  // namespace firedrill
