// The engine runs a loaded drill through its phases:
//   prepare > services up > steady state > faults + watch > remediate > recover >
//   rollback > verify > teardown
// and returns the raw facts (RunRecord). It knows nothing of reports or scoring.
#pragma once

#include <atomic>
#include <string>

#include "runner/base/env.h"
#include "runner/drill/scenario.h"
#include "runner/engine/run_record.h"
#include "runner/engine/timeline.h"

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
};

// REQUIRES: `scenario` was produced by the loader with require_runnable set.
RunRecord RunDrill(const Scenario& scenario, const EngineOptions& options);

}  // namespace firedrill
