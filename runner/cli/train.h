// `firedrill train FILE`: the drill with a person in the loop (docs/training.md).
#pragma once

#include <atomic>
#include <string>

namespace firedrill {

struct TrainArgs {
  std::string file;
  std::string trainee;       // "" = $USER, else "trainee"
  std::string report_dir;    // "" = firedrill-out/NAME-TIME
  std::string history_path;  // "" = the default history
  bool no_history = false;
  std::string inject_within;  // "" = the drill's training.inject_within, else 30s
  std::string state_dir;
  const std::atomic<int>* interrupt = nullptr;  // the signal handlers' count
};

// The exit code: 0 recovered within recovery.within, 1 not in time, 2 invalid drill or
// usage, 3 gave up or interrupted, 4 error or a rollback that did not complete.
int RunTrainingSession(const TrainArgs& args);

}  // namespace firedrill
