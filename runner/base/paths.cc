#include "runner/base/paths.h"

#include <filesystem>
#include <optional>

namespace fs = std::filesystem;

namespace firedrill {

bool PathWithin(const fs::path& p, const fs::path& root) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

Result<std::string> ResolveInside(const std::string& path, const std::string& base,
                                  const std::vector<std::string>& allow) {
  std::error_code ec;
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base) / p;
  fs::path real = fs::weakly_canonical(p, ec);
  if (ec) return Status::Io("cannot resolve " + path + ": " + ec.message());
  std::string roots;
  for (const auto& a : allow) {
    fs::path root = fs::weakly_canonical(fs::path(a), ec);
    if (ec) continue;
    if (PathWithin(real, root)) return real.string();
    roots += (roots.empty() ? "" : ", ") + root.string();
  }
  std::string shown = real.string() == path ? path : path + " (resolves to " + real.string() + ")";
  return Status::Invalid(shown + " is outside settings.allow_paths [" + roots + "]");
}

}  // namespace firedrill
