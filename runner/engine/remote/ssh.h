// How firedrill reaches a host: OpenSSH, one multiplexed connection (a ControlMaster) per
// host for the run, and the same firedrill binary on the far side. ssh does the
// connecting, the authentication and the host-key checks; firedrill never parses an ssh
// destination itself (`ssh -G` says what OpenSSH will connect to).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "runner/base/status.h"
#include "runner/base/subprocess.h"
#include "runner/base/unique_fd.h"
#include "runner/base/values.h"

namespace firedrill {

struct SshTarget {
  std::string name;         // the drill's name for the host
  std::string destination;  // [user@]host, or a Host of the user's ssh_config
  std::vector<std::string> options;
};

// A child process that stays for the run: the master connection, or an agent's session
// with its stdin and stdout piped to firedrill. It gets SIGTERM when firedrill dies
// (PR_SET_PDEATHSIG), so a controller killed with SIGKILL leaves no ssh behind and the
// agent on the far side sees its input end.
struct PipedChild {
  pid_t pid = -1;
  UniqueFd to_child;    // its stdin (invalid unless piped)
  UniqueFd from_child;  // its stdout (invalid unless piped)
};

// Starts argv[0] (searched in PATH) with stderr appended to `stderr_path`; stdin and stdout
// are pipes when `piped`, else /dev/null.
Result<PipedChild> SpawnChild(const std::vector<std::string>& argv, const std::string& stderr_path,
                              bool piped);
// SIGTERM, then SIGKILL after `grace`; reaps it. Safe on pid -1.
void StopChild(pid_t pid, Millis grace);

// The ssh command line for `target`, through the master at `control_path` when it is set:
// BatchMode (never a prompt), a connect timeout, and the drill's own options.
std::vector<std::string> SshArgv(const SshTarget& target, const std::string& control_path,
                                 Millis connect_timeout);
// One argv as a /bin/sh line.
std::string ShellJoin(const std::vector<std::string>& argv);
std::string ShellQuote(const std::string& s);

// The address OpenSSH will connect to for `target` (`ssh -G`: its own reading of the
// destination, the options and ssh_config). kFailed with ssh's message.
Result<std::string> SshResolvedHost(const SshTarget& target);

// The master connection to one host, open from Open until the object dies.
class SshMaster {
 public:
  // Connects, authenticates and waits until the master answers `ssh -O check` (at most
  // `connect_timeout` plus a second). The control socket is DIR/%C (OpenSSH's hash of the
  // connection), so its path stays short whatever the destination. kFailed, with ssh's
  // own message, when the host cannot be reached.
  static Result<std::unique_ptr<SshMaster>> Open(const SshTarget& target,
                                                 const std::string& control_dir,
                                                 const std::string& log_path,
                                                 Millis connect_timeout);
  ~SshMaster();
  SshMaster(const SshMaster&) = delete;
  SshMaster& operator=(const SshMaster&) = delete;

  const SshTarget& target() const { return target_; }
  // ssh ... DESTINATION, through the master; append the remote command.
  std::vector<std::string> Argv() const;
  // Runs `remote_command` (a shell line on the host) through the master, its stdin from
  // `stdin_path` when set.
  Result<ShellResult> Run(const std::string& remote_command, Millis timeout,
                          const std::string& stdin_path = "") const;
  // True while the master process runs.
  bool Alive() const;

 private:
  SshMaster(SshTarget t, std::string control_path, std::string log_path, Millis timeout)
      : target_(std::move(t)),
        control_path_(std::move(control_path)),
        log_path_(std::move(log_path)),
        connect_timeout_(timeout) {}

  SshTarget target_;
  std::string control_path_;
  std::string log_path_;
  Millis connect_timeout_;
  mutable pid_t pid_ = -1;
};

}  // namespace firedrill
