#include "runner/base/user.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <climits>
#include <vector>

#include "runner/base/text.h"

namespace firedrill {

Result<Account> LookUpUser(const std::string& name) {
  if (name.empty()) return Status::Invalid("a user name cannot be empty");
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = 0;
  // A record larger than the suggested size: retry with more, within reason.
  while ((rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0) return Status::Io("cannot look up user '" + name + "': " + ErrnoText(rc));
  if (!found) return Status::Invalid("no user '" + name + "' on this machine");
  Account a;
  a.name = name;
  a.uid = pw.pw_uid;
  a.gid = pw.pw_gid;
  int n = 32;
  std::vector<gid_t> groups(n);
  // getgrouplist says how many there are when the buffer is too small.
  for (int tries = 0; tries < 4; ++tries) {
    int want = n;
    if (getgrouplist(name.c_str(), a.gid, groups.data(), &want) >= 0) {
      groups.resize(want);
      a.groups = std::move(groups);
      return a;
    }
    if (want <= n || want > 65536) break;
    n = want;
    groups.resize(n);
  }
  a.groups = {a.gid};
  return a;
}

int BecomeUser(const Account& a) noexcept {
  if (::setgroups(a.groups.size(), a.groups.data()) != 0) return errno;
  if (::setgid(a.gid) != 0) return errno;
  if (::setuid(a.uid) != 0) return errno;
  return 0;
}

}  // namespace firedrill
