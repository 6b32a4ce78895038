#include "runner/engine/engine.h"

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
#include "runner/base/net.h"
#include "runner/base/proc.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"
#include "runner/drill/probe.h"
#include "runner/engine/artifacts.h"
#include "runner/engine/event_bus.h"
#include "runner/engine/sampler.h"
#include "runner/engine/services.h"
#include "runner/engine/workdir.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace {

constexpr int64_t kMaxDataWrites = 100000;
// Each artifact keeps at most this much, its end: enough for any drill's logs, and a report
// directory that stays small enough to attach to a CI job.
constexpr size_t kArtifactCap = 8 << 20;

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
  bool BuildProbesAndFaults();
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

  Result<std::unique_ptr<Probe>> MakeProbe(const ProbeSpec& p) {
    const ProbeKind* k = FindProbeKind(p.kind);
    if (!k) return Status::Internal("unknown probe kind " + p.kind);
    if (std::string why = WhyNotRunnable(*k); !why.empty()) {
      return Status::Unsupported("probe kind " + p.kind + ": " + why);
    }
    return k->make(p.params, ctx_);
  }

  // One round over every steady-state check; true when all pass.
  bool SteadyRound(std::string* why) {
    bool all = true;
    for (size_t i = 0; i < steady_probes_.size(); ++i) {
      ProbeOutcome out = steady_probes_[i]->Sample({});
      if (!out.passed) {
        all = false;
        if (why) *why = drill_.steady_state[i].name + ": " + out.detail;
        break;
      }
    }
    return all;
  }

  // Tracks, per steady-state check, its current passing run (for recovery).
  struct CheckState {
    bool passing = false;
    bool seen = false;
    std::optional<int64_t> pass_since;  // first passing sample at/after the last injection
    int64_t last_sample = 0;
  };

  void RecordSteadySample(size_t i, const ProbeOutcome& out, int64_t t);
  // Starts due remediation steps and says whether the fault phase has nothing left to
  // learn: every fault injected and over, every watch settled, recovery seen or too late.
  bool PhaseOver(int64_t now, bool all_injected, const std::vector<std::optional<int64_t>>& ends,
                 std::vector<bool>& remediated);
  void CheckRecovery(int64_t now);
  void RunRemediation(const RemediationStep& step, const std::string& why);
  void VerifyData();
  void CollectRunArtifacts();

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
  Expander expander_;
  NetworkPolicy network_;
  RunContext ctx_;
  std::atomic<bool> cancel_{false};
  // True once the fault phase is over and its probes were told to give up: what a sample
  // reports then ("cancelled", a killed command) says nothing about the system, so it is
  // not recorded, neither as a failure of the steady state nor as a watch's last word.
  bool Cancelled() const { return cancel_.load(); }
  // Declared before services_: services record into it until they are destroyed.
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Services> services_;

  std::vector<std::unique_ptr<Probe>> steady_probes_;
  std::vector<std::unique_ptr<Probe>> watch_probes_;
  std::vector<std::unique_ptr<Probe>> abort_probes_;
  std::unique_ptr<Probe> writer_, verifier_;
  std::vector<std::unique_ptr<Fault>> faults_;
  std::vector<bool> fault_active_;

  std::mutex mu_;  // guards everything below, written by sampler threads
  std::vector<CheckState> checks_;
  std::atomic<int64_t> all_injected_at_{-1};
  std::optional<std::string> abort_hit_;
  std::vector<std::pair<int64_t, int64_t>> acked_;  // (seq, ack time)
  std::vector<std::thread> remediation_threads_;
};

