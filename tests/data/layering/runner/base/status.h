// Fixture (never compiled): a base header.
#pragma once
