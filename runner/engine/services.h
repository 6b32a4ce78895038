// The system under test, as the drill starts it: each service is `/bin/sh -c RUN` in the
// workdir, in its own process group, with stdout/stderr captured to files. Teardown stops
// every group (SIGTERM, then SIGKILL after a grace period) and then anything that escaped
// its group; firedrill is a child subreaper, so a daemonised grandchild is still ours to find.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runner/base/status.h"
#include "runner/base/user.h"
#include "runner/drill/context.h"
#include "runner/drill/scenario.h"
#include "runner/engine/timeline.h"

namespace firedrill {

class Services final : public ServiceDirectory {
 public:
  // `log_dir` receives NAME.out.log / NAME.err.log for each service.
  Services(Env* env, Timeline* timeline, std::string workdir, std::string log_dir);
  ~Services() override;
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  // Every process group started from now on is recorded in `journal` (so that
  // `firedrill rollback` can stop a dead run's services) and marked done once stopped.
  void SetJournal(Journal* journal, Millis grace) {
    journal_ = journal;
    grace_ = grace;
  }

  Status Start(const ServiceSpec& spec, const std::string& expanded_run);

  std::optional<pid_t> ProcessGroup(const std::string& name) const override;

  // Notices services that exited (timeline: service.exited) and restarts those declared
  // `restart: on-failure` (at most 5 times each), and journals every daemon that left its
  // group and now leads one of its own (timeline: service.orphan_adopted), so that a run
  // killed with SIGKILL does not leave it running. Call regularly from one thread.
  void Poll();

  // What `firedrill ctl` asks of service `name` in a training session, as systemctl
  // would: `status`, `stop` (SIGTERM to its group, SIGKILL after `grace`), `start` (its
  // own command line again) or `restart`. The service stays the run's own: journaled, its
  // logs appended to, stopped at teardown; one stopped this way is not restarted by its
  // `restart` policy. Returns what happened, in words, or why nothing could be done.
  Result<std::string> Control(const std::string& verb, const std::string& name, Millis grace);

  // Stops everything this run started. Returns what is still alive afterwards (empty
  // when the machine is clean). Safe to call twice.
  std::vector<std::string> StopAll(Millis grace);

 private:
  struct Service;
  Status Spawn(Service& s);
  Result<std::pair<Account, std::string>> PrepareUser(const std::string& user);
  void JournalAdoptedOrphans();  // REQUIRES: mu_ held

  Env* env_;
  Timeline* timeline_;
  std::string workdir_;
  std::string log_dir_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Service>> services_;
  bool stopping_ = false;
  Journal* journal_ = nullptr;
  Millis grace_{5000};
  std::vector<std::pair<uint64_t, pid_t>> journaled_;  // (entry, process group)
};

}  // namespace firedrill
