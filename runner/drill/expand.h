// ${...} references inside drill strings:
//   ${workdir}      the drill's work directory
//   ${seq}          the sequence number of a data-check write (data.writer / data.verifier only)
//   ${env:NAME}     an environment variable (must be set)
//   ${port:NAME}    extension: a free loopback TCP port picked for this run, the same
//                   number everywhere the same NAME is used
//   ${host:NAME}    extension: the address host NAME of `hosts:` was reached at (what
//                   a balancer's config on another host points at)
//   $${...}         a literal "${...}" passed on to the shell; a bare $NAME is left alone.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "runner/base/redact.h"
#include "runner/base/status.h"

namespace firedrill {

struct Reference {
  enum class Kind { kWorkdir, kSeq, kEnv, kPort, kHost };
  Kind kind;
  std::string arg;  // NAME for env/port
  size_t offset;    // of the '$' in the text
};

struct ReferenceError {
  size_t offset;
  std::string message;
};

// Finds every reference in `text`, or the first malformed/unknown one.
// REQUIRES: nothing; any text is accepted.
std::optional<ReferenceError> ScanReferences(std::string_view text,
                                             std::function<void(const Reference&)> on_ref);

class Expander {
 public:
  Expander() = default;
  Expander(std::string workdir, std::map<std::string, int> ports)
      : workdir_(std::move(workdir)), ports_(std::move(ports)) {}

  // REQUIRES: `text` passed ScanReferences at load time.
  Result<std::string> Expand(std::string_view text, std::optional<int64_t> seq = {}) const;

  // Every ${env:NAME} value expanded from now on is registered with `r` (not owned).
  void SetRedactor(Redactor* r) { redactor_ = r; }
  // The addresses ${host:NAME} expands to (not owned); unset, every ${host:} fails.
  void SetHosts(const std::map<std::string, std::string>* hosts) { hosts_ = hosts; }

  const std::string& workdir() const { return workdir_; }
  const std::map<std::string, int>& ports() const { return ports_; }

 private:
  std::string workdir_;
  std::map<std::string, int> ports_;
  Redactor* redactor_ = nullptr;
  const std::map<std::string, std::string>* hosts_ = nullptr;
};

}  // namespace firedrill
