// The docs are checked against the code, so that they cannot drift from it:
// docs/drill-format.md's fault and probe reference is the registries' own Markdown
// (regenerate it with scripts/update-docs), every key the loader accepts and every report
// key the contract checker knows is documented, every heading the loader's messages point
// to exists, the example drill loads, and no tracked file refers to a file outside the
// repository.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "reports/json_report.h"
#include "runner/loader/catalog.h"
#include "runner/loader/loader.h"
#include "tests/reports/report_contract.h"
#include "tests/reports/report_fixture.h"

namespace firedrill {
namespace {

namespace fs = std::filesystem;

const std::string kSource = FIREDRILL_SOURCE_DIR;
constexpr const char* kDrillDoc = "docs/drill-format.md";
constexpr const char* kReportDoc = "docs/report-format.md";

// The file at `rel` (from the repository root), or "" when it cannot be read.
std::string Read(const std::string& rel) {
  std::ifstream in(kSource + "/" + rel, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Section(const std::string& text, const std::string& marker) {
  const std::string begin = "<!-- " + marker + ":begin -->\n";
  const std::string end = "<!-- " + marker + ":end -->";
  auto b = text.find(begin);
  auto e = text.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b) return "<missing " + marker + ">";
  return text.substr(b + begin.size(), e - b - begin.size());
}

// awk's print adds one newline after the generated text, and $(...) strips trailing ones.
std::string AsWritten(std::string generated) {
  while (!generated.empty() && generated.back() == '\n') generated.pop_back();
  return generated + "\n";
}

std::string Trim(std::string s) {
  const char* ws = " \t\r";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

// ---------------------------------------------------------------------------------------
// Reading the Markdown: headings and the first cell of each table row, outside code blocks.

struct Outline {
  std::vector<std::string> headings;     // without the leading #s
  std::vector<std::string> first_cells;  // of table rows, separators left out
};

Outline OutlineOf(const std::string& doc) {
  Outline o;
  std::istringstream in(doc);
  std::string line;
  bool code = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      code = !code;
      continue;
    }
    if (code) continue;
    if (line.rfind("#", 0) == 0) {
      o.headings.push_back(Trim(line.substr(line.find_first_not_of('#'))));
    } else if (line.rfind("|", 0) == 0) {
      size_t next = line.find('|', 1);
      std::string cell =
          Trim(line.substr(1, next == std::string::npos ? std::string::npos : next - 1));
      if (cell.find_first_not_of("-: ") != std::string::npos) o.first_cells.push_back(cell);
    }
  }
  return o;
}

// Whether `text` holds a `code` span naming `key`: `key` itself or a path ending in it
// (`settings.probe_interval`, `faults[].injected_at_ms`).
bool NamesKey(const std::string& text, const std::string& key) {
  for (size_t open = text.find('`'); open != std::string::npos;) {
    size_t close = text.find('`', open + 1);
    if (close == std::string::npos) break;
    std::string token = text.substr(open + 1, close - open - 1);
    while (token.size() > 2 && token.compare(token.size() - 2, 2, "[]") == 0) {
      token.resize(token.size() - 2);
    }
    // `a.b.key` names key; a key with a dot of its own (a figure of a group,
    // `latency_ms.p50`) is named whole.
    const size_t dot = token.rfind('.');
    if (token == key || (dot == std::string::npos ? token : token.substr(dot + 1)) == key)
      return true;
    open = text.find('`', close + 1);
  }
  return false;
}

// `key` is documented when a heading or the first cell of a table row names it.
bool Documents(const Outline& o, const std::string& key) {
  for (const auto& h : o.headings) {
    if (NamesKey(h, key)) return true;
  }
  for (const auto& c : o.first_cells) {
    if (NamesKey(c, key)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Reading C++ source: string literals, and the arguments of a call.

// The string literals in `code`, unescaped only as far as \" and \\.
std::vector<std::string> Literals(const std::string& code) {
  std::vector<std::string> out;
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] != '"') continue;
    std::string s;
    for (++i; i < code.size() && code[i] != '"'; ++i) {
      if (code[i] == '\\' && i + 1 < code.size()) ++i;
      s += code[i];
    }
    out.push_back(s);
  }
  return out;
}

// The arguments of the call whose '(' is at `open`, split at the commas outside nested
// brackets and string literals.
std::vector<std::string> Arguments(const std::string& code, size_t open) {
  std::vector<std::string> args(1);
  int depth = 0;
  for (size_t i = open + 1; i < code.size(); ++i) {
    const char c = code[i];
    if (c == '"') {
      const size_t start = i;
      for (++i; i < code.size() && code[i] != '"'; ++i) {
        if (code[i] == '\\') ++i;
      }
      args.back() += code.substr(start, i - start + 1);
      continue;
    }
    if (c == '(' || c == '{' || c == '[') ++depth;
    if (c == ')' || c == '}' || c == ']') {
      if (depth == 0) return args;
      --depth;
    }
    if (c == ',' && depth == 0) {
      args.emplace_back();
    } else {
      args.back() += c;
    }
  }
  return {};  // unbalanced
}

// Every key list the loader's sections pass to Reader::Keys and Reader::ForEachNamed, and
// the keys a probe takes beside its kind: each `Names({...})` of the section parsers that
// is not a list of values offered to DidYouMean. `top_level` gets the drill's own keys (the
// list checked "in the drill").
std::set<std::string> LoaderKeys(std::set<std::string>* top_level) {
  std::set<std::string> keys;
  for (const char* file : {"runner/loader/sections.cc", "runner/loader/sections_faults.cc"}) {
    const std::string code = Read(file);
    EXPECT_FALSE(code.empty()) << "cannot read " << file;
    for (size_t at = code.find("Names({"); at != std::string::npos;
         at = code.find("Names({", at + 1)) {
      const size_t line_start = code.rfind('\n', at) + 1;
      if (code.substr(line_start, at - line_start).find("DidYouMean") != std::string::npos) {
        continue;
      }
      const size_t close = code.find("})", at);
      if (close == std::string::npos) continue;
      const auto list = Literals(code.substr(at, close - at));
      keys.insert(list.begin(), list.end());
      // Names({...}), "the drill")
      const size_t after = code.find_first_not_of(", \n", close + 2);
      if (top_level && after != std::string::npos &&
          code.compare(after, 11, "\"the drill\"") == 0) {
        top_level->insert(list.begin(), list.end());
      }
    }
  }
  return keys;
}

// Every key the report contract checker (tests/reports/report_contract.cc) looks for: the
// third argument of each c.Field / c.NonNegative / c.Optional, and the keys it checks in
// `for (const char* key : {...})` loops.
std::set<std::string> ContractKeys() {
  const std::string code = Read("tests/reports/report_contract.cc");
  EXPECT_FALSE(code.empty()) << "cannot read tests/reports/report_contract.cc";
  std::set<std::string> keys;
  for (const char* call : {"c.Field(", "c.NonNegative(", "c.Optional("}) {
    const std::string name = call;
    for (size_t at = code.find(name); at != std::string::npos; at = code.find(name, at + 1)) {
      auto args = Arguments(code, at + name.size() - 1);
      if (args.size() < 3) continue;
      for (const auto& k : Literals(args[2])) keys.insert(k);
    }
  }
  const std::string loop = "for (const char* key : {";
  for (size_t at = code.find(loop); at != std::string::npos; at = code.find(loop, at + 1)) {
    const size_t close = code.find('}', at + loop.size());
    for (const auto& k : Literals(code.substr(at, close - at))) keys.insert(k);
  }
  return keys;
}

// Every key of `j` and of the objects inside it.
void CollectKeys(const nlohmann::json& j, std::set<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      out.insert(k);
      CollectKeys(v, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) CollectKeys(v, out);
  }
}

// ---------------------------------------------------------------------------------------
// The generated reference.

TEST(DocsTest, FaultReferenceIsTheRegistry) {
  EXPECT_EQ(Section(Read(kDrillDoc), "faults"), AsWritten(FaultCatalogMarkdown()))
      << kDrillDoc << " is stale: run scripts/update-docs";
}

TEST(DocsTest, ProbeReferenceIsTheRegistry) {
  EXPECT_EQ(Section(Read(kDrillDoc), "probes"), AsWritten(ProbeCatalogMarkdown()))
      << kDrillDoc << " is stale: run scripts/update-docs";
}

TEST(DocsTest, ReadmeLinksTheDocsAndHoldsNoCopyOfTheReference) {
  const std::string readme = Read("README.md");
  ASSERT_FALSE(readme.empty());
  EXPECT_NE(readme.find("](docs/drill-format.md"), std::string::npos);
  EXPECT_NE(readme.find("](docs/report-format.md"), std::string::npos);
  // scripts/update-docs regenerates docs/drill-format.md only: a copy here would go stale.
  for (const char* marker : {"<!-- faults:begin -->", "<!-- probes:begin -->"}) {
    EXPECT_EQ(readme.find(marker), std::string::npos) << "README.md holds " << marker;
  }
}

// ---------------------------------------------------------------------------------------
// What the docs must cover.

TEST(DocsTest, BothDocsExist) {
  for (const char* doc : {kDrillDoc, kReportDoc}) {
    const std::string text = Read(doc);
    EXPECT_FALSE(text.empty()) << doc << " is missing or empty";
    EXPECT_EQ(text.rfind("# ", 0), 0u) << doc << " does not start with a title";
  }
}

// Messages and comments say `(see docs/drill-format.md, "Limits")`: that heading must exist,
// named exactly so (its anchor is what links use).
TEST(DocsTest, HeadingsTheCodeNamesExist) {
  std::set<std::pair<std::string, std::string>> named;  // (doc, heading)
  for (const char* dir : {"runner", "injectors", "probes", "reports"}) {
    for (const auto& e : fs::recursive_directory_iterator(kSource + "/" + dir)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
      const std::string rel = fs::relative(e.path(), kSource).string();
      const std::string code = Read(rel);
      for (const char* doc : {kDrillDoc, kReportDoc}) {
        const std::string ref = std::string(doc) + ", ";
        for (size_t at = code.find(ref); at != std::string::npos; at = code.find(ref, at + 1)) {
          size_t q = at + ref.size();
          if (code.compare(q, 2, "\\\"") == 0) {
            q += 2;
          } else if (code.compare(q, 1, "\"") == 0) {
            q += 1;
          } else {
            continue;
          }
          const size_t end = code.find('"', q);
          if (end == std::string::npos) continue;
          std::string heading = code.substr(q, end - q);
          if (!heading.empty() && heading.back() == '\\') heading.pop_back();
          named.insert({doc, heading});
        }
      }
    }
  }
  EXPECT_TRUE(named.count({kDrillDoc, "Limits"}))
      << "the loader's size error no longer names docs/drill-format.md, \"Limits\"";
  for (const auto& [doc, heading] : named) {
    const Outline o = OutlineOf(Read(doc));
    EXPECT_TRUE(std::find(o.headings.begin(), o.headings.end(), heading) != o.headings.end())
        << doc << " has no heading \"" << heading << "\", which the code refers to";
  }
}

TEST(DocsTest, EveryDrillKeyTheLoaderAcceptsIsDocumented) {
  std::set<std::string> top;
  const std::set<std::string> keys = LoaderKeys(&top);
  // The reading of the loader's source found the lists it should (the drill's 13 keys at
  // least), and they are the ones the loader accepts.
  ASSERT_GE(top.size(), 13u) << "the top-level keys were not found in runner/loader/sections.cc";
  for (const auto& k : top) {
    LoadResult r = LoadScenarioText("apiVersion: firedrill/v1\n" + k + ": ~\n", "keys.yaml");
    for (const auto& e : r.errors) {
      EXPECT_EQ(e.message.find("unknown key '" + k + "'"), std::string::npos) << e.ToString();
    }
  }
  const Outline o = OutlineOf(Read(kDrillDoc));
  for (const auto& k : top) {
    EXPECT_TRUE(Documents(o, k)) << "top-level key `" << k << "` is not documented in " << kDrillDoc
                                 << " (as a heading or a table row)";
  }
  for (const auto& k : keys) {
    EXPECT_TRUE(Documents(o, k)) << "drill key `" << k << "` is not documented in " << kDrillDoc
                                 << " (as a heading or a table row)";
  }
}

TEST(DocsTest, EveryReportKeyIsDocumented) {
  std::set<std::string> keys = ContractKeys();
  ASSERT_GE(keys.size(), 40u) << "the report keys were not found in the contract checker";
  // And every key ReportJson writes, so that an extension is documented even before the
  // checker knows it.
  for (const auto& f : {report_testing::PassedRun(), report_testing::FailedRun()}) {
    CollectKeys(ReportJson(f.scenario, f.run, f.outcome, f.scenario.file), keys);
  }
  const Outline o = OutlineOf(Read(kReportDoc));
  for (const auto& k : keys) {
    EXPECT_TRUE(Documents(o, k)) << "report key `" << k << "` is not documented in " << kReportDoc
                                 << " (as a heading or a table row)";
  }
}

// Every figure a fault sets (the literal name of each SetFigure call in injectors/) is a
// key of report.json's faults[].figures, and documented like every other key.
TEST(DocsTest, EveryFaultFigureIsDocumented) {
  std::set<std::string> figures;
  for (const auto& e : fs::recursive_directory_iterator(kSource + "/injectors")) {
    if (!e.is_regular_file() || e.path().extension() != ".cc") continue;
    const std::string code = Read(fs::relative(e.path(), kSource).string());
    const std::string call = "SetFigure(\"";
    for (size_t at = code.find(call); at != std::string::npos; at = code.find(call, at + 1)) {
      const size_t begin = at + call.size();
      figures.insert(code.substr(begin, code.find('"', begin) - begin));
    }
  }
  // http.load's, the fault proxy's, cpu.stress's and disk.fill's at least.
  for (const char* k :
       {"rate", "latency_ms.p99", "bytes_to_client", "load_percent", "ballast_bytes"}) {
    EXPECT_TRUE(figures.count(k)) << "no SetFigure(\"" << k << "\" found in injectors/";
  }
  const Outline o = OutlineOf(Read(kReportDoc));
  for (const auto& k : figures) {
    EXPECT_TRUE(Documents(o, k)) << "fault figure `" << k << "` is not documented in " << kReportDoc
                                 << " (as a heading or a table row)";
  }
}

// The first ```LANG block after `heading` in `doc`, or "" when there is none.
std::string FirstBlock(const std::string& doc, const std::string& heading,
                       const std::string& lang) {
  const size_t section = doc.find("\n" + heading + "\n");
  if (section == std::string::npos) return "";
  const std::string open = "```" + lang + "\n";
  const size_t b = doc.find(open, section);
  if (b == std::string::npos) return "";
  const size_t e = doc.find("\n```", b + open.size());
  if (e == std::string::npos) return "";
  return doc.substr(b + open.size(), e - b - open.size() + 1);
}

// The example a drill author starts from must be a drill that loads.
TEST(DocsTest, DrillFormatExampleLoads) {
  const std::string text = FirstBlock(Read(kDrillDoc), "## An example drill", "yaml");
  ASSERT_FALSE(text.empty()) << kDrillDoc << " has no ```yaml block under \"## An example drill\"";
  LoadResult r = LoadScenarioText(text, "drill-format-example.yaml");
  for (const auto& d : r.errors) ADD_FAILURE() << d.ToString();
  EXPECT_TRUE(r.ok());
}

// The example report is one the contract checker accepts.
TEST(DocsTest, ReportFormatExampleMeetsTheContract) {
  const std::string text = FirstBlock(Read(kReportDoc), "## Example", "json");
  ASSERT_FALSE(text.empty()) << kReportDoc << " has no ```json block under \"## Example\"";
  nlohmann::json report = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "the example in " << kReportDoc << " is not JSON";
  for (const auto& p : CheckReportKeys(report)) ADD_FAILURE() << p;
}

// ---------------------------------------------------------------------------------------
// Nothing in the repository refers to a file outside it.

// The tracked files (`git ls-files`), or, without git, every file of the tree but build
// directories; the new docs in any case, tracked yet or not.
std::vector<std::string> RepositoryFiles() {
  std::set<std::string> files = {kDrillDoc, kReportDoc, "scripts/update-docs"};
  bool from_git = false;
  const std::string cmd = "git -C '" + kSource + "' ls-files -z 2>/dev/null";
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::string out;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    from_git = pclose(p) == 0 && !out.empty();
    for (size_t start = 0; from_git && start < out.size();) {
      size_t end = out.find('\0', start);
      if (end == std::string::npos) end = out.size();
      files.insert(out.substr(start, end - start));
      start = end + 1;
    }
  }
  if (!from_git) {
    for (auto it = fs::recursive_directory_iterator(kSource); it != fs::end(it); ++it) {
      const std::string name = it->path().filename().string();
      if (it->is_directory() && (name == ".git" || name.rfind("build", 0) == 0 ||
                                 fs::exists(it->path() / "CMakeCache.txt"))) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.insert(fs::relative(it->path(), kSource).string());
    }
  }
  return {files.begin(), files.end()};
}

TEST(DocsTest, NoFileRefersOutsideTheRepository) {
  // Written in two pieces, so that this file does not name them itself.
  const std::vector<std::string> outside = {
      std::string("SCENARIO") + "-FORMAT",
      std::string("DESIGN") + ".md",
      std::string("..") + "/shared",
      std::string("/work") + "/shared",
  };
  const auto files = RepositoryFiles();
  EXPECT_GT(files.size(), 3u);
  for (const auto& f : files) {
    std::error_code ec;
    if (!fs::is_regular_file(kSource + "/" + f, ec)) continue;  // deleted in the work tree
    const std::string text = Read(f);
    if (text.find('\0') != std::string::npos) continue;  // not text
    for (const auto& o : outside) {
      EXPECT_EQ(text.find(o), std::string::npos)
          << f << " refers to " << o << ", outside the repository";
    }
  }
}

}  // namespace
}  // namespace firedrill
