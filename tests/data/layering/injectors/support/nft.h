// Fixture (never compiled): an injectors/support header, part of the injectors layer.
#pragma once
