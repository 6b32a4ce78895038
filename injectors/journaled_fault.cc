#include "injectors/journaled_fault.h"

namespace firedrill {

JournaledFault::JournaledFault(std::string name, const RunContext& ctx)
    : name_(std::move(name)), ctx_(ctx) {}

Result<std::string> JournaledFault::Inject() {
  // A fault nothing can undo records nothing (a command without a rollback), so it can
  // run without a journal.
  if (Reversible() && !ctx_.journal) return Status::Internal("no journal: refusing to inject");
  return Apply();
}

Result<std::string> JournaledFault::Rollback() {
  if (id_ == 0) return NothingRecorded();
  return Undo();
}

Result<uint64_t> JournaledFault::Record(std::string kind, nlohmann::json args) {
  return Adopt(ctx_.journal->Intend(owner(), std::move(kind), std::move(args)));
}

Result<uint64_t> JournaledFault::Adopt(Result<uint64_t> id) {
  if (id.ok()) id_ = *id;
  return id;
}

Result<std::string> JournaledFault::Undo() { return ctx_.journal->Undo(id_, ctx_.undo()); }

Result<std::string> JournaledFault::Finish(uint64_t entry, std::string detail) {
  FD_RETURN_IF_ERROR(ctx_.journal->Done(entry, detail));
  return detail;
}

}  // namespace firedrill
