#include "runner/drill/expand.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace firedrill {
namespace {

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

std::optional<ReferenceError> ScanReferences(std::string_view text,
                                             std::function<void(const Reference&)> on_ref) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') continue;
    if (i + 1 < text.size() && text[i + 1] == '$' && i + 2 < text.size() && text[i + 2] == '{') {
      // $${ : an escaped literal; skip past the brace so it is not read as a reference.
      i += 2;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') continue;
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return ReferenceError{i, "unterminated '${' (write $${ for a literal)"};
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    Reference ref{Reference::Kind::kWorkdir, "", i};
    if (body == "workdir") {
      ref.kind = Reference::Kind::kWorkdir;
    } else if (body == "seq") {
      ref.kind = Reference::Kind::kSeq;
    } else if (body.rfind("env:", 0) == 0) {
      ref.kind = Reference::Kind::kEnv;
      ref.arg = std::string(body.substr(4));
      if (!ValidName(ref.arg))
        return ReferenceError{i, "bad variable name in '${" + std::string(body) + "}'"};
    } else if (body.rfind("port:", 0) == 0) {
      ref.kind = Reference::Kind::kPort;
      ref.arg = std::string(body.substr(5));
      if (!ValidName(ref.arg))
        return ReferenceError{i, "bad port name in '${" + std::string(body) + "}'"};
    } else if (body.rfind("host:", 0) == 0) {
      ref.kind = Reference::Kind::kHost;
      ref.arg = std::string(body.substr(5));
      if (!ValidName(ref.arg))
        return ReferenceError{i, "bad host name in '${" + std::string(body) + "}'"};
    } else {
      return ReferenceError{
          i,
          "unknown variable '${" + std::string(body) +
              "}': use ${workdir}, ${seq}, ${env:NAME}, ${port:NAME} or ${host:NAME} ($${...} for "
              "a literal)"};
    }
    if (on_ref) on_ref(ref);
    i = close;
  }
  return std::nullopt;
}

Result<std::string> Expander::Expand(std::string_view text, std::optional<int64_t> seq) const {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$') {
      out += c;
      continue;
    }
    if (i + 2 < text.size() && text[i + 1] == '$' && text[i + 2] == '{') {
      out += "${";
      i += 2;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      out += c;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) return Status::Invalid("unterminated '${'");
    std::string body(text.substr(i + 2, close - i - 2));
    if (body == "workdir") {
      out += workdir_;
    } else if (body == "seq") {
      if (!seq) return Status::Invalid("${seq} is only available in data checks");
      out += std::to_string(*seq);
    } else if (body.rfind("env:", 0) == 0) {
      const char* v = std::getenv(body.c_str() + 4);
      if (!v) return Status::Invalid("environment variable " + body.substr(4) + " is not set");
      if (redactor_) redactor_->Add(body.substr(4), v);
      out += v;
    } else if (body.rfind("port:", 0) == 0) {
      auto it = ports_.find(body.substr(5));
      if (it == ports_.end()) return Status::Internal("no port picked for " + body);
      out += std::to_string(it->second);
    } else if (body.rfind("host:", 0) == 0) {
      const std::string name = body.substr(5);
      if (!hosts_ || !hosts_->count(name)) {
        return Status::Invalid("${" + body + "}: host " + name + " was not reached by this run");
      }
      out += hosts_->at(name);
    } else {
      return Status::Invalid("unknown variable '${" + body + "}'");
    }
    i = close;
  }
  return out;
}

}  // namespace firedrill
