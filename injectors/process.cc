// process.kill and process.pause: signals to a service's process group or to named PIDs.
#include <signal.h>

#include "injectors/fault.h"
#include "runner/target.h"

namespace firedrill {
namespace {

TargetRef RefOf(const Target& t) { return TargetRef{t.service, t.pidfile, t.pid, t.name}; }

class KillFault final : public Fault {
 public:
  KillFault(TargetRef ref, int sig, const RunContext& ctx)
      : ref_(std::move(ref)), sig_(sig), ctx_(ctx) {}
  Result<std::string> Inject() override {
    auto t = ResolveTarget(ref_, ctx_);
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
// processes that were stopped, even if a pidfile changes meanwhile.
class PauseFault final : public Fault {
 public:
  PauseFault(TargetRef ref, const RunContext& ctx) : ref_(std::move(ref)), ctx_(ctx) {}
  Result<std::string> Inject() override {
    auto t = ResolveTarget(ref_, ctx_);
    if (!t.ok()) return t.status();
    target_ = *t;
    FD_RETURN_IF_ERROR(SignalTarget(target_, SIGSTOP, ctx_.env));
    return "SIGSTOP to " + target_.description;
  }
  Result<std::string> Rollback() override {
    FD_RETURN_IF_ERROR(SignalTarget(target_, SIGCONT, ctx_.env));
    return "SIGCONT to " + target_.description;
  }

 private:
  TargetRef ref_;
  ResolvedTarget target_;
  const RunContext& ctx_;
};

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
  return std::unique_ptr<Fault>(new PauseFault(RefOf(*f.target), ctx));
}

}  // namespace

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
