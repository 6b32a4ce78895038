// A hand-built run shared by the report tests: the redis failover drill from
// docs/drill-format.md, with every figure chosen so it can be asserted exactly.
#pragma once

#include <chrono>

#include "runner/drill/scenario.h"
#include "runner/engine/run_record.h"
#include "runner/engine/score.h"

namespace firedrill::report_testing {

// 2026-11-21T23:18:00.632Z
inline std::chrono::system_clock::time_point FixedStart() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 21} + hours{23} + minutes{18} + seconds{0} +
         milliseconds{632};
}

struct ReportFixture {
  Scenario scenario;
  RunRecord run;
  Outcome outcome;
};

// A passed run: two faults (one rolled back), two watches met, no data lost.
inline ReportFixture PassedRun() {
  ReportFixture f;
  f.scenario.file = "scenarios/redis.yaml";
  f.scenario.name = "redis-sentinel-failover";
  f.scenario.description = "Kill the Redis primary; Sentinel must promote the replica.";
  f.scenario.tags = {"redis", "failover"};

  RunRecord& r = f.run;
  r.mode = "run";
  r.started_at = FixedStart();
  r.timeline = {
      {0, "phase", "prepare", ""},
      {5003, "fault.injected", "kill-primary", "SIGKILL to process group 4242 (service primary)"},
      {6000, "fault.injected", "pause-replica", "SIGSTOP to process group 4243"},
      {6523, "watch.met", "alert-fires", "firing"},
      {7173, "watch.met", "replica-promoted", "16380"},
      {8000, "fault.rolled_back", "pause-replica", "SIGCONT"},
      {9303, "recovered", "steady-state", ""},
  };
  r.steady_state_held = true;
  r.first_fault_ms = 5003;
  r.recovered_at_ms = 9303;
  r.steady_after_rollback = true;
  r.journal_path = "/var/lib/firedrill/runs/redis-sentinel-failover-20261121T231800Z-4242/journal";
  r.journal_closed = true;
  r.faults = {
      {"kill-primary", "process.kill", 5003, std::nullopt, "none",
       "SIGKILL to process group 4242 (service primary)", false},
      {"pause-replica", "process.pause", 6000, 8000, "ok", "SIGSTOP to process group 4243", false},
  };
  r.watches = {
      {"replica-promoted", "failover", 15000, 7173, "16380"},
      {"alert-fires", "detection", 30000, 6523, "firing"},
  };
  r.data.emplace();
  r.data->attempted = 100;
  r.data->acknowledged = 98;
  r.data->verified = 98;
  ProbeRecord check;
  check.name = "writes-accepted";
  check.role = "steady_state";
  check.interval_ms = 100;
  check.samples = 96;
  check.missed = 2;
  check.late_p50_ms = 1;
  check.late_p99_ms = 7;
  check.late_max_ms = 12;
  check.values = 96;  // its command printed a number (a lag in bytes, say) each time
  check.value_min = 0;
  check.value_max = 1048576;
  check.value_last = 0.5;
  ProbeRecord writer;
  writer.name = "data.writer";
  writer.role = "data_writer";
  writer.interval_ms = 50;
  writer.samples = 100;
  r.probes = {check, writer};

  Outcome& o = f.outcome;
  o.metrics.detected_after_ms = 1520;
  o.metrics.failed_over_after_ms = 2170;
  o.metrics.recovered_after_ms = 4300;
  o.metrics.availability = 0.93;
  o.metrics.longest_outage_ms = 2000;
  o.metrics.data_lost_count = 0;
  o.metrics.data_lost_span_ms = 0;
  o.objectives = {
      {"recovery.within", 60000, 4300, true, "ms", ""},
      {"recovery.max_data_loss", 0, 0, true, "writes", ""},
  };
  o.watches = {
      {"replica-promoted", "failover", 15000, 2170, true, "", false},
      {"alert-fires", "detection", 30000, 1520, true, "", false},
  };
  o.verdict = "passed";
  o.score = 87;
  o.exit_code = 0;
  return f;
}

// A run in which nothing after the fault happened: no detection, failover or recovery,
// a failed rollback and something left behind.
inline ReportFixture FailedRun() {
  ReportFixture f = PassedRun();
  RunRecord& r = f.run;
  r.recovered_at_ms.reset();
  r.steady_after_rollback = false;
  r.faults[1].rolled_back_at_ms.reset();
  r.faults[1].rollback = "failed";
  r.faults[1].detail = "SIGCONT to process group 4243: no such process";
  for (auto& w : r.watches) w.passed_at_ms.reset();
  r.data.reset();
  r.leftovers = {"process group 4243 may still be stopped (SIGSTOP)"};

  Outcome& o = f.outcome;
  o.metrics = Metrics{};
  o.objectives = {{"recovery.within", 60000, std::nullopt, false, "ms", ""}};
  for (auto& w : o.watches) {
    w.passed_after_ms.reset();
    w.met = false;
  }
  o.verdict = "failed";
  o.score = 12;
  o.exit_code = 4;
  o.reasons = {"watch replica-promoted did not pass within 15s",
               "steady state did not return within 1m"};
  return f;
}

}  // namespace firedrill::report_testing
