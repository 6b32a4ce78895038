// hosts_from: what ansible-inventory prints, read into hosts and groups (the tool itself
// runs in tests/integration/hosts_test.cc).
#include "runner/loader/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runner/loader/loader.h"

namespace firedrill {
namespace {

using ::testing::ElementsAre;

constexpr const char* kListed = R"({
  "_meta": {"hostvars": {
    "lb": {"ansible_host": "10.0.0.10"},
    "web1": {"ansible_host": "10.0.0.11", "ansible_user": "drill", "ansible_port": 2222,
             "ansible_ssh_private_key_file": "/keys/drill"},
    "web2": {}}},
  "all": {"children": ["ungrouped", "web", "edge"]},
  "edge": {"children": ["balancers"]},
  "balancers": {"hosts": ["lb"]},
  "web": {"hosts": ["web1", "web2"]}
})";

TEST(InventoryTest, HostsCarryTheirSshSettingsAndGroupsTheirMembers) {
  auto inv = ParseAnsibleInventory(kListed);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  ASSERT_EQ(inv->hosts.size(), 3u);
  EXPECT_EQ(inv->hosts[0].name, "lb");
  EXPECT_EQ(inv->hosts[0].destination, "10.0.0.10");
  EXPECT_EQ(inv->hosts[1].destination, "drill@10.0.0.11");
  EXPECT_THAT(inv->hosts[1].options, ElementsAre("-p", "2222", "-i", "/keys/drill"));
  // No ansible_host: the inventory name is the address, as Ansible would connect.
  EXPECT_EQ(inv->hosts[2].destination, "web2");
  EXPECT_THAT(inv->groups.at("web"), ElementsAre("web1", "web2"));
  // Through children, as Ansible nests groups.
  EXPECT_THAT(inv->groups.at("edge"), ElementsAre("lb"));
  EXPECT_THAT(inv->groups.at("all"), ElementsAre("lb", "web1", "web2"));
  EXPECT_EQ(inv->groups.count("ungrouped"), 0u);
}

TEST(InventoryTest, NotJsonIsAnError) {
  EXPECT_FALSE(ParseAnsibleInventory("[WARNING]: no inventory").ok());
}

TEST(InventoryTest, AGroupExpandsIntoOneCopyPerMemberAndAServiceCannotBeOnAGroup) {
  const std::string drill = R"(apiVersion: firedrill/v1
name: groups
hosts_from: inventory.ini
steady_state:
  - {name: up, probe: {command: {run: "true", host: web}}}
faults:
  - {name: cut, action: network.partition, host: web, with: {peer: lb}, duration: 5s}
)";
  LoadOptions opts;
  opts.inventory_json = kListed;
  LoadResult r = LoadScenarioText(drill, "groups.yaml", opts);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  ASSERT_EQ(r.scenario->faults.size(), 2u);
  EXPECT_EQ(r.scenario->faults[0].name, "cut@web1");
  EXPECT_EQ(r.scenario->faults[0].host, "web1");
  EXPECT_EQ(r.scenario->faults[1].host, "web2");
  ASSERT_EQ(r.scenario->steady_state.size(), 2u);
  EXPECT_EQ(r.scenario->steady_state[1].name, "up@web2");
  EXPECT_EQ(r.scenario->steady_state[1].probe.params.String("host"), "web2");
  EXPECT_EQ(r.scenario->hosts.size(), 3u);

  LoadResult bad = LoadScenarioText(drill + "services:\n  - {name: s, host: web, run: \"true\"}\n",
                                    "groups.yaml", opts);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.errors[0].ToString(),
            "groups.yaml:9:5: error: service 's' runs on one host; 'web' is a group of the "
            "inventory (name one of its hosts)");
}

}  // namespace
}  // namespace firedrill
