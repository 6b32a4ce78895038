// `firedrill agent`: the far end of a drill across hosts. The controller starts it over
// its master ssh connection and talks JSON lines on its stdin and stdout. The agent loads
// the same drill text (and validates it again, here, where the faults act), starts this
// host's services, samples this host's probes, injects and rolls back this host's faults
// with a journal of its own, exactly as a local run does, and holds a lease: when the
// controller stops renewing it (the controller died, or a fault cut the connection) the
// agent rolls this host back by itself and exits. docs/remote-hosts.md has the protocol.
#pragma once

#include <string>

namespace firedrill {

struct AgentOptions {
  // This run's directory on this host: the journal (its runs/), the workdir, agent.log.
  std::string dir;
  std::string host;  // the drill's name for this host
  int in_fd = 0;
  int out_fd = 1;
};

// Serves one run; returns the process's exit code (0 after a teardown the controller
// asked for, 3 after a dead-man revert, 4 when this host could not be put back).
int RunAgent(const AgentOptions& options);

}  // namespace firedrill