RunRecord Run::Execute() {
  rec_.mode = options_.dry_run ? "dry-run" : "run";
  rec_.started_at = env_->WallNow();
  Phase("prepare");
  bool ok = false;
  try {
    ok = Prepare();
    if (ok) ok = BuildProbesAndFaults();
    if (ok && !ShouldStop()) {
      Phase("services");
      ok = StartServices();
    }
    if (ok && !ShouldStop()) {
      Phase("steady_state");
      ok = SettleSteadyState();
    }
    if (ok && !ShouldStop()) {
      Phase("faults");
      FaultPhase();
    }
  } catch (const std::exception& e) {
    // The last resort: whatever escaped (a resource a library could not get), the run
    // still rolls back, stops what it started and reports, as verdict error.
    ok = false;
    Fail(std::string("internal error: ") + e.what());
    cancel_ = true;
    for (auto& t : remediation_threads_) {
      if (t.joinable()) t.join();
    }
    remediation_threads_.clear();
    cancel_ = false;
  }
  // From here on, every step runs whatever happened above: nothing is left behind.
  Phase("rollback");
  RollbackFaults();
  if (ok && rec_.steady_state_held && !rec_.aborted && rec_.error.empty()) {
    Phase("verify");
    Verify();
  }
  Phase("teardown");
  Teardown();
  Phase("done");
  // Every event reaches the listeners before the run returns (and the summary is printed).
  if (bus_) bus_->Close();
  rec_.timeline = timeline_.Events();
  RedactRecord();
  return rec_;
}

void Run::RedactRecord() {
  if (redactor_.empty()) return;
  // A command's output may carry a secret it got from its own environment before the
  // value was first expanded: every text goes through once more.
  auto r = [&](std::string& t) { t = redactor_.Apply(std::move(t)); };
  for (auto& e : rec_.timeline) {
    r(e.name);
    r(e.detail);
  }
  r(rec_.error);
  r(rec_.abort_reason);
  for (auto& l : rec_.leftovers) r(l);
  for (auto& f : rec_.faults) r(f.detail);
  for (auto& w : rec_.watches) r(w.last_detail);
  if (!options_.report_dir.empty()) {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(options_.report_dir + "/services", ec)) {
      if (!RedactFile(redactor_, f.path().string())) {
        rec_.leftovers.push_back("could not redact secrets from " + f.path().string());
      }
    }
  }
}

bool Run::Prepare() {
  auto workdir = MakeWorkdir(drill_);
  if (!workdir.ok()) {
    Fail(workdir.status().message());
    return false;
  }
  workdir_ = workdir->path;
  workdir_is_temp_ = workdir->temporary;

  // No journal, no run: nothing may be changed that a crash could leave behind unrecorded.
  auto j = CreateRunJournal(options_.state_dir.empty() ? DefaultStateDir() : options_.state_dir,
                            RunIdentity{.drill_name = drill_.name,
                                        .drill_file = options_.drill_file,
                                        .started_at = rec_.started_at,
                                        .workdir = workdir_},
                            FaultUndoKinds());
  if (!j.ok()) {
    Fail("cannot create the rollback journal: " + j.status().message());
    return false;
  }
  journal_ = std::move(*j);
  rec_.journal_path = journal_->path();

  std::map<std::string, int> ports;
  std::set<int> taken;
  for (const auto& name : drill_.port_names) {
    auto p = PickFreePort(taken);
    if (!p.ok()) {
      Fail(p.status().message());
      return false;
    }
    ports[name] = *p;
    taken.insert(*p);
  }
  expander_ = Expander(workdir_, ports);
  expander_.SetRedactor(&redactor_);
  std::string port_list;
  for (const auto& [n, p] : ports)
    port_list += (port_list.empty() ? "" : ", ") + n + "=" + std::to_string(p);
  timeline_.Add("prepared", drill_.name,
                "workdir " + workdir_ + (port_list.empty() ? "" : "; ports " + port_list));

  ctx_.env = env_;
  ctx_.expander = &expander_;
  ctx_.workdir = workdir_;
  ctx_.cancel = &cancel_;
  ctx_.interrupt = options_.interrupt;
  ctx_.journal = journal_.get();
  ctx_.default_timeout = Millis(5000);
  ctx_.allow_processes = drill_.settings.allow_processes;
  // Traffic may go to loopback and to the hosts the drill names, by the addresses they
  // have now: checked again on every connection (runner/base/net.h).
  for (const auto& h : drill_.hosts) {
    // user@address, or the address alone (npos + 1 is 0).
    const std::string address = h.destination.substr(h.destination.find('@') + 1);
    if (Status st = network_.AllowHost(address); !st.ok()) {
      Fail("host " + h.name + ": " + st.message());
      return false;
    }
  }
  ctx_.network = &network_;
  std::vector<std::string> allow = drill_.settings.allow_paths;
  if (allow.empty()) allow.push_back(workdir_);
  for (const auto& a : allow) {
    auto e = expander_.Expand(a);
    if (!e.ok()) {
      Fail("settings.allow_paths: " + e.status().message());
      return false;
    }
    ctx_.allow_paths.push_back(*e);
  }
  services_ = std::make_unique<Services>(
      env_, &timeline_, workdir_,
      options_.report_dir.empty() ? workdir_ + "/logs" : options_.report_dir + "/services");
  services_->SetJournal(journal_.get(), drill_.settings.stop_grace);
  ctx_.services = services_.get();
  return true;
}

