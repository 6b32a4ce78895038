// A regular expression written in a drill (RE2 syntax, runner/base/regex.h), whose text may
// hold ${...} references. It is expanded at sample time and compiled again only when the
// expansion changes, so a fixed pattern is compiled once and `^${seq}$` once per sequence
// number. The loader has compiled it once already, with each reference standing in as a
// digit, so a drill with a bad pattern never starts.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runner/base/status.h"
#include "runner/drill/expand.h"

namespace firedrill {

class Pattern {
 public:
  explicit Pattern(std::string text) : text_(std::move(text)) {}

  // The compiled pattern for this sample, or why there is none (a bad expansion, or a
  // pattern that only became invalid once expanded).
  Result<const RE2*> Compile(const Expander& expander, std::optional<int64_t> seq);
  // The last expansion, for details: "/^42$/".
  std::string Shown() const;

 private:
  std::string text_;
  std::string expanded_;
  std::unique_ptr<RE2> re_;
};

}  // namespace firedrill
