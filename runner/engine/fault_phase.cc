// The fault phase of a run: every probe sampled on its own schedule, faults injected at
// their `at` and rolled back after their `duration`, recovery tracked, remediation run at
// its moment; and the dry run, which does all of that but inject.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "runner/base/proc.h"
#include "runner/engine/run.h"

namespace firedrill::engine_detail {

namespace {
constexpr Millis kStaggerStep{5};
}  // namespace

// REQUIRES: mu_ held. `slot` is the probe's index in schedule_names_.
void Run::NoteValue(size_t slot, const ProbeOutcome& out) {
  if (!out.value) return;
  ProbeRecord& r = schedule_names_[slot];
  const double v = *out.value;
  r.value_min = r.values == 0 ? v : std::min(r.value_min, v);
  r.value_max = r.values == 0 ? v : std::max(r.value_max, v);
  r.value_last = v;
  ++r.values;
}

void Run::RecordSteadySample(size_t i, const ProbeOutcome& out, int64_t t) {
  std::lock_guard<std::mutex> l(mu_);
  rec_.steady[i].samples.push_back(Sample{t, out.passed});
  NoteValue(i, out);
  const int64_t injected = all_injected_at_.load();
  if (recovery_->Record(i, out.passed, t,
                        injected >= 0 ? std::optional<int64_t>(injected) : std::nullopt)) {
    timeline_.AddAt(t, out.passed ? "probe.pass" : "probe.fail", drill_.steady_state[i].name,
                    OneLine(out.detail));
  }
}

// REQUIRES: mu_ held.
void Run::CheckRecovery(int64_t now) {
  if (rec_.recovered_at_ms) return;
  const int64_t injected = all_injected_at_.load();
  auto since =
      recovery_->RecoveredSince(injected >= 0 ? std::optional<int64_t>(injected) : std::nullopt);
  if (!since) return;
  rec_.recovered_at_ms = *since;
  timeline_.AddAt(now, "recovered", "",
                  "steady state back at +" + FormatDuration(Millis(*since)) + " and held for " +
                      FormatDuration(drill_.recovery.steady_for));
}

void Run::RunRemediation(const RemediationStep& step, const std::string& why) {
  if (!step.host.empty() && hosts_) {
    // The host's agent expands and runs it there, in its workdir.
    const int64_t index = &step - drill_.recovery.remediation.data();
    timeline_.Add("remediation.run", "",
                  why + ": on host " + step.host + ": " + OneLine(step.run, 140));
    try {
      remediation_threads_.emplace_back([this, index, host = step.host, timeout = step.timeout] {
        auto r = hosts_->Call(host, {{"op", "exec"}, {"step", index}}, timeout + Millis(10000));
        if (!r.ok()) {
          timeline_.Add("remediation.failed", "", "on host " + host + ": " + r.status().message());
          return;
        }
        const std::string out = r->value("out", std::string());
        timeline_.Add(r->value("exit_code", -1) == 0 ? "remediation.done" : "remediation.failed",
                      "",
                      "on host " + host + ": " + r->value("detail", std::string()) +
                          (out.empty() ? "" : ": " + out));
      });
    } catch (const std::system_error& e) {
      timeline_.Add("remediation.failed", "", std::string("cannot start a thread: ") + e.what());
    }
    return;
  }
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
      auto r = RunRemediationScript(script, workdir_, timeout, journal_.get(), &cancel_);
      if (!r.ok()) {
        timeline_.Add("remediation.failed", "", r.status().message());
        // A step that could not even start (no process to be had) is not the system's
        // answer: the run cannot be carried out, and the controller ends it.
        if (r.status().code() == Status::Code::kInternal) {
          std::lock_guard<std::mutex> l(mu_);
          if (!resource_error_) resource_error_ = "remediation: " + r.status().message();
        }
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

bool Run::PhaseOver(int64_t now, bool all_injected,
                    const std::vector<std::optional<int64_t>>& ends) {
  std::lock_guard<std::mutex> l(mu_);
  CheckRecovery(now);
  RemediationPlan::Progress progress{.first_fault_ms = rec_.first_fault_ms};
  bool all_failover = true;
  for (const auto& w : rec_.watches) {
    if (w.kind == "detection" && w.passed_at_ms) progress.detected = true;
    if (w.kind == "failover") {
      progress.any_failover = true;
      if (!w.passed_at_ms) all_failover = false;
    }
  }
  progress.failover_done = all_failover;
  for (const auto& [i, why] : remediation_plan_->TakeDue(now, progress)) {
    RunRemediation(drill_.recovery.remediation[i], why);
  }

  if (!all_injected || !rec_.first_fault_ms) return false;
  // A trainee has until settings.timeout (ShouldStop) or giving up; the watches' and the
  // RTO's moments only judge them.
  if (Training()) return rec_.recovered_at_ms.has_value();
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

void Run::ScheduleProbes(Scheduler& sched) {
  const Millis interval = drill_.settings.probe_interval;
  const int64_t first = env_->NowMs();
  auto add = [&](const std::string& role, const std::string& name, Millis every,
                 Scheduler::Body body, int64_t offset = 0) {
    schedule_names_.push_back(
        ProbeRecord{.name = name, .role = role, .interval_ms = every.count()});
    sched.Add(every, first + offset, std::move(body));
  };
  // The steady-state checks are spread over one interval (check i of n starts about i/n
  // of it later) rather than all sampled at the same instant: at 1,000 checks a burst
  // every 100 ms would make the last of each burst late by however long the others took.
  // The offsets are whole steps of kStaggerStep, so that checks still share their moments
  // in groups: each moment a loop thread wakes for costs a kernel timer and two context
  // switches, and at 1,000 checks waking for every millisecond cost a fifth more CPU than
  // waking every 5 ms (bench/README.md). Each check keeps its own fixed rate and is judged
  // against its own planned slot; watches and the data writer start at once.
  const size_t n_steady = steady_probes_.size();
  auto stagger = [&](size_t i) {
    const int64_t at = static_cast<int64_t>(i) * interval.count() / static_cast<int64_t>(n_steady);
    return at / kStaggerStep.count() * kStaggerStep.count();
  };
  for (size_t i = 0; i < steady_probes_.size(); ++i) {
    add(
        "steady_state", drill_.steady_state[i].name, interval,
        [this, i](int64_t, EventLoop& lane, Scheduler::Finished finished) {
          steady_probes_[i]->SampleAsync({}, lane, [this, i, finished](ProbeOutcome out) {
            if (!Cancelled()) RecordSteadySample(i, out, timeline_.Now());
            finished(!Cancelled());
          });
        },
        stagger(i));
  }
  for (size_t i = 0; i < watch_probes_.size(); ++i) {
    add("watch", drill_.watches[i].name, interval,
        [this, i](int64_t, EventLoop& lane, Scheduler::Finished finished) {
          watch_probes_[i]->SampleAsync({}, lane, [this, i, finished](ProbeOutcome out) {
            if (!Cancelled() && out.value) {
              std::lock_guard<std::mutex> l(mu_);
              NoteValue(steady_probes_.size() + i, out);
            }
            finished(!Cancelled() && RecordWatchSample(i, out));
          });
        });
  }
  for (size_t i = 0; i < abort_probes_.size(); ++i) {
    add("abort_when", drill_.abort_when[i].name, interval,
        [this, i](int64_t, EventLoop& lane, Scheduler::Finished finished) {
          abort_probes_[i]->SampleAsync({}, lane, [this, i, finished](ProbeOutcome out) {
            if (Cancelled() || !out.passed) return finished(!Cancelled());
            {
              std::lock_guard<std::mutex> l(mu_);
              if (!abort_hit_) abort_hit_ = drill_.abort_when[i].name + ": " + OneLine(out.detail);
            }
            finished(false);
          });
        });
  }
  if (writer_ && !options_.dry_run) {
    // Only the scheduler's thread of the moment touches it: samples never overlap.
    auto seq = std::make_shared<int64_t>(0);
    add("data_writer", "data.writer", drill_.data->every,
        [this, seq](int64_t, EventLoop& lane, Scheduler::Finished finished) {
          if (*seq >= kMaxDataWrites) return finished(false);
          const int64_t n = ++*seq;
          writer_->SampleAsync({.seq = n}, lane, [this, n, finished](ProbeOutcome out) {
            if (!Cancelled()) {
              // A write cut short was attempted but never acknowledged: it cannot be lost.
              int64_t t = timeline_.Now();
              std::lock_guard<std::mutex> l(mu_);
              rec_.data->attempted++;
              if (out.passed) {
                rec_.data->acknowledged++;
                acked_.emplace_back(n, t);
              }
            }
            finished(!Cancelled());
          });
        });
  }
}

bool Run::RecordWatchSample(size_t i, const ProbeOutcome& out) {
  // An event the system reported itself (a log line, a notification) counts from when it
  // happened, not from when the sample found it.
  int64_t t = out.observed_at_ms ? timeline_.FromEnvMs(*out.observed_at_ms) : timeline_.Now();
  std::lock_guard<std::mutex> l(mu_);
  WatchRecord& w = rec_.watches[i];
  w.last_detail = out.detail;
  // Only a pass after the first fault counts: the watch measures a response to it. A dry
  // run counts from the start of its fault phase: a watch that passes there passes with
  // nothing injected.
  const std::optional<int64_t> origin =
      rec_.dry_run_from_ms ? rec_.dry_run_from_ms : rec_.first_fault_ms;
  // An event of the moments the first fault was being put in place is its effect too:
  // judged once the fault is in place, as detected when it took effect (never before).
  const int64_t started = first_inject_started_.load();
  if (out.passed && !rec_.dry_run_from_ms && started >= 0 && t >= started) {
    if (!origin) return true;
    t = std::max(t, *origin);
  }
  if (out.passed && origin && t >= *origin) {
    w.passed_at_ms = t;
    int64_t after = t - *origin;
    timeline_.AddAt(t, "watch.met", w.name,
                    std::string(rec_.dry_run_from_ms ? "with no fault injected, " : "") + "after " +
                        FormatDuration(Millis(after)) + " (within " +
                        FormatDuration(Millis(w.within_ms)) + "): " + OneLine(out.detail));
    return false;
  }
  const int64_t now = timeline_.Now();
  if (origin && now > *origin + w.within_ms) {
    timeline_.AddAt(
        now, "watch.missed", w.name,
        "not met within " + FormatDuration(Millis(w.within_ms)) + ": " + OneLine(out.detail));
    return false;
  }
  return true;
}

void Run::RecordSchedules(const Scheduler& sched) {
  for (size_t i = 0; i < schedule_names_.size(); ++i) {
    ProbeRecord r = schedule_names_[i];
    const ScheduleStats st = sched.Stats(i);
    r.samples = st.samples;
    r.missed = st.missed;
    r.late_p50_ms = st.late_p50_ms;
    r.late_p99_ms = st.late_p99_ms;
    r.late_max_ms = st.late_max_ms;
    rec_.probes.push_back(std::move(r));
  }
}

bool Run::FaultTick(int64_t t0) {
  int64_t now = timeline_.Now();
  // Polling walks /proc; every 100 ms is plenty to notice a service exit.
  if (now - plan_.last_poll >= 100) {
    services_->Poll();
    plan_.last_poll = now;
  }
  if (ShouldStop()) return true;
  {
    std::unique_lock<std::mutex> l(mu_);
    if (resource_error_) {
      const std::string why = *resource_error_;
      l.unlock();
      Fail(why);
      return true;
    }
    if (abort_hit_) {
      rec_.aborted = true;
      rec_.abort_reason = "stop condition " + *abort_hit_;
      timeline_.Add("abort", "abort_when", *abort_hit_);
      return true;
    }
  }
  if (options_.dry_run) return now >= t0 + rec_.dry_run_planned_ms;
  // Inject what is due.
  while (plan_.next < plan_.order.size() && now >= t0 + plan_.at[plan_.order[plan_.next]]) {
    size_t i = plan_.order[plan_.next++];
    const FaultSpec& f = drill_.faults[i];
    FaultRecord& r = rec_.faults[i];
    if (first_inject_started_.load() < 0) first_inject_started_ = timeline_.Now();
    auto res = faults_[i]->Inject();
    int64_t t = timeline_.Now();
    // A fault that did more after its effect was in place says when that was.
    if (auto at = faults_[i]->effective_at_ms(); res.ok() && at) t = timeline_.FromEnvMs(*at);
    if (!res.ok()) {
      r.inject_failed = true;
      r.detail = res.status().message();
      timeline_.AddAt(t, "fault.failed", f.name, r.detail);
      Fail("fault " + f.name + " could not be injected: " + r.detail);
      return true;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      r.injected_at_ms = t;
      r.detail = *res;
      r.figures = faults_[i]->figures();
      if (!rec_.first_fault_ms) rec_.first_fault_ms = t;
      rec_.last_fault_ms = t;
    }
    fault_active_[i] = faults_[i]->Reversible();
    // A trainee's fault stays until they repair it: nothing ends it for them.
    if (f.duration && f.duration->count() > 0 && !Training()) {
      plan_.ends[i] = t + f.duration->count();
    }
    timeline_.AddAt(t, "fault.injected", f.name, *res);
  }
  const bool all_injected = plan_.next == plan_.order.size();
  if (all_injected && all_injected_at_.load() < 0) all_injected_at_ = *rec_.last_fault_ms;
  // Roll back faults whose duration is over.
  for (size_t i = 0; i < faults_.size(); ++i) {
    if (fault_active_[i] && plan_.ends[i] && now >= *plan_.ends[i]) RollbackOne(i);
  }
  if (Training() && TrainTick(now)) return true;
  return PhaseOver(now, all_injected, plan_.ends);
}

void Run::FaultPhase() {
  const int64_t t0 = timeline_.Now();
  if (options_.dry_run) {
    std::lock_guard<std::mutex> l(mu_);
    rec_.dry_run_from_ms = t0;
    rec_.dry_run_planned_ms = DryRunLength(drill_);
    timeline_.AddAt(
        t0, "dry_run", drill_.name,
        "nothing is injected; watching for " + FormatDuration(Millis(rec_.dry_run_planned_ms)));
  }
  plan_ = FaultPlan{};
  plan_.order.resize(drill_.faults.size());
  for (size_t i = 0; i < plan_.order.size(); ++i) plan_.order[i] = i;
  std::stable_sort(plan_.order.begin(), plan_.order.end(),
                   [&](size_t a, size_t b) { return drill_.faults[a].at < drill_.faults[b].at; });
  plan_.ends.resize(drill_.faults.size());
  plan_.at.resize(drill_.faults.size());
  // In training the first fault comes at the moment drawn for it, the others keep their
  // distance from it.
  int64_t first_at = INT64_MAX;
  for (const auto& f : drill_.faults) first_at = std::min(first_at, f.at.count());
  for (size_t i = 0; i < drill_.faults.size(); ++i) {
    plan_.at[i] = Training() ? options_.training->first_fault_at.count() +
                                   drill_.faults[i].at.count() - first_at
                             : drill_.faults[i].at.count();
  }
  // Nothing is healed for a trainee: the remediation is theirs to find.
  static const std::vector<RemediationStep> kNone;
  remediation_plan_ =
      std::make_unique<RemediationPlan>(Training() ? kNone : drill_.recovery.remediation);
  if (Training()) {
    std::lock_guard<std::mutex> l(mu_);
    rec_.training = TrainingRecord{};
    rec_.training->trainee = options_.training->trainee;
    rec_.training->first_fault_planned_ms = options_.training->first_fault_at.count();
    rec_.training->hints_total = drill_.recovery.hints.size();
    timeline_.AddAt(t0, "training", options_.training->trainee,
                    "the fault comes at a moment you are not told; nothing is healed for you");
  }

  Scheduler sched(loop_.get());
  // Probes and remediation steps in the middle of a long command give up when the phase
  // ends: what they would find out can no longer change anything.
  auto end_phase = [&] {
    cancel_ = true;
    sched.Stop();
    for (auto& t : remediation_threads_) t.join();
    remediation_threads_.clear();
    cancel_ = false;
  };
  try {
    ScheduleProbes(sched);
    // Bounded by the drill's hard timeout (ShouldStop) even if nothing else ends it.
    loop_->Drive(Millis(5), [&] { return FaultTick(t0); });
  } catch (...) {
    // Samples still in flight refer to the scheduler and the probes: they finish first,
    // then Execute's last resort reports what escaped.
    end_phase();
    throw;
  }
  end_phase();
  RecordSchedules(sched);
  rec_.fault_phase_end_ms = timeline_.Now();
}

}  // namespace firedrill::engine_detail
