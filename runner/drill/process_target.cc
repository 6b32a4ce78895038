#include "runner/drill/process_target.h"

#include <unistd.h>

#include <fstream>

#include "runner/base/proc.h"
#include "runner/base/text.h"

namespace firedrill {

Result<ResolvedTarget> ResolveTarget(const TargetRef& ref, const RunContext& ctx) {
  ResolvedTarget out;
  if (!ref.service.empty()) {
    if (!ctx.services) return Status::NotFound("no services were started");
    auto pg = ctx.services->ProcessGroup(ref.service);
    if (!pg) return Status::NotFound("service " + ref.service + " is not running");
    out.pgid = *pg;
    out.description = "process group " + std::to_string(*pg) + " (service " + ref.service + ")";
    return out;
  }
  if (!ref.pidfile.empty()) {
    auto path = ctx.expander ? ctx.expander->Expand(ref.pidfile) : Result<std::string>(ref.pidfile);
    if (!path.ok()) return path.status();
    const std::string full = ResolvePath(*path, ctx.workdir);
    std::ifstream in(full);
    long long pid = 0;
    if (!in) return Status::NotFound("cannot read pidfile " + full);
    if (!(in >> pid) || pid <= 1) return Status::Invalid("pidfile " + full + " holds no valid PID");
    out.pids.push_back(static_cast<pid_t>(pid));
    out.description = "PID " + std::to_string(pid) + " (pidfile " + full + ")";
    return out;
  }
  if (ref.pid > 0) {
    out.pids.push_back(static_cast<pid_t>(ref.pid));
    out.description = "PID " + std::to_string(ref.pid);
    return out;
  }
  if (!ref.name.empty()) {
    const pid_t self = getpid();
    for (pid_t p : ListPids()) {
      if (p == self) continue;
      std::ifstream comm("/proc/" + std::to_string(p) + "/comm");
      std::string c;
      if (comm && std::getline(comm, c) && c == ref.name) {
        auto st = ReadProcStat(p);
        if (st && st->state != 'Z') out.pids.push_back(p);
      }
    }
    if (out.pids.empty()) return Status::NotFound("no process named " + ref.name);
    out.description = std::to_string(out.pids.size()) + " process(es) named " + ref.name;
    return out;
  }
  return Status::Invalid("empty target");
}

Status SignalTarget(const ResolvedTarget& t, int sig, Env* env) {
  if (t.pgid > 0) return env->Signal(-t.pgid, sig);
  Status first;
  for (pid_t p : t.pids) {
    Status s = env->Signal(p, sig);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace firedrill
