#include "runner/loader/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

#include "runner/drill/fault.h"
#include "runner/drill/probe.h"
#include "runner/base/env.h"
#include "runner/drill/expand.h"
#include "runner/base/paths.h"
#include "runner/base/suggest.h"
#include "runner/base/values.h"
#include "probes/probe_registry.h"
#include "injectors/fault_registry.h"

namespace firedrill {

std::string Diagnostic::ToString(const char* severity) const {
  std::string where = file;
  if (mark.line > 0) where += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  return where + ": " + severity + ": " + message;
}

namespace {

constexpr const char* kApiVersion = "firedrill/v1";

Mark MarkOf(const YAML::Node& n) {
  if (!n.IsDefined()) return {};
  YAML::Mark m = n.Mark();
  if (m.is_null()) return {};
  return Mark{m.line + 1, m.column + 1};
}

std::vector<std::string> Names(std::initializer_list<const char*> keys) {
  return std::vector<std::string>(keys.begin(), keys.end());
}

std::string fmt_percent(double v) {
  std::ostringstream o;
  o << v << "%";
  return o.str();
}

// ---- hostile input ---------------------------------------------------------------------
// yaml-cpp trusts its input: it builds every node before anyone can look (a 1 MiB list of
// numbers takes 240 MB), shares aliased nodes so a "billion laughs" file, or one whose
// alias points into itself, only blows up when walked, and its only guard (recursion depth
// 2000) reports "bad file" at 1:1. So the raw bytes are checked first, then the structure
// on yaml-cpp's event stream, which builds nothing, before YAML::Load runs.

// A refusal of the whole file, at the first offending byte or node.
struct Rejection {
  Mark mark;
  std::string message;
};

// Line and column of byte `at`, 1-based. Columns count bytes, as yaml-cpp's marks do, so
// every position in one report means the same thing; a leading byte-order mark is not
// counted, as yaml-cpp skips it.
Mark MarkAt(std::string_view text, size_t at) {
  size_t line_start = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  int line = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return Mark{line, static_cast<int>(at - line_start) + 1};
}

// Length of the well-formed UTF-8 sequence at text[i], its code point in `cp`; 0 when the
// bytes there are not UTF-8 (stray continuation, overlong, surrogate, past U+10FFFF, cut).
size_t DecodeUtf8(std::string_view text, size_t i, char32_t& cp) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t n = 0;
  char32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(text[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// YAML's c-printable: what a YAML file may contain at all.
bool YamlPrintable(char32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
         (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

// The first byte that makes `text` something other than YAML text in UTF-8. yaml-cpp would
// take NUL bytes, control characters and broken UTF-8 into scalars, and they would end up
// in commands, file names and terminals.
std::optional<Rejection> CheckEncoding(std::string_view text) {
  if (text.substr(0, 2) == "\xFF\xFE" || text.substr(0, 2) == "\xFE\xFF" ||
      text.substr(0, 4) == std::string_view("\0\0\xFE\xFF", 4)) {
    return Rejection{{1, 1},
                     "the file is UTF-16 or UTF-32 (it starts with a byte-order "
                     "mark); a drill is UTF-8 text"};
  }
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    size_t n = DecodeUtf8(text, i, cp);
    if (n == 0) {
      return Rejection{MarkAt(text, i),
                       fmt::format("invalid UTF-8 (byte 0x{:02X}); a drill is UTF-8 text",
                                   static_cast<unsigned char>(text[i]))};
    }
    if (!YamlPrintable(cp)) {
      bool control = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
      return Rejection{
          MarkAt(text, i),
          fmt::format("{} U+{:04X} is not allowed in a drill{}",
                      control ? "control character" : "character", static_cast<uint32_t>(cp),
                      control ? " (only tab and line breaks are)" : "")};
    }
    i += n;
  }
  return std::nullopt;
}

Mark ToMark(const YAML::Mark& m) { return Mark{m.line + 1, m.column + 1}; }

// Counts what YAML::Load would build, from yaml-cpp's events, and stops the parse (by
// throwing: the only way out of yaml-cpp's callbacks) at the first limit passed. Events
// arrive as the parser descends, so a deep `[[[[` is stopped at max_depth, long before
// yaml-cpp's own recursion could exhaust the stack.
class StructureGuard : public YAML::EventHandler {
 public:
  explicit StructureGuard(const LoadOptions& opts) : opts_(opts) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    // YAML::Load reads the first document only: a second one would be ignored silently.
    if (documents_++ > 0) {
      throw Rejection{ToMark(mark),
                      "a second YAML document (after `---`); a drill is one document"};
    }
  }
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Leaf(mark, anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    Leaf(mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const std::string name = "*" + names_[anchor];
    if (++aliases_ > opts_.max_aliases) {
      throw Rejection{ToMark(mark), fmt::format("more than {} aliases ({}); a drill may use "
                                                "at most {}",
                                                opts_.max_aliases, name, opts_.max_aliases)};
    }
    auto size = sizes_.find(anchor);
    if (size == sizes_.end()) {
      // Registered but not finished: the alias sits inside the node it names, a cycle
      // that anything walking the tree would follow for ever.
      throw Rejection{ToMark(mark), "alias " + name + " is inside the node it refers to"};
    }
    Count(mark, size->second, "alias " + name + " brings the drill to");
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    YAML::anchor_t anchor;
    size_t size;  // nodes in it so far, itself included, aliases expanded
  };

  void Name(YAML::anchor_t anchor) {
    if (anchor) names_[anchor] = std::move(anchor_name_);
    anchor_name_.clear();
  }
  // A value or an alias inside the innermost open map or list: `n` more nodes.
  void Count(const YAML::Mark& mark, size_t n, const std::string& what) {
    Limit(mark, n, what);
    if (!open_.empty()) open_.back().size += n;
  }
  void Limit(const YAML::Mark& mark, size_t n, const std::string& what) {
    nodes_ += n;
    if (nodes_ > opts_.max_nodes) {
      throw Rejection{ToMark(mark),
                      fmt::format("{} more than {} nodes (maps, lists and values, each alias "
                                  "counted as what it copies); a drill may have at most {}",
                                  what, opts_.max_nodes, opts_.max_nodes)};
    }
  }
  void Leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
    Name(anchor);
    Count(mark, 1, "the drill has");
    if (anchor) sizes_[anchor] = 1;
  }
  void Open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    Name(anchor);
    if (open_.size() >= opts_.max_depth) {
      throw Rejection{ToMark(mark), fmt::format("maps and lists nested more than {} deep; a "
                                                "drill may nest at most {}",
                                                opts_.max_depth, opts_.max_depth)};
    }
    Limit(mark, 1, "the drill has");
    open_.push_back(Frame{anchor, 1});
  }
  void Close() {
    Frame done = open_.back();
    open_.pop_back();
    if (done.anchor) sizes_[done.anchor] = done.size;
    // Its nodes were counted in nodes_ as they came; only the enclosing size grows.
    if (!open_.empty()) open_.back().size += done.size;
  }

  const LoadOptions& opts_;
  int documents_ = 0;
  size_t nodes_ = 0;
  size_t aliases_ = 0;
  std::vector<Frame> open_;
  std::string anchor_name_;
  std::map<YAML::anchor_t, std::string> names_;
  std::map<YAML::anchor_t, size_t> sizes_;  // finished anchored nodes
};

// Where in a drill a string sits, which decides the ${} references it may use.
enum class RefScope { kNormal, kData };

class Loader {
 public:
  Loader(std::string file, const LoadOptions& opts) : file_(std::move(file)), opts_(opts) {}

  LoadResult Load(const std::string& text);

 private:
  // ---- diagnostics -------------------------------------------------------
  static constexpr size_t kMaxErrors = 100;
  void ErrorAt(Mark m, std::string msg) {
    if (errors_.size() < kMaxErrors) errors_.push_back(Diagnostic{file_, m, std::move(msg)});
  }
  void Error(const YAML::Node& n, std::string msg) { ErrorAt(MarkOf(n), std::move(msg)); }
  void NoteAt(Mark m, std::string msg) { notes_.push_back(Diagnostic{file_, m, std::move(msg)}); }

  // ---- structure ---------------------------------------------------------
  bool IsMap(const YAML::Node& n, const std::string& what) {
    if (n.IsMap()) return true;
    Error(n, what + " must be a map (key: value)" + Got(n));
    return false;
  }
  bool IsSeq(const YAML::Node& n, const std::string& what) {
    if (n.IsSequence()) return true;
    Error(n, what + " must be a list" + Got(n));
    return false;
  }
  static std::string Got(const YAML::Node& n) {
    if (n.IsNull()) return ", got nothing";
    if (n.IsScalar()) return ", got '" + n.Scalar().substr(0, 40) + "'";
    if (n.IsSequence()) return ", got a list";
    if (n.IsMap()) return ", got a map";
    return "";
  }

  // Reports unknown and duplicate keys of a map; returns key -> (key node, value node).
  struct Entry {
    YAML::Node key;
    YAML::Node value;
  };
  std::map<std::string, Entry> Keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                                    const std::string& where) {
    std::map<std::string, Entry> out;
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

  // ---- scalars -------------------------------------------------------------
  std::optional<std::string> Scalar(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      Error(n, what + " must be a single value" + Got(n));
      return std::nullopt;
    }
    return n.Scalar();
  }

  // The position of the reference starting at byte `offset` of a scalar's value. Quoting,
  // escapes and block styles make value offsets and source columns differ, so the
  // reference text itself is looked up in the source, from the scalar's start: the k-th
  // occurrence in the value is the k-th in the source.
  Mark OffsetMark(const YAML::Node& n, size_t offset) {
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

  bool CheckRefs(const YAML::Node& n, const std::string& text, RefScope scope,
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
    });
    if (err) {
      ErrorAt(OffsetMark(n, err->offset), err->message + " (in " + what + ")");
      return false;
    }
    return ok;
  }

