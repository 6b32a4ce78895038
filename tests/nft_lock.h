// Tests that compare the machine's nftables ruleset before and after must not run while
// another test adds a table: ctest runs test processes in parallel. Every test that
// touches nftables holds this lock (an flock, so a crashed test never leaves it held).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace firedrill::testing {

class NftLock {
 public:
  NftLock() {
    fd_ = ::open("/tmp/firedrill-tests-nftables.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~NftLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  NftLock(const NftLock&) = delete;
  NftLock& operator=(const NftLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace firedrill::testing
