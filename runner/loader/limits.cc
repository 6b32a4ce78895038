#include "runner/loader/limits.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <sstream>
#include <vector>

#include "runner/base/utf8.h"
#include "runner/base/values.h"

namespace firedrill {
namespace {

// YAML's c-printable: what a YAML file may contain at all.
bool YamlPrintable(char32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
         (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
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

}  // namespace

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

Rejection TooBig(const std::string& size, const LoadOptions& opts) {
  return Rejection{{1, 1},
                   "file is " + size + "; a drill may be at most " + FormatBytes(opts.max_bytes) +
                       " (see docs/drill-format.md, \"Limits\")"};
}

std::optional<Rejection> CheckEncoding(std::string_view text) {
  if (text.substr(0, 2) == "\xFF\xFE" || text.substr(0, 2) == "\xFE\xFF" ||
      text.substr(0, 4) == std::string_view("\0\0\xFE\xFF", 4)) {
    return Rejection{{1, 1},
                     "the file is UTF-16 or UTF-32 (it starts with a byte-order "
                     "mark); a drill is UTF-8 text"};
  }
  for (size_t i = 0; i < text.size();) {
    const Utf8Step step = NextUtf8(text, i);
    if (!step.valid) {
      return Rejection{MarkAt(text, i),
                       fmt::format("invalid UTF-8 (byte 0x{:02X}); a drill is UTF-8 text",
                                   static_cast<unsigned char>(text[i]))};
    }
    const char32_t cp = step.code_point;
    if (!YamlPrintable(cp)) {
      bool control = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
      return Rejection{
          MarkAt(text, i),
          fmt::format("{} U+{:04X} is not allowed in a drill{}",
                      control ? "control character" : "character", static_cast<uint32_t>(cp),
                      control ? " (only tab and line breaks are)" : "")};
    }
    i += step.length;
  }
  return std::nullopt;
}

std::optional<Rejection> CheckStructure(const std::string& text, const LoadOptions& opts) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    StructureGuard guard(opts);
    while (parser.HandleNextDocument(guard)) {
    }
  } catch (const Rejection& r) {
    return r;
  } catch (const YAML::Exception& e) {
    return Rejection{e.mark.is_null() ? Mark{1, 1} : ToMark(e.mark), "not valid YAML: " + e.msg};
  }
  return std::nullopt;
}

}  // namespace firedrill
