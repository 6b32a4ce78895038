#include "runner/loader/inventory.h"

#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "runner/base/subprocess.h"
#include "runner/base/text.h"

namespace firedrill {
namespace {

using nlohmann::json;

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string StringVar(const json& vars, const char* key) {
  if (!vars.is_object() || !vars.contains(key)) return "";
  const json& v = vars[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return "";
}

}  // namespace

Result<std::string> RunAnsibleInventory(const std::string& path) {
  auto r = RunShell({.script = "command -v ansible-inventory >/dev/null || exit 127; "
                               "ANSIBLE_NOCOLOR=1 exec ansible-inventory -i " +
                               Quote(path) + " --list",
                     .cwd = {},
                     .timeout = Millis(60000),
                     .capture_limit = 16 << 20});
  if (!r.ok()) return r.status();
  if (r->exit_code == 127) {
    return Status::NotFound(
        "ansible-inventory not found: hosts_from reads inventories with Ansible's own tool "
        "(apt-get install ansible-core)");
  }
  if (r->exit_code != 0) {
    return Status::Failed("ansible-inventory -i " + path + ": " + r->Describe() + ": " +
                          OneLine(r->err, 300));
  }
  return r->out;
}

Result<Inventory> ParseAnsibleInventory(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Invalid("ansible-inventory printed something that is not a JSON object");
  }
  Inventory inv;
  inv.json = text;
  const json hostvars =
      j.contains("_meta") && j["_meta"].is_object() && j["_meta"].contains("hostvars")
          ? j["_meta"]["hostvars"]
          : json::object();
  // Hosts: every one a group lists, and every one with variables.
  std::set<std::string> names;
  for (const auto& [group, body] : j.items()) {
    if (group == "_meta" || !body.is_object() || !body.contains("hosts")) continue;
    for (const auto& h : body["hosts"])
      if (h.is_string()) names.insert(h.get<std::string>());
  }
  if (hostvars.is_object()) {
    for (const auto& [h, v] : hostvars.items()) names.insert(h);
  }
  for (const auto& name : names) {
    const json vars = hostvars.is_object() && hostvars.contains(name) ? hostvars[name] : json();
    HostSpec h;
    h.name = name;
    const std::string address = StringVar(vars, "ansible_host");
    const std::string user = StringVar(vars, "ansible_user");
    h.destination = (user.empty() ? "" : user + "@") + (address.empty() ? name : address);
    if (std::string port = StringVar(vars, "ansible_port"); !port.empty()) {
      h.options.insert(h.options.end(), {"-p", port});
    }
    if (std::string key = StringVar(vars, "ansible_ssh_private_key_file"); !key.empty()) {
      h.options.insert(h.options.end(), {"-i", key});
    }
    inv.hosts.push_back(std::move(h));
  }
  // Groups: their own hosts and, through `children`, their children's (no cycle is
  // followed twice).
  std::function<void(const std::string&, std::set<std::string>&, std::set<std::string>&)> collect =
      [&](const std::string& g, std::set<std::string>& out, std::set<std::string>& seen) {
        if (!seen.insert(g).second || !j.contains(g) || !j[g].is_object()) return;
        if (j[g].contains("hosts")) {
          for (const auto& h : j[g]["hosts"])
            if (h.is_string()) out.insert(h.get<std::string>());
        }
        if (j[g].contains("children")) {
          for (const auto& c : j[g]["children"])
            if (c.is_string()) collect(c.get<std::string>(), out, seen);
        }
      };
  for (const auto& [group, body] : j.items()) {
    if (group == "_meta" || !body.is_object()) continue;
    std::set<std::string> members, seen;
    collect(group, members, seen);
    if (!members.empty()) inv.groups[group] = {members.begin(), members.end()};
  }
  return inv;
}

}  // namespace firedrill
