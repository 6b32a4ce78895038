// The base of every fault that changes something it must put back. The rollback journal
// (runner/journal/journal.h) only protects a change whose undo is on disk before the
// change is made, so that promise is kept here, once: Inject refuses to start without a
// journal, Apply records each change (Record, or Adopt for an entry a helper wrote) before
// making it, and the default Rollback undoes what was recorded. Faults whose change dies
// with the runner (threads, a mapping) override Rollback: they stop what they started and
// Finish its entry with the figures.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "runner/base/status.h"
#include "runner/drill/context.h"
#include "runner/drill/fault.h"

namespace firedrill {

class JournaledFault : public Fault {
 public:
  // Refuses (kInternal) when the fault is Reversible() and the context has no journal;
  // else Apply().
  Result<std::string> Inject() final;
  // Undoes the entry id() names, or says NothingRecorded() when Apply recorded none.
  Result<std::string> Rollback() override;

 protected:
  // `name`: the fault's name in the drill. `ctx` must outlive the fault.
  JournaledFault(std::string name, const RunContext& ctx);

  // The fault itself: records each change before making it. Called once, by Inject.
  virtual Result<std::string> Apply() = 0;
  // What Rollback says when Apply succeeded without recording anything (the condition
  // the drill wants already held).
  virtual std::string NothingRecorded() const { return "nothing to undo"; }

  const RunContext& ctx() const { return ctx_; }
  // Who the journal says made this fault's changes: "fault NAME".
  std::string owner() const { return "fault " + name_; }
  // The entry the default Rollback undoes: the last one recorded, 0 before any.
  uint64_t id() const { return id_; }

  // Records, durably, that the fault is about to make a change `kind` undoes with `args`
  // (Journal::Intend, owned by owner()); its id becomes id().
  // REQUIRES: ctx().journal is set (Inject saw to it for a Reversible() fault).
  Result<uint64_t> Record(std::string kind, nlohmann::json args);
  // Makes an entry a helper recorded for this fault (SaveAndJournal) id(), and passes the
  // helper's result on.
  Result<uint64_t> Adopt(Result<uint64_t> id);
  // Runs the undo of id() now.
  // REQUIRES: ctx().journal is set.
  Result<std::string> Undo();
  // Records `entry` done without running its undo: the fault undid the change itself, or
  // never made it. Returns `detail`.
  // REQUIRES: ctx().journal is set.
  Result<std::string> Finish(uint64_t entry, std::string detail);
  Result<std::string> Finish(std::string detail) { return Finish(id_, std::move(detail)); }

 private:
  std::string name_;
  const RunContext& ctx_;
  uint64_t id_ = 0;  // journal ids start at 1
};

}  // namespace firedrill
