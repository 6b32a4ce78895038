#include "runner/engine/engine.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "runner/engine/run.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace engine_detail {

RunRecord Run::Execute() {
  started_ticks_ = UptimeTicks();
  rec_.mode = options_.dry_run ? "dry-run" : options_.training ? "train" : "run";
  rec_.started_at = env_->WallNow();
  rec_.started_monotonic_ms = timeline_.origin_env_ms();
  Phase("prepare");
  bool ok = false;
  try {
    ok = Prepare();
    if (ok) ok = BuildProbesAndFaults();
    if (ok && !ShouldStop()) ok = MakeSetup();
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
  // A trainee reads the workdir's path: it must not name the incident they are about to
  // meet (a drill drawn by `train --random`).
  auto workdir = MakeWorkdir(drill_, options_.training ? "train" : drill_.name);
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
                            RunUndoKinds());
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
  for (const auto& [n, p] : ports) port_numbers_.push_back(p);
  expander_ = Expander(workdir_, ports);
  expander_.SetRedactor(&redactor_);
  std::string port_list;
  for (const auto& [n, p] : ports)
    port_list += (port_list.empty() ? "" : ", ") + n + "=" + std::to_string(p);
  timeline_.Add("prepared", drill_.name,
                "workdir " + workdir_ + (port_list.empty() ? "" : "; ports " + port_list));

  // The loop before anything that samples or serves: a thread limit met here ends the run
  // before anything was started or injected.
  auto loop = EventLoop::Start(
      env_, options_.loop_threads < 0 ? EventLoop::DefaultThreads() : options_.loop_threads,
      options_.loop_threads < 0 ? EventLoop::DefaultThreads() : options_.loop_threads);
  if (!loop.ok()) {
    Fail(loop.status().message());
    return false;
  }
  loop_ = std::move(*loop);
  ctx_.loop = loop_.get();
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
  for (HostSpec h : drill_.hosts) {
    // ${env:...} in a destination or an option: the operator's own ssh_config, say.
    auto d = expander_.Expand(h.destination);
    if (!d.ok()) return Fail("host " + h.name + ": " + d.status().message()), false;
    h.destination = *d;
    for (auto& o : h.options) {
      auto e = expander_.Expand(o);
      if (!e.ok()) return Fail("host " + h.name + ": " + e.status().message()), false;
      o = *e;
    }
    // The operator's fleet config for every host (an inventory's ssh_config, a test's):
    // first, so that the drill's own options still win where OpenSSH takes the first value.
    if (const char* config = getenv("FIREDRILL_SSH_CONFIG"); config && *config) {
      h.options.insert(h.options.begin(), {"-F", config});
    }
    hosts_expanded_.push_back(h);
    // What OpenSSH will connect to (an ssh_config Host resolves to its HostName): the
    // address that probes may reach too.
    auto address = SshResolvedHost({h.name, h.destination, h.options});
    if (!address.ok()) {
      Fail("host " + h.name + ": " + address.status().message());
      return false;
    }
    if (Status st = network_.AllowHost(*address); !st.ok()) {
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
  return ConnectHosts();
}

void Run::ConfirmRemoteReverts() {
  for (size_t i = 0; i < rec_.faults.size() && i < drill_.faults.size(); ++i) {
    FaultRecord& r = rec_.faults[i];
    const FaultSpec& f = drill_.faults[i];
    if (r.rollback != "failed" || f.host.empty()) continue;
    const FaultAction* a = FindFaultAction(f.action);
    if (!a) continue;
    const std::vector<std::string> on = HostsActedOn(f, *a);
    bool confirmed = false, unconfirmed = false;
    std::string by;
    for (const auto& name : on) {
      // Confirmed during the run (the host re-joined since, and is no longer lost) or at
      // teardown; a host lost again since its last confirmation is not (NoteLost).
      const HostLink* h = hosts_->Find(name);
      if (!h) continue;
      if (h->revert_confirmed) {
        confirmed = true;
        by += (by.empty() ? "" : " and ") + name;
      } else if (h->lost) {
        unconfirmed = true;
      }
    }
    // The rollback failed only because its host was out of reach, and the host, reached
    // again, holds nothing: the fault is undone, by the host itself.
    if (!confirmed || unconfirmed) continue;
    r.rollback = "ok";
    const std::string prefix = "fault " + r.name + ": ";
    std::erase_if(rec_.leftovers, [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
    timeline_.Add("fault.rolled_back", r.name,
                  "by the dead-man of host " + by + ", confirmed when it was reached again");
  }
}

bool Run::ConnectHosts() {
  const std::set<std::string> used = HostsUsed(drill_);
  if (used.empty()) return true;
  // The agents load the very text the operator gave, and validate it again there.
  std::ifstream in(drill_.file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    Fail("cannot read " + drill_.file + " again to send it to the hosts");
    return false;
  }
  hosts_ = std::make_unique<RemoteHosts>(RemoteOptions{
      .local_dir = journal_->run_dir(),
      .control_root =
          (options_.state_dir.empty() ? DefaultStateDir() : options_.state_dir) + "/ssh",
      .log_dir =
          options_.report_dir.empty() ? workdir_ + "/logs" : options_.report_dir + "/services",
      .run_id = fs::path(journal_->run_dir()).filename().string(),
      .drill_text = text.str(),
      .drill_file = drill_.file,
      .inventory_json = drill_.inventory_json,
      .ports = expander_.ports(),
      .lease = drill_.settings.lease,
      .connect_timeout = Millis(5000),
      .journal = journal_.get(),
      .timeline = &timeline_});
  if (Status st = hosts_->Connect(hosts_expanded_, used); !st.ok()) {
    Fail(st.message());
    return false;
  }
  for (const auto& l : hosts_->links()) {
    if (l->address.empty()) continue;
    host_addresses_[l->target.name] = l->address;
    if (Status st = network_.AllowHost(l->address); !st.ok()) {
      Fail("host " + l->target.name + ": " + st.message());
      return false;
    }
  }
  ctx_.host_addresses = &host_addresses_;
  expander_.SetHosts(&host_addresses_);
  return true;
}

bool Run::BuildProbesAndFaults() {
  // Everything is built before anything starts, so a drill that cannot run stops here
  // with nothing started and nothing injected.
  for (const auto& c : drill_.steady_state) {
    auto p = MakeProbe(c.probe, drill_.settings.probe_interval);
    if (!p.ok()) return Fail("steady_state " + c.name + ": " + p.status().message()), false;
    steady_probes_.push_back(std::move(*p));
  }
  for (const auto& w : drill_.watches) {
    auto p = MakeProbe(w.probe, drill_.settings.probe_interval);
    if (!p.ok()) return Fail("watch " + w.name + ": " + p.status().message()), false;
    watch_probes_.push_back(std::move(*p));
    rec_.watches.push_back(WatchRecord{w.name, WatchKindName(w.kind), w.within.count(), {}, ""});
  }
  for (const auto& c : drill_.abort_when) {
    auto p = MakeProbe(c.probe, drill_.settings.probe_interval);
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
  for (const auto& f : drill_.setup) {
    const FaultAction* a = FindFaultAction(f.action);
    std::string why = a ? WhyNotRunnable(*a) : "unknown action";
    if (!why.empty()) return Fail("setup " + f.name + ": " + f.action + ": " + why), false;
    auto made = a->make(f, ctx_);
    if (!made.ok()) return Fail("setup " + f.name + ": " + made.status().message()), false;
    setup_.push_back(std::move(*made));
  }
  for (const auto& f : drill_.faults) {
    Result<std::unique_ptr<Fault>> made = Status::Internal("no fault built");
    if (!f.host.empty()) {
      if (!hosts_) return Fail("fault " + f.name + ": host " + f.host + " is not connected"), false;
      const FaultAction* a = FindFaultAction(f.action);
      if (!a) return Fail("fault " + f.name + ": unknown action " + f.action), false;
      made = MakeRemoteFault(hosts_.get(), f, *a, drill_.settings.timeout);
    } else if (options_.make_fault) {
      made = options_.make_fault(f, ctx_);
    } else {
      const FaultAction* a = FindFaultAction(f.action);
      std::string why = a ? WhyNotRunnable(*a) : "unknown action";
      if (!why.empty()) return Fail("fault " + f.name + ": " + f.action + ": " + why), false;
      made = a->make(f, ctx_);
    }
    if (!made.ok()) return Fail("fault " + f.name + ": " + made.status().message()), false;
    faults_.push_back(std::move(*made));
    fault_active_.push_back(false);
    FaultRecord r;
    r.name = f.name;
    r.action = f.action;
    rec_.faults.push_back(r);
  }
  // Slow one-off checks happen now, while nothing is started: inside the fault phase they
  // would delay the fault and its timestamp.
  for (size_t i = 0; i < faults_.size(); ++i) {
    if (Status st = faults_[i]->Prepare(); !st.ok()) {
      return Fail("fault " + drill_.faults[i].name + ": " + st.message()), false;
    }
  }
  for (const auto& c : drill_.steady_state) rec_.steady.push_back(SteadyRecord{c.name, {}});
  recovery_ = std::make_unique<RecoveryTracker>(drill_.steady_state.size(),
                                                drill_.recovery.steady_for.count());
  return true;
}

bool Run::MakeSetup() {
  for (size_t i = 0; i < setup_.size(); ++i) {
    if (Status st = setup_[i]->Prepare(); !st.ok()) {
      return Fail("setup " + drill_.setup[i].name + ": " + st.message()), false;
    }
  }
  for (size_t i = 0; i < setup_.size(); ++i) {
    // Counted before it acts: a step that fails half-way is undone with the others.
    setup_made_ = i + 1;
    auto res = setup_[i]->Inject();
    if (!res.ok()) {
      timeline_.Add("setup.failed", drill_.setup[i].name, res.status().message());
      return Fail("setup " + drill_.setup[i].name + ": " + res.status().message()), false;
    }
    timeline_.Add("setup.done", drill_.setup[i].name, *res);
  }
  return true;
}

void Run::UndoSetup() {
  for (size_t i = setup_made_; i-- > 0;) {
    auto res = setup_[i]->Rollback();
    timeline_.Add(res.ok() ? "setup.undone" : "setup.undo_failed", drill_.setup[i].name,
                  res.ok() ? *res : res.status().message());
    if (!res.ok())
      rec_.leftovers.push_back("setup " + drill_.setup[i].name + ": " + res.status().message());
  }
  setup_made_ = 0;
}

bool Run::StartServices() {
  for (const auto& svc : drill_.services) {
    if (!svc.host.empty()) {
      // Its agent starts it and waits for it to be ready, there: the ready check is the
      // host's view of its own service.
      auto r = hosts_->Call(svc.host, {{"op", "start"}, {"service", svc.name}},
                            svc.ready_within + Millis(30000));
      if (!r.ok()) return Fail("service " + svc.name + ": " + r.status().message()), false;
      timeline_.Add(svc.ready ? "service.ready" : "service.started", svc.name,
                    "on host " + svc.host + ": " + r->value("detail", std::string()));
      if (ShouldStop()) return false;
      continue;
    }
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
      ProbeOutcome out = SampleOnLoop(**probe, {});
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

ProbeOutcome Run::SampleOnLoop(Probe& probe, const SampleVars& vars) {
  ProbeOutcome result;
  std::atomic<bool> done{false};
  probe.SampleAsync(vars, *loop_, [&](ProbeOutcome out) {
    result = std::move(out);
    done = true;
  });
  loop_->Drive(Millis(1), [&] { return done.load(); });
  return result;
}

bool Run::SteadyRound(std::string* why) {
  const size_t n = steady_probes_.size();
  std::vector<ProbeOutcome> outs(n);
  std::atomic<size_t> left{n};
  for (size_t i = 0; i < n; ++i) {
    // Each on its own lane, as in the fault phase.
    steady_probes_[i]->SampleAsync({}, loop_->Lane(i), [&outs, &left, i](ProbeOutcome out) {
      outs[i] = std::move(out);
      --left;
    });
  }
  loop_->Drive(Millis(1), [&] { return left.load() == 0; });
  for (size_t i = 0; i < n; ++i) {
    if (!outs[i].passed) {
      if (why) *why = drill_.steady_state[i].name + ": " + outs[i].detail;
      return false;
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
  // Some figures exist only once the fault is over (a load's latencies over its duration).
  r.figures = faults_[i]->figures();
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
    ProbeOutcome out = SampleOnLoop(*verifier_, {.seq = seq});
    if (out.passed) {
      ++verified;
      continue;
    }
    ++lost;
    if (rec_.data->first_lost_seqs.size() < kFirstLostSeqs) {
      rec_.data->first_lost_seqs.push_back(seq);
    }
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
  if (hosts_) {
    // Each host's agent rolls back and stops what is there; a host lost meanwhile is
    // reached again, as long as the drill's timeout allows, to confirm its dead-man did.
    const int64_t left = drill_.settings.timeout.count() - timeline_.Now();
    const Millis within(std::max<int64_t>(left, drill_.settings.lease.count() + 3000));
    for (auto& l : hosts_->Teardown(within)) rec_.leftovers.push_back(l);
    ConfirmRemoteReverts();
  }
  if (services_) {
    auto left = services_->StopAll(drill_.settings.stop_grace);
    for (auto& l : left) rec_.leftovers.push_back(l);
  }
  if (Training()) StopHandStarted();
  // Once the services are stopped their logs are complete; the workdir goes below.
  if (!drill_.artifacts.empty() && !workdir_.empty() && !options_.report_dir.empty()) {
    CollectRunArtifacts();
  }
  UndoSetup();
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

// What a trainee started by hand instead of through `firedrill ctl` (a redis-server typed
// in their shell, a daemon) is the session's too: born during it, and listening on one of
// its ports or running in its workdir without a terminal (a daemon; a shell the trainee
// left there has one and is spared). Each gets SIGTERM, then SIGKILL after stop_grace,
// and is named on the timeline; one that survives that is a leftover.
void Run::StopHandStarted() {
  std::set<pid_t> found;
  for (pid_t p : ListeningOn(port_numbers_)) found.insert(p);
  if (!workdir_.empty()) {
    const std::string prefix = workdir_ + "/";
    for (pid_t p : ListPids()) {
      const std::string cwd = CwdOf(p);
      if (cwd != workdir_ && cwd.rfind(prefix, 0) != 0) continue;
      auto st = ReadProcStat(p);
      if (st && st->tty_nr == 0) found.insert(p);
    }
  }
  std::vector<std::pair<pid_t, uint64_t>> stopping;
  for (pid_t p : found) {
    auto st = ReadProcStat(p);
    if (!st || st->state == 'Z' || IsSelfOrAncestor(p) || st->start_ticks < started_ticks_) {
      continue;
    }
    std::string comm;
    std::getline(std::ifstream("/proc/" + std::to_string(p) + "/comm"), comm);
    timeline_.Add("trainee.process_stopped", std::to_string(p),
                  comm + " (cwd " + CwdOf(p) + "), started by hand during the session: SIGTERM");
    env_->Signal(p, SIGTERM);
    stopping.emplace_back(p, st->start_ticks);
  }
  // The same process still: a PID reused meanwhile is not signalled again.
  auto alive = [](pid_t p, uint64_t start) {
    auto st = ReadProcStat(p);
    return st && st->start_ticks == start && st->state != 'Z';
  };
  const int64_t deadline = env_->NowMs() + drill_.settings.stop_grace.count();
  for (const auto& [p, start] : stopping) {
    while (alive(p, start) && env_->NowMs() < deadline) env_->SleepMs(20);
    if (alive(p, start)) {
      timeline_.Add("trainee.process_killed", std::to_string(p), "SIGKILL");
      env_->Signal(p, SIGKILL);
      for (int i = 0; i < 100 && alive(p, start); ++i) env_->SleepMs(10);
    }
    if (alive(p, start)) {
      rec_.leftovers.push_back("process " + std::to_string(p) +
                               " the trainee started is still running");
    }
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

}  // namespace engine_detail

UndoKinds RunUndoKinds() {
  static const std::vector<const UndoKind*> kinds = [] {
    std::vector<const UndoKind*> all(FaultUndoKinds().begin(), FaultUndoKinds().end());
    all.push_back(&kHostRollbackUndo);
    return all;
  }();
  return kinds;
}

RunRecord RunDrill(const Scenario& scenario, const EngineOptions& options) {
  engine_detail::Run run(scenario, options);
  return run.Execute();
}

}  // namespace firedrill
