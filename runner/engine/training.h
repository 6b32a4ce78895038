// `firedrill train`: a person in the loop. The trainee's keys reach the engine through a
// TrainingDesk (the command line pushes, the fault phase's controller takes them every
// tick); what the engine makes of them goes out as timeline events, as everything else
// does (page, hint, trainee.*), so the terminal, the report and the history hear of them
// the one way they hear of anything.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runner/base/values.h"

namespace firedrill {

struct TraineeAction {
  enum class Kind { kAcknowledge, kHint, kNote, kDeclare, kRunbook, kService, kGiveUp };
  Kind kind = Kind::kNote;
  std::string text;          // kNote: the note; kService: the verb (status, stop, start, restart)
  std::string service = {};  // kService: which (the initialisers spare {kind, text} callers
                             // -Wmissing-field-initializers)
  // kService: the answer ("ok: ..." or "error: ..."), set once the engine acted.
  std::shared_ptr<std::promise<std::string>> reply = nullptr;
};

// Thread-safe: Push from the keyboard's thread, Take from the engine's.
class TrainingDesk {
 public:
  void Push(TraineeAction a) {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(std::move(a));
  }
  std::vector<TraineeAction> Take() {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<TraineeAction> out;
    out.swap(queue_);
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<TraineeAction> queue_;
};

struct TrainingOptions {
  // When the first fault comes, from the moment the steady state held (the caller draws
  // it at random within inject_within); the other faults keep their offsets from it.
  Millis first_fault_at{0};
  TrainingDesk* desk = nullptr;  // not owned; REQUIRES: outlives the run
  std::string trainee;           // recorded, not interpreted
};

}  // namespace firedrill
