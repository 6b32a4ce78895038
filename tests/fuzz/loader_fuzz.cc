// libFuzzer target: any bytes through the drill loader, as `firedrill validate` and `run`
// see a file. Beyond crashes, sanitizer reports, leaks, timeouts and memory blow-ups
// (scripts/fuzz sets the limits), it checks what the loader promises: a drill loads
// exactly when there is no error, and every error has a real position in the text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runner/loader/loader.h"

namespace {

void Fail(const firedrill::Diagnostic& d, const char* why) {
  std::fprintf(stderr, "loader_fuzz: %s: %s\n", why, d.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  firedrill::LoadResult r = firedrill::LoadScenarioText(text, "fuzz.yaml");
  if (r.ok() == !r.errors.empty() || r.scenario.has_value() != r.errors.empty()) {
    std::fprintf(stderr, "loader_fuzz: %zu error(s) but scenario %s\n", r.errors.size(),
                 r.scenario ? "set" : "unset");
    std::abort();
  }
  int lines = 1;
  for (char c : text) lines += c == '\n';
  for (const auto& e : r.errors) {
    if (e.mark.line < 1 || e.mark.column < 1) Fail(e, "error without a position");
    if (e.mark.line > lines) Fail(e, "error past the last line");
    if (e.message.empty()) Fail(e, "error without a message");
  }
  return 0;
}
