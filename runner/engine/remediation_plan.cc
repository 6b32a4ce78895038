#include "runner/engine/remediation_plan.h"

#include "runner/base/proc.h"
#include "runner/base/values.h"

namespace firedrill {

std::vector<std::pair<size_t, std::string>> RemediationPlan::TakeDue(int64_t now_ms,
                                                                     const Progress& p) {
  std::vector<std::pair<size_t, std::string>> due;
  // Nothing is remedied before there is something to remedy.
  if (!p.first_fault_ms) return due;
  for (size_t i = 0; i < started_.size(); ++i) {
    if (started_[i]) continue;
    const RemediationStep& step = (*steps_)[i];
    std::string why;
    if (step.after == RemediationStep::After::kDetection && p.detected) why = "after detection";
    if (step.after == RemediationStep::After::kFailover && p.any_failover && p.failover_done)
      why = "after failover";
    if (step.after == RemediationStep::After::kOffset &&
        now_ms >= *p.first_fault_ms + step.offset.count())
      why = "at +" + FormatDuration(step.offset) + " after the first fault";
    if (why.empty()) continue;
    started_[i] = true;
    due.emplace_back(i, std::move(why));
  }
  return due;
}

Result<ShellResult> RunRemediationScript(const std::string& script, const std::string& cwd,
                                         Millis timeout, Journal* journal,
                                         const std::atomic<bool>* cancel) {
  uint64_t entry = 0;
  ShellCommand cmd{.script = script, .cwd = cwd, .timeout = timeout};
  cmd.on_start = [journal, &entry](pid_t pid) {
    if (!journal) return;
    auto st = ReadProcStat(pid);
    auto id = journal->Intend(
        "remediation", "process.group",
        {{"pid", pid}, {"start", st ? st->start_ticks : 0}, {"grace_ms", int64_t{2000}}});
    if (id.ok()) entry = *id;
  };
  auto r = RunShell(cmd, cancel);
  if (entry != 0) (void)journal->Done(entry, "the step ended");
  return r;
}

}  // namespace firedrill
