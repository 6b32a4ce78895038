// The engine's own logic on a manual clock: its phases, fixed-rate sampling and missed-
// sample accounting, recovery tracking, remediation triggers, stop conditions, the hard
// timeout and the order of events. Probes and faults are the test's (EngineOptions'
// factories), the clock is a FakeEnv that only the run's loop moves (a millisecond at a
// time, running every timer that falls due, on this thread), so every figure is exact and
// a run of seconds takes milliseconds. The same paths run against real systems in
// tests/integration/ (run_test, sentinel_drill_test, ...).
#include "runner/engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "runner/engine/score.h"
#include "runner/loader/loader.h"
#include "tests/fake_env.h"
#include "tests/testing.h"

namespace firedrill::testing {
namespace {

// What a test probe answers at a given run time (ms since the fault phase's first fault,
// or since the start, as the test arranges), and how long its sample takes.
struct Script {
  Script() = default;
  Script(std::function<ProbeOutcome(int64_t now_ms)> a, int64_t latency = 0)  // NOLINT
      : answer(std::move(a)), latency_ms(latency) {}
  static Script ForSeq(std::function<ProbeOutcome(int64_t seq)> f) {
    Script s;
    s.for_seq = std::move(f);
    return s;
  }

  std::function<ProbeOutcome(int64_t now_ms)> answer;
  int64_t latency_ms = 0;
  // For data writers and verifiers: the answer for write `seq` (instead of `answer`).
  std::function<ProbeOutcome(int64_t seq)> for_seq;
};

class ScriptedProbe final : public Probe {
 public:
  ScriptedProbe(Script s, const RunContext& ctx) : s_(std::move(s)), ctx_(ctx) {}
  ProbeOutcome Sample(const SampleVars& vars) override {
    if (s_.for_seq) return s_.for_seq(*vars.seq);
    return s_.answer(ctx_.env->NowMs());
  }
  void SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done) override {
    if (s_.for_seq) return done(s_.for_seq(*vars.seq));
    if (s_.latency_ms == 0) return done(s_.answer(loop.NowMs()));
    // The answer is as of the end of the sample; a cancelled run ends it as a failure, as
    // a real probe cut short would.
    timer_ = loop.At(loop.NowMs() + s_.latency_ms, [this, &loop, done] {
      if (ctx_.cancelled()) return done(ProbeOutcome{false, "cancelled"});
      done(s_.answer(loop.NowMs()));
    });
  }

 private:
  Script s_;
  RunContext ctx_;
  std::unique_ptr<RunTimer> timer_;
};

// What a RecordingFault does and saw, kept by the test.
struct FaultLog {
  std::vector<std::string> calls;  // "inject", "rollback", in order
  int64_t inject_ms = 0;           // how long Inject takes (on the test's clock)
  int64_t inject_started_at = -1;  // Env::NowMs when the last Inject began
  int64_t injected_at = -1;        // Env::NowMs when it returned
};

// Records what the engine did with it, and when it was injected.
class RecordingFault final : public Fault {
 public:
  RecordingFault(FaultLog* log, Env* env) : log_(log), env_(env) {}
  Result<std::string> Inject() override {
    log_->calls.push_back("inject");
    log_->inject_started_at = env_->NowMs();
    // A fault whose effect grows while it is put in place (a disk filling up).
    if (log_->inject_ms > 0) env_->SleepMs(log_->inject_ms);
    log_->injected_at = env_->NowMs();
    return std::string("injected");
  }
  Result<std::string> Rollback() override {
    log_->calls.push_back("rollback");
    return std::string("rolled back");
  }