  std::optional<std::string> Text(const YAML::Node& n, const std::string& what,
                                  RefScope scope = RefScope::kNormal) {
    auto s = Scalar(n, what);
    if (!s) return std::nullopt;
    if (!CheckRefs(n, *s, scope, what)) return std::nullopt;
    return s;
  }

  std::optional<Millis> DurationOf(const YAML::Node& n, const std::string& what, int64_t min_ms = 0,
                                   int64_t max_ms = 0) {
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

  std::optional<int64_t> IntOf(const YAML::Node& n, const std::string& what, double min,
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

  std::optional<bool> BoolOf(const YAML::Node& n, const std::string& what) {
    auto s = Scalar(n, what);
    if (!s) return std::nullopt;
    if (*s == "true") return true;
    if (*s == "false") return false;
    Error(n, what + " must be true or false, got '" + s->substr(0, 40) + "'");
    return std::nullopt;
  }

  bool IsLoopbackOrNamedHost(const std::string& host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    if (host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos)
      return true;
    return host_addresses_.count(host) > 0;
  }

  // ---- schema-driven fields ----------------------------------------------------
  std::optional<Param> ParseField(const FieldSpec& spec, const YAML::Node& n,
                                  const std::string& where, RefScope scope);
  // `owner` positions errors about the map when the map itself is absent (no `with:`).
  std::shared_ptr<Params> ParseParams(const YAML::Node& map, std::span<const FieldSpec> fields,
                                      const std::string& where, RefScope scope, Mark owner = {});
  bool CheckAddress(const YAML::Node& n, const std::string& text, const std::string& what);
  bool CheckUrl(const YAML::Node& n, const std::string& text, const std::string& what);
  bool CheckHost(const YAML::Node& n, const std::string& host, const std::string& what);

  // ---- sections --------------------------------------------------------------------
  std::optional<ProbeSpec> ParseProbe(const YAML::Node& n, const std::string& where,
                                      const std::vector<std::string>& extras,
                                      std::map<std::string, Entry>* extra_out,
                                      RefScope scope = RefScope::kNormal);
  void ParseSettings(const YAML::Node& n, Settings& s);
  void ParseServices(const YAML::Node& n, std::vector<ServiceSpec>& out);
  void ParseHosts(const YAML::Node& n, std::vector<HostSpec>& out);
  void ParseSteady(const YAML::Node& n, std::vector<SteadyCheck>& out);
  void ParseFaults(const YAML::Node& n, std::vector<FaultSpec>& out);
  std::optional<Target> ParseTarget(const YAML::Node& n, const std::string& where);
  void ParseWatches(const YAML::Node& n, std::vector<WatchSpec>& out);
  void ParseData(const YAML::Node& n, std::optional<DataSpec>& out);
  void ParseRecovery(const YAML::Node& n, Recovery& r);
  void ParseAbort(const YAML::Node& n, std::vector<StopCondition>& out);
  void CrossCheck(const Scenario& s);
  void CheckRunnable(const Scenario& s);

  // Names must be unique within a section: remembers where each was first seen.
  bool UniqueName(std::map<std::string, Mark>& seen, const std::string& name, Mark m,
                  const std::string& what) {
    auto [it, inserted] = seen.emplace(name, m);
    if (!inserted) {
      ErrorAt(m, "duplicate " + what + " name '" + name + "' (first at line " +
                     std::to_string(it->second.line) + ")");
      return false;
    }
    return true;
  }
  bool CheckName(const YAML::Node& n, const std::string& name, const std::string& what) {
    static const std::regex kName("^[a-z0-9][a-z0-9_-]*$");
    if (name.size() > 128 || !std::regex_match(name, kName)) {
      Error(
          n,
          what + " name '" + name.substr(0, 40) +
              "' must be lower-case letters, digits, '-' or '_' (starting with a letter or digit)");
      return false;
    }
    return true;
  }

  // The `name` of a list item: present, well formed, and unique among `seen`.
  // Returns "" (after reporting why) when it is not.
  std::string NameOf(const YAML::Node& item, std::map<std::string, Entry>& k,
                     std::map<std::string, Mark>& seen, const std::string& what) {
    if (!k.count("name")) {
      Error(item, "each " + what + " needs a `name`");
      return "";
    }
    const YAML::Node& n = k["name"].value;
    auto s = Scalar(n, what + " name");
    if (!s || !CheckName(n, *s, what)) return "";
    UniqueName(seen, *s, MarkOf(n), what);
    return *s;
  }

  std::string file_;
  std::string source_;
  LoadOptions opts_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> notes_;
  std::set<std::string> ports_;
  std::set<std::string> host_names_;
  std::set<std::string> host_addresses_;
  // Probes and process targets that name services, checked once all services are known.
  std::vector<std::pair<std::string, Mark>> service_refs_;
  std::vector<std::pair<std::string, Mark>> host_refs_;
};

// ----------------------------------------------------------------------------------------

std::optional<Param> Loader::ParseField(const FieldSpec& spec, const YAML::Node& n,
                                        const std::string& where, RefScope scope) {
  const std::string what = where + "." + spec.name;
  Param p;
  p.mark = MarkOf(n);
  switch (spec.type) {
    case FieldType::kString:
    case FieldType::kPath: {
      auto s = Text(n, what, scope);
      if (!s) return std::nullopt;
      if (spec.type == FieldType::kPath && s->empty()) {
        Error(n, what + " must not be empty");
        return std::nullopt;
      }
      p.value = *s;
      return p;
    }
    case FieldType::kRegex: {
      auto s = Text(n, what, scope);
      if (!s) return std::nullopt;
      if (s->size() > opts_.max_regex_bytes) {
        // std::regex compiles recursively, a frame per term: 100 KB of pattern overflows
        // the stack.
        Error(n, what + ": a regular expression may be at most " +
                     FormatBytes(opts_.max_regex_bytes) + ", this one is " +
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
      try {
        std::regex re(probe_text, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        Error(n, what + ": invalid regular expression '" + s->substr(0, 60) + "': " + e.what());
        return std::nullopt;
      }
      p.value = *s;
      return p;
    }
    case FieldType::kInt: {
      auto v = IntOf(n, what, spec.min, spec.max);
      if (!v) return std::nullopt;
      p.value = *v;
      return p;
    }
    case FieldType::kBool: {
      auto v = BoolOf(n, what);
      if (!v) return std::nullopt;
      p.value = *v;
      return p;
    }
    case FieldType::kDuration: {
      auto d = DurationOf(n, what, static_cast<int64_t>(spec.min), static_cast<int64_t>(spec.max));
      if (!d) return std::nullopt;
      p.value = *d;
      return p;
    }
    case FieldType::kSize:
    case FieldType::kSizeOrPercent: {
      auto s = Scalar(n, what);
      if (!s) return std::nullopt;
      SizeValue v;
      if (spec.type == FieldType::kSizeOrPercent && !s->empty() && s->back() == '%') {
        auto pct = ParsePercent(*s);
        if (!pct.ok() || *pct < 0 || *pct > 100) {
          Error(n,
                what + ": " +
                    (pct.ok() ? "a percentage must be within 0%..100%" : pct.status().message()));
          return std::nullopt;
        }
        v.percent = *pct;
      } else {
        auto b = ParseSize(*s);
        if (!b.ok()) {
          Error(n, what + ": " + b.status().message() +
                       (spec.type == FieldType::kSizeOrPercent ? " (or a percentage, 90%)" : ""));
          return std::nullopt;
        }
        if (*b < spec.min || (spec.max > 0 && *b > spec.max)) {
          Error(n, what + " must be at least " + FormatBytes(static_cast<uint64_t>(spec.min)));
          return std::nullopt;
        }
        v.bytes = *b;
      }
      p.value = v;
      return p;
    }
    case FieldType::kPercent: {
      auto s = Scalar(n, what);
      if (!s) return std::nullopt;
      auto pct = ParsePercent(*s);
      if (!pct.ok()) {
        Error(n, what + ": " + pct.status().message());
        return std::nullopt;
      }
      double hi = spec.max > 0 ? spec.max : 100;
      if (*pct < spec.min || *pct > hi) {
        Error(n, what + " must be within " + fmt_percent(spec.min) + ".." + fmt_percent(hi));
        return std::nullopt;
      }
      p.value = *pct;
      return p;
    }
    case FieldType::kSignal: {
      auto s = Scalar(n, what);
      if (!s) return std::nullopt;
      int sig = SignalFromName(*s);
      if (sig < 0) {
        Error(n, what + ": unknown signal '" + s->substr(0, 20) +
                     "' (e.g. SIGKILL, SIGTERM, SIGSTOP, 9)");
        return std::nullopt;
      }
      p.value = static_cast<int64_t>(sig);
      return p;
    }
    case FieldType::kStringList: {
      if (!IsSeq(n, what)) return std::nullopt;
      std::vector<std::string> v;
      for (const auto& item : n) {
        auto s = Text(item, what, scope);
        if (!s) return std::nullopt;
        v.push_back(*s);
      }
      p.value = v;
      return p;
    }
    case FieldType::kStringMap: {
      if (!IsMap(n, what)) return std::nullopt;
      std::map<std::string, std::string> v;
      for (auto it = n.begin(); it != n.end(); ++it) {
        auto k = Scalar(it->first, what + " key");
        auto val = Text(it->second, what + "." + (k ? *k : "?"), scope);
        if (!k || !val) return std::nullopt;
        if (v.count(*k)) {
          Error(it->first, "duplicate key '" + *k + "' in " + what);
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
          Error(n, what + " must be a status code or [lo, hi]");
          return std::nullopt;
        }
        auto lo = IntOf(n[0], what, 100, 599), hi = IntOf(n[1], what, 100, 599);
        if (!lo || !hi) return std::nullopt;
        if (*lo > *hi) {
          Error(n, what + ": lo must not exceed hi");
          return std::nullopt;
        }
        r = {*lo, *hi};
      } else {
        auto v = IntOf(n, what, 100, 599);
        if (!v) return std::nullopt;
        r = {*v, *v};
      }
      p.value = r;
      return p;
    }
    case FieldType::kEnum: {
      auto s = Scalar(n, what);
      if (!s) return std::nullopt;
      std::vector<std::string> choices(spec.choices.begin(), spec.choices.end());
      if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
        std::string list;
        for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
        Error(n, what + ": '" + s->substr(0, 40) + "' is not one of " + list +
                     DidYouMean(*s, choices));
        return std::nullopt;
      }
      p.value = *s;
      return p;
    }
    case FieldType::kObject: {
      auto obj = ParseParams(n, spec.fields, what, scope);
      if (!obj) return std::nullopt;
      p.value = obj;
      return p;
    }
    case FieldType::kAddress: {
      auto s = Text(n, what, scope);
      if (!s || !CheckAddress(n, *s, what)) return std::nullopt;
      p.value = *s;
      return p;
    }
    case FieldType::kUrl: {
      auto s = Text(n, what, scope);
      if (!s || !CheckUrl(n, *s, what)) return std::nullopt;
      p.value = *s;
      return p;
    }
  }
  return std::nullopt;
}

std::shared_ptr<Params> Loader::ParseParams(const YAML::Node& map,
                                            std::span<const FieldSpec> fields,
                                            const std::string& where, RefScope scope, Mark owner) {
  auto out = std::make_shared<Params>();
  YAML::Node m = map;
  if (!map.IsDefined() || map.IsNull()) {
    m = YAML::Node(YAML::NodeType::Map);
  } else if (!IsMap(map, where)) {
    return nullptr;
  }
  std::vector<std::string> allowed;
  for (const auto& f : fields) allowed.push_back(f.name);
  auto keys = Keys(m, allowed, where);
  size_t before = errors_.size();
  for (const auto& f : fields) {
    auto it = keys.find(f.name);
    if (it != keys.end()) {
      if (auto p = ParseField(f, it->second.value, where, scope)) out->Set(f.name, std::move(*p));
      continue;
    }
    if (f.required) {
      Mark at = MarkOf(map).line ? MarkOf(map) : owner;
      ErrorAt(at, "missing required field '" + std::string(f.name) + "' in " + where);
      continue;
    }
    if (f.type == FieldType::kObject) {
      // Absent objects still get their defaults, so runtimes never test for presence.
      if (auto p = ParseField(f, YAML::Node(YAML::NodeType::Map), where, scope)) {
        out->Set(f.name, std::move(*p));
      }
      continue;
    }
    if (f.default_value) {
      YAML::Node d = YAML::Load(f.default_value);
      if (auto p = ParseField(f, d, where, scope)) {
        p->mark = {};
        out->Set(f.name, std::move(*p));
      }
    }
  }
  if (errors_.size() != before) return nullptr;
  return out;
}

bool Loader::CheckAddress(const YAML::Node& n, const std::string& text, const std::string& what) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      Error(n, what + " must be host:port, got '" + text + "'");
      return false;
    }
    host = text.substr(0, close + 1);
    port = text.substr(close + 2);
  } else {
    // The port may itself be a reference such as ${port:api}: split before it.
    size_t ref = text.rfind("${");
    auto colon =
        (ref != std::string::npos && ref > 0 && text[ref - 1] == ':') ? ref - 1 : text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      Error(n, what + " must be host:port, got '" + text + "'");
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  bool port_ref = port.rfind("${", 0) == 0 && port.back() == '}';
  if (!port_ref) {
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
        std::stoi(port) > 65535) {
      Error(n, what + ": port must be 1..65535 or ${port:NAME}, got '" + port + "'");
      return false;
    }
  }
  if (!CheckHost(n, host, what)) return false;
  return true;
}

bool Loader::CheckHost(const YAML::Node& n, const std::string& host, const std::string& what) {
  // The host is checked as written, so it may not be a reference: ${env:X} could point
  // anywhere once expanded. Only the port may be ${port:NAME}.
  if (host.find("${") != std::string::npos) {
    Error(n, what +
                 ": the host must be written literally (loopback or a host under `hosts:`), "
                 "not as a ${...} reference");
    return false;
  }
  if (!IsLoopbackOrNamedHost(host)) {
    Error(n, what + ": '" + host +
                 "' is neither loopback nor a host named under `hosts:`; a drill sends traffic "
                 "only to those");
    return false;
  }
  return true;
}

bool Loader::CheckUrl(const YAML::Node& n, const std::string& text, const std::string& what) {
  static const std::regex kUrl(
      R"(^(https?)://(\[[0-9a-fA-F:.]+\]|[^/:?#\[\]]+)(:([^/?#]+))?([/?#].*)?$)");
  std::smatch m;
  if (!std::regex_match(text, m, kUrl)) {
    Error(n, what + " must be an http:// or https:// URL, got '" + text.substr(0, 60) + "'");
    return false;
  }
  return CheckHost(n, m[2], what);
}

std::optional<ProbeSpec> Loader::ParseProbe(const YAML::Node& n, const std::string& where,
                                            const std::vector<std::string>& extras,
                                            std::map<std::string, Entry>* extra_out,
                                            RefScope scope) {
  if (!IsMap(n, where)) return std::nullopt;
  std::vector<std::string> kinds;
  for (const ProbeKind* k : ProbeKinds()) kinds.push_back(k->name);
  std::vector<std::string> allowed = kinds;
  allowed.insert(allowed.end(), extras.begin(), extras.end());
  std::optional<std::pair<const ProbeKind*, Entry>> chosen;
  bool bad = false;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node k = it->first;  // a copy, as in Keys()
    if (!k.IsScalar()) {
      Error(k, "keys in " + where + " must be plain names");
      bad = true;
      continue;
    }
    const std::string& name = k.Scalar();
    if (!seen.insert(name).second) {
      Error(k, "duplicate key '" + name + "' in " + where);
      bad = true;
      continue;
    }
    if (std::find(extras.begin(), extras.end(), name) != extras.end()) {
      if (extra_out) (*extra_out)[name] = Entry{k, it->second};
      continue;
    }
    const ProbeKind* kind = FindProbeKind(name);
    if (!kind) {
      Error(k, "unknown probe kind '" + name + "' in " + where + DidYouMean(name, allowed) +
                   " (kinds: command, tcp, http, process, file, log, prometheus, webhook)");
      bad = true;
      continue;
    }
    if (chosen) {
      Error(k, where + " has two probe kinds ('" + std::string(chosen->first->name) + "' and '" +
                   name + "'); a probe has exactly one");
      bad = true;
      continue;
    }
    chosen = std::make_pair(kind, Entry{k, it->second});
  }
  if (bad) return std::nullopt;
  if (!chosen) {
    Error(n,
          where +
              " needs a probe: one of command, tcp, http, process, file, log, prometheus, webhook");
    return std::nullopt;
  }
  const ProbeKind* kind = chosen->first;
  const std::string what = where + "." + kind->name;
  if (!IsMap(chosen->second.value, what)) return std::nullopt;
  auto params = ParseParams(chosen->second.value, kind->fields, what, scope);
  if (!params) return std::nullopt;
  ProbeSpec spec{kind->name, *params, MarkOf(chosen->second.key)};
  if (kind->check) {
    if (auto e = kind->check(spec.params, MarkOf(chosen->second.value))) {
      ErrorAt(e->mark.line ? e->mark : MarkOf(chosen->second.value), what + ": " + e->message);
      return std::nullopt;
    }
  }
  if (spec.params.Has("service")) {
    service_refs_.emplace_back(spec.params.String("service"), spec.params.MarkOf("service"));
  }
  if (spec.params.Has("host")) {
    host_refs_.emplace_back(spec.params.String("host"), spec.params.MarkOf("host"));
  }
  return spec;
}

void Loader::ParseSettings(const YAML::Node& n, Settings& s) {
  if (!IsMap(n, "settings")) return;
  auto k = Keys(
      n, Names({"probe_interval", "settle", "timeout", "workdir", "allow_paths", "stop_grace"}),
      "settings");
  if (k.count("probe_interval")) {
    if (auto d = DurationOf(k["probe_interval"].value, "settings.probe_interval", 10, 3600000))
      s.probe_interval = *d;
  }
  if (k.count("settle")) {
    if (auto d = DurationOf(k["settle"].value, "settings.settle", 0, 86400000)) s.settle = *d;
  }
  if (k.count("timeout")) {
    if (auto d = DurationOf(k["timeout"].value, "settings.timeout", 1000, 7 * 86400000LL))
      s.timeout = *d;
  }
  if (k.count("stop_grace")) {
    if (auto d = DurationOf(k["stop_grace"].value, "settings.stop_grace", 0, 600000))
      s.stop_grace = *d;
  }
  if (k.count("workdir")) {
    const YAML::Node& w = k["workdir"].value;
    if (auto t = Text(w, "settings.workdir")) {
      if (t->find("${workdir}") != std::string::npos) {
        Error(w, "settings.workdir cannot refer to ${workdir}");
      } else if (t->empty() || ((*t)[0] != '/' && t->rfind("${", 0) != 0)) {
        Error(w, "settings.workdir must be an absolute path");
      } else {
        std::string norm = std::filesystem::path(*t).lexically_normal().string();
        while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
        if (norm == "/" || norm == "/tmp" || norm == "/home" || norm == "/root" || norm == "/etc" ||
            norm == "/var" || norm == "/usr") {
          Error(w,
                "settings.workdir '" + *t +
                    "' is a system directory; a workdir is created fresh and removed, so it must "
                    "be a directory of the drill's own (e.g. /tmp/firedrill/NAME)");
        } else {
          s.workdir = *t;
        }
      }
    }
  }
  if (k.count("allow_paths")) {
    const YAML::Node& a = k["allow_paths"].value;
    if (IsSeq(a, "settings.allow_paths")) {
      for (const auto& item : a) {
        if (auto t = Text(item, "settings.allow_paths")) {
          if (t->empty() || ((*t)[0] != '/' && t->rfind("${", 0) != 0)) {
            Error(item,
                  "settings.allow_paths entries must be absolute paths or start with ${workdir}");
          } else {
            s.allow_paths.push_back(*t);
          }
        }
      }
    }
  }
}

void Loader::ParseServices(const YAML::Node& n, std::vector<ServiceSpec>& out) {
  if (!IsSeq(n, "services")) return;
  std::map<std::string, Mark> seen;
  for (const auto& item : n) {
    if (!IsMap(item, "each service")) continue;
    auto k = Keys(item, Names({"name", "run", "ready", "restart"}), "service");
    ServiceSpec svc;
    svc.mark = MarkOf(item);
    svc.name = NameOf(item, k, seen, "service");
    const std::string where = "service '" + svc.name + "'";
    if (!k.count("run")) {
      Error(item, where + " needs `run` (the command that starts it)");
    } else if (auto s = Text(k["run"].value, where + ".run")) {
      svc.run = *s;
    }
    if (k.count("ready")) {
      std::map<std::string, Entry> extra;
      svc.ready = ParseProbe(k["ready"].value, where + ".ready", Names({"within"}), &extra);
      if (extra.count("within")) {
        if (auto d = DurationOf(extra["within"].value, where + ".ready.within", 1, 3600000))
          svc.ready_within = *d;
      }
    }
    if (k.count("restart")) {
      if (auto s = Scalar(k["restart"].value, where + ".restart")) {
        if (*s == "never")
          svc.restart = RestartPolicy::kNever;
        else if (*s == "on-failure")
          svc.restart = RestartPolicy::kOnFailure;
        else
          Error(k["restart"].value, where + ".restart must be 'never' or 'on-failure'" +
                                        DidYouMean(*s, Names({"never", "on-failure"})));
      }
    }
    out.push_back(std::move(svc));
  }
}

void Loader::ParseHosts(const YAML::Node& n, std::vector<HostSpec>& out) {
  if (!IsSeq(n, "hosts")) return;
  std::map<std::string, Mark> seen;
  for (const auto& item : n) {
    if (!IsMap(item, "each host")) continue;
    auto k = Keys(item, Names({"name", "ssh"}), "host");
    HostSpec h;
    h.mark = MarkOf(item);
    h.name = NameOf(item, k, seen, "host");
    if (!k.count("ssh")) {
      Error(item, "host '" + h.name + "' needs `ssh: {destination: user@address}`");
    } else if (IsMap(k["ssh"].value, "host.ssh")) {
      auto sk = Keys(k["ssh"].value, Names({"destination", "options"}), "host.ssh");
      if (!sk.count("destination")) {
        Error(k["ssh"].value, "host '" + h.name + "' ssh needs a `destination`");
      } else if (auto d = Text(sk["destination"].value, "ssh.destination")) {
        h.destination = *d;
        std::string addr = d->substr(d->find('@') == std::string::npos ? 0 : d->find('@') + 1);
        host_addresses_.insert(addr);
      }
      if (sk.count("options") && IsSeq(sk["options"].value, "ssh.options")) {
        for (const auto& o : sk["options"].value) {
          if (auto t = Text(o, "ssh.options")) h.options.push_back(*t);
        }
      }
    }
    host_names_.insert(h.name);
    out.push_back(std::move(h));
  }
}

void Loader::ParseSteady(const YAML::Node& n, std::vector<SteadyCheck>& out) {
  if (!IsSeq(n, "steady_state")) return;
  std::map<std::string, Mark> seen;
  for (const auto& item : n) {
    if (!IsMap(item, "each steady_state check")) continue;
    auto k = Keys(item, Names({"name", "probe"}), "steady_state check");
    SteadyCheck c;
    c.mark = MarkOf(item);
    c.name = NameOf(item, k, seen, "steady_state check");
    if (!k.count("probe")) {
      Error(item, "steady_state check '" + c.name + "' needs a `probe`");
      continue;
    }
    if (auto p = ParseProbe(k["probe"].value, "steady_state '" + c.name + "'.probe", {}, nullptr))
      c.probe = std::move(*p);
    out.push_back(std::move(c));
  }
}

std::optional<Target> Loader::ParseTarget(const YAML::Node& n, const std::string& where) {
  if (!IsMap(n, where)) return std::nullopt;
  auto k = Keys(n, Names({"service", "pidfile", "pid", "name"}), where);
  if (k.size() != 1) {
    if (k.size() > 1 || n.size() == 0) {
      Error(n, where + " names exactly one of service, pidfile, pid, name");
    }
    return std::nullopt;
  }
  Target t;
  t.mark = MarkOf(n);
  const auto& [key, e] = *k.begin();
  if (key == "pid") {
    auto v = IntOf(e.value, where + ".pid", 2, 4194304);
    if (!v) return std::nullopt;
    t.pid = *v;
    return t;
  }
  auto s = Text(e.value, where + "." + key);
  if (!s) return std::nullopt;
  if (s->empty()) {
    Error(e.value, where + "." + key + " must not be empty");
    return std::nullopt;
  }
  if (key == "service") {
    t.service = *s;
    service_refs_.emplace_back(*s, MarkOf(e.value));
  } else if (key == "pidfile") {
    t.pidfile = *s;
  } else {
    t.name = *s;
  }
  return t;
}

void Loader::ParseFaults(const YAML::Node& n, std::vector<FaultSpec>& out) {
  if (!IsSeq(n, "faults")) return;
  std::map<std::string, Mark> seen;
  std::vector<std::string> actions;
  for (const FaultAction* a : FaultActions()) actions.push_back(a->name);
  for (const auto& item : n) {
    if (!IsMap(item, "each fault")) continue;
    auto k =
        Keys(item, Names({"name", "at", "action", "target", "with", "duration", "host"}), "fault");
    FaultSpec f;
    f.mark = MarkOf(item);
    f.name = NameOf(item, k, seen, "fault");
    const std::string where = "fault '" + f.name + "'";
    if (k.count("at")) {
      if (auto d = DurationOf(k["at"].value, where + ".at", 0, 86400000)) f.at = *d;
    }
    if (k.count("duration")) {
      if (auto d = DurationOf(k["duration"].value, where + ".duration", 0, 86400000))
        f.duration = *d;
    }
    if (k.count("host")) {
      if (auto s = Scalar(k["host"].value, where + ".host")) {
        f.host = *s;
        host_refs_.emplace_back(*s, MarkOf(k["host"].value));
      }
    }
    const FaultAction* action = nullptr;
    if (!k.count("action")) {
      Error(item, where + " needs an `action` (see `firedrill faults`)");
    } else if (auto s = Scalar(k["action"].value, where + ".action")) {
      f.action_mark = MarkOf(k["action"].value);
      action = FindFaultAction(*s);
      if (!action) {
        Error(k["action"].value, "unknown action '" + *s + "' in " + where +
                                     DidYouMean(*s, actions) +
                                     " (run `firedrill faults` for the list)");
      }
      f.action = *s;
    }
    if (k.count("target")) {
      f.target = ParseTarget(k["target"].value, where + ".target");
    }
    if (!action) {
      out.push_back(std::move(f));
      continue;
    }
    if (action->target == Use::kRequired && !k.count("target")) {
      Error(item,
            where + ": " + action->name +
                " needs a `target`: {service: NAME} | {pidfile: PATH} | {pid: N} | {name: EXE}");
    }
    if (action->target == Use::kForbidden && k.count("target")) {
      Error(k["target"].key,
            where + ": " + action->name + " takes no `target`; its fields go under `with`");
    }
    if (action->duration == Use::kRequired && !k.count("duration")) {
      Error(item, where + ": " + action->name +
                      " needs a `duration` (how long the fault lasts before it is rolled back)");
    }
    if (action->duration == Use::kRequired && f.duration && f.duration->count() == 0) {
      Error(k["duration"].value, where + ": " + action->name + " needs a duration above 0s");
    }
    if (action->duration == Use::kForbidden && f.duration && f.duration->count() > 0) {
      Error(k["duration"].value,
            where + ": " + action->name +
                " cannot be undone, so it takes no duration (remove it or use 0s)");
    }
    YAML::Node with = k.count("with") ? k["with"].value : YAML::Node();
    if (action->fields.empty() && k.count("with") && !with.IsNull() &&
        !(with.IsMap() && with.size() == 0)) {
      Error(k["with"].key, where + ": " + action->name + " takes no `with` fields");
    } else if (auto p =
                   ParseParams(with, action->fields, where + ".with", RefScope::kNormal, f.mark)) {
      f.with = *p;
      if (action->check) {
        if (auto e = action->check(f)) {
          ErrorAt(e->mark.line ? e->mark : f.mark, where + ": " + e->message);
        }
      }
    }
    out.push_back(std::move(f));
  }
}

void Loader::ParseWatches(const YAML::Node& n, std::vector<WatchSpec>& out) {
  if (!IsSeq(n, "watches")) return;
  std::map<std::string, Mark> seen;
  for (const auto& item : n) {
    if (!IsMap(item, "each watch")) continue;
    auto k = Keys(item, Names({"name", "kind", "probe", "within"}), "watch");
    WatchSpec w;
    w.mark = MarkOf(item);
    w.name = NameOf(item, k, seen, "watch");
    const std::string where = "watch '" + w.name + "'";
    if (k.count("kind")) {
      if (auto s = Scalar(k["kind"].value, where + ".kind")) {
        if (*s == "detection")
          w.kind = WatchKind::kDetection;
        else if (*s == "failover")
          w.kind = WatchKind::kFailover;
        else if (*s == "custom")
          w.kind = WatchKind::kCustom;
        else
          Error(k["kind"].value, where + ".kind must be detection, failover or custom" +
                                     DidYouMean(*s, Names({"detection", "failover", "custom"})));
      }
    }
    if (!k.count("within")) {
      Error(item, where + " needs `within` (how fast it must respond after the first fault)");
    } else if (auto d = DurationOf(k["within"].value, where + ".within", 1, 86400000)) {
      w.within = *d;
    }
    if (!k.count("probe")) {
      Error(item, where + " needs a `probe`");
    } else if (auto p = ParseProbe(k["probe"].value, where + ".probe", {}, nullptr)) {
      w.probe = std::move(*p);
    }
    out.push_back(std::move(w));
  }
}

void Loader::ParseData(const YAML::Node& n, std::optional<DataSpec>& out) {
  if (!IsMap(n, "data")) return;
  auto k = Keys(n, Names({"writer", "verifier"}), "data");
  DataSpec d;
  d.mark = MarkOf(n);
  bool ok = true;
  if (!k.count("writer")) {
    Error(n, "data needs a `writer` probe (a write that is acknowledged when it passes)");
    ok = false;
  } else {
    std::map<std::string, Entry> extra;
    auto p =
        ParseProbe(k["writer"].value, "data.writer", Names({"every"}), &extra, RefScope::kData);
    if (p)
      d.writer = std::move(*p);
    else
      ok = false;
    if (extra.count("every")) {
      if (auto e = DurationOf(extra["every"].value, "data.writer.every", 1, 3600000)) d.every = *e;
    }
  }
  if (!k.count("verifier")) {
    Error(n, "data needs a `verifier` probe (passes when write ${seq} survived)");
    ok = false;
  } else if (auto p =
                 ParseProbe(k["verifier"].value, "data.verifier", {}, nullptr, RefScope::kData)) {
    d.verifier = std::move(*p);
  } else {
    ok = false;
  }
  if (ok) out = std::move(d);
}

void Loader::ParseRecovery(const YAML::Node& n, Recovery& r) {
  if (!IsMap(n, "recovery")) return;
  r.mark = MarkOf(n);
  auto k =
      Keys(n, Names({"within", "steady_for", "max_data_loss", "remediation", "runbook", "hints"}),
           "recovery");
  if (k.count("within")) {
    if (auto d = DurationOf(k["within"].value, "recovery.within", 1, 86400000)) r.within = *d;
  }
  if (k.count("steady_for")) {
    if (auto d = DurationOf(k["steady_for"].value, "recovery.steady_for", 0, 86400000))
      r.steady_for = *d;
  }
  if (k.count("max_data_loss")) {
    if (auto v = IntOf(k["max_data_loss"].value, "recovery.max_data_loss", 0, 0))
      r.max_data_loss = *v;
  }
  if (k.count("runbook")) {
    if (auto s = Text(k["runbook"].value, "recovery.runbook")) r.runbook = *s;
  }
  if (k.count("remediation") && IsSeq(k["remediation"].value, "recovery.remediation")) {
    for (const auto& item : k["remediation"].value) {
      if (!IsMap(item, "each remediation step")) continue;
      auto rk = Keys(item, Names({"after", "run", "timeout"}), "remediation step");
      RemediationStep step;
      step.mark = MarkOf(item);
      if (!rk.count("after")) {
        Error(item, "a remediation step needs `after`: detection, failover, or a duration");
      } else if (auto s = Scalar(rk["after"].value, "remediation.after")) {
        if (*s == "detection")
          step.after = RemediationStep::After::kDetection;
        else if (*s == "failover")
          step.after = RemediationStep::After::kFailover;
        else {
          auto d = ParseDuration(*s);
          if (!d.ok()) {
            Error(rk["after"].value,
                  "remediation.after must be detection, failover or a duration: " +
                      d.status().message() + DidYouMean(*s, Names({"detection", "failover"})));
          } else {
            step.after = RemediationStep::After::kOffset;
            step.offset = *d;
          }
        }
      }
      if (!rk.count("run")) {
        Error(item, "a remediation step needs `run`");
      } else if (auto s = Text(rk["run"].value, "remediation.run")) {
        step.run = *s;
      }
      if (rk.count("timeout")) {
        if (auto d = DurationOf(rk["timeout"].value, "remediation.timeout", 1, 3600000))
          step.timeout = *d;
      }
      r.remediation.push_back(std::move(step));
    }
  }
  if (k.count("hints") && IsSeq(k["hints"].value, "recovery.hints")) {
    for (const auto& item : k["hints"].value) {
      if (!IsMap(item, "each hint")) continue;
      auto hk = Keys(item, Names({"after", "text"}), "hint");
      Hint h;
      h.mark = MarkOf(item);
      if (!hk.count("after"))
        Error(item, "a hint needs `after` (a duration)");
      else if (auto d = DurationOf(hk["after"].value, "hint.after", 0, 86400000))
        h.after = *d;
      if (!hk.count("text"))
        Error(item, "a hint needs `text`");
      else if (auto s = Scalar(hk["text"].value, "hint.text"))
        h.text = *s;
      r.hints.push_back(std::move(h));
    }
  }
}

void Loader::ParseAbort(const YAML::Node& n, std::vector<StopCondition>& out) {
  if (!IsSeq(n, "abort_when")) return;
  int i = 0;
  for (const auto& item : n) {
    ++i;
    if (!IsMap(item, "each abort_when condition")) continue;
    auto k = Keys(item, Names({"name", "probe"}), "abort_when condition");
    StopCondition c;
    c.mark = MarkOf(item);
    c.name = "abort-" + std::to_string(i);
    if (k.count("name")) {
      if (auto s = Scalar(k["name"].value, "abort_when name")) c.name = *s;
    }
    if (!k.count("probe")) {
      Error(item, "an abort_when condition needs a `probe`");
      continue;
    }
    if (auto p = ParseProbe(k["probe"].value, "abort_when '" + c.name + "'.probe", {}, nullptr))
      c.probe = std::move(*p);
    out.push_back(std::move(c));
  }
}

void Loader::CrossCheck(const Scenario& s) {
  std::vector<std::string> services;
  for (const auto& svc : s.services) services.push_back(svc.name);
  for (const auto& [name, mark] : service_refs_) {
    if (std::find(services.begin(), services.end(), name) == services.end()) {
      ErrorAt(mark, "no service named '" + name + "'" +
                        (services.empty() ? std::string(" (this drill starts no services)")
                                          : DidYouMean(name, services)));
    }
  }
  std::vector<std::string> hosts(host_names_.begin(), host_names_.end());
  for (const auto& [name, mark] : host_refs_) {
    if (!host_names_.count(name)) {
      ErrorAt(mark, "no host named '" + name + "' under `hosts:`" + DidYouMean(name, hosts));
    }
  }
  bool has_detection = false, has_failover = false;
  for (const auto& w : s.watches) {
    has_detection |= w.kind == WatchKind::kDetection;
    has_failover |= w.kind == WatchKind::kFailover;
  }
  for (const auto& step : s.recovery.remediation) {
    if (step.after == RemediationStep::After::kDetection && !has_detection) {
      ErrorAt(step.mark, "remediation after detection needs a watch of kind detection");
    }
    if (step.after == RemediationStep::After::kFailover && !has_failover) {
      ErrorAt(step.mark, "remediation after failover needs a watch of kind failover");
    }
  }
  if (s.recovery.max_data_loss && !s.data) {
    ErrorAt(s.recovery.mark, "recovery.max_data_loss needs a `data:` section to measure it");
  }
}

void Loader::CheckRunnable(const Scenario& s) {
  std::set<std::string> said;
  auto report = [&](Mark m, const std::string& msg) {
    if (!said.insert(msg).second) return;  // once per kind/action is enough
    if (opts_.require_runnable)
      ErrorAt(m, msg);
    else
      NoteAt(m, msg);
  };
  auto probe = [&](const ProbeSpec& p) {
    const ProbeKind* k = FindProbeKind(p.kind);
    if (!k) return;
    std::string why = WhyNotRunnable(*k);
    if (!why.empty()) report(p.mark, "probe kind '" + p.kind + "' cannot run here: " + why);
    if (p.params.Has("host")) {
      report(p.params.MarkOf("host"), "remote hosts (host:) cannot run here: not built yet");
    }
  };
  for (const auto& svc : s.services)
    if (svc.ready) probe(*svc.ready);
  for (const auto& c : s.steady_state) probe(c.probe);
  for (const auto& w : s.watches) probe(w.probe);
  for (const auto& c : s.abort_when) probe(c.probe);
  if (s.data) {
    probe(s.data->writer);
    probe(s.data->verifier);
  }
  for (const auto& f : s.faults) {
    const FaultAction* a = FindFaultAction(f.action);
    if (!a) continue;
    std::string why = WhyNotRunnable(*a);
    if (!why.empty()) report(f.action_mark, "action '" + f.action + "' cannot run here: " + why);
    if (!f.host.empty()) report(f.mark, "remote hosts (host:) cannot run here: not built yet");
  }
}

LoadResult Loader::Load(const std::string& text) {
  LoadResult result;
  source_ = text;
  YAML::Node root;
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    StructureGuard guard(opts_);
    while (parser.HandleNextDocument(guard)) {
    }
    root = YAML::Load(text);
  } catch (const Rejection& r) {
    ErrorAt(r.mark, r.message);
    result.errors = errors_;
    return result;
  } catch (const YAML::Exception& e) {
    Mark m = e.mark.is_null() ? Mark{1, 1} : Mark{e.mark.line + 1, e.mark.column + 1};
    ErrorAt(m, "not valid YAML: " + e.msg);
    result.errors = errors_;
    return result;
  }
  if (!root.IsDefined() || root.IsNull()) {
    ErrorAt({1, 1}, "the file is empty; a drill starts with `apiVersion: firedrill/v1`");
    result.errors = errors_;
    return result;
  }
  if (!root.IsMap()) {
    Error(root, "a drill is a map of keys (apiVersion, name, ...)" + Got(root));
    result.errors = errors_;
    return result;
  }
  Scenario s;
  s.file = file_;
  auto k = Keys(root,
                Names({"apiVersion", "name", "description", "tags", "settings", "services", "hosts",
                       "steady_state", "faults", "watches", "data", "recovery", "abort_when"}),
                "the drill");
  if (!k.count("apiVersion")) {
    ErrorAt({1, 1}, "missing `apiVersion: firedrill/v1`");
  } else if (auto v = Scalar(k["apiVersion"].value, "apiVersion")) {
    if (*v != kApiVersion) {
      Error(k["apiVersion"].value,
            "unsupported apiVersion '" + *v + "' (this firedrill reads " + kApiVersion + ")");
    }
    s.api_version = *v;
  }
  if (!k.count("name")) {
    ErrorAt({1, 1}, "missing `name` (lower-case letters, digits and '-')");
  } else if (auto v = Scalar(k["name"].value, "name")) {
    static const std::regex kDrillName("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$");
    if (v->size() > 100 || !std::regex_match(*v, kDrillName)) {
      Error(k["name"].value, "drill name '" + v->substr(0, 40) +
                                 "' must use only [a-z0-9-] and not start or end with '-'");
    }
    s.name = *v;
  }
  if (k.count("description")) {
    if (auto v = Scalar(k["description"].value, "description")) s.description = *v;
  }
  if (k.count("tags") && IsSeq(k["tags"].value, "tags")) {
    for (const auto& t : k["tags"].value) {
      if (auto v = Scalar(t, "tag")) s.tags.push_back(*v);
    }
  }
  // Hosts first: probes and URLs are checked against the hosts a drill names.
  if (k.count("hosts")) ParseHosts(k["hosts"].value, s.hosts);
  if (k.count("settings")) ParseSettings(k["settings"].value, s.settings);
  if (k.count("services")) ParseServices(k["services"].value, s.services);
  if (!k.count("steady_state")) {
    ErrorAt({1, 1}, "missing `steady_state`: at least one check that says the system is healthy");
  } else {
    ParseSteady(k["steady_state"].value, s.steady_state);
    if (s.steady_state.empty() && k["steady_state"].value.IsSequence())
      Error(k["steady_state"].value, "steady_state needs at least one check");
  }
  if (!k.count("faults")) {
    ErrorAt({1, 1}, "missing `faults`: at least one fault to inject");
  } else {
    ParseFaults(k["faults"].value, s.faults);
    if (s.faults.empty() && k["faults"].value.IsSequence())
      Error(k["faults"].value, "faults needs at least one fault");
  }
  if (k.count("watches")) ParseWatches(k["watches"].value, s.watches);
  if (k.count("data")) ParseData(k["data"].value, s.data);
  if (k.count("recovery")) ParseRecovery(k["recovery"].value, s.recovery);
  if (k.count("abort_when")) ParseAbort(k["abort_when"].value, s.abort_when);