bool Run::BuildProbesAndFaults() {
  // Everything is built before anything starts, so a drill that cannot run stops here
  // with nothing started and nothing injected.
  for (const auto& c : drill_.steady_state) {
    auto p = MakeProbe(c.probe);
    if (!p.ok()) return Fail("steady_state " + c.name + ": " + p.status().message()), false;
    steady_probes_.push_back(std::move(*p));
  }
  for (const auto& w : drill_.watches) {
    auto p = MakeProbe(w.probe);
    if (!p.ok()) return Fail("watch " + w.name + ": " + p.status().message()), false;
    watch_probes_.push_back(std::move(*p));
    rec_.watches.push_back(WatchRecord{w.name, WatchKindName(w.kind), w.within.count(), {}, ""});
  }
  for (const auto& c : drill_.abort_when) {
    auto p = MakeProbe(c.probe);
    if (!p.ok()) return Fail("abort_when " + c.name + ": " + p.status().message()), false;
    abort_probes_.push_back(std::move(*p));
  }
  if (drill_.data) {
    auto w = MakeProbe(drill_.data->writer);
    if (!w.ok()) return Fail("data.writer: " + w.status().message()), false;
    auto v = MakeProbe(drill_.data->verifier);
    if (!v.ok()) return Fail("data.verifier: " + v.status().message()), false;
    writer_ = std::move(*w);
    verifier_ = std::move(*v);
    rec_.data = DataRecord{};
  }
  for (const auto& f : drill_.faults) {
    const FaultAction* a = FindFaultAction(f.action);
    std::string why = a ? WhyNotRunnable(*a) : "unknown action";
    if (!why.empty()) return Fail("fault " + f.name + ": " + f.action + ": " + why), false;
    auto made = a->make(f, ctx_);
    if (!made.ok()) return Fail("fault " + f.name + ": " + made.status().message()), false;
    faults_.push_back(std::move(*made));
    fault_active_.push_back(false);
    FaultRecord r;
    r.name = f.name;
    r.action = f.action;
    rec_.faults.push_back(r);
  }
  for (const auto& c : drill_.steady_state) rec_.steady.push_back(SteadyRecord{c.name, {}});
  checks_.resize(drill_.steady_state.size());
  return true;
}

