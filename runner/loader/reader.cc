#include "runner/loader/reader.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <tuple>

#include "runner/base/suggest.h"
#include "runner/drill/expand.h"

namespace firedrill {

Mark MarkOf(const YAML::Node& n) {
  if (!n.IsDefined()) return {};
  YAML::Mark m = n.Mark();
  if (m.is_null()) return {};
  return Mark{m.line + 1, m.column + 1};
}

void Reader::ErrorAt(Mark m, std::string message) {
  ++error_count_;
  if (errors_.size() < kMaxErrors) errors_.push_back(Diagnostic{file_, m, std::move(message)});
}

void Reader::NoteAt(Mark m, std::string message) {
  notes_.push_back(Diagnostic{file_, m, std::move(message)});
}

std::vector<Diagnostic> Reader::TakeErrors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
  });
  return std::move(errors_);
}

bool Reader::IsMap(const YAML::Node& n, const std::string& what) {
  if (n.IsMap()) return true;
  Error(n, what + " must be a map (key: value)" + Got(n));
  return false;
}

bool Reader::IsSeq(const YAML::Node& n, const std::string& what) {
  if (n.IsSequence()) return true;
  Error(n, what + " must be a list" + Got(n));
  return false;
}

std::string Reader::Got(const YAML::Node& n) {
  if (n.IsNull()) return ", got nothing";
  if (n.IsScalar()) return ", got '" + n.Scalar().substr(0, 40) + "'";
  if (n.IsSequence()) return ", got a list";
  if (n.IsMap()) return ", got a map";
  return "";
}

Reader::Entries Reader::Keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                             const std::string& where) {
  Entries out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // A copy: yaml-cpp iterators hand out a proxy that dies with the expression.
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      Error(k, "keys in " + where + " must be plain names");
      continue;
    }
    const std::string& name = k.Scalar();
    if (out.count(name)) {
      Error(k, "duplicate key '" + name + "' in " + where + " (first at line " +
                   std::to_string(MarkOf(out[name].key).line) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      Error(k, "unknown key '" + name + "' in " + where + DidYouMean(name, allowed));
      continue;
    }
    out[name] = Entry{k, it->second};
  }
  return out;
}

void Reader::ForEachNamed(
    const YAML::Node& section, const std::string& section_name, const std::string& item,
    const std::vector<std::string>& allowed,
    const std::function<void(const YAML::Node&, Entries&, const std::string&)>& fn) {
  if (!IsSeq(section, section_name)) return;
  std::map<std::string, Mark> seen;
  for (const auto& node : section) {
    if (!IsMap(node, "each " + item)) continue;
    Entries keys = Keys(node, allowed, item);
    std::string name;
    if (!keys.count("name")) {
      Error(node, "each " + item + " needs a `name`");
    } else {
      const YAML::Node& n = keys["name"].value;
      auto s = Scalar(n, item + " name");
      if (s && CheckName(n, *s, item)) {
        // A duplicate is reported and still named: what else is wrong with it says more.
        UniqueName(seen, *s, MarkOf(n), item);
        name = *s;
      }
    }
    fn(node, keys, name);
  }
}

std::optional<std::string> Reader::Scalar(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) {
    Error(n, what + " must be a single value" + Got(n));
    return std::nullopt;
  }
  return n.Scalar();
}

// Quoting, escapes and block styles make value offsets and source columns differ, so the
// reference text itself is looked up in the source, from the scalar's start: the k-th
// occurrence in the value is the k-th in the source.
Mark Reader::OffsetMark(const YAML::Node& n, size_t offset) {
  // Each call scans the source: once errors are no longer kept, a file full of bad
  // references must not cost (references x file size).
  if (errors_.size() >= kMaxErrors) return {};
  Mark m = MarkOf(n);
  const std::string& value = n.Scalar();
  if (m.line == 0 || offset >= value.size()) return m;
  size_t close = value.find('}', offset);
  std::string token = value.substr(offset, close == std::string::npos ? 2 : close - offset + 1);
  size_t k = 0;
  for (size_t p = value.find(token); p != std::string::npos && p < offset;
       p = value.find(token, p + 1))
    ++k;
  size_t pos = static_cast<size_t>(n.Mark().pos);
  size_t at = source_.find(token, pos);
  for (size_t i = 0; i < k && at != std::string::npos; ++i) at = source_.find(token, at + 1);
  if (at == std::string::npos) return m;
  Mark out{1, 1};
  for (size_t i = 0; i < at; ++i) {
    if (source_[i] == '\n') {
      ++out.line;
      out.column = 1;
    } else {
      ++out.column;
    }
  }
  return out;
}

