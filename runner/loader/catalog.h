// The catalog of fault actions and probe kinds, printed from the registries themselves:
// `firedrill faults`, `firedrill probes`, and (as Markdown) the reference tables of
// docs/drill-format.md.
#pragma once

#include <string>

namespace firedrill {

std::string FaultCatalogText();
std::string FaultCatalogMarkdown();
std::string ProbeCatalogText();
std::string ProbeCatalogMarkdown();

}  // namespace firedrill
