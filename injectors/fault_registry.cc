#include "injectors/fault_registry.h"

namespace firedrill {

extern const FaultAction kProcessKill;
extern const FaultAction kProcessPause;
extern const FaultAction kDiskFill;
extern const FaultAction kDiskTmpfs;
extern const FaultAction kDiskImage;
extern const FaultAction kFileCorrupt;
extern const FaultAction kFileDelete;
extern const FaultAction kFileDestroy;
extern const FaultAction kConfigSet;
extern const FaultAction kCpuStress;
extern const FaultAction kMemoryStress;
extern const FaultAction kHttpLoad;
extern const FaultAction kNetworkLoss;
extern const FaultAction kNetworkPartition;
extern const FaultAction kNetworkDelay;
extern const FaultAction kCommandFault;

extern const UndoKind kUndoProcessCont;
extern const UndoKind kUndoProcessGroup;
extern const UndoKind kUndoCommand;
extern const UndoKind kUndoInProcess;
extern const UndoKind kUndoDiskBallast;
extern const UndoKind kUndoFileRestore;
extern const UndoKind kUndoNftTable;
extern const UndoKind kUndoMount;
extern const UndoKind kUndoLoop;

namespace {
const FaultAction* const kActions[] = {
    &kProcessKill, &kProcessPause,     &kDiskFill,     &kDiskTmpfs,
    &kDiskImage,   &kFileCorrupt,      &kFileDelete,   &kFileDestroy,
    &kConfigSet,   &kCpuStress,        &kMemoryStress, &kHttpLoad,
    &kNetworkLoss, &kNetworkPartition, &kNetworkDelay, &kCommandFault,
};
// What the journal can undo: one kind per sort of change (runner/journal/journal.h).
const UndoKind* const kUndoKinds[] = {
    &kUndoProcessCont, &kUndoProcessGroup, &kUndoCommand, &kUndoInProcess, &kUndoDiskBallast,
    &kUndoFileRestore, &kUndoNftTable,     &kUndoMount,   &kUndoLoop,
};
}  // namespace

std::span<const FaultAction* const> FaultActions() { return kActions; }

const FaultAction* FindFaultAction(std::string_view name) {
  for (const FaultAction* a : kActions) {
    if (name == a->name) return a;
  }
  return nullptr;
}

namespace {
// Load generators, stress workers and fault proxies run as threads of the runner: they end
// with it, however it ends. Their journal entries say what was running, for the record.
Result<std::string> EndedWithTheRun(const nlohmann::json& a, const UndoContext&) {
  return a.value("what", std::string("in-process worker")) + ": ended with the run's process";
}
}  // namespace

extern const UndoKind kUndoInProcess = {
    .name = "in-process",
    .doc = "nothing to undo: threads of the runner (load, stress, proxies) end with it",
    .undo = EndedWithTheRun,
};

UndoKinds FaultUndoKinds() { return kUndoKinds; }

}  // namespace firedrill
