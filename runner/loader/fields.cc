#include "runner/loader/fields.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/regex.h"
#include "runner/base/suggest.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/expand.h"

namespace firedrill {
namespace {

// A field's default, parsed once per thread and kept: parsing it anew for every field a
// drill leaves out meant a YAML parser each time (about 5 % of a 50-entry drill's load,
// bench/README.md). Keyed by the text, not its address, so that no table's storage is
// assumed.
const YAML::Node& ParsedDefault(const char* text) {
  thread_local std::unordered_map<std::string, YAML::Node> cache;
  auto it = cache.find(text);
  if (it == cache.end()) it = cache.emplace(text, YAML::Load(text)).first;
  return it->second;
}

std::string PercentText(double v) {
  std::ostringstream o;
  o << v << "%";
  return o.str();
}

}  // namespace

std::optional<std::string> FieldParser::Regex(const YAML::Node& n, const std::string& what,
                                              RefScope scope) {
  auto s = in_.Text(n, what, scope);
  if (!s) return std::nullopt;
  if (s->size() > in_.options().max_regex_bytes) {
    in_.Error(n, what + ": a regular expression may be at most " +
                     FormatBytes(in_.options().max_regex_bytes) + ", this one is " +
                     FormatBytes(s->size()));
    return std::nullopt;
  }
  // References become plain digits for the syntax check; their real values are
  // substituted (unescaped) at run time.
  std::string probe_text;
  size_t last = 0;
  ScanReferences(*s, [&](const Reference& r) {
    probe_text += s->substr(last, r.offset - last) + "0";
    last = s->find('}', r.offset) + 1;
  });
  probe_text += s->substr(last);
  if (auto re = CompileRegex(probe_text); !re.ok()) {
    in_.Error(n, what + ": invalid regular expression '" + OneLine(*s, 60) +
                     "': " + re.status().message());
    return std::nullopt;
  }
  return s;
}

std::optional<Param> FieldParser::Field(const FieldSpec& spec, const YAML::Node& n,
                                        const std::string& where, RefScope scope) {
  const std::string what = where + "." + spec.name;
  Param p;
  p.mark = MarkOf(n);
  switch (spec.type) {
    case FieldType::kString:
    case FieldType::kPath: {
      auto s = in_.Text(n, what, scope);
      if (!s) return std::nullopt;
      if (spec.type == FieldType::kPath && s->empty()) {
        in_.Error(n, what + " must not be empty");
        return std::nullopt;
      }
      p.value = *s;
      return p;
    }
    case FieldType::kRegex: {
      auto s = Regex(n, what, scope);
      if (!s) return std::nullopt;
      p.value = *s;
      return p;
    }
    case FieldType::kInt: {
      auto v = in_.IntOf(n, what, spec.min, spec.max);
      if (!v) return std::nullopt;
      p.value = *v;
      return p;
    }
    case FieldType::kBool: {
      auto v = in_.BoolOf(n, what);
      if (!v) return std::nullopt;
      p.value = *v;
      return p;
    }
    case FieldType::kDuration: {
      auto d =
          in_.DurationOf(n, what, static_cast<int64_t>(spec.min), static_cast<int64_t>(spec.max));
      if (!d) return std::nullopt;
      p.value = *d;
      return p;
    }
    case FieldType::kSize:
    case FieldType::kSizeOrPercent: {
      auto s = in_.Scalar(n, what);
      if (!s) return std::nullopt;
      SizeValue v;
      if (spec.type == FieldType::kSizeOrPercent && !s->empty() && s->back() == '%') {
        auto pct = ParsePercent(*s);
        if (!pct.ok() || *pct < 0 || *pct > 100) {
          in_.Error(
              n, what + ": " +
                     (pct.ok() ? "a percentage must be within 0%..100%" : pct.status().message()));
          return std::nullopt;
        }
        v.percent = *pct;
      } else {
        auto b = ParseSize(*s);
        if (!b.ok()) {
          in_.Error(n,
                    what + ": " + b.status().message() +
                        (spec.type == FieldType::kSizeOrPercent ? " (or a percentage, 90%)" : ""));
          return std::nullopt;
        }
        if (*b < spec.min || (spec.max > 0 && *b > spec.max)) {
          in_.Error(n, what + " must be at least " + FormatBytes(static_cast<uint64_t>(spec.min)));
          return std::nullopt;
        }
        v.bytes = *b;
      }
      p.value = v;
      return p;
    }
    case FieldType::kPercent: {
      auto s = in_.Scalar(n, what);
      if (!s) return std::nullopt;
      auto pct = ParsePercent(*s);
      if (!pct.ok()) {
        in_.Error(n, what + ": " + pct.status().message());
        return std::nullopt;
      }
      double hi = spec.max > 0 ? spec.max : 100;
      if (*pct < spec.min || *pct > hi) {
        in_.Error(n, what + " must be within " + PercentText(spec.min) + ".." + PercentText(hi));
        return std::nullopt;
      }
      p.value = *pct;
      return p;
    }
    case FieldType::kSignal: {
      auto s = in_.Scalar(n, what);
      if (!s) return std::nullopt;
      int sig = SignalFromName(*s);
      if (sig < 0) {
        in_.Error(n, what + ": unknown signal '" + s->substr(0, 20) +
                         "' (e.g. SIGKILL, SIGTERM, SIGSTOP, 9)");
        return std::nullopt;
      }
      p.value = static_cast<int64_t>(sig);
      return p;
    }
    case FieldType::kStringList: {
      if (!in_.IsSeq(n, what)) return std::nullopt;
      std::vector<std::string> v;
      for (const auto& item : n) {
        auto s = in_.Text(item, what, scope);
        if (!s) return std::nullopt;
        v.push_back(*s);
      }
      p.value = v;
      return p;
    }
    case FieldType::kStringMap: {
      if (!in_.IsMap(n, what)) return std::nullopt;
      std::map<std::string, std::string> v;
      for (auto it = n.begin(); it != n.end(); ++it) {
        auto k = in_.Scalar(it->first, what + " key");
        auto val = in_.Text(it->second, what + "." + (k ? *k : "?"), scope);
        if (!k || !val) return std::nullopt;
        if (v.count(*k)) {
          in_.Error(it->first, "duplicate key '" + *k + "' in " + what);
          return std::nullopt;
        }
        v[*k] = *val;
      }
      p.value = v;
      return p;
    }
    case FieldType::kStatusRange: {
      StatusRange r;
      if (n.IsSequence()) {
        if (n.size() != 2) {
          in_.Error(n, what + " must be a status code or [lo, hi]");
          return std::nullopt;
        }
        auto lo = in_.IntOf(n[0], what, 100, 599), hi = in_.IntOf(n[1], what, 100, 599);
        if (!lo || !hi) return std::nullopt;
        if (*lo > *hi) {
          in_.Error(n, what + ": lo must not exceed hi");
          return std::nullopt;
        }
        r = {*lo, *hi};
      } else {
        auto v = in_.IntOf(n, what, 100, 599);
        if (!v) return std::nullopt;
        r = {*v, *v};
      }
      p.value = r;
      return p;
    }
    case FieldType::kEnum: {
      auto s = in_.Scalar(n, what);
      if (!s) return std::nullopt;
      std::vector<std::string> choices(spec.choices.begin(), spec.choices.end());
      if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
        std::string list;
        for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
        in_.Error(n, what + ": '" + s->substr(0, 40) + "' is not one of " + list +
                         DidYouMean(*s, choices));
        return std::nullopt;
      }
      p.value = *s;
      return p;
    }
    case FieldType::kObject: {
      auto obj = Parse(n, spec.fields, what, scope);
      if (!obj) return std::nullopt;
      p.value = obj;
      return p;
    }
    case FieldType::kAddress: {
      auto s = in_.Text(n, what, scope);
      if (!s) return std::nullopt;
      if (std::string why = locality_.CheckAddress(*s); !why.empty()) {
        in_.Error(n, what + ": " + why);
        return std::nullopt;
      }
      p.value = *s;
      return p;
    }
    case FieldType::kUrl: {
      auto s = in_.Text(n, what, scope);
      if (!s) return std::nullopt;
      if (std::string why = locality_.CheckUrl(*s); !why.empty()) {
        in_.Error(n, what + ": " + why);
        return std::nullopt;
      }
      p.value = *s;
      return p;
    }
  }
  return std::nullopt;
}