 private:
  FaultLog* log_;
  Env* env_;
};

class EngineTest : public ::testing::Test {
 protected:
  // Probes are named by their command's `run` text; every fault is a RecordingFault.
  RunRecord Run(const std::string& yaml) {
    LoadResult loaded = LoadScenarioText(yaml, "engine-test.yaml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
    if (!loaded.ok()) return {};
    scenario_ = *loaded.scenario;
    EngineOptions o;
    o.env = &env_;
    o.loop_threads = 0;
    o.state_dir = dir_ / "state";
    o.make_probe = [this](const ProbeSpec& p,
                          const RunContext& ctx) -> Result<std::unique_ptr<Probe>> {
      const std::string name = p.params.String("run");
      auto it = scripts_.find(name);
      if (it == scripts_.end()) return Status::Internal("no script " + name);
      return std::unique_ptr<Probe>(new ScriptedProbe(it->second, ctx));
    };
    o.make_fault = [this](const FaultSpec&, const RunContext&) -> Result<std::unique_ptr<Fault>> {
      return std::unique_ptr<Fault>(new RecordingFault(&faults_, &env_));
    };
    o.training = training_;
    origin_ = env_.NowMs();
    return RunDrill(scenario_, o);
  }

  // The drill's text around `body` (steady_state, faults, watches, ... as YAML).
  std::string Drill(const std::string& settings, const std::string& body) {
    return "apiVersion: firedrill/v1\nname: engine-test\nsettings: {workdir: \"" + (dir_ / "work") +
           "\", " + settings + "}\n" + body;
  }

  // Run time (ms from the run's start) -> a probe answer, for probes that look at the
  // clock as the engine's timeline does.
  int64_t RunTime(int64_t env_ms) const { return env_ms - origin_; }

  static const Event* Find(const RunRecord& r, const std::string& type,
                           const std::string& name = "") {
    for (const auto& e : r.timeline) {
      if (e.type == type && (name.empty() || e.name == name)) return &e;
    }
    return nullptr;
  }

  TempDir dir_;
  FakeEnv env_;
  Scenario scenario_;
  int64_t origin_ = 0;
  std::map<std::string, Script> scripts_;
  FaultLog faults_;
  std::optional<TrainingOptions> training_;  // set: mode "train"
  TrainingDesk desk_;
};

ProbeOutcome Pass() { return {true, "ok"}; }

// A detection watch on the scripted probe `alert`.
constexpr const char* kPagedWatch = R"(watches:
  - name: paged
    kind: detection
    probe: {command: {run: alert}}
    within: 5s
)";

constexpr const char* kOneFault = R"(steady_state:
  - name: up
    probe: {command: {run: up}}
faults:
  - name: f
    at: 1s
    action: command
    with: {run: "true"}
recovery: {within: 10s, steady_for: 1s}
)";

TEST_F(EngineTest, FastProbesKeepAFixedRateWithNothingMissed) {
  scripts_["up"] = {[](int64_t) { return Pass(); }};
  RunRecord r = Run(Drill("probe_interval: 100ms", kOneFault));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.probes.size(), 1u);
  const ProbeRecord& p = r.probes[0];
  EXPECT_EQ(p.role, "steady_state");
  EXPECT_EQ(p.interval_ms, 100);
  EXPECT_EQ(p.missed, 0);
  EXPECT_EQ(p.late_max_ms, 0);
  // One sample per 100 ms of the fault phase, the first at its start.
  const Event* start = Find(r, "phase", "faults");
  ASSERT_NE(start, nullptr);
  const int64_t phase = *r.fault_phase_end_ms - start->t_ms;
  EXPECT_NEAR(p.samples, phase / 100 + 1, 1) << "phase " << phase << " ms";
  // Every sample recorded, each passing: availability counts completed samples only.
  EXPECT_EQ(static_cast<int64_t>(r.steady[0].samples.size()), p.samples);
  // A fault without a duration stays until the rollback phase.
  EXPECT_EQ(faults_.calls, (std::vector<std::string>{"inject", "rollback"}));
}