  s.port_names.assign(ports_.begin(), ports_.end());
  if (errors_.empty()) CrossCheck(s);
  if (errors_.empty()) {
    // File and disk faults outside the blast radius are refused here, on the text, so
    // `validate` says so; the run checks again on the real filesystem (runner/paths.h).
    for (const auto& f : s.faults) {
      const FaultAction* a = FindFaultAction(f.action);
      if (!a) continue;
      for (const FieldSpec& field : a->fields) {
        if (field.type != FieldType::kPath || !f.with.Has(field.name)) continue;
        std::string why = OutsideAllowPathsStatically(
            f.with.String(field.name), s.settings.allow_paths, s.settings.workdir);
        if (!why.empty()) ErrorAt(f.with.MarkOf(field.name), "fault " + f.name + ": " + why);
      }
    }
  }
  if (errors_.empty()) CheckRunnable(s);

  std::sort(errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
  });
  result.errors = errors_;
  result.notes = notes_;
  if (errors_.empty()) result.scenario = std::move(s);
  return result;
}

LoadResult Refused(const std::string& file, Rejection why) {
  LoadResult r;
  r.errors.push_back(Diagnostic{file, why.mark, std::move(why.message)});
  return r;
}

// At 1:1: the whole file is the problem, not a place in it.
Rejection TooBig(const std::string& size, const LoadOptions& opts) {
  return Rejection{{1, 1},
                   "file is " + size + "; a drill may be at most " + FormatBytes(opts.max_bytes) +
                       " (see README, \"Limits\")"};
}

}  // namespace