bool Run::StartServices() {
  for (const auto& svc : drill_.services) {
    auto run = expander_.Expand(svc.run);
    if (!run.ok()) return Fail("service " + svc.name + ": " + run.status().message()), false;
    Status st = services_->Start(svc, *run);
    if (!st.ok()) return Fail(st.message()), false;
    if (!svc.ready) continue;
    auto probe = MakeProbe(*svc.ready);
    if (!probe.ok())
      return Fail("service " + svc.name + " ready: " + probe.status().message()), false;
    const int64_t start = timeline_.Now();
    std::string last;
    bool ready = false;
    // Bounded by `within`; a service that dies meanwhile ends the wait at once.
    while (timeline_.Now() - start <= svc.ready_within.count()) {
      ProbeOutcome out = (*probe)->Sample({});
      if (out.passed) {
        ready = true;
        timeline_.Add(
            "service.ready", svc.name,
            "after " + FormatDuration(Millis(timeline_.Now() - start)) + ": " + out.detail);
        break;
      }
      last = out.detail;
      services_->Poll();
      if (!services_->ProcessGroup(svc.name)) {
        return Fail("service " + svc.name + " exited before it was ready (see its log in " +
                    (options_.report_dir.empty() ? workdir_ + "/logs"
                                                 : options_.report_dir + "/services") +
                    ")"),
               false;
      }
      if (ShouldStop()) return false;
      env_->SleepMs(std::min<int64_t>(drill_.settings.probe_interval.count(), 200));
    }
    if (!ready) {
      return Fail("service " + svc.name + " was not ready within " +
                  FormatDuration(svc.ready_within) + ": " + last),
             false;
    }
  }
  return true;
}

bool Run::SettleSteadyState() {
  const int64_t start = timeline_.Now();
  std::string why;
  // At least one round, however short `settle` is.
  while (true) {
    services_->Poll();
    if (SteadyRound(&why)) {
      rec_.steady_state_held = true;
      timeline_.Add("steady.held", "",
                    "all " + std::to_string(drill_.steady_state.size()) +
                        " check(s) passed after " +
                        FormatDuration(Millis(timeline_.Now() - start)));
      return true;
    }
    if (ShouldStop()) return false;
    if (timeline_.Now() - start >= drill_.settings.settle.count()) break;
    env_->SleepMs(drill_.settings.probe_interval.count());
  }
  Fail("steady state did not hold within settings.settle (" +
       FormatDuration(drill_.settings.settle) + "), so nothing was injected: " + why);
  return false;
}

void Run::RecordSteadySample(size_t i, const ProbeOutcome& out, int64_t t) {
  std::lock_guard<std::mutex> l(mu_);
  CheckState& c = checks_[i];
  rec_.steady[i].samples.push_back(Sample{t, out.passed});
  if (!c.seen || c.passing != out.passed) {
    timeline_.AddAt(t, out.passed ? "probe.pass" : "probe.fail", drill_.steady_state[i].name,
                    OneLine(out.detail));
  }
  c.seen = true;
  c.passing = out.passed;
  c.last_sample = t;
  if (!out.passed) {
    c.pass_since.reset();
  } else if (!c.pass_since) {
    int64_t injected = all_injected_at_.load();
    if (injected >= 0 && t >= injected) c.pass_since = t;
  }
}

// REQUIRES: mu_ held.
void Run::CheckRecovery(int64_t now) {
  if (rec_.recovered_at_ms || all_injected_at_.load() < 0) return;
  int64_t since = 0;
  int64_t confirmed = INT64_MAX;
  for (const auto& c : checks_) {
    if (!c.passing || !c.pass_since) return;
    since = std::max(since, *c.pass_since);
    confirmed = std::min(confirmed, c.last_sample);
  }
  // Holding is proven by samples, not assumed: every check's latest sample must be at
  // least steady_for after the moment they all started passing.
  if (confirmed - since >= drill_.recovery.steady_for.count()) {
    rec_.recovered_at_ms = since;
    timeline_.AddAt(now, "recovered", "",
                    "steady state back at +" + FormatDuration(Millis(since)) + " and held for " +
                        FormatDuration(drill_.recovery.steady_for));
  }
}

