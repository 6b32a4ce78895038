#include "runner/base/values.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

namespace firedrill {
namespace {

bool ParseNumber(std::string_view s, size_t& i, double& out) {
  size_t start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i == start || (i - start == 1 && s[start] == '.')) return false;
  if (i - start > 15) return false;  // keeps the value exact in a double
  out = std::stod(std::string(s.substr(start, i - start)));
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Millis> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return Status::Invalid("expected a duration such as 250ms, 5s, 2m or 1h");
  size_t i = 0;
  double total = 0;
  while (i < s.size()) {
    double n = 0;
    if (!ParseNumber(s, i, n)) {
      return Status::Invalid("expected a duration such as 250ms, 5s, 2m or 1h, got '" +
                             std::string(s) + "'");
    }
    size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(u, i - u);
    double scale = 0;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60000;
    else if (unit == "h")
      scale = 3600000;
    else if (unit.empty())
      return Status::Invalid("duration '" + std::string(s) +
                             "' needs a unit: ms, s, m or h (e.g. " + std::string(s.substr(0, u)) +
                             "s)");
    else
      return Status::Invalid("unknown duration unit '" + std::string(unit) + "' in '" +
                             std::string(s) + "' (use ms, s, m or h)");
    total += n * scale;
  }
  if (total > 1e12) return Status::Invalid("duration '" + std::string(s) + "' is too long");
  double rounded = std::round(total);
  if (std::fabs(rounded - total) > 1e-6) {
    return Status::Invalid("duration '" + std::string(s) + "' is finer than a millisecond");
  }
  return Millis(static_cast<int64_t>(rounded));
}

Result<uint64_t> ParseSize(std::string_view text) {
  std::string_view s = Trim(text);
  size_t i = 0;
  double n = 0;
  if (!ParseNumber(s, i, n)) {
    return Status::Invalid("expected a size such as 512KiB, 64MiB or 1GiB, got '" + std::string(s) +
                           "'");
  }
  std::string_view unit = Trim(s.substr(i));
  struct U {
    const char* name;
    double scale;
  };
  static constexpr U kUnits[] = {{"B", 1},
                                 {"KiB", 1024.0},
                                 {"MiB", 1024.0 * 1024},
                                 {"GiB", 1024.0 * 1024 * 1024},
                                 {"TiB", 1024.0 * 1024 * 1024 * 1024},
                                 {"KB", 1e3},
                                 {"kB", 1e3},
                                 {"MB", 1e6},
                                 {"GB", 1e9},
                                 {"TB", 1e12}};
  if (unit.empty()) {
    return Status::Invalid("size '" + std::string(s) + "' needs a unit: B, KiB, MiB, GiB (e.g. " +
                           std::string(s) + "MiB)");
  }
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      double bytes = n * u.scale;
      if (bytes > 1.8e19) return Status::Invalid("size '" + std::string(s) + "' is too large");
      return static_cast<uint64_t>(std::llround(bytes));
    }
  }
  return Status::Invalid("unknown size unit '" + std::string(unit) +
                         "' (use B, KiB, MiB, GiB, TiB, KB, MB, GB)");
}

Result<double> ParsePercent(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty() || s.back() != '%') {
    return Status::Invalid("expected a percentage such as 90%, got '" + std::string(s) + "'");
  }
  size_t i = 0;
  double n = 0;
  std::string_view num = Trim(s.substr(0, s.size() - 1));
  if (!ParseNumber(num, i, n) || i != num.size()) {
    return Status::Invalid("expected a percentage such as 90%, got '" + std::string(s) + "'");
  }
  return n;
}

std::string FormatDuration(Millis d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3600000 == 0) return fmt::format("{}h", ms / 3600000);
  if (ms % 60000 == 0) return fmt::format("{}m", ms / 60000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  if (ms > 1000) {
    std::string s = fmt::format("{}.{:03d}", ms / 1000, static_cast<int>(ms % 1000));
    while (s.back() == '0') s.pop_back();
    return s + "s";
  }
  return fmt::format("{}ms", ms);
}

std::string FormatBytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return fmt::format("{}B", b);
  return fmt::format("{:.1f}{}", v, units[u]);
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
