// A probe or a fault of the drill that lives on another host, as the engine sees it: the
// same interfaces as a local one, carried out by that host's agent. The engine never
// knows the difference, except that a sample's time is the host's own (mapped to the
// controller's clock) and a lost host answers "unreachable".
#pragma once

#include <memory>

#include "runner/drill/fault.h"
#include "runner/drill/probe.h"
#include "runner/engine/remote/hosts.h"

namespace firedrill {

// REQUIRES: HostOf(p) names a host `hosts` connected; `hosts` outlives the probe.
// `every` > 0: the host samples the probe on its own schedule, at that period, from the
// first sample asked for on, and each sample asked for is the newest the host took (a
// steady-state check, a watch: their timing is the host's own, whatever the connection
// does). 0: each sample is one request (a data check's ${seq}, a ready check).
std::unique_ptr<Probe> MakeRemoteProbe(RemoteHosts* hosts, const ProbeSpec& p,
                                       Millis default_timeout, Millis every = Millis(0));
// REQUIRES: f.host names a host `hosts` connected (and with.peer, when set, another);
// `action` is f.action's; `hosts` outlives the fault. `timeout` bounds one injection or
// rollback.
std::unique_ptr<Fault> MakeRemoteFault(RemoteHosts* hosts, const FaultSpec& f,
                                       const FaultAction& action, Millis timeout);

}  // namespace firedrill