void Run::RunRemediation(const RemediationStep& step, const std::string& why) {
  auto text = expander_.Expand(step.run);
  if (!text.ok()) {
    timeline_.Add("remediation.failed", "", text.status().message());
    return;
  }
  timeline_.Add("remediation.run", "", why + ": " + OneLine(*text, 160));
  std::string script = *text;
  Millis timeout = step.timeout;
  try {
    remediation_threads_.emplace_back([this, script, timeout] {
      auto r = RunShell({.script = script, .cwd = workdir_, .timeout = timeout}, &cancel_);
      if (!r.ok()) {
        timeline_.Add("remediation.failed", "", r.status().message());
      } else {
        timeline_.Add(r->exit_code == 0 ? "remediation.done" : "remediation.failed", "",
                      r->Describe() + (r->out.empty() ? "" : ": " + OneLine(r->out, 100)));
      }
    });
  } catch (const std::system_error& e) {
    // REQUIRES: mu_ held (PhaseOver), as Fail's record is shared with the samplers.
    const std::string why = std::string("cannot start a thread for remediation: ") + e.what() +
                            " (the process or thread limit?)";
    timeline_.Add("remediation.failed", "", why);
    if (rec_.error.empty()) rec_.error = why;
    timeline_.Add("error", "", why);
  }
}

bool Run::PhaseOver(int64_t now, bool all_injected, const std::vector<std::optional<int64_t>>& ends,
                    std::vector<bool>& remediated) {
  std::lock_guard<std::mutex> l(mu_);
  CheckRecovery(now);
  std::optional<int64_t> detected;
  bool all_failover = true, any_failover = false;
  for (const auto& w : rec_.watches) {
    if (w.kind == "detection" && w.passed_at_ms && (!detected || *w.passed_at_ms < *detected))
      detected = w.passed_at_ms;
    if (w.kind == "failover") {
      any_failover = true;
      if (!w.passed_at_ms) all_failover = false;
    }
  }
  for (size_t i = 0; i < remediated.size(); ++i) {
    if (remediated[i] || !rec_.first_fault_ms) continue;
    const RemediationStep& step = drill_.recovery.remediation[i];
    std::string why;
    if (step.after == RemediationStep::After::kDetection && detected) why = "after detection";
    if (step.after == RemediationStep::After::kFailover && any_failover && all_failover)
      why = "after failover";
    if (step.after == RemediationStep::After::kOffset &&
        now >= *rec_.first_fault_ms + step.offset.count())
      why = "at +" + FormatDuration(step.offset) + " after the first fault";
    if (!why.empty()) {
      remediated[i] = true;
      RunRemediation(step, why);
    }
  }

  if (!all_injected || !rec_.first_fault_ms) return false;
  for (size_t i = 0; i < faults_.size(); ++i) {
    if (fault_active_[i] && ends[i]) return false;  // a timed fault is still on
  }
  for (const auto& w : rec_.watches) {
    if (!w.passed_at_ms && now <= *rec_.first_fault_ms + w.within_ms) return false;
  }
  const bool too_late = now > *rec_.first_fault_ms + drill_.recovery.within.count();
  if (too_late) return true;  // nothing pending can change the verdict any more
  if (!rec_.recovered_at_ms) return false;
  // Recovered: remediation still waiting for its moment is no longer needed.
  return true;
}

// How long a dry run's fault phase lasts: until the last fault would end (its `at` plus
// its `duration`), or until the longest watch's `within` from the first fault, if later.
int64_t DryRunLength(const Scenario& d) {
  int64_t end = 0, first_at = INT64_MAX, within = 0;
  for (const auto& f : d.faults) {
    end = std::max(end, f.at.count() + (f.duration ? f.duration->count() : 0));
    first_at = std::min(first_at, f.at.count());
  }
  for (const auto& w : d.watches) within = std::max(within, w.within.count());
  if (first_at == INT64_MAX) first_at = 0;
  return std::max(end, first_at + within);
}

