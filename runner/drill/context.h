// What probes and injectors may see of a run: the system interface, the expanded
// variables, the services started by the drill, and the blast radius. Nothing here
// reaches reports or the engine's bookkeeping: data flows one way.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/event_loop.h"
#include "runner/base/net.h"
#include "runner/drill/expand.h"
#include "runner/drill/schema.h"
#include "runner/journal/journal.h"

namespace firedrill {

class ServiceDirectory {
 public:
  virtual ~ServiceDirectory() = default;
  // The process group of a started service, if it is known (it may have exited).
  virtual std::optional<pid_t> ProcessGroup(const std::string& name) const = 0;
};

struct RunContext {
  Env* env = nullptr;
  const Expander* expander = nullptr;
  const ServiceDirectory* services = nullptr;  // may be null when no service was started
  std::string workdir;
  std::vector<std::string> allow_paths;  // expanded
  // Blast radius of process targets not started by the drill (settings.allow_processes):
  // executable names as /proc/PID/comm shows them.
  std::vector<std::string> allow_processes;
  // Where probes and faults may connect (loopback and the drill's named hosts); null:
  // loopback only.
  const NetworkPolicy* network = nullptr;
  Millis default_timeout{5000};  // for probes that declare none
  // Set when the run is being torn down: long operations give up early.
  const std::atomic<bool>* cancel = nullptr;
  // The operator's Ctrl-C: a long injection (filling a disk) stops at once too.
  const std::atomic<int>* interrupt = nullptr;
  bool cancelled() const {
    return (cancel && cancel->load()) || (interrupt && interrupt->load() > 0);
  }
  // Where injectors record each change before making it (runner/journal/journal.h). The engine
  // always sets it; a fault refuses to inject without one.
  Journal* journal = nullptr;
  // The run's event loop, which probes that wait on sockets, children or files use (a
  // webhook listener serves on it). The engine always sets it before building probes.
  EventLoop* loop = nullptr;
  // The drill's hosts by name, at the addresses they were reached at (a partition between
  // two hosts cuts this one off from its peer's); null when the run has no hosts.
  const std::map<std::string, std::string>* host_addresses = nullptr;
  UndoContext undo() const { return UndoContext{env}; }
};

}  // namespace firedrill