TEST_F(EngineTest, SteadyChecksAreSpreadOverTheIntervalEachAtAFixedRate) {
  // Four checks at 100 ms: check i starts i × 25 ms into the fault phase, never all at
  // one instant, and each keeps 100 ms between its own samples.
  std::map<std::string, std::vector<int64_t>> at;
  for (const char* name : {"a", "b", "c", "d"}) {
    scripts_[name] = {[this, &at, name](int64_t now) {
      at[name].push_back(RunTime(now));
      return Pass();
    }};
  }
  RunRecord r = Run(Drill("probe_interval: 100ms", R"(steady_state:
  - {name: a, probe: {command: {run: a}}}
  - {name: b, probe: {command: {run: b}}}
  - {name: c, probe: {command: {run: c}}}
  - {name: d, probe: {command: {run: d}}}
faults:
  - {name: f, at: 1s, action: command, with: {run: "true"}}
recovery: {within: 10s, steady_for: 1s}
)"));
  ASSERT_EQ(r.error, "");
  const Event* start = Find(r, "phase", "faults");
  ASSERT_NE(start, nullptr);
  int64_t i = 0;
  for (const char* name : {"a", "b", "c", "d"}) {
    // Strictly inside the phase: the settle round that ends at its start, and the checks
    // after its end, sample every check at once.
    std::vector<int64_t> phase;
    for (int64_t t : at[name]) {
      if (t > start->t_ms && t < *r.fault_phase_end_ms) phase.push_back(t);
    }
    ASSERT_GT(phase.size(), 5u) << name;
    // Check a's first slot is the phase's first instant, already left out above.
    EXPECT_EQ(phase[0] - start->t_ms, i == 0 ? 100 : 25 * i) << name;
    for (size_t k = 1; k < phase.size(); ++k) EXPECT_EQ(phase[k] - phase[k - 1], 100) << name;
    ++i;
  }
  for (const ProbeRecord& p : r.probes) EXPECT_EQ(p.missed, 0) << p.name;
}

TEST_F(EngineTest, AProbeSlowerThanItsIntervalMissesTheSlotsItOverran) {
  // 250 ms per sample at 100 ms: each sample takes slots k, and k+1 and k+2 pass while it
  // runs (missed), so k+3 is the next to start.
  scripts_["up"] = {[](int64_t) { return Pass(); }, 250};
  RunRecord r = Run(Drill("probe_interval: 100ms", kOneFault));
  ASSERT_EQ(r.error, "");
  const ProbeRecord& p = r.probes[0];
  ASSERT_GT(p.samples, 5);
  EXPECT_NEAR(p.missed, 2 * p.samples, 2);
  EXPECT_EQ(p.late_max_ms, 0) << "every sample that started, started on its slot";
}

TEST_F(EngineTest, RecoveryStartsAtTheFirstPassingSampleAndNeedsSteadyFor) {
  // Down from the fault (at 1 s into the fault phase) until 800 ms after it.
  scripts_["up"] = {[this](int64_t now) {
    const bool down = faults_.injected_at >= 0 && now < faults_.injected_at + 800;
    return ProbeOutcome{!down, down ? "down" : "ok"};
  }};
  RunRecord r = Run(Drill("probe_interval: 100ms", kOneFault));
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.first_fault_ms && r.recovered_at_ms);
  // The samples are on a 100 ms grid from the start of the fault phase, and the fault is
  // injected 1 s into it, on the grid: the first passing sample is exactly 800 ms after it.
  EXPECT_EQ(*r.recovered_at_ms - *r.first_fault_ms, 800);
  const Event* rec = Find(r, "recovered");
  ASSERT_NE(rec, nullptr);
  // Held for steady_for (1 s): confirmed by the sample 1 s after the first passing one.
  EXPECT_EQ(rec->t_ms - *r.recovered_at_ms, 1000);
}

TEST_F(EngineTest, AWatchIsStampedWhenTheSystemSaysItHappenedNotWhenSampled) {
  // The "log line" appears 37 ms after the fault; the probe is sampled every 500 ms and
  // reports the moment the system gave it.
  scripts_["up"] = {[](int64_t) { return Pass(); }};
  scripts_["alert"] = {[this](int64_t now) {
    if (faults_.injected_at < 0 || now < faults_.injected_at + 37)
      return ProbeOutcome{false, "no line yet"};
    return ProbeOutcome{true, "matched", faults_.injected_at + 37};
  }};
  RunRecord r = Run(Drill("probe_interval: 500ms", std::string(kOneFault) + kPagedWatch));
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.watches.size(), 1u);
  ASSERT_TRUE(r.watches[0].passed_at_ms);
  EXPECT_EQ(*r.watches[0].passed_at_ms - *r.first_fault_ms, 37);
}

