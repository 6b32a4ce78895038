#include "runner/drill/pattern.h"

#include "runner/base/regex.h"
#include "runner/base/text.h"

namespace firedrill {

Result<const RE2*> Pattern::Compile(const Expander& expander, std::optional<int64_t> seq) {
  auto text = expander.Expand(text_, seq);
  if (!text.ok()) return text.status().Annotate("regex /" + OneLine(text_) + "/");
  if (re_ && *text == expanded_) return re_.get();
  re_.reset();
  expanded_ = *text;
  auto re = CompileRegex(expanded_);
  if (!re.ok()) return Status::Invalid("bad regex " + Shown() + ": " + re.status().message());
  re_ = std::move(*re);
  return re_.get();
}

std::string Pattern::Shown() const {
  return "/" + OneLine(expanded_.empty() ? text_ : expanded_, kDetailTextMax / 2) + "/";
}

}  // namespace firedrill
