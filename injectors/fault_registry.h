// The fault actions, in the order `firedrill faults` lists them, and every kind of change
// their rollback journal entries can undo. Adding an action: one new file ending in its
// FaultAction, and one line in fault_registry.cc.
#pragma once

#include <span>
#include <string_view>

#include "runner/drill/fault.h"
#include "runner/journal/journal.h"

namespace firedrill {

std::span<const FaultAction* const> FaultActions();
const FaultAction* FindFaultAction(std::string_view name);

// What a run's journal (and `firedrill rollback`) can undo: one kind per sort of change.
UndoKinds FaultUndoKinds();

}  // namespace firedrill
