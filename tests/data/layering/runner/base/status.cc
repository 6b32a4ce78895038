// Fixture (never compiled): base reaching up into the engine, beside its own header.
#include "runner/base/status.h"

#include "runner/engine/engine.h"