LoadResult LoadScenarioText(const std::string& text, const std::string& file_name,
                            const LoadOptions& opts) {
  if (text.size() > opts.max_bytes)
    return Refused(file_name, TooBig(FormatBytes(text.size()), opts));
  if (auto bad = CheckEncoding(text)) return Refused(file_name, std::move(*bad));
  Loader loader(file_name, opts);
  try {
    return loader.Load(text);
  } catch (const std::exception& e) {
    // yaml-cpp can throw from deep inside node access on pathological input.
    LoadResult r;
    r.errors.push_back(
        Diagnostic{file_name, {1, 1}, std::string("cannot read drill: ") + e.what()});
    return r;
  }
}

LoadResult LoadScenarioFile(const std::string& path, const LoadOptions& opts) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    LoadResult r;
    r.errors.push_back(Diagnostic{path, {}, "is a directory, not a drill file"});
    return r;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back(Diagnostic{path, {}, "cannot open file"});
    return r;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    // Stop early: the file may be huge, or endless (/dev/zero).
    if (text.size() > opts.max_bytes) {
      std::error_code size_ec;  // set for what has no size: a pipe, a device
      uintmax_t size = std::filesystem::file_size(path, size_ec);
      return Refused(
          path, TooBig(!size_ec && size >= text.size() ? FormatBytes(size)
                                                       : "more than " + FormatBytes(opts.max_bytes),
                       opts));
    }
  }
  return LoadScenarioText(text, path, opts);
}

}  // namespace firedrill