void Run::FaultPhase() {
  const int64_t t0 = timeline_.Now();
  std::atomic<bool> stop{false};
  const Millis interval = drill_.settings.probe_interval;
  const bool dry = options_.dry_run;
  if (dry) {
    std::lock_guard<std::mutex> l(mu_);
    rec_.dry_run_from_ms = t0;
    rec_.dry_run_planned_ms = DryRunLength(drill_);
    timeline_.AddAt(
        t0, "dry_run", drill_.name,
        "nothing is injected; watching for " + FormatDuration(Millis(rec_.dry_run_planned_ms)));
  }

  std::vector<std::unique_ptr<Sampler>> samplers;
  std::string start_failed;  // why a sampler could not start: the run cannot be measured
  auto start = [&](Millis every, Sampler::Fn fn) {
    if (!start_failed.empty()) return;
    auto sampler = Sampler::Start(env_, every, &stop, std::move(fn));
    if (sampler.ok()) {
      samplers.push_back(std::move(*sampler));
    } else {
      start_failed = sampler.status().message();
    }
  };
  for (size_t i = 0; i < steady_probes_.size(); ++i) {
    start(interval, [this, i] {
      ProbeOutcome out = steady_probes_[i]->Sample({});
      if (Cancelled()) return false;
      RecordSteadySample(i, out, timeline_.Now());
      return true;
    });
  }
  for (size_t i = 0; i < watch_probes_.size(); ++i) {
    start(interval, [this, i] {
      ProbeOutcome out = watch_probes_[i]->Sample({});
      if (Cancelled()) return false;
      int64_t t = timeline_.Now();
      std::lock_guard<std::mutex> l(mu_);
      WatchRecord& w = rec_.watches[i];
      w.last_detail = out.detail;
      // Only a pass after the first fault counts: the watch measures a response to it. A
      // dry run counts from the start of its fault phase: a watch that passes there passes
      // with nothing injected.
      const std::optional<int64_t> origin =
          rec_.dry_run_from_ms ? rec_.dry_run_from_ms : rec_.first_fault_ms;
      if (out.passed && origin && t >= *origin) {
        w.passed_at_ms = t;
        int64_t after = t - *origin;
        timeline_.AddAt(t, "watch.met", w.name,
                        std::string(rec_.dry_run_from_ms ? "with no fault injected, " : "") +
                            "after " + FormatDuration(Millis(after)) + " (within " +
                            FormatDuration(Millis(w.within_ms)) + "): " + OneLine(out.detail));
        return false;
      }
      if (origin && t > *origin + w.within_ms) {
        timeline_.AddAt(
            t, "watch.missed", w.name,
            "not met within " + FormatDuration(Millis(w.within_ms)) + ": " + OneLine(out.detail));
        return false;
      }
      return true;
    });
  }
  for (size_t i = 0; i < abort_probes_.size(); ++i) {
    start(interval, [this, i] {
      ProbeOutcome out = abort_probes_[i]->Sample({});
      if (Cancelled()) return false;
      if (!out.passed) return true;
      std::lock_guard<std::mutex> l(mu_);
      if (!abort_hit_) abort_hit_ = drill_.abort_when[i].name + ": " + OneLine(out.detail);
      return false;
    });
  }
  if (writer_ && !dry) {
    auto seq = std::make_shared<int64_t>(0);
    start(drill_.data->every, [this, seq] {
      if (*seq >= kMaxDataWrites) return false;
      ++*seq;
      ProbeOutcome out = writer_->Sample({.seq = *seq});
      // A write cut short was attempted but never acknowledged: it cannot be lost.
      int64_t t = timeline_.Now();
      std::lock_guard<std::mutex> l(mu_);
      rec_.data->attempted++;
      if (out.passed) {
        rec_.data->acknowledged++;
        acked_.emplace_back(*seq, t);
      }
      return true;
    });
  }

  if (!start_failed.empty()) {
    // Nothing is injected into a system that cannot be watched; what did start stops.
    Fail(start_failed);
    stop = true;
    cancel_ = true;
    samplers.clear();
    cancel_ = false;
    rec_.fault_phase_end_ms = timeline_.Now();
    return;
  }

  // The schedule: faults in order of `at` (stable for equal times), each with its end.
  std::vector<size_t> order(drill_.faults.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return drill_.faults[a].at < drill_.faults[b].at; });
  size_t next_fault = 0;
  std::vector<std::optional<int64_t>> ends(drill_.faults.size());
  std::vector<bool> remediated(drill_.recovery.remediation.size(), false);
  bool injection_failed = false;

  // Bounded by the drill's hard timeout (ShouldStop) even if nothing else ends it.
  int64_t last_poll = -1000;
  while (true) {
    int64_t now = timeline_.Now();
    // Polling walks /proc; every 100 ms is plenty to notice a service exit.
    if (now - last_poll >= 100) {
      services_->Poll();
      last_poll = now;
    }
    if (ShouldStop()) break;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (abort_hit_) {
        rec_.aborted = true;
        rec_.abort_reason = "stop condition " + *abort_hit_;
        timeline_.Add("abort", "abort_when", *abort_hit_);
        break;
      }
    }
    if (dry) {
      if (now >= t0 + rec_.dry_run_planned_ms) break;
      env_->SleepMs(5);
      continue;
    }
    // Inject what is due.
    while (next_fault < order.size() && now >= t0 + drill_.faults[order[next_fault]].at.count()) {
      size_t i = order[next_fault++];
      const FaultSpec& f = drill_.faults[i];
      FaultRecord& r = rec_.faults[i];
      auto res = faults_[i]->Inject();
      int64_t t = timeline_.Now();
      if (!res.ok()) {
        r.inject_failed = true;
        r.detail = res.status().message();
        timeline_.AddAt(t, "fault.failed", f.name, r.detail);
        Fail("fault " + f.name + " could not be injected: " + r.detail);
        injection_failed = true;
        break;
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        r.injected_at_ms = t;
        r.detail = *res;
        if (!rec_.first_fault_ms) rec_.first_fault_ms = t;
        rec_.last_fault_ms = t;
      }
      fault_active_[i] = faults_[i]->Reversible();
      if (f.duration && f.duration->count() > 0) ends[i] = t + f.duration->count();
      timeline_.AddAt(t, "fault.injected", f.name, *res);
    }
    if (injection_failed) break;
    if (next_fault == order.size() && all_injected_at_.load() < 0) {
      all_injected_at_ = *rec_.last_fault_ms;
    }
    // Roll back faults whose duration is over.
    for (size_t i = 0; i < faults_.size(); ++i) {
      if (fault_active_[i] && ends[i] && now >= *ends[i]) RollbackOne(i);
    }

    if (PhaseOver(now, next_fault == order.size(), ends, remediated)) break;
    env_->SleepMs(5);
  }
  stop = true;
  // Probes and remediation steps in the middle of a long command give up now: the phase
  // is over, so what they would find out can no longer change anything.
  cancel_ = true;
  samplers.clear();
  for (auto& t : remediation_threads_) t.join();
  remediation_threads_.clear();
  cancel_ = false;
  rec_.fault_phase_end_ms = timeline_.Now();
}

