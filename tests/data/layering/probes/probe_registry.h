// Fixture (never compiled): a probe built on drill.
#pragma once
#include "runner/drill/fault.h"
