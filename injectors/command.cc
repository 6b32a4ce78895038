// command: a shell command as a fault, with an optional rollback command.
#include "injectors/fault.h"
#include "runner/subprocess.h"

namespace firedrill {
namespace {

class CommandFault final : public Fault {
 public:
  CommandFault(std::string run, std::string rollback, Millis timeout, const RunContext& ctx)
      : run_(std::move(run)), rollback_(std::move(rollback)), timeout_(timeout), ctx_(ctx) {}

  Result<std::string> Inject() override { return Run(run_); }
  Result<std::string> Rollback() override { return Run(rollback_); }
  bool Reversible() const override { return !rollback_.empty(); }

 private:
  Result<std::string> Run(const std::string& script) {
    auto text = ctx_.expander->Expand(script);
    if (!text.ok()) return text.status();
    auto r = RunShell({.script = *text, .cwd = ctx_.workdir, .timeout = timeout_});
    if (!r.ok()) return r.status();
    std::string detail = r->Describe();
    if (r->exit_code != 0) {
      std::string err = r->err.substr(0, 200);
      while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
      return Status::Failed("`" + *text + "`: " + detail + (err.empty() ? "" : ": " + err));
    }
    return "`" + *text + "`: " + detail;
  }

  std::string run_, rollback_;
  Millis timeout_;
  const RunContext& ctx_;
};

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
      new CommandFault(f.with.String("run"), rollback, f.with.Duration("timeout"), ctx));
}

}  // namespace

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