void Run::RollbackFaults() {
  // Reverse order of injection: later faults may depend on earlier ones.
  std::vector<size_t> order;
  for (size_t i = 0; i < rec_.faults.size(); ++i) {
    if (rec_.faults[i].injected_at_ms) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return *rec_.faults[a].injected_at_ms > *rec_.faults[b].injected_at_ms;
  });
  for (size_t i : order) {
    if (fault_active_[i]) RollbackOne(i);
  }
}

void Run::RollbackOne(size_t i) {
  auto res = faults_[i]->Rollback();
  int64_t t = timeline_.Now();
  fault_active_[i] = false;
  FaultRecord& r = rec_.faults[i];
  r.rolled_back_at_ms = t;
  r.rollback = res.ok() ? "ok" : "failed";
  if (!res.ok()) rec_.leftovers.push_back("fault " + r.name + ": " + res.status().message());
  // Until here the fault was active: the availability window reaches this far.
  rec_.faults_ended_ms = std::max(rec_.faults_ended_ms.value_or(0), t);
  timeline_.AddAt(t, res.ok() ? "fault.rolled_back" : "fault.rollback_failed", r.name,
                  res.ok() ? *res : res.status().message());
}

void Run::Verify() {
  // The system must be healthy again once everything is rolled back.
  const int64_t start = timeline_.Now();
  std::string why;
  bool held = false;
  while (true) {
    services_->Poll();
    if (SteadyRound(&why)) {
      held = true;
      break;
    }
    if (ShouldStop() || timeline_.Now() - start >= drill_.settings.settle.count()) break;
    env_->SleepMs(drill_.settings.probe_interval.count());
  }
  rec_.steady_after_rollback = held;
  if (held) rec_.verify_took_ms = timeline_.Now() - start;
  timeline_.Add(held ? "verify.passed" : "verify.failed", "steady_state",
                held ? "steady state holds after rollback"
                     : "steady state does not hold after rollback: " + why);
  if (rec_.data && !options_.dry_run) VerifyData();
}

