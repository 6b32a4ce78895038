// Fixture (never compiled): an injector using drill and its own support, and a probe.
#include "runner/drill/fault.h"
#include "injectors/support/nft.h"
#include "probes/probe_registry.h"
