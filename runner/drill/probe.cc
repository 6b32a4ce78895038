#include "runner/drill/probe.h"

namespace firedrill {

void Probe::SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done) {
  loop.Blocking([this, vars, done = std::move(done)] { done(Sample(vars)); });
}

std::string WhyNotRunnable(const ProbeKind& k) {
  if (!k.make) return "not built yet";
  return k.unsupported ? k.unsupported() : "";
}

}  // namespace firedrill