void Run::VerifyData() {
  int64_t lost = 0, verified = 0;
  // A count alone cannot tell a write the system lost from a verifier that could not ask
  // (no master known, a timeout): the first failure's own words go into the timeline.
  std::string first_lost;
  for (const auto& [seq, t] : acked_) {
    if (ShouldStop()) break;
    ProbeOutcome out = verifier_->Sample({.seq = seq});
    if (out.passed) {
      ++verified;
      continue;
    }
    ++lost;
    if (!rec_.data->first_lost_ack_ms) {
      rec_.data->first_lost_ack_ms = t;
      first_lost = fmt::format("; first lost: seq {}, acknowledged at +{:.3f}s: {}", seq,
                               static_cast<double>(t) / 1000.0, out.detail);
    }
    rec_.data->last_lost_ack_ms = t;
  }
  rec_.data->verified = verified;
  rec_.data->lost = lost;
  timeline_.Add("data.verified", "",
                std::to_string(verified) + " of " + std::to_string(acked_.size()) +
                    " acknowledged writes found, " + std::to_string(lost) + " lost" + first_lost);
}

void Run::Teardown() {
  if (services_) {
    auto left = services_->StopAll(drill_.settings.stop_grace);
    for (auto& l : left) rec_.leftovers.push_back(l);
  }
  // Once the services are stopped their logs are complete; the workdir goes below.
  if (!drill_.artifacts.empty() && !workdir_.empty() && !options_.report_dir.empty()) {
    CollectRunArtifacts();
  }
  if (journal_) {
    // The safety net: whatever the journal still holds (a change recorded by an injection
    // that then failed, a rollback that failed once) gets one more undo from the journal.
    for (const auto& e : journal_->Pending()) {
      auto u = journal_->Undo(e.id, ctx_.undo());
      timeline_.Add(u.ok() ? "journal.undone" : "journal.undo_failed", e.owner,
                    u.ok() ? *u : u.status().message());
      if (!u.ok()) rec_.leftovers.push_back(e.owner + ": " + u.status().message());
    }
    if (journal_->Pending().empty()) {
      Status st = journal_->Close();
      rec_.journal_closed = st.ok();
      if (!st.ok()) rec_.leftovers.push_back("journal: " + st.message());
    } else {
      rec_.leftovers.push_back("the journal keeps what is left: firedrill rollback " +
                               journal_->path());
    }
  }
  if (workdir_is_temp_ && !options_.keep_workdir && rec_.leftovers.empty()) {
    std::error_code ec;
    fs::remove_all(workdir_, ec);
  }
}

void Run::CollectRunArtifacts() {
  std::vector<std::string> patterns;
  for (const auto& a : drill_.artifacts) {
    auto e = expander_.Expand(a);
    if (e.ok()) {
      patterns.push_back(*e);
    } else {
      timeline_.Add("artifact.missing", a, e.status().message());
    }
  }
  std::vector<std::string> roots = ctx_.allow_paths;
  roots.push_back(workdir_);
  for (const auto& n : CollectArtifacts(patterns, workdir_, roots,
                                        options_.report_dir + "/artifacts", kArtifactCap)) {
    timeline_.Add(n.type, n.name, n.detail);
  }
}

}  // namespace

RunRecord RunDrill(const Scenario& scenario, const EngineOptions& options) {
  Run run(scenario, options);
  return run.Execute();
}

}  // namespace firedrill
