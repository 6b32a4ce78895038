// process.kill and process.pause: signals to a service's process group or to named PIDs.
#include <signal.h>

#include "injectors/journaled_fault.h"
#include "runner/drill/fault.h"
#include "runner/drill/process_target.h"

namespace firedrill {
namespace {

TargetRef RefOf(const Target& t) { return TargetRef{t.service, t.pidfile, t.pid, t.name}; }

class KillFault final : public Fault {
 public:
  KillFault(TargetRef ref, int sig, const RunContext& ctx)
      : ref_(std::move(ref)), sig_(sig), ctx_(ctx) {}
  Result<std::string> Inject() override {
    auto t = ResolveTarget(ref_, ctx_, TargetUse::kSignal);
    if (!t.ok()) return t.status();
    FD_RETURN_IF_ERROR(SignalTarget(*t, sig_, ctx_.env));
    return SignalName(sig_) + " to " + t->description;
  }
  Result<std::string> Rollback() override { return std::string("nothing to undo"); }
  bool Reversible() const override { return false; }

 private:
  TargetRef ref_;
  int sig_;
  const RunContext& ctx_;
};

// Pause resolves its target once, at injection, so that SIGCONT goes to exactly the
// processes that were stopped, even if a pidfile changes meanwhile. The journal keeps each
// PID with its start time: a PID reused by then is never sent SIGCONT.
class PauseFault final : public JournaledFault {
 public:
  PauseFault(std::string name, TargetRef ref, const RunContext& ctx)
      : JournaledFault(std::move(name), ctx), ref_(std::move(ref)) {}

 private:
  Result<std::string> Apply() override {
    auto t = ResolveTarget(ref_, ctx(), TargetUse::kSignal);
    if (!t.ok()) return t.status();
    nlohmann::json pids = nlohmann::json::array();
    for (const auto& p : t->processes) pids.push_back({{"pid", p.pid}, {"start", p.start}});
    nlohmann::json args = {{"target", t->description}, {"pids", pids}};
    if (t->pgid > 0) {
      args["group"] = {{"pid", t->pgid}, {"start", ctx().env->StartTime(t->pgid).value_or(0)}};
    }
    auto recorded = Record("process.cont", std::move(args));
    if (!recorded.ok()) return recorded.status();
    FD_RETURN_IF_ERROR(SignalTarget(*t, SIGSTOP, ctx().env));
    return "SIGSTOP to " + t->description;
  }

