// process: is a process running (or stopped)?
#include <set>

#include "runner/base/proc.h"
#include "runner/drill/probe.h"
#include "runner/drill/process_target.h"

namespace firedrill {
namespace {

struct Tally {
  int running = 0;
  int stopped = 0;
  int zombie = 0;
  int gone = 0;

  void Add(ProcState s) {
    switch (s) {
      case ProcState::kRunning:
        ++running;
        break;
      case ProcState::kStopped:
        ++stopped;
        break;
      case ProcState::kZombie:
        ++zombie;
        break;
      case ProcState::kGone:
        ++gone;
        break;
    }
  }
  int total() const { return running + stopped + zombie + gone; }
  // "running" for one process, "2 running, 1 stopped" for several.
  std::string Text() const {
    if (total() == 1) {
      return running ? "running" : stopped ? "stopped" : zombie ? "zombie (exited)" : "gone";
    }
    std::string out;
    auto part = [&](int n, const char* what) {
      if (n == 0) return;
      if (!out.empty()) out += ", ";
      out += std::to_string(n) + " " + what;
    };
    part(running, "running");
    part(stopped, "stopped");
    part(zombie, "zombie");
    part(gone, "gone");
    return out;
  }
};

// Members of process group `pgid` that `env` still counts as live. The leader's PID is the
// group ID, so it is asked about even when /proc no longer lists it (or, under a fake Env,
// never did); the rest come from /proc, their states from `env`.
Tally GroupStates(pid_t pgid, Env* env) {
  std::set<pid_t> members{pgid};
  for (pid_t p : ListPids()) {
    auto st = ReadProcStat(p);
    if (st && st->pgrp == pgid) members.insert(p);
  }
  Tally t;
  for (pid_t p : members) {
    ProcState s = env->State(p);
    if (s == ProcState::kRunning || s == ProcState::kStopped) t.Add(s);
  }
  return t;
}

class ProcessProbe final : public Probe {
 public:
  // REQUIRES: ctx.env is set and ctx outlives the probe.
  ProcessProbe(const Params& p, const RunContext& ctx)
      : want_running_(p.String("expect") == "running"), ctx_(ctx) {
    if (p.Has("service")) ref_.service = p.String("service");
    if (p.Has("pidfile")) ref_.pidfile = p.String("pidfile");
    if (p.Has("pid")) ref_.pid = p.Int("pid");
    if (p.Has("name")) ref_.name = p.String("name");
  }

  ProbeOutcome Sample(const SampleVars&) override {
    // Resolved on every sample: a restarted service or a rewritten pidfile names new PIDs.
    auto t = ResolveTarget(ref_, ctx_, TargetUse::kObserve);
    if (!t.ok()) {
      // A service that is not up, a missing pidfile, no process by that name: not running.
      return {!want_running_, "not running (" + t.status().message() + ")"};
    }
    bool running;
    bool stopped;
    std::string state;
    if (t->pgid > 0) {
      const bool alive = ctx_.env->GroupAlive(t->pgid);
      const Tally members = alive ? GroupStates(t->pgid, ctx_.env) : Tally{};
      // Alive with no member seen stopped is running, even if none could be inspected.
      running = alive && members.stopped == 0;
      stopped = !alive || (members.stopped > 0 && members.running == 0);
      state = !alive ? "gone" : members.total() == 0 ? "running" : members.Text();
    } else {
      Tally pids;
      for (const auto& p : t->processes) pids.Add(ctx_.env->State(p.pid));
      running = pids.running == pids.total();
      stopped = pids.running == 0;
      state = pids.Text();
    }
    return {want_running_ ? running : stopped, t->description + ": " + state};
  }

 private:
  TargetRef ref_;
  bool want_running_;
  const RunContext& ctx_;
};

constexpr const char* kStates[] = {"running", "stopped"};

constexpr FieldSpec kFields[] = {
    {.name = "service", .type = FieldType::kString, .doc = "a service of this drill"},
    {.name = "pidfile", .type = FieldType::kPath, .doc = "file holding the PID"},
    {.name = "pid", .type = FieldType::kInt, .doc = "a PID", .min = 2, .max = 4194304},
    {.name = "name", .type = FieldType::kString, .doc = "executable name (as in /proc/PID/comm)"},
    {.name = "expect",
     .type = FieldType::kEnum,
     .doc = "running: alive and not stopped; stopped: gone, or stopped by SIGSTOP",
     .default_value = "running",
     .choices = kStates},
};

std::optional<FieldError> Check(const Params& p, Mark mark) {
  int n = p.Has("service") + p.Has("pidfile") + p.Has("pid") + p.Has("name");
  if (n != 1) {
    return FieldError{mark, "a process probe names exactly one of service, pidfile, pid, name"};
  }
  return std::nullopt;
}

// REQUIRES: ctx.env is set and ctx outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  return std::unique_ptr<Probe>(new ProcessProbe(p, ctx));
}

}  // namespace

extern const ProbeKind kProcessProbe = {
    .name = "process",
    .doc = "check that a process is running, or that it is stopped/gone",
    .fields = kFields,
    .example = R"({process: {service: primary, expect: running}})",
    .check = Check,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
