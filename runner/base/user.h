// A local user account, looked up once in the parent: what a child needs to become that
// user (its ids and groups) is known before the fork, because between fork and exec only
// async-signal-safe calls may run (no getpwnam, no initgroups: they read files and
// allocate, and another thread may have held malloc's lock when the process forked).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runner/base/status.h"

namespace firedrill {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;              // the primary group
  std::vector<gid_t> groups;  // every group, the primary one included
};

// The account named `name` (getpwnam_r, getgrouplist). kInvalid "no user 'x' on this
// machine" when there is none.
Result<Account> LookUpUser(const std::string& name);

// In a child between fork and exec: takes on `a`'s groups, then its group, then its user,
// in that order (after setuid, setgroups and setgid are no longer allowed). Returns the
// errno of the first call that failed, or 0. Async-signal-safe.
// REQUIRES: the process is root.
int BecomeUser(const Account& a) noexcept;

}  // namespace firedrill
