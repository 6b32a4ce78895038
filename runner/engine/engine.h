// The engine runs a loaded drill through its phases:
//   prepare > services up > steady state > faults + watch > remediate > recover >
//   rollback > verify > teardown
// and returns the raw facts (RunRecord). It knows nothing of reports or scoring.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runner/base/env.h"
#include "runner/drill/context.h"
#include "runner/drill/fault.h"
#include "runner/drill/probe.h"
#include "runner/drill/scenario.h"
#include "runner/engine/run_record.h"
#include "runner/engine/timeline.h"
#include "runner/engine/training.h"

namespace firedrill {

struct EngineOptions {
  Env* env = nullptr;      // null: Env::Default()
  std::string report_dir;  // service logs go to REPORT_DIR/services
  Timeline::Sink sink;     // live view of events, may be empty
  // Set asynchronously (e.g. by a SIGINT handler): stop injecting, roll back, tear down.
  const std::atomic<int>* interrupt = nullptr;
  bool keep_workdir = false;  // keep a temporary workdir after the run
  // The journal goes to STATE_DIR/runs/RUN_ID/journal; empty: DefaultStateDir().
  std::string state_dir;
  std::string drill_file;  // recorded in the journal's header
  // A rehearsal of the drill itself: services, steady state, and every watch and stop
  // condition sampled for as long as the fault phase would last, with nothing injected,
  // no remediation and no data writes (mode "dry-run").
  bool dry_run = false;
  // Mode "train" (runner/engine/training.h): the first fault at training->first_fault_at,
  // no remediation, fault durations ignored; the page, hints and the trainee's actions go
  // to the timeline, and the phase lasts until the steady state is back and holds for
  // steady_for, the trainee gives up, or settings.timeout.
  std::optional<TrainingOptions> training;
  // Threads of the run's event loop: -1, EventLoop::DefaultThreads(); 0, none: the thread
  // that calls RunDrill drives the loop itself, for engine tests on a manual clock.
  int loop_threads = -1;
  // Build each probe and fault; empty: the registries (probes/, injectors/). Engine unit
  // tests give their own, so that the engine's logic runs against probes whose answers
  // and faults whose effects the test decides.
  std::function<Result<std::unique_ptr<Probe>>(const ProbeSpec&, const RunContext&)> make_probe;
  std::function<Result<std::unique_ptr<Fault>>(const FaultSpec&, const RunContext&)> make_fault;
};

// Every kind of change a run's journal may hold: the injectors' and a remote host's
// (`firedrill rollback` replays them with the same list).
UndoKinds RunUndoKinds();

// REQUIRES: `scenario` was produced by the loader with require_runnable set.
RunRecord RunDrill(const Scenario& scenario, const EngineOptions& options);

}  // namespace firedrill
