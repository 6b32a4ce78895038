// The README's fault and probe reference is generated from the registries; this keeps it
// from drifting (regenerate with scripts/update-readme).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "runner/loader/catalog.h"

namespace firedrill {
namespace {

std::string Section(const std::string& text, const std::string& marker) {
  const std::string begin = "<!-- " + marker + ":begin -->\n";
  const std::string end = "<!-- " + marker + ":end -->";
  auto b = text.find(begin);
  auto e = text.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b) return "<missing " + marker + ">";
  return text.substr(b + begin.size(), e - b - begin.size());
}

std::string Readme() {
  std::ifstream in(std::string(FIREDRILL_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// awk's print adds one newline after the generated text, and $(...) strips trailing ones.
std::string AsWritten(std::string generated) {
  while (!generated.empty() && generated.back() == '\n') generated.pop_back();
  return generated + "\n";
}

TEST(DocsTest, ReadmeFaultReferenceIsTheRegistry) {
  EXPECT_EQ(Section(Readme(), "faults"), AsWritten(FaultCatalogMarkdown()))
      << "README.md is stale: run scripts/update-readme";
}

TEST(DocsTest, ReadmeProbeReferenceIsTheRegistry) {
  EXPECT_EQ(Section(Readme(), "probes"), AsWritten(ProbeCatalogMarkdown()))
      << "README.md is stale: run scripts/update-readme";
}

}  // namespace
}  // namespace firedrill
