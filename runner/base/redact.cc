#include "runner/base/redact.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runner/base/atomic_file.h"

namespace firedrill {

void Redactor::Add(const std::string& name, const std::string& value) {
  if (value.size() < kMinSecret) return;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& s : secrets_) {
    if (s.first == value) return;
  }
  secrets_.emplace_back(value, "${env:" + name + "}");
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::string Redactor::Apply(std::string text) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [value, repl] : secrets_) {
    size_t pos = 0;
    while ((pos = text.find(value, pos)) != std::string::npos) {
      text.replace(pos, value.size(), repl);
      pos += repl.size();
    }
  }
  return text;
}

bool Redactor::empty() const {
  std::lock_guard<std::mutex> l(mu_);
  return secrets_.empty();
}

bool RedactFile(const Redactor& r, const std::string& path, size_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > max_bytes) return false;
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  std::string clean = r.Apply(text);
  if (clean == text) return true;
  // The log keeps its mode and owner; a crash mid-way leaves the old one, never half.
  auto meta = FileMeta::Of(path);
  return meta.ok() && WriteFileAtomically(path, clean, *meta).ok();
}

}  // namespace firedrill
