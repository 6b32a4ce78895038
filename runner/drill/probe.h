// A probe observes the system and says pass or fail, with a detail a person can read: the
// interface the plugins in probes/ implement, and the descriptor each of them ends with.
// Each kind lives in its own file there; probes/probe_registry.h is the plain list.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "runner/base/event_loop.h"
#include "runner/base/status.h"
#include "runner/drill/context.h"
#include "runner/drill/schema.h"

namespace firedrill {

struct ProbeOutcome {
  ProbeOutcome() = default;
  ProbeOutcome(bool p, std::string d, std::optional<int64_t> observed = std::nullopt)
      : passed(p), detail(std::move(d)), observed_at_ms(observed) {}

  bool passed = false;
  std::string detail;  // "exit 0, stdout 'OK'", "connection refused", ...
  // When the system told firedrill what this outcome reports (the run's clock, Env::NowMs
  // as the timeline keeps it): a log line as it was written, a notification as it arrived.
  // Unset for a polled probe, whose outcome is as of its sample.
  std::optional<int64_t> observed_at_ms;
  // The number the sample read, when it read one: a command whose whole output is a
  // number, a Prometheus query with one value. The report keeps the least, greatest and
  // last of them (a replication lag's worst), passing samples or not.
  std::optional<double> value;
};

struct SampleVars {
  std::optional<int64_t> seq;  // set for data-check writers and verifiers
};

using SampleDone = std::function<void(ProbeOutcome)>;

class Probe {
 public:
  virtual ~Probe() = default;
  // Takes one sample and waits for it. Must return within the probe's timeout (plus a
  // little); may be called from any thread, but never twice at once.
  virtual ProbeOutcome Sample(const SampleVars& vars) = 0;
  // Takes one sample without holding a loop thread while it waits, and calls `done` once
  // with the outcome (on a loop thread, or before returning). The default runs Sample on
  // the loop's blocking pool; a kind that waits on sockets, children or files overrides it
  // to wait through the loop. Never called again before `done` ran.
  // REQUIRES: `loop` and this probe outlive the sample.
  virtual void SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done);
};

struct ProbeKind {
  const char* name;
  const char* doc;  // one line
  std::span<const FieldSpec> fields;
  const char* example;  // YAML flow map, as a drill would write it
  // Cross-field validation beyond the schema; may be null.
  std::optional<FieldError> (*check)(const Params& params, Mark probe_mark);
  // Builds a runnable probe; null while the kind validates but has no runtime yet.
  Result<std::unique_ptr<Probe>> (*make)(const Params& params, const RunContext& ctx);
  // "" when this machine can run the kind, else why not.
  std::string (*unsupported)();
};

// Why this kind cannot run on this machine with this build ("not built yet", or what its
// `unsupported` says); "" when it can.
std::string WhyNotRunnable(const ProbeKind& kind);

}  // namespace firedrill