TEST_F(EngineTest, AnEventWhileTheFaultIsPutInPlaceIsDetectedAsItTookEffect) {
  // Injecting takes 50 ms, and the system reports the event 10 ms into it: the watch
  // passes, detected at the fault's own stamp (0 ms), never before it.
  faults_.inject_ms = 50;
  scripts_["up"] = {[](int64_t) { return Pass(); }};
  scripts_["alert"] = {[this](int64_t) {
    const int64_t s = faults_.inject_started_at;
    if (s < 0) return ProbeOutcome{false, "no line yet"};
    return ProbeOutcome{true, "matched", s + 10};
  }};
  RunRecord r = Run(Drill("probe_interval: 100ms", std::string(kOneFault) + kPagedWatch));
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.first_fault_ms);
  ASSERT_TRUE(r.watches[0].passed_at_ms) << r.watches[0].last_detail;
  EXPECT_EQ(*r.watches[0].passed_at_ms, *r.first_fault_ms);
  EXPECT_EQ(*r.first_fault_ms - RunTime(faults_.inject_started_at), 50);
}

TEST_F(EngineTest, RemediationRunsAfterDetectionAndEventsComeInOrder) {
  scripts_["up"] = {[](int64_t) { return Pass(); }};
  scripts_["alert"] = {[this](int64_t) {
    return faults_.calls.empty() ? ProbeOutcome{false, "quiet"} : ProbeOutcome{true, "paged"};
  }};
  RunRecord r = Run(Drill("probe_interval: 100ms", std::string(R"(steady_state:
  - name: up
    probe: {command: {run: up}}
faults:
  - name: f
    at: 1s
    duration: 2s
    action: command
    with: {run: "true"}
watches:
  - name: paged
    kind: detection
    probe: {command: {run: alert}}
    within: 5s
recovery:
  within: 10s
  steady_for: 1s
  remediation:
    - {after: detection, run: "true"}
)")));
  ASSERT_EQ(r.error, "");
  std::vector<std::string> order;
  for (const auto& e : r.timeline) {
    if (e.type == "phase" || e.type == "fault.injected" || e.type == "watch.met" ||
        e.type == "remediation.run" || e.type == "fault.rolled_back" || e.type == "steady.held")
      order.push_back(e.type + (e.type == "phase" ? ":" + e.name : ""));
  }
  EXPECT_EQ(order,
            (std::vector<std::string>{"phase:prepare", "phase:services", "phase:steady_state",
                                      "steady.held", "phase:faults", "fault.injected", "watch.met",
                                      "remediation.run", "fault.rolled_back", "phase:rollback",
                                      "phase:verify", "phase:teardown", "phase:done"}));
  EXPECT_EQ(faults_.calls, (std::vector<std::string>{"inject", "rollback"}));
  // The fault was rolled back exactly at the end of its duration, on the controller's tick.
  EXPECT_EQ(*r.faults[0].rolled_back_at_ms - *r.faults[0].injected_at_ms, 2000);
}

TEST_F(EngineTest, AStopConditionAbortsTheRunAndEverythingIsRolledBack) {
  scripts_["up"] = {[](int64_t) { return Pass(); }};
  scripts_["melting"] = {[this](int64_t) {
    return faults_.calls.empty() ? ProbeOutcome{false, "fine"} : ProbeOutcome{true, "on fire"};
  }};
  RunRecord r = Run(Drill("probe_interval: 100ms", std::string(R"(steady_state:
  - name: up
    probe: {command: {run: up}}
faults:
  - name: f
    at: 1s
    duration: 30s
    action: command
    with: {run: "true"}
abort_when:
  - name: melting
    probe: {command: {run: melting}}
recovery: {within: 40s}
)")));
  EXPECT_TRUE(r.aborted);
  EXPECT_EQ(r.abort_reason, "stop condition melting: on fire");
  EXPECT_EQ(faults_.calls, (std::vector<std::string>{"inject", "rollback"}));
  // Noticed on the first sample after the fault, and acted on at the next tick.
  EXPECT_LE(*r.faults[0].rolled_back_at_ms - *r.faults[0].injected_at_ms, 110);
}

TEST_F(EngineTest, TheHardTimeoutEndsARunThatNeverRecovers) {
  scripts_["up"] = {[this](int64_t) {
    return faults_.calls.empty() ? Pass() : ProbeOutcome{false, "down for good"};
  }};
  RunRecord r = Run(Drill("probe_interval: 100ms, timeout: 4s", std::string(R"(steady_state:
  - name: up
    probe: {command: {run: up}}
faults:
  - name: f
    at: 1s
    duration: 1m
    action: command
    with: {run: "true"}
recovery: {within: 2m}
)")));
  EXPECT_TRUE(r.aborted);
  EXPECT_EQ(r.abort_reason, "settings.timeout (4s) reached");
  EXPECT_EQ(faults_.calls, (std::vector<std::string>{"inject", "rollback"}));
  const Event* abort = Find(r, "abort", "timeout");
  ASSERT_NE(abort, nullptr);
  EXPECT_GE(abort->t_ms, 4000);
  EXPECT_LE(abort->t_ms, 4010);
}

TEST_F(EngineTest, SamplesCutShortByTheEndOfThePhaseAreNotFailures) {
  // 80 ms samples at 100 ms: when the phase ends, one is almost surely in flight; it
  // ends as "cancelled" (ScriptedProbe) and must not be recorded.
  scripts_["up"] = {[](int64_t) { return Pass(); }, 80};
  RunRecord r = Run(Drill("probe_interval: 100ms", kOneFault));
  ASSERT_EQ(r.error, "");
  ASSERT_FALSE(r.steady[0].samples.empty());
  for (const auto& s : r.steady[0].samples) EXPECT_TRUE(s.passed) << "at " << s.t_ms;
  EXPECT_EQ(Find(r, "probe.fail"), nullptr);
  EXPECT_EQ(r.probes[0].missed, 0);
}

TEST_F(EngineTest, ASettleRoundCostsTheSlowestCheckNotTheSum) {
  std::string checks = "steady_state:\n";
  for (int i = 0; i < 5; ++i) {
    scripts_["c" + std::to_string(i)] = {[](int64_t) { return Pass(); }, 300};
    checks += "  - name: c" + std::to_string(i) + "\n    probe: {command: {run: c" +
              std::to_string(i) + "}}\n";
  }
  RunRecord r = Run(Drill("probe_interval: 100ms", checks + R"(faults:
  - name: f
    at: 0s
    action: command
    with: {run: "true"}
recovery: {within: 5s, steady_for: 500ms}
)"));
  ASSERT_EQ(r.error, "");
  const Event* settle = Find(r, "phase", "steady_state");
  const Event* held = Find(r, "steady.held");
  ASSERT_TRUE(settle && held);
  // Five checks of 300 ms each, at once: one round of 300 ms (not 1.5 s).
  EXPECT_GE(held->t_ms - settle->t_ms, 300);
  EXPECT_LE(held->t_ms - settle->t_ms, 302);
}

TEST_F(EngineTest, TheDataCheckCountsExactlyTheAcknowledgedWritesThatWentMissing) {
  scripts_["up"] = {[](int64_t) { return Pass(); }};
  // Every third write is refused (never acknowledged, so it cannot be lost); of the
  // acknowledged ones, 10 and 11 are gone when the verifier looks.
  scripts_["write"] = Script::ForSeq([](int64_t seq) {
    return seq % 3 == 0 ? ProbeOutcome{false, "refused"} : ProbeOutcome{true, "OK"};
  });
  scripts_["read"] = Script::ForSeq([](int64_t seq) {
    return seq == 10 || seq == 11 ? ProbeOutcome{false, "(nil)"} : ProbeOutcome{true, "found"};
  });
  RunRecord r = Run(Drill("probe_interval: 100ms", std::string(kOneFault) + R"(data:
  writer: {command: {run: write}, every: 50ms}
  verifier: {command: {run: read}}
)"));
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.data);
  ASSERT_GT(r.data->attempted, 20);
  EXPECT_EQ(r.data->acknowledged, r.data->attempted - r.data->attempted / 3);
  EXPECT_EQ(r.data->lost, 2);
  EXPECT_EQ(r.data->verified, r.data->acknowledged - 2);
  // Writes every 50 ms from the start of the fault phase: seq 10 is the tenth, at +450 ms.
  const Event* start = Find(r, "phase", "faults");
  ASSERT_TRUE(start && r.data->first_lost_ack_ms && r.data->last_lost_ack_ms);
  EXPECT_EQ(*r.data->first_lost_ack_ms - start->t_ms, 450);
  EXPECT_EQ(*r.data->last_lost_ack_ms - start->t_ms, 500);
  const ProbeRecord* writer = nullptr;
  for (const auto& p : r.probes) {
    if (p.role == "data_writer") writer = &p;
  }
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(writer->samples, r.data->attempted);
  EXPECT_EQ(writer->interval_ms, 50);
}

// Mode "train": the first fault at the moment drawn for it, no remediation, no duration:
// the fault stays until the trainee repairs it; the page, the hints (at their `after` and
// asked for), the trainee's acknowledgement, note and declarations are recorded at the
// moments they happened, and the phase ends once the steady state is back.
constexpr const char* kTrainingDrill = R"(steady_state:
  - {name: up, probe: {command: {run: up}}}
faults:
  - {name: f, at: 1s, action: command, with: {run: "true"}, duration: 2s}
  - {name: g, at: 1500ms, action: command, with: {run: "true"}}
watches:
  - {name: paged, kind: detection, probe: {command: {run: alert}}, within: 5s}
recovery:
  within: 30s
  steady_for: 1s
  remediation:
    - {after: detection, run: "true"}
  hints:
    - {after: 1s, text: first}
    - {after: 20s, text: second}
)";

TEST_F(EngineTest, TrainingInjectsAtTheDrawnMomentHealsNothingAndRecordsTheTrainee) {
  training_ = TrainingOptions{.first_fault_at = Millis(3000), .desk = &desk_, .trainee = "ada"};
  bool repaired = false;
  std::vector<std::string> calls_at_2s;
  // The trainee, on the run's clock: each action once, at its moment after the fault.
  std::map<int64_t, TraineeAction> plan = {
      {500, {TraineeAction::Kind::kAcknowledge, ""}},
      {600, {TraineeAction::Kind::kNote, "looking at the disk"}},
      {700, {TraineeAction::Kind::kDeclare, ""}},
      {1500, {TraineeAction::Kind::kHint, ""}}};
  int64_t in = -1;  // f's injection; faults_ keeps the latest (g's)
  scripts_["up"] = {[&](int64_t now) {
    if (in < 0) in = faults_.injected_at;
    if (in >= 0) {
      for (auto it = plan.begin(); it != plan.end() && now >= in + it->first;) {
        desk_.Push(it->second);
        it = plan.erase(it);
      }
      if (now >= in + 2100 && calls_at_2s.empty()) calls_at_2s = faults_.calls;
      if (now >= in + 4000) repaired = true;
    }
    const bool down = in >= 0 && !repaired;
    return ProbeOutcome{!down, down ? "down" : "ok"};
  }};
  scripts_["alert"] = {[&](int64_t) { return ProbeOutcome{faults_.injected_at >= 0, "fired"}; }};
  RunRecord r = Run(Drill("probe_interval: 100ms", kTrainingDrill));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.mode, "train");
  const Event* phase = Find(r, "phase", "faults");
  ASSERT_NE(phase, nullptr);
  ASSERT_TRUE(r.first_fault_ms && r.training);
  // 3 s into the phase, not the drill's 1 s; g keeps its 500 ms from f.
  EXPECT_EQ(*r.first_fault_ms - phase->t_ms, 3000);
  ASSERT_TRUE(r.faults[1].injected_at_ms);
  EXPECT_EQ(*r.faults[1].injected_at_ms - *r.first_fault_ms, 500);
  // f's 2 s duration did not end it: two injections and nothing rolled back by then.
  EXPECT_EQ(calls_at_2s, (std::vector<std::string>{"inject", "inject"}));
  EXPECT_GE(*r.faults[0].rolled_back_at_ms, *r.fault_phase_end_ms);
  EXPECT_EQ(Find(r, "remediation.run"), nullptr) << "nothing is healed for a trainee";

  const TrainingRecord& t = *r.training;
  EXPECT_EQ(t.trainee, "ada");
  EXPECT_EQ(t.first_fault_planned_ms, 3000);
  EXPECT_EQ(t.page_source, "paged");
  ASSERT_TRUE(t.paged_at_ms);
  EXPECT_EQ(*t.paged_at_ms, *r.watches[0].passed_at_ms);
  ASSERT_NE(Find(r, "page", "paged"), nullptr);
  // The actions are taken at the controller's next tick (5 ms) after the sample pushed them.
  ASSERT_TRUE(r.acknowledged_at_ms);
  EXPECT_NEAR(*r.acknowledged_at_ms - *r.first_fault_ms, 500, 5);
  ASSERT_EQ(t.notes.size(), 1u);
  EXPECT_EQ(t.notes[0].text, "looking at the disk");
  EXPECT_NEAR(t.notes[0].t_ms - *r.first_fault_ms, 600, 5);
  EXPECT_EQ(t.declarations_false, 1);
  EXPECT_EQ(t.declarations_true, 0);
  const Event* declared = Find(r, "trainee.declared");
  ASSERT_NE(declared, nullptr);
  EXPECT_EQ(declared->name, "not fixed");
  EXPECT_EQ(declared->detail, "still failing: up");
  // The first hint at its `after`, the second asked for long before its own.
  ASSERT_EQ(t.hints.size(), 2u);
  EXPECT_EQ(t.hints[0].index, 0u);
  EXPECT_FALSE(t.hints[0].asked);
  EXPECT_EQ(t.hints[0].t_ms - *r.first_fault_ms, 1000);
  EXPECT_EQ(t.hints[1].index, 1u);
  EXPECT_TRUE(t.hints[1].asked);
  EXPECT_NEAR(t.hints[1].t_ms - *r.first_fault_ms, 1500, 5);
  // Recovered from the repair on, and the phase ended once it held for steady_for.
  ASSERT_TRUE(r.recovered_at_ms);
  EXPECT_EQ(*r.recovered_at_ms - *r.first_fault_ms, 4000);
  EXPECT_NEAR(*r.fault_phase_end_ms - *r.recovered_at_ms, 1000, 5);

  Outcome o = Score(scenario_, r);
  EXPECT_EQ(o.exit_code, 0);
  ASSERT_EQ(o.score_parts.size(), 6u);
  EXPECT_EQ(o.score_parts[4].part, "acknowledgement");
  EXPECT_NEAR(o.score_parts[4].value, 1.0 - 500.0 / 30000.0, 0.001);
  EXPECT_EQ(o.score_parts[5].part, "hints");
  EXPECT_DOUBLE_EQ(o.score_parts[5].value, 0.0);  // both hints used
}

TEST_F(EngineTest, ATraineeWhoGivesUpAbortsTheRunAndExitsThree) {
  training_ = TrainingOptions{.first_fault_at = Millis(0), .desk = &desk_, .trainee = "bo"};
  scripts_["up"] = {[&](int64_t now) {
    if (faults_.injected_at >= 0 && now >= faults_.injected_at + 300) {
      desk_.Push({TraineeAction::Kind::kGiveUp, ""});
    }
    return ProbeOutcome{faults_.injected_at < 0, "down"};
  }};
  scripts_["alert"] = {[&](int64_t) { return ProbeOutcome{faults_.injected_at >= 0, "fired"}; }};
  RunRecord r = Run(Drill("probe_interval: 100ms", kTrainingDrill));
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.aborted);
  EXPECT_EQ(r.abort_reason, "the trainee gave up");
  EXPECT_TRUE(r.training->gave_up);
  EXPECT_FALSE(r.recovered_at_ms);
  // f came at once (0 s drawn) and is rolled back; g, due 500 ms later, never came.
  EXPECT_EQ(faults_.calls, (std::vector<std::string>{"inject", "rollback"}));
  EXPECT_FALSE(r.faults[1].injected_at_ms);
  Outcome o = Score(scenario_, r);
  EXPECT_EQ(o.verdict, "aborted");
  EXPECT_EQ(o.exit_code, 3);
}

// Before anything happened there is nothing to acknowledge, hint or declare.
TEST_F(EngineTest, TraineeKeysBeforeThePageAreIgnoredWithAReason) {
  training_ = TrainingOptions{.first_fault_at = Millis(1000), .desk = &desk_, .trainee = "cy"};
  desk_.Push({TraineeAction::Kind::kAcknowledge, ""});
  desk_.Push({TraineeAction::Kind::kHint, ""});
  desk_.Push({TraineeAction::Kind::kDeclare, ""});
  bool repaired = false;
  scripts_["up"] = {[&](int64_t now) {
    if (faults_.injected_at >= 0 && now >= faults_.injected_at + 200) repaired = true;
    return ProbeOutcome{faults_.injected_at < 0 || repaired, "x"};
  }};
  scripts_["alert"] = {[&](int64_t) { return ProbeOutcome{faults_.injected_at >= 0, "fired"}; }};
  RunRecord r = Run(Drill("probe_interval: 100ms", kTrainingDrill));
  ASSERT_EQ(r.error, "");
  std::vector<std::string> ignored;
  for (const auto& e : r.timeline) {
    if (e.type == "trainee.ignored") ignored.push_back(e.name + ": " + e.detail);
  }
  EXPECT_EQ(ignored, (std::vector<std::string>{"acknowledge: there is no page to acknowledge",
                                               "hint: nothing has happened yet",
                                               "declare: nothing has happened yet"}));
  EXPECT_FALSE(r.acknowledged_at_ms);
  // The first hint came at its `after` (1 s) while the steady state proved itself; none
  // was asked for.
  for (const auto& h : r.training->hints) EXPECT_FALSE(h.asked);
  EXPECT_EQ(Score(scenario_, r).exit_code, 0);
}

// A trainee who recovers after recovery.within exits 1 (not in time), whatever else went
// well; the verdict judges the objectives as in `run`.
TEST_F(EngineTest, ATraineeWhoRecoversAfterTheTargetExitsOne) {
  training_ = TrainingOptions{.first_fault_at = Millis(0), .desk = &desk_, .trainee = "di"};
  std::string drill = kTrainingDrill;
  drill.replace(drill.find("within: 30s"), 11, "within: 2s");
  scripts_["up"] = {[&](int64_t now) {
    const bool down = faults_.injected_at >= 0 && now < faults_.injected_at + 2500;
    return ProbeOutcome{!down, down ? "down" : "ok"};
  }};
  scripts_["alert"] = {[&](int64_t) { return ProbeOutcome{faults_.injected_at >= 0, "fired"}; }};
  RunRecord r = Run(Drill("probe_interval: 100ms", drill));
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.recovered_at_ms);
  Outcome o = Score(scenario_, r);
  EXPECT_GT(*o.metrics.recovered_after_ms, 2000);
  EXPECT_EQ(o.verdict, "failed");
  EXPECT_EQ(o.exit_code, 1);
}

// Monitoring that never fires still leaves the trainee paged, once every detection watch
// is past its `within`, and says so.
TEST_F(EngineTest, ATraineeIsPagedWhenTheAlertNeverFires) {
  training_ = TrainingOptions{.first_fault_at = Millis(0), .desk = &desk_, .trainee = "ed"};
  scripts_["up"] = {[&](int64_t now) {
    const bool down = faults_.injected_at >= 0 && now < faults_.injected_at + 7000;
    return ProbeOutcome{!down, down ? "down" : "ok"};
  }};
  scripts_["alert"] = {[&](int64_t) { return ProbeOutcome{false, "silent"}; }};
  RunRecord r = Run(Drill("probe_interval: 100ms", kTrainingDrill));
  ASSERT_EQ(r.error, "");
  ASSERT_TRUE(r.training->paged_at_ms);
  EXPECT_NEAR(*r.training->paged_at_ms - *r.first_fault_ms, 5000, 10);
  EXPECT_EQ(r.training->page_source, "fault");
  EXPECT_EQ(r.training->page_detail, "no alert fired within 5s: a user reports the system failing");
  EXPECT_FALSE(r.watches[0].passed_at_ms);
}

}  // namespace
}  // namespace firedrill::testing
