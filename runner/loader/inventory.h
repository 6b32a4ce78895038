// `hosts_from: INVENTORY`: a drill's hosts from an Ansible inventory, read through Ansible's
// own `ansible-inventory --list` (so every inventory format and plugin Ansible reads works,
// and firedrill parses none of them), and its groups, which `host: GROUP` acts on.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runner/base/status.h"
#include "runner/drill/scenario.h"

namespace firedrill {

struct Inventory {
  std::vector<HostSpec> hosts;                             // in name order
  std::map<std::string, std::vector<std::string>> groups;  // group -> member hosts
  std::string json;  // what ansible-inventory printed, to hand on to the hosts' agents
};

// Runs `ansible-inventory -i PATH --list` (at most 60 s). kNotFound when Ansible is not
// installed; kFailed with its own message when it cannot read the inventory.
Result<std::string> RunAnsibleInventory(const std::string& path);

// The hosts and groups of `ansible-inventory --list` output. Each host's destination is
// [ansible_user@](ansible_host or its name); ansible_port becomes `-p`,
// ansible_ssh_private_key_file `-i`. Groups with no hosts of their own (all, ungrouped,
// parents of others) hold their children's hosts.
Result<Inventory> ParseAnsibleInventory(const std::string& json);

}  // namespace firedrill
