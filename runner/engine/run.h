// The engine's run of one drill, as a class, for the files that define its phases:
// engine.cc (prepare, services, settle, rollback, verify, teardown) and fault_phase.cc
// (the fault phase: sampling, injection, recovery, remediation, dry runs). Internal to
// runner/engine/; RunDrill (engine.h) is the interface.
#pragma once

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "injectors/fault_registry.h"
#include "probes/probe_registry.h"
#include "runner/base/event_loop.h"
#include "runner/base/net.h"
#include "runner/base/proc.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"
#include "runner/drill/probe.h"
#include "runner/engine/artifacts.h"
#include "runner/engine/engine.h"
#include "runner/engine/event_bus.h"
#include "runner/engine/recovery.h"
#include "runner/engine/remediation_plan.h"
#include "runner/engine/remote/hosts.h"
#include "runner/engine/remote/remote_parts.h"
#include "runner/engine/scheduler.h"
#include "runner/engine/services.h"
#include "runner/engine/workdir.h"

namespace firedrill::engine_detail {

inline constexpr int64_t kMaxDataWrites = 100000;
// Each artifact keeps at most this much, its end: enough for any drill's logs, and a report
// directory that stays small enough to attach to a CI job.
inline constexpr size_t kArtifactCap = 8 << 20;

class Run {
 public:
  Run(const Scenario& s, const EngineOptions& o)
      : drill_(s), options_(o), env_(o.env ? o.env : Env::Default()), timeline_(env_) {
    // Listeners hear of events through the bus, outside the timeline's and the engine's
    // locks: a slow or blocked one (a stdout nobody reads) never holds up a probe or fault.
    if (options_.sink) {
      bus_ = std::make_unique<EventBus>(std::vector<EventBus::Listener>{options_.sink});
      timeline_.SetSink([bus = bus_.get()](const Event& e) { bus->Publish(e); });
    }
    timeline_.SetRedactor(&redactor_);
  }

  RunRecord Execute();

 private:
  // Phases. Each returns false when the run cannot go on (rec_.error or rec_.aborted set).
  bool Prepare();
  bool StartServices();
  // Connects the hosts the drill uses (runner/engine/remote/hosts.h); true when it uses none.
  bool ConnectHosts();
  // After the hosts' teardown: a fault whose rollback failed because its host was lost,
  // and whose host was reached again with nothing left, is rolled back after all.
  void ConfirmRemoteReverts();
  bool BuildProbesAndFaults();
  // The drill's `setup:` steps, in order, before the services; UndoSetup takes down those
  // made, last first, after the services are stopped.
  bool MakeSetup();
  void UndoSetup();
  bool SettleSteadyState();
  void FaultPhase();
  void RollbackFaults();
  // Undoes fault i and records how that went. REQUIRES: fault_active_[i].
  void RollbackOne(size_t i);
  void Verify();
  void Teardown();

  void Phase(const char* name) { timeline_.Add("phase", name); }
  void Fail(std::string why) {
    if (rec_.error.empty()) rec_.error = why;
    timeline_.Add("error", "", why);
  }
  bool Interrupted() const { return options_.interrupt && options_.interrupt->load() > 0; }
  bool TimedOut() const { return timeline_.Now() >= drill_.settings.timeout.count(); }
  // Checks the stop conditions every phase honours: operator interrupt and the hard cap.
  bool ShouldStop() {
    if (Interrupted() && !rec_.aborted) {
      rec_.aborted = true;
      rec_.abort_reason = "interrupted by the operator";
      timeline_.Add("abort", "operator", "interrupted (signal)");
    }
    if (TimedOut() && !rec_.aborted) {
      rec_.aborted = true;
      rec_.abort_reason =
          "settings.timeout (" + FormatDuration(drill_.settings.timeout) + ") reached";
      timeline_.Add("abort", "timeout", rec_.abort_reason);
    }
    // An error (a resource exhausted, a fault that failed) ends the phase as well.
    return rec_.aborted || !rec_.error.empty();
  }

  // `every`: the period a probe on a host is sampled at there, on the host's own clock
  // (runner/engine/remote/remote_parts.h); 0 for one that is sampled on request.
  Result<std::unique_ptr<Probe>> MakeProbe(const ProbeSpec& p, Millis every = Millis(0)) {
    if (!HostOf(p).empty()) {
      if (!hosts_) return Status::Internal("host " + HostOf(p) + " is not connected");
      return MakeRemoteProbe(hosts_.get(), p, ctx_.default_timeout, every);
    }
    if (options_.make_probe) return options_.make_probe(p, ctx_);
    const ProbeKind* k = FindProbeKind(p.kind);
    if (!k) return Status::Internal("unknown probe kind " + p.kind);
    if (std::string why = WhyNotRunnable(*k); !why.empty()) {
      return Status::Unsupported("probe kind " + p.kind + ": " + why);
    }
    return k->make(p.params, ctx_);
  }

  // Takes one sample through the loop and waits for it (the calling thread drives the
  // loop when it has no threads of its own).
  ProbeOutcome SampleOnLoop(Probe& probe, const SampleVars& vars);
  // One round over every steady-state check, all at once: it costs the slowest check, not
  // the sum. True when all pass; else `why` names the first that failed.
  bool SteadyRound(std::string* why);

