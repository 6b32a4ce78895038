// A fault changes the system and, where it can, puts it back: the interface the plugins in
// injectors/ implement, and the descriptor each of them ends with. Each fault family lives
// in its own file there; injectors/fault_registry.h is the plain list the loader,
// `firedrill faults` and the docs all read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/status.h"
#include "runner/drill/context.h"
#include "runner/drill/scenario.h"

namespace firedrill {

// Numbers a fault measured, by name, with the unit in the name (`rate_per_s`,
// `ballast_bytes`): what report.json carries as a fault's `figures`, so that readers
// compare numbers instead of parsing the detail text. Quantities only (counts, sizes,
// rates, durations, shares), never identifiers such as ports or seeds.
using FaultFigures = std::map<std::string, double>;

class Fault {
 public:
  virtual ~Fault() = default;
  // Runs while the run prepares, before any fault is injected and before the fault clock
  // starts: one-off checks too slow for Inject (asking the kernel what it supports) go
  // here, so that they neither delay the fault nor shift its timestamp. A failure ends
  // the run before anything is injected, with the exit of a fault that cannot be
  // injected (verdict error, exit 4). The engine calls it once, before Inject; a fault
  // still injects without it (injector tests call Inject alone), only more slowly.
  virtual Status Prepare() { return Status::Ok(); }
  // Applies the fault; on success returns a detail for the timeline ("SIGKILL to
  // process group 4242 (service primary)").
  virtual Result<std::string> Inject() = 0;
  // Undoes it. Called once, only after a successful Inject() and only when Reversible().
  virtual Result<std::string> Rollback() = 0;
  // false for faults nothing can undo (a killed process stays dead).
  virtual bool Reversible() const { return true; }

  // When the last successful Inject's effect was in place (Env::NowMs: a redirect rule
  // committed), for a fault that does more after that moment; nullopt: when Inject
  // returned, as the engine sees it.
  std::optional<int64_t> effective_at_ms() const { return effective_at_ms_; }
  // What the fault measured so far. Read after Inject, and again after Rollback for what
  // is only known once the fault is over (a load's requests and latencies).
  const FaultFigures& figures() const { return figures_; }

 protected:
  // Stamps effective_at_ms() now; without an Env (a test's bare context) the engine's own
  // stamp stands.
  void MarkEffective(Env* env) {
    if (env) effective_at_ms_ = env->NowMs();
  }
  // The same, for a moment measured elsewhere (a host's clock, mapped to the Env's).
  void MarkEffectiveAt(int64_t env_ms) { effective_at_ms_ = env_ms; }
  // Sets (or replaces) one figure. A value that is not finite is dropped: JSON has no
  // NaN, and a figure that was not measured is left out rather than written as 0.
  void SetFigure(const std::string& name, double value);

 private:
  std::optional<int64_t> effective_at_ms_;
  FaultFigures figures_;
};

enum class Use { kForbidden, kOptional, kRequired };

struct FaultAction {
  const char* name;
  const char* doc;  // one line
  Use target;       // does it act on {service|pidfile|pid|name}?
  Use duration;     // kRequired: meaningless without an end; kForbidden: cannot be undone
  std::span<const FieldSpec> fields;  // the `with:` map
  const char* example;                // a whole fault entry in YAML flow style
  std::optional<FieldError> (*check)(const FaultSpec& fault);  // may be null
  // Null while the action validates but has no runtime yet ("not built yet").
  Result<std::unique_ptr<Fault>> (*make)(const FaultSpec& fault, const RunContext& ctx);
  std::string (*unsupported)();  // "" when this machine can run it, else why not
  // May also be a `setup:` step: made before the services start, undone after they stop
  // (a filesystem mounted for the drill), journaled like a fault.
  bool setup = false;
  // `with: {peer: HOST}` puts the fault's rules on the peer host too (a partition cuts both
  // ways), rather than only naming where the fault's host connects (a delay).
  bool on_peer_too = false;
};

// The hosts a fault acts on: its `host:`, and its peer when the action puts rules there
// (FaultAction::on_peer_too). Empty for a local fault.
std::vector<std::string> HostsActedOn(const FaultSpec& fault, const FaultAction& action);

// Why this action cannot run on this machine with this build ("not built yet", or what
// its `unsupported` says); "" when it can.
std::string WhyNotRunnable(const FaultAction& action);

}  // namespace firedrill