  TargetRef ref_;
};

// Is the recorded process still the one we saw? A leader that is gone is fine for a
// group: while any member lives, the kernel does not hand its number out again.
enum class Identity { kSame, kGone, kReused };
Identity Check(const nlohmann::json& rec, Env* env) {
  auto start = env->StartTime(rec.value("pid", 0));
  if (!start) return Identity::kGone;
  return *start == rec.value("start", uint64_t{0}) ? Identity::kSame : Identity::kReused;
}

Result<std::string> UndoPause(const nlohmann::json& a, const UndoContext& ctx) {
  std::string out;
  Status first;
  auto note = [&](std::string s) { out += (out.empty() ? "" : "; ") + s; };
  if (a.contains("group")) {
    pid_t pgid = a["group"].value("pid", 0);
    Identity id = Check(a["group"], ctx.env);
    if (id == Identity::kReused) {
      note("process group " + std::to_string(pgid) + ": PID reused since, not signalled");
    } else if (!ctx.env->GroupAlive(pgid)) {
      note("process group " + std::to_string(pgid) + " is gone");
    } else if (Status s = ctx.env->Signal(-pgid, SIGCONT); !s.ok()) {
      first = s;
    } else {
      note("SIGCONT to process group " + std::to_string(pgid));
    }
  }
  for (const auto& p : a.value("pids", nlohmann::json::array())) {
    pid_t pid = p.value("pid", 0);
    switch (Check(p, ctx.env)) {
      case Identity::kGone:
        note("PID " + std::to_string(pid) + " is gone");
        break;
      case Identity::kReused:
        note("PID " + std::to_string(pid) + " reused since (start time differs), not signalled");
        break;
      case Identity::kSame:
        if (Status s = ctx.env->SignalIfSame(pid, p.value("start", uint64_t{0}), SIGCONT);
            !s.ok()) {
          if (first.ok()) first = s;
        } else {
          note("SIGCONT to PID " + std::to_string(pid));
        }
    }
  }
  if (!first.ok()) return first;
  return out.empty() ? std::string("nothing was paused") : out;
}

// Stops a process group a run started (a service), SIGTERM then SIGKILL.
Result<std::string> UndoGroup(const nlohmann::json& a, const UndoContext& ctx) {
  pid_t pgid = a.value("pid", 0);
  if (pgid <= 1) return Status::Invalid("bad process group in journal");
  if (Check(a, ctx.env) == Identity::kReused) {
    return "process group " + std::to_string(pgid) + ": PID reused since, not signalled";
  }
  if (!ctx.env->GroupAlive(pgid)) return "process group " + std::to_string(pgid) + " is gone";
  (void)ctx.env->Signal(-pgid, SIGCONT);  // a stopped process cannot act on SIGTERM
  FD_RETURN_IF_ERROR(ctx.env->Signal(-pgid, SIGTERM));
  int64_t grace = a.value("grace_ms", int64_t{5000});
  int64_t until = ctx.env->NowMs() + grace;
  while (ctx.env->GroupAlive(pgid) && ctx.env->NowMs() < until) ctx.env->SleepMs(20);
  if (!ctx.env->GroupAlive(pgid)) return "stopped process group " + std::to_string(pgid);
  (void)ctx.env->Signal(-pgid, SIGKILL);
  until = ctx.env->NowMs() + 2000;
  while (ctx.env->GroupAlive(pgid) && ctx.env->NowMs() < until) ctx.env->SleepMs(20);
  if (ctx.env->GroupAlive(pgid)) {
    return Status::Failed("process group " + std::to_string(pgid) + " survives SIGKILL");
  }
  return "killed process group " + std::to_string(pgid) + " (SIGTERM was not enough)";
}

constexpr FieldSpec kKillFields[] = {
    {.name = "signal",
     .type = FieldType::kSignal,
     .doc = "signal to send",
     .default_value = "SIGKILL"},
};

Result<std::unique_ptr<Fault>> MakeKill(const FaultSpec& f, const RunContext& ctx) {
  return std::unique_ptr<Fault>(
      new KillFault(RefOf(*f.target), static_cast<int>(f.with.Int("signal")), ctx));
}

Result<std::unique_ptr<Fault>> MakePause(const FaultSpec& f, const RunContext& ctx) {
  return std::unique_ptr<Fault>(new PauseFault(f.name, RefOf(*f.target), ctx));
}

}  // namespace

extern const UndoKind kUndoProcessCont = {
    .name = "process.cont",
    .doc = "SIGCONT to the paused processes that are still the same (PID and start time)",
    .undo = UndoPause,
};

extern const UndoKind kUndoProcessGroup = {
    .name = "process.group",
    .doc = "stop a process group the run started: SIGTERM, then SIGKILL after grace_ms",
    .undo = UndoGroup,
};

extern const FaultAction kProcessKill = {
    .name = "process.kill",
    .doc = "send a signal (default SIGKILL) to a service's process group or to PIDs",
    .target = Use::kRequired,
    .duration = Use::kForbidden,
    .fields = kKillFields,
    .example =
        R"({name: kill-primary, at: 5s, action: process.kill, target: {service: primary}, with: {signal: SIGKILL}})",
    .check = nullptr,
    .make = MakeKill,
    .unsupported = nullptr,
};

extern const FaultAction kProcessPause = {
    .name = "process.pause",
    .doc = "freeze processes with SIGSTOP for the duration; SIGCONT on rollback",
    .target = Use::kRequired,
    .duration = Use::kRequired,
    .fields = {},
    .example =
        R"({name: freeze, at: 2s, action: process.pause, target: {service: primary}, duration: 5s})",
    .check = nullptr,
    .make = MakePause,
    .unsupported = nullptr,
};

}  // namespace firedrill
