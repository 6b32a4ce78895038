// Finding the system tools injectors run (nft, ip, losetup, mkfs.ext4): root's non-login
// shells, and CI's, often lack the sbin directories in PATH.
#pragma once

#include <string>

namespace firedrill {

// The executable `name` from PATH, then /usr/sbin and /sbin; "" when there is none.
std::string FindTool(const std::string& name);

}  // namespace firedrill
