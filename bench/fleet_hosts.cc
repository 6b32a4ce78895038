// bench/fleet: N hosts as network namespaces, each with its own sshd, for as long as this
// process runs (tests/integration/netns_hosts.h, the tests' own hosts). Prints
//   ctl NETNS
//   ssh_config PATH
//   cache DIR
//   ready
// and then waits until its stdin closes (or SIGTERM), and takes everything down.
//
//   fleet_hosts N DIR [NAME...]   (as root; DIR must exist; names default to h1..hN)
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/integration/netns_hosts.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fleet_hosts N DIR [NAME...]\n");
    return 2;
  }
  const int n = std::atoi(argv[1]);
  if (n < 1 || n > 200) {
    std::fprintf(stderr, "fleet_hosts: N must be 1..200\n");
    return 2;
  }
  if (std::string why = firedrill::testing::NetnsHosts::Unsupported(); !why.empty()) {
    std::fprintf(stderr, "fleet_hosts: %s\n", why.c_str());
    return 2;
  }
  std::vector<std::string> names;
  for (int i = 1; i <= n; ++i) {
    names.push_back(argc > 2 + i ? argv[2 + i] : "h" + std::to_string(i));
  }
  // SIGTERM ends the wait below like a closed stdin: the destructor still runs.
  signal(SIGTERM, [](int) { ::close(0); });
  firedrill::testing::NetnsHosts net(argv[2], names, /*shared_cache=*/true);
  if (!net.error().empty()) {
    std::fprintf(stderr, "fleet_hosts: %s\n", net.error().c_str());
    return 1;
  }
  std::printf("ctl %s\nssh_config %s\ncache %s\nready\n", net.ctl_netns().c_str(),
              net.ssh_config().c_str(), net.cache_dir("h1").c_str());
  std::fflush(stdout);
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  return 0;
}
