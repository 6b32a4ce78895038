// check_layers SOURCE_ROOT: the layering check as a build step. Prints every violation on
// stderr, one `file:line: message` a line (the form editors and CI logs link to), then a
// summary. Exits 1 on any violation, 2 when it could not check at all, 0 otherwise.
#include <cstdio>
#include <exception>
#include <filesystem>

#include "tests/layering/layers.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
    return 2;
  }
  firedrill::layering::Report report;
  try {
    report = firedrill::layering::CheckLayering(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "layering: %s\n", e.what());
    return 2;
  }
  // A wrong root would otherwise pass the build by checking nothing.
  if (report.files == 0) {
    std::fprintf(stderr, "layering: no product source under %s\n", argv[1]);
    return 2;
  }
  for (const auto& violation : report.violations) {
    std::fprintf(stderr, "%s\n", violation.ToString().c_str());
  }
  if (!report.violations.empty()) {
    const size_t n = report.violations.size();
    std::fprintf(stderr, "layering: %d files, %d includes, %zu violation%s (order: %s)\n",
                 report.files, report.includes, n, n == 1 ? "" : "s",
                 firedrill::layering::LayerOrder().c_str());
    return 1;
  }
  std::printf("layering: %d files, %d includes, no violation\n", report.files, report.includes);
  return 0;
}
