#include "runner/base/paths.h"

#include <filesystem>
#include <optional>

namespace fs = std::filesystem;

namespace firedrill {
namespace {

bool Within(const fs::path& p, const fs::path& root) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

// Stands for a temporary workdir, which cannot hold symlinks yet and is nowhere else.
constexpr const char* kVirtualWorkdir = "/\x01workdir";

// `text` with ${workdir} replaced, or nullopt when it refers to anything else.
std::optional<fs::path> Concrete(const std::string& text, const std::string& workdir) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "$$") == 0) {
      out += '$';
      ++i;
    } else if (text.compare(i, 10, "${workdir}") == 0) {
      out += workdir;
      i += 9;
    } else if (text.compare(i, 2, "${") == 0) {
      return std::nullopt;
    } else {
      out += text[i];
    }
  }
  fs::path p(out);
  if (p.is_relative()) p = fs::path(workdir) / p;
  return p;
}

fs::path Resolve(const fs::path& p) {
  std::error_code ec;
  if (p.string().rfind(kVirtualWorkdir, 0) == 0) return p.lexically_normal();
  fs::path r = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : r;
}

}  // namespace

std::string OutsideAllowPathsStatically(const std::string& path,
                                        const std::vector<std::string>& allow,
                                        const std::string& workdir) {
  std::string wd = workdir.empty() ? kVirtualWorkdir : workdir;
  if (wd.find("${") != std::string::npos) return "";
  auto p = Concrete(path, wd);
  if (!p) return "";
  fs::path real = Resolve(*p);
  std::vector<std::string> roots = allow.empty() ? std::vector<std::string>{"${workdir}"} : allow;
  std::string shown;
  for (const auto& a : roots) {
    auto root = Concrete(a, wd);
    if (!root) return "";  // an allowed root known only at run time
    fs::path r = Resolve(*root);
    if (Within(real, r)) return "";
    shown += (shown.empty() ? "" : ", ") + a;
  }
  std::string why = path + " is outside settings.allow_paths [" + shown + "]";
  if (real.string().rfind(kVirtualWorkdir, 0) != 0 && real != p->lexically_normal()) {
    why += " (it resolves to " + real.string() + ")";
  }
  return why;
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
    if (Within(real, root)) return real.string();
    roots += (roots.empty() ? "" : ", ") + root.string();
  }
  std::string shown = real.string() == path ? path : path + " (resolves to " + real.string() + ")";
  return Status::Invalid(shown + " is outside settings.allow_paths [" + roots + "]");
}

}  // namespace firedrill
