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
  std::string observe;     // --observe DIR
  std::string random;      // --random DIR: a drill drawn from DIR's training drills
  std::string difficulty;  // with --random: easy, medium or hard ("" = any)
  const std::atomic<int>* interrupt = nullptr;  // the signal handlers' count
};

// The exit code: 0 recovered within recovery.within, 1 not in time, 2 invalid drill or
// usage, 3 gave up or interrupted, 4 error or a rollback that did not complete.
int RunTrainingSession(const TrainArgs& args);

// `firedrill train --random DIR [--difficulty LEVEL]`: a wheel over DIR's *.yaml drills
// tagged `training` and one of easy, medium, hard (LEVEL only, when given). The drill
// drawn is named only after the session. 2 when DIR holds an invalid drill or none fits.
int RunRandomTrainingSession(const TrainArgs& args);

// `firedrill train --observe DIR`: follows DIR/events.jsonl of a session (running or about
// to start there) and prints every event as `run` would, the trainee's actions included,
// until the session ends. No controls. 0 at the session's end, 2 when none came within
// 10 minutes, 3 on Ctrl-C.
int ObserveTrainingSession(const std::string& dir, const std::atomic<int>* interrupt);

}  // namespace firedrill