bool Reader::CheckRefs(const YAML::Node& n, const std::string& text, RefScope scope,
                       const std::string& what) {
  bool ok = true;
  auto err = ScanReferences(text, [&](const Reference& r) {
    if (r.kind == Reference::Kind::kSeq && scope != RefScope::kData) {
      ErrorAt(OffsetMark(n, r.offset),
              "${seq} is only available in data.writer and data.verifier (in " + what + ")");
      ok = false;
    }
    if (r.kind == Reference::Kind::kEnv && std::getenv(r.arg.c_str()) == nullptr) {
      ErrorAt(OffsetMark(n, r.offset),
              "environment variable " + r.arg + " is not set (used in " + what + ")");
      ok = false;
    }
    if (r.kind == Reference::Kind::kPort) ports_.insert(r.arg);
    if (r.kind == Reference::Kind::kHost) host_refs_.emplace_back(r.arg, OffsetMark(n, r.offset));
  });
  if (err) {
    ErrorAt(OffsetMark(n, err->offset), err->message + " (in " + what + ")");
    return false;
  }
  return ok;
}

std::optional<std::string> Reader::Text(const YAML::Node& n, const std::string& what,
                                        RefScope scope) {
  auto s = Scalar(n, what);
  if (!s) return std::nullopt;
  if (!CheckRefs(n, *s, scope, what)) return std::nullopt;
  return s;
}

std::optional<Millis> Reader::DurationOf(const YAML::Node& n, const std::string& what,
                                         int64_t min_ms, int64_t max_ms) {
  auto s = Scalar(n, what);
  if (!s) return std::nullopt;
  auto d = ParseDuration(*s);
  if (!d.ok()) {
    Error(n, what + ": " + d.status().message());
    return std::nullopt;
  }
  if (d->count() < min_ms) {
    Error(n, what + " must be at least " + FormatDuration(Millis(min_ms)));
    return std::nullopt;
  }
  if (max_ms > 0 && d->count() > max_ms) {
    Error(n, what + " must be at most " + FormatDuration(Millis(max_ms)));
    return std::nullopt;
  }
  return *d;
}

std::optional<int64_t> Reader::IntOf(const YAML::Node& n, const std::string& what, double min,
                                     double max) {
  auto s = Scalar(n, what);
  if (!s) return std::nullopt;
  const std::string& t = *s;
  size_t i = (t.size() > 1 && t[0] == '-') ? 1 : 0;
  if (t.empty() || t.size() > 19 || i == t.size() ||
      t.find_first_not_of("0123456789", i) != std::string::npos) {
    Error(n, what + " must be a whole number, got '" + t.substr(0, 40) + "'");
    return std::nullopt;
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size()) {
    Error(n, what + " is out of range, got '" + t.substr(0, 40) + "'");
    return std::nullopt;
  }
  if (v < min || (max != 0 && v > max)) {
    Error(n, what + " must be between " + std::to_string(static_cast<int64_t>(min)) + " and " +
                 (max != 0 ? std::to_string(static_cast<int64_t>(max)) : std::string("any")) +
                 ", got " + t);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Reader::BoolOf(const YAML::Node& n, const std::string& what) {
  auto s = Scalar(n, what);
  if (!s) return std::nullopt;
  if (*s == "true") return true;
  if (*s == "false") return false;
  Error(n, what + " must be true or false, got '" + s->substr(0, 40) + "'");
  return std::nullopt;
}

bool Reader::CheckName(const YAML::Node& n, const std::string& name, const std::string& what) {
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 128 && lower_or_digit(name[0]) &&
            std::all_of(name.begin(), name.end(),
                        [&](char c) { return lower_or_digit(c) || c == '-' || c == '_'; });
  if (!ok) {
    Error(n, what + " name '" + name.substr(0, 40) +
                 "' must be lower-case letters, digits, '-' or '_' (starting with a letter or "
                 "digit)");
  }
  return ok;
}

bool Reader::UniqueName(std::map<std::string, Mark>& seen, const std::string& name, Mark m,
                        const std::string& what) {
  auto [it, inserted] = seen.emplace(name, m);
  if (!inserted) {
    ErrorAt(m, "duplicate " + what + " name '" + name + "' (first at line " +
                   std::to_string(it->second.line) + ")");
    return false;
  }
  return true;
}

}  // namespace firedrill
