// command: a shell command as a fault, with an optional rollback command.
#include <filesystem>

#include "injectors/journaled_fault.h"
#include "runner/base/subprocess.h"
#include "runner/drill/fault.h"

namespace firedrill {
namespace {

Result<std::string> RunScript(const std::string& script, const std::string& cwd, Millis timeout) {
  auto r = RunShell({.script = script, .cwd = cwd, .timeout = timeout});
  if (!r.ok()) return r.status();
  std::string detail = r->Describe();
  if (r->exit_code != 0) {
    std::string err = r->err.substr(0, 200);
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    return Status::Failed("`" + script + "`: " + detail + (err.empty() ? "" : ": " + err));
  }
  return "`" + script + "`: " + detail;
}

// The rollback command is journaled, expanded, before `run` starts: a run that dies
// half-way leaves `firedrill rollback` exactly what to run. (So a rollback command should
// be idempotent: it may run although `run` never did.)
class CommandFault final : public JournaledFault {
 public:
  CommandFault(std::string name, std::string run, std::string rollback, Millis timeout,
               const RunContext& ctx)
      : JournaledFault(std::move(name), ctx),
        run_(std::move(run)),
        rollback_(std::move(rollback)),
        timeout_(timeout) {}

  bool Reversible() const override { return !rollback_.empty(); }

 private:
  Result<std::string> Apply() override {
    auto text = ctx().expander->Expand(run_);
    if (!text.ok()) return text.status();
    if (Reversible()) {
      auto undo = ctx().expander->Expand(rollback_);
      if (!undo.ok()) return undo.status();
      auto recorded = Record(
          "command", {{"run", *undo}, {"cwd", ctx().workdir}, {"timeout_ms", timeout_.count()}});
      if (!recorded.ok()) return recorded.status();
    }
    return RunScript(*text, ctx().workdir, timeout_);
  }

  std::string run_, rollback_;
  Millis timeout_;
};

Result<std::string> UndoCommand(const nlohmann::json& a, const UndoContext&) {
  std::string cwd = a.value("cwd", "/");
  std::error_code ec;
  // The workdir of a dead run may be gone; run from / rather than not at all.
  if (!std::filesystem::is_directory(cwd, ec)) cwd = "/";
  return RunScript(a.value("run", "true"), cwd, Millis(a.value("timeout_ms", int64_t{30000})));
}

constexpr FieldSpec kFields[] = {
    {.name = "run",
     .type = FieldType::kString,
     .doc = "command that injects the fault",
     .required = true},
    {.name = "rollback", .type = FieldType::kString, .doc = "command that undoes it"},
    {.name = "timeout",
     .type = FieldType::kDuration,
     .doc = "limit for each command",
     .default_value = "30s",
     .min = 1,
     .max = 3600000},
};

Result<std::unique_ptr<Fault>> Make(const FaultSpec& f, const RunContext& ctx) {
  std::string rollback = f.with.Has("rollback") ? f.with.String("rollback") : "";
  return std::unique_ptr<Fault>(
      new CommandFault(f.name, f.with.String("run"), rollback, f.with.Duration("timeout"), ctx));
}

}  // namespace

extern const UndoKind kUndoCommand = {
    .name = "command",
    .doc = "run the fault's rollback command (expanded as it was at injection)",
    .undo = UndoCommand,
};

extern const FaultAction kCommandFault = {
    .name = "command",
    .doc = "run a shell command; `rollback` undoes it",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kFields,
    .example =
        R"({name: drop-cache, at: 1s, action: command, with: {run: "redis-cli -p 6379 FLUSHALL", rollback: "true"}})",
    .check = nullptr,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
