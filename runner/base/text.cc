#include "runner/base/text.h"

#include <cctype>
#include <cstring>

namespace firedrill {

std::string OneLine(std::string_view text, size_t max) {
  // Output often starts with a blank line; the first line with text says more.
  size_t first = text.find_first_not_of(" \t\r\n");
  text.remove_prefix(first == std::string_view::npos ? text.size() : first);
  size_t eol = text.find_first_of("\r\n");
  std::string_view line = text.substr(0, eol);
  bool more = eol != std::string_view::npos &&
              text.find_first_not_of(" \t\r\n", eol) != std::string_view::npos;
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.size() > max) {
    line = line.substr(0, max);
    more = true;
  }
  std::string out;
  out.reserve(line.size() + 3);
  for (char c : line) {
    out += std::iscntrl(static_cast<unsigned char>(c)) && c != '\t' ? '?' : c;
  }
  if (more) out += "...";
  return out;
}

std::string Quoted(std::string_view text, size_t max) { return "\"" + OneLine(text, max) + "\""; }

std::string ResolvePath(const std::string& path, const std::string& workdir) {
  if (path.empty() || path[0] == '/' || workdir.empty()) return path;
  return workdir + "/" + path;
}

std::string ErrnoText(int err) {
  // The GNU strerror_r (g++ always defines _GNU_SOURCE): strerror may share one buffer
  // between threads.
  char buf[256];
  std::string m = strerror_r(err, buf, sizeof(buf));
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

}  // namespace firedrill