std::shared_ptr<Params> FieldParser::Parse(const YAML::Node& map, std::span<const FieldSpec> fields,
                                           const std::string& where, RefScope scope, Mark owner) {
  auto out = std::make_shared<Params>();
  YAML::Node m = map;
  if (!map.IsDefined() || map.IsNull()) {
    m = YAML::Node(YAML::NodeType::Map);
  } else if (!in_.IsMap(map, where)) {
    return nullptr;
  }
  std::vector<std::string> allowed;
  for (const auto& f : fields) allowed.push_back(f.name);
  auto keys = in_.Keys(m, allowed, where);
  const size_t before = in_.error_count();
  for (const auto& f : fields) {
    auto it = keys.find(f.name);
    if (it != keys.end()) {
      if (auto p = Field(f, it->second.value, where, scope)) out->Set(f.name, std::move(*p));
      continue;
    }
    if (f.required) {
      Mark at = MarkOf(map).line ? MarkOf(map) : owner;
      in_.ErrorAt(at, "missing required field '" + std::string(f.name) + "' in " + where);
      continue;
    }
    if (f.type == FieldType::kObject) {
      // Absent objects still get their defaults, so runtimes never test for presence.
      if (auto p = Field(f, YAML::Node(YAML::NodeType::Map), where, scope)) {
        out->Set(f.name, std::move(*p));
      }
      continue;
    }
    if (f.default_value) {
      if (auto p = Field(f, ParsedDefault(f.default_value), where, scope)) {
        p->mark = {};
        out->Set(f.name, std::move(*p));
      }
    }
  }
  if (in_.error_count() != before) return nullptr;
  return out;
}

}  // namespace firedrill
