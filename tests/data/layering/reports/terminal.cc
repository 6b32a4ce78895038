// Fixture (never compiled): a report on the engine, then into the tests, a header that
// does not exist, and one not written from the root.
#include "runner/engine/engine.h"
#include "tests/testing.h"
#include "runner/engine/gone.h"
#include "terminal.h"
// #include "runner/cli/commented_out.h"
