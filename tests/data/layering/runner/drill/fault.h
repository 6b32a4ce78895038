// Fixture (never compiled): a drill header.
#pragma once