  void RecordSteadySample(size_t i, const ProbeOutcome& out, int64_t t);
  void NoteValue(size_t slot, const ProbeOutcome& out);
  // Records a watch's sample; false once the watch is settled (met or missed).
  bool RecordWatchSample(size_t i, const ProbeOutcome& out);
  // Starts due remediation steps and says whether the fault phase has nothing left to
  // learn: every fault injected and over, every watch settled, recovery seen or too late.
  bool PhaseOver(int64_t now, bool all_injected, const std::vector<std::optional<int64_t>>& ends);
  void CheckRecovery(int64_t now);
  void RunRemediation(const RemediationStep& step, const std::string& why);
  void VerifyData();
  void CollectRunArtifacts();
  // Schedules the fault phase's probes; each returns the schedule's index.
  void ScheduleProbes(Scheduler& sched);
  // Moves the scheduler's figures into the record. REQUIRES: sched.Stop() returned.
  void RecordSchedules(const Scheduler& sched);
  // One step of the fault phase's controller: injects what is due, rolls back what is
  // over, starts remediation; true when the phase is over.
  bool FaultTick(int64_t t0);

  // Mode "train" (training_phase.cc).
  bool Training() const { return options_.training.has_value(); }
  // Takes the trainee's actions, pages, and shows the hints that are due; true when the
  // trainee gave up. REQUIRES: mu_ not held; on the controller's thread.
  bool TrainTick(int64_t now);
  // A trainee's `firedrill ctl VERB SERVICE`: here, or by the agent of the service's host.
  Result<std::string> ControlService(const std::string& verb, const std::string& name);
  // REQUIRES: mu_ held.
  void ShowHint(size_t i, int64_t t, bool asked);
  // What the trainee is told on `d`: "" when every steady-state check's latest sample
  // passes, else the checks that fail. REQUIRES: mu_ held.
  std::string FailingChecks() const;

  // At teardown in training: stops what the trainee started by hand (engine.cc).
  void StopHandStarted();

  // Applies the redactor to everything the record says in words.
  void RedactRecord();

  const Scenario& drill_;
  EngineOptions options_;
  Env* env_;
  Redactor redactor_;  // before timeline_, which refers to it
  Timeline timeline_;
  std::unique_ptr<EventBus> bus_;  // null without listeners
  RunRecord rec_;

  std::string workdir_;
  bool workdir_is_temp_ = false;
  std::vector<int> port_numbers_;  // every ${port:NAME} picked
  uint64_t started_ticks_ = 0;     // UptimeTicks() when the run began
  Expander expander_;
  NetworkPolicy network_;
  RunContext ctx_;
  std::atomic<bool> cancel_{false};
  // True once the fault phase is over and its probes were told to give up: what a sample
  // reports then ("cancelled", a killed command) says nothing about the system, so it is
  // not recorded, neither as a failure of the steady state nor as a watch's last word.
  bool Cancelled() const { return cancel_.load(); }
  // Declared before the probes, which may serve on it (a webhook listener) until they are
  // destroyed.
  std::unique_ptr<EventLoop> loop_;
  // Declared before services_: services record into it until they are destroyed.
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Services> services_;
  // Before the probes and faults, which call through it until they are destroyed.
  std::unique_ptr<RemoteHosts> hosts_;
  std::map<std::string, std::string> host_addresses_;
  std::vector<HostSpec> hosts_expanded_;  // destinations and options, ${...} expanded

  std::vector<std::unique_ptr<Probe>> steady_probes_;
  std::vector<std::unique_ptr<Probe>> watch_probes_;
  std::vector<std::unique_ptr<Probe>> abort_probes_;
  std::unique_ptr<Probe> writer_, verifier_;
  std::vector<std::unique_ptr<Fault>> setup_;
  size_t setup_made_ = 0;  // setup_[0, setup_made_) were made (or partly made)
  std::vector<std::unique_ptr<Fault>> faults_;
  std::vector<bool> fault_active_;

  std::mutex mu_;  // guards everything below, written by sampler threads
  std::unique_ptr<RecoveryTracker> recovery_;
  std::unique_ptr<RemediationPlan> remediation_plan_;
  std::atomic<int64_t> all_injected_at_{-1};
  // When the first fault's Inject began (timeline ms), -1 before: its effect may show
  // before Inject returns (a disk filling up fails a write halfway through the fill).
  std::atomic<int64_t> first_inject_started_{-1};
  std::optional<std::string> abort_hit_;
  // A resource a remediation step could not get, for the controller to end the run with.
  std::optional<std::string> resource_error_;
  std::vector<std::pair<int64_t, int64_t>> acked_;  // (seq, ack time)
  std::vector<std::thread> remediation_threads_;

  // The fault phase's controller state (FaultTick), on the thread that drives the loop.
  struct FaultPlan {
    std::vector<size_t> order;  // faults in order of `at`, stable for equal times
    size_t next = 0;            // the next fault of `order` to inject
    std::vector<std::optional<int64_t>> ends;
    std::vector<int64_t> at;  // each fault's moment, from the phase's start
    int64_t last_poll = -1000;
  };
  FaultPlan plan_;
  // (role, name, interval) of each schedule, by its index.
  std::vector<ProbeRecord> schedule_names_;
};

// How long a dry run's fault phase lasts: until the last fault would end (its `at` plus
// its `duration`), or until the longest watch's `within` from the first fault, if later.
int64_t DryRunLength(const Scenario& d);

}  // namespace firedrill::engine_detail
