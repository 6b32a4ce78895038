// Secrets never reach a report or a log: every value a ${env:NAME} reference expanded to
// is replaced by the reference itself ("redis-cli -a ${env:REDIS_PASSWORD} PING") in the
// timeline, the live view, report.json and the service logs. Values shorter than
// kMinSecret characters are left alone: redacting "1" or "on" would shred every text
// without hiding anything.
#pragma once

#include <mutex>
#include <string>
#include <vector>

namespace firedrill {

class Redactor {
 public:
  static constexpr size_t kMinSecret = 4;

  void Add(const std::string& name, const std::string& value);
  std::string Apply(std::string text) const;
  bool empty() const;

 private:
  mutable std::mutex mu_;
  // (value, replacement), longest value first so that a secret containing another is
  // replaced whole.
  std::vector<std::pair<std::string, std::string>> secrets_;
};

// Rewrites the file at `path` with Apply() when it contains a secret. Files larger than
// `max_bytes` are left alone and reported.
bool RedactFile(const Redactor& r, const std::string& path, size_t max_bytes = 256u << 20);

}  // namespace firedrill
