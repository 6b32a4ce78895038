// Fixture (never compiled): the engine built on base, the include written with blanks and
// a trailing comment; a library header is not judged.
#pragma once

  #  include "runner/base/status.h"  // a "quoted" comment
#include <string>
