#include "runner/drill/process_target.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "runner/base/proc.h"
#include "runner/base/text.h"

namespace firedrill {
namespace {

// Why a fault may not signal `pid`, or "" when it may.
std::string OutsideBlastRadius(pid_t pid, const RunContext& ctx) {
  if (ctx.env->IsOwnDescendant(pid)) return "";
  const std::string name = ctx.env->ExecutableName(pid);
  const auto& allowed = ctx.allow_processes;
  if (!name.empty() && std::find(allowed.begin(), allowed.end(), name) != allowed.end()) return "";
  return "refusing to signal PID " + std::to_string(pid) + (name.empty() ? "" : " (" + name + ")") +
         ": the drill did not start it, and settings.allow_processes does not list " +
         (name.empty() ? "its executable" : name);
}

}  // namespace

Result<ResolvedTarget> ResolveTarget(const TargetRef& ref, const RunContext& ctx, TargetUse use) {
  ResolvedTarget out;
  if (!ref.service.empty()) {
    // A service is the drill's own process group, whatever it runs.
    if (!ctx.services) return Status::NotFound("no services were started");
    auto pg = ctx.services->ProcessGroup(ref.service);
    if (!pg) return Status::NotFound("service " + ref.service + " is not running");
    out.pgid = *pg;
    out.description = "process group " + std::to_string(*pg) + " (service " + ref.service + ")";
    return out;
  }
  std::vector<pid_t> pids;
  if (!ref.pidfile.empty()) {
    auto path = ctx.expander ? ctx.expander->Expand(ref.pidfile) : Result<std::string>(ref.pidfile);
    if (!path.ok()) return path.status();
    const std::string full = ResolvePath(*path, ctx.workdir);
    std::ifstream in(full);
    long long pid = 0;
    if (!in) return Status::NotFound("cannot read pidfile " + full);
    if (!(in >> pid) || pid <= 1 || pid > 4194304) {
      return Status::Invalid("pidfile " + full + " holds no valid PID");
    }
    pids.push_back(static_cast<pid_t>(pid));
    out.description = "PID " + std::to_string(pid) + " (pidfile " + full + ")";
  } else if (ref.pid > 0) {
    pids.push_back(static_cast<pid_t>(ref.pid));
    out.description = "PID " + std::to_string(ref.pid);
  } else if (!ref.name.empty()) {
    const pid_t self = getpid();
    for (pid_t p : ListPids()) {
      if (p == self) continue;
      if (ctx.env->ExecutableName(p) != ref.name) continue;
      auto st = ReadProcStat(p);
      if (st && st->state != 'Z') pids.push_back(p);
    }
    if (pids.empty()) return Status::NotFound("no process named " + ref.name);
    out.description = std::to_string(pids.size()) + " process(es) named " + ref.name;
  } else {
    return Status::Invalid("empty target");
  }
  for (pid_t p : pids) {
    if (use == TargetUse::kSignal) {
      if (std::string why = OutsideBlastRadius(p, ctx); !why.empty()) return Status::Invalid(why);
    }
    // Taken now, checked again when the signal goes: the process it names is this one.
    out.processes.push_back({p, ctx.env->StartTime(p).value_or(0)});
  }
  return out;
}

Status SignalTarget(const ResolvedTarget& t, int sig, Env* env) {
  if (t.pgid > 0) return env->Signal(-t.pgid, sig);
  Status first;
  for (const auto& p : t.processes) {
    Status s = env->SignalIfSame(p.pid, p.start, sig);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace firedrill
