// The drill's top level, its settings, the system it starts (services, hosts) and the
// probe form every section shares.
#include "runner/loader/sections.h"

#include <unistd.h>

#include <filesystem>
#include <set>

#include "probes/probe_registry.h"
#include "runner/base/suggest.h"
#include "runner/base/user.h"
#include "runner/loader/checks.h"
#include "runner/loader/inventory.h"

namespace firedrill {
namespace {

constexpr const char* kApiVersion = "firedrill/v1";

std::string KindList() {
  std::string list;
  for (const ProbeKind* k : ProbeKinds()) list += (list.empty() ? "" : ", ") + std::string(k->name);
  return list;
}

// Linux keeps an executable's name in 15 bytes (/proc/PID/comm); a longer one never matches.
constexpr size_t kMaxCommBytes = 15;

}  // namespace

void DrillParser::Parse(const YAML::Node& root, Scenario& s) {
  auto k = in_.Keys(root,
                    Names({"apiVersion", "name", "description", "tags", "settings", "services",
                           "hosts", "hosts_from", "setup", "steady_state", "faults", "watches",
                           "data", "recovery", "abort_when", "artifacts", "training"}),
                    "the drill");
  ReadTop(k, s);
  // Hosts first: probes and URLs are checked against the hosts a drill names.
  if (k.count("hosts")) ReadHosts(k["hosts"].value, s.hosts);
  if (k.count("hosts_from")) ReadInventory(k["hosts_from"].value, s);
  if (k.count("settings")) ReadSettings(k["settings"].value, s.settings);
  if (k.count("setup")) ReadSetup(k["setup"].value, s.setup);
  if (k.count("services")) ReadServices(k["services"].value, s.services);
  if (!k.count("steady_state")) {
    in_.ErrorAt({1, 1},
                "missing `steady_state`: at least one check that says the system is healthy");
  } else {
    ReadSteady(k["steady_state"].value, s.steady_state);
    if (s.steady_state.empty() && k["steady_state"].value.IsSequence())
      in_.Error(k["steady_state"].value, "steady_state needs at least one check");
  }
  if (!k.count("faults")) {
    in_.ErrorAt({1, 1}, "missing `faults`: at least one fault to inject");
  } else {
    ReadFaults(k["faults"].value, s.faults);
    if (s.faults.empty() && k["faults"].value.IsSequence())
      in_.Error(k["faults"].value, "faults needs at least one fault");
  }
  if (k.count("watches")) ReadWatches(k["watches"].value, s.watches);
  if (k.count("data")) ReadData(k["data"].value, s.data);
  if (k.count("recovery")) ReadRecovery(k["recovery"].value, s.recovery);
  if (k.count("abort_when")) ReadAbort(k["abort_when"].value, s.abort_when);
  if (k.count("artifacts")) ReadArtifacts(k["artifacts"].value, s);
  if (k.count("training")) ReadTraining(k["training"].value, s.training);
  s.port_names.assign(in_.ports().begin(), in_.ports().end());
  for (const auto& [name, mark] : in_.host_refs()) refs_.hosts.push_back({name, mark});
}

void DrillParser::ReadTop(const Reader::Entries& k, Scenario& s) {
  if (!k.count("apiVersion")) {
    in_.ErrorAt({1, 1}, "missing `apiVersion: firedrill/v1`");
  } else if (auto v = in_.Scalar(k.at("apiVersion").value, "apiVersion")) {
    if (*v != kApiVersion) {
      in_.Error(k.at("apiVersion").value,
                "unsupported apiVersion '" + *v + "' (this firedrill reads " + kApiVersion + ")");
    }
    s.api_version = *v;
  }
  if (!k.count("name")) {
    in_.ErrorAt({1, 1}, "missing `name` (lower-case letters, digits and '-')");
  } else if (auto v = in_.Scalar(k.at("name").value, "name")) {
    // [a-z0-9-], neither starting nor ending with '-': it names report directories.
    auto ok_char = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    };
    const bool ok = !v->empty() && v->size() <= 100 && v->front() != '-' && v->back() != '-' &&
                    std::all_of(v->begin(), v->end(), ok_char);
    if (!ok) {
      in_.Error(k.at("name").value, "drill name '" + v->substr(0, 40) +
                                        "' must use only [a-z0-9-] and not start or end with '-'");
    }
    s.name = *v;
  }
  if (k.count("description")) {
    if (auto v = in_.Scalar(k.at("description").value, "description")) s.description = *v;
  }
  if (k.count("tags") && in_.IsSeq(k.at("tags").value, "tags")) {
    for (const auto& t : k.at("tags").value) {
      if (auto v = in_.Scalar(t, "tag")) s.tags.push_back(*v);
    }
  }
}

// Longer, and a trainee sits waiting for a page for longer than a session should take.
constexpr int64_t kMaxInjectWithinMs = 10 * 60 * 1000;

void DrillParser::ReadTraining(const YAML::Node& n, Training& t) {
  if (!in_.IsMap(n, "training")) return;
  t.mark = MarkOf(n);
  auto k = in_.Keys(n, Names({"inject_within"}), "training");
  if (k.count("inject_within")) {
    t.inject_within =
        in_.DurationOf(k["inject_within"].value, "training.inject_within", 0, kMaxInjectWithinMs);
  }
}

// More would be a drill copying half a disk into its report.
constexpr size_t kMaxArtifacts = 100;

void DrillParser::ReadArtifacts(const YAML::Node& n, Scenario& s) {
  if (!in_.IsSeq(n, "artifacts")) return;
  if (n.size() > kMaxArtifacts) {
    in_.Error(n, "artifacts lists " + std::to_string(n.size()) + " entries; at most " +
                     std::to_string(kMaxArtifacts));
    return;
  }
  // Read from the workdir or settings.allow_paths only: an artifact is a copy of what the
  // drill's systems wrote, never a way to take /etc/shadow into a report. Checked here at
  // the value, and again on the real path of every file copied (runner/engine/artifacts.h).
  std::vector<std::string> roots = s.settings.allow_paths;
  roots.push_back("${workdir}");
  for (const auto& item : n) {
    auto v = in_.Scalar(item, "artifact");
    if (!v) continue;
    if (v->empty()) {
      in_.Error(item, "an artifact must name a path or a glob pattern");
      continue;
    }
    std::string why = OutsideAllowPathsStatically(*v, roots, s.settings.workdir);
    if (!why.empty()) {
      in_.Error(item, "artifact " + why + " and the workdir");
      continue;
    }
    s.artifacts.push_back(*v);
  }
}

std::optional<ProbeSpec> DrillParser::ReadProbe(const YAML::Node& n, const std::string& where,
                                                const std::vector<std::string>& extras,
                                                Reader::Entries* extra_out, RefScope scope) {
  if (!in_.IsMap(n, where)) return std::nullopt;
  std::vector<std::string> allowed;
  for (const ProbeKind* k : ProbeKinds()) allowed.push_back(k->name);
  allowed.insert(allowed.end(), extras.begin(), extras.end());
  std::optional<std::pair<const ProbeKind*, Reader::Entry>> chosen;
  bool bad = false;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node k = it->first;  // a copy, as in Reader::Keys
    if (!k.IsScalar()) {
      in_.Error(k, "keys in " + where + " must be plain names");
      bad = true;
      continue;
    }
    const std::string& name = k.Scalar();
    if (!seen.insert(name).second) {
      in_.Error(k, "duplicate key '" + name + "' in " + where);
      bad = true;
      continue;
    }
    if (std::find(extras.begin(), extras.end(), name) != extras.end()) {
      if (extra_out) (*extra_out)[name] = Reader::Entry{k, it->second};
      continue;
    }
    const ProbeKind* kind = FindProbeKind(name);
    if (!kind) {
      in_.Error(k, "unknown probe kind '" + name + "' in " + where + DidYouMean(name, allowed) +
                       " (kinds: " + KindList() + ")");
      bad = true;
      continue;
    }
    if (chosen) {
      in_.Error(k, where + " has two probe kinds ('" + std::string(chosen->first->name) +
                       "' and '" + name + "'); a probe has exactly one");
      bad = true;
      continue;
    }
    chosen = std::make_pair(kind, Reader::Entry{k, it->second});
  }
  if (bad) return std::nullopt;
  if (!chosen) {
    in_.Error(n, where + " needs a probe: one of " + KindList());
    return std::nullopt;
  }
  const ProbeKind* kind = chosen->first;
  const std::string what = where + "." + kind->name;
  if (!in_.IsMap(chosen->second.value, what)) return std::nullopt;
  // Every kind may run on a host of the drill's (`host:`), not only the command probe the
  // contract names it for: where a probe runs is the engine's business, not the kind's.
  std::vector<FieldSpec> fields(kind->fields.begin(), kind->fields.end());
  if (std::none_of(fields.begin(), fields.end(),
                   [](const FieldSpec& f) { return std::string_view(f.name) == "host"; })) {
    fields.push_back(kProbeHostField);
  }
  auto params = fields_.Parse(chosen->second.value, fields, what, scope);
  if (!params) return std::nullopt;
  ProbeSpec spec{kind->name, *params, MarkOf(chosen->second.key)};
  if (kind->check) {
    if (auto e = kind->check(spec.params, MarkOf(chosen->second.value))) {
      in_.ErrorAt(e->mark.line ? e->mark : MarkOf(chosen->second.value), what + ": " + e->message);
      return std::nullopt;
    }
  }
  if (spec.params.Has("service")) {
    refs_.services.push_back({spec.params.String("service"), spec.params.MarkOf("service")});
  }
  if (spec.params.Has("host")) {
    refs_.hosts.push_back({spec.params.String("host"), spec.params.MarkOf("host")});
  }
  return spec;
}

void DrillParser::ReadSettings(const YAML::Node& n, Settings& s) {
  if (!in_.IsMap(n, "settings")) return;
  auto k = in_.Keys(n,
                    Names({"probe_interval", "settle", "timeout", "workdir", "allow_paths",
                           "allow_processes", "stop_grace", "lease"}),
                    "settings");
  if (k.count("probe_interval")) {
    if (auto d = in_.DurationOf(k["probe_interval"].value, "settings.probe_interval", 10, 3600000))
      s.probe_interval = *d;
  }
  if (k.count("settle")) {
    if (auto d = in_.DurationOf(k["settle"].value, "settings.settle", 0, 86400000)) s.settle = *d;
  }
  if (k.count("timeout")) {
    if (auto d = in_.DurationOf(k["timeout"].value, "settings.timeout", 1000, 7 * 86400000LL))
      s.timeout = *d;
  }
  if (k.count("stop_grace")) {
    if (auto d = in_.DurationOf(k["stop_grace"].value, "settings.stop_grace", 0, 600000))
      s.stop_grace = *d;
  }
  if (k.count("lease")) {
    // Below a second, a busy controller's renewals could miss it; 0s turns the dead-man off.
    if (auto d = in_.DurationOf(k["lease"].value, "settings.lease", 0, 3600000)) {
      if (d->count() > 0 && d->count() < 1000) {
        in_.Error(k["lease"].value, "settings.lease must be 0s (no dead-man) or at least 1s");
      } else {
        s.lease = *d;
      }
    }
  }
  if (k.count("workdir")) {
    const YAML::Node& w = k["workdir"].value;
    if (auto t = in_.Text(w, "settings.workdir")) {
      if (t->find("${workdir}") != std::string::npos) {
        in_.Error(w, "settings.workdir cannot refer to ${workdir}");
      } else if (t->empty() || ((*t)[0] != '/' && t->rfind("${", 0) != 0)) {
        in_.Error(w, "settings.workdir must be an absolute path");
      } else {
        std::string norm = std::filesystem::path(*t).lexically_normal().string();
        while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
        if (norm == "/" || norm == "/tmp" || norm == "/home" || norm == "/root" || norm == "/etc" ||
            norm == "/var" || norm == "/usr") {
          in_.Error(w, "settings.workdir '" + *t +
                           "' is a system directory; a workdir is created fresh and removed, so "
                           "it must be a directory of the drill's own (e.g. /tmp/firedrill/NAME)");
        } else {
          s.workdir = *t;
        }
      }
    }
  }
  if (k.count("allow_paths")) {
    const YAML::Node& a = k["allow_paths"].value;
    if (in_.IsSeq(a, "settings.allow_paths")) {
      for (const auto& item : a) {
        if (auto t = in_.Text(item, "settings.allow_paths")) {
          if (t->empty() || ((*t)[0] != '/' && t->rfind("${", 0) != 0)) {
            in_.Error(
                item,
                "settings.allow_paths entries must be absolute paths or start with ${workdir}");
          } else {
            s.allow_paths.push_back(*t);
          }
        }
      }
    }
  }
  if (k.count("allow_processes")) {
    const YAML::Node& a = k["allow_processes"].value;
    if (in_.IsSeq(a, "settings.allow_processes")) {
      for (const auto& item : a) {
        auto t = in_.Scalar(item, "settings.allow_processes");
        if (!t) continue;
        if (t->empty() || t->size() > kMaxCommBytes || t->find('/') != std::string::npos) {
          in_.Error(item,
                    "settings.allow_processes entries are executable names as "
                    "/proc/PID/comm shows them (1 to 15 bytes, no '/'), got '" +
                        t->substr(0, 40) + "'");
        } else {
          s.allow_processes.push_back(*t);
        }
      }
    }
  }
}

void DrillParser::ReadServices(const YAML::Node& n, std::vector<ServiceSpec>& out) {
  in_.ForEachNamed(
      n, "services", "service", Names({"name", "run", "ready", "restart", "user", "host"}),
      [&](const YAML::Node& item, Reader::Entries& k, const std::string& name) {
        ServiceSpec svc;
        svc.mark = MarkOf(item);
        svc.name = name;
        const std::string where = "service '" + svc.name + "'";
        if (!k.count("run")) {
          in_.Error(item, where + " needs `run` (the command that starts it)");
        } else if (auto s = in_.Text(k["run"].value, where + ".run")) {
          svc.run = *s;
        }
        if (k.count("ready")) {
          Reader::Entries extra;
          svc.ready = ReadProbe(k["ready"].value, where + ".ready", Names({"within"}), &extra);
          if (extra.count("within")) {
            if (auto d = in_.DurationOf(extra["within"].value, where + ".ready.within", 1, 3600000))
              svc.ready_within = *d;
          }
        }
        if (k.count("host")) {
          if (auto h = in_.Scalar(k["host"].value, where + ".host")) {
            svc.host = *h;
            refs_.hosts.push_back({*h, MarkOf(k["host"].value)});
          }
        }
        if (k.count("restart")) {
          if (auto s = in_.Scalar(k["restart"].value, where + ".restart")) {
            if (*s == "never") {
              svc.restart = RestartPolicy::kNever;
            } else if (*s == "on-failure") {
              svc.restart = RestartPolicy::kOnFailure;
            } else {
              in_.Error(k["restart"].value, where + ".restart must be 'never' or 'on-failure'" +
                                                DidYouMean(*s, Names({"never", "on-failure"})));
            }
          }
        }
        if (k.count("user")) {
          if (auto u = in_.Scalar(k["user"].value, where + ".user")) {
            auto account = LookUpUser(*u);
            if (!account.ok()) {
              in_.Error(k["user"].value, where + ".user: " + account.status().message());
            } else if (account->uid == 0) {
              in_.Error(k["user"].value,
                        where + ".user must be an unprivileged user, not '" + *u + "' (uid 0)");
            } else if (::geteuid() != 0) {
              // Switching user needs root; refused here rather than halfway through a run.
              in_.Error(k["user"].value, where + ".user: running a service as '" + *u +
                                             "' needs firedrill to run as root (it runs as uid " +
                                             std::to_string(::geteuid()) + ")");
            } else {
              svc.user = *u;
            }
          }
        }
        out.push_back(std::move(svc));
      });
}

void DrillParser::ReadInventory(const YAML::Node& n, Scenario& s) {
  auto path = in_.Text(n, "hosts_from");
  if (!path) return;
  if (path->find("${") != std::string::npos) {
    in_.Error(n,
              "hosts_from is read when the drill is loaded: write the inventory's path "
              "literally");
    return;
  }
  s.hosts_from = *path;
  Result<std::string> listed = std::string();
  if (in_.options().inventory_json) {
    listed = *in_.options().inventory_json;
  } else {
    // Relative to the drill's own directory, as a drill's runbook is to the library.
    std::filesystem::path p(*path);
    if (p.is_relative()) p = std::filesystem::path(s.file).parent_path() / p;
    listed = RunAnsibleInventory(p.string());
  }
  if (!listed.ok()) {
    in_.Error(n, "hosts_from: " + listed.status().message());
    return;
  }
  auto inv = ParseAnsibleInventory(*listed);
  if (!inv.ok()) {
    in_.Error(n, "hosts_from: " + inv.status().message());
    return;
  }
  s.inventory_json = inv->json;
  for (auto& h : inv->hosts) {
    // A host the drill names itself under `hosts:` keeps the drill's own ssh settings.
    if (std::find(refs_.host_names.begin(), refs_.host_names.end(), h.name) !=
        refs_.host_names.end()) {
      continue;
    }
    h.mark = MarkOf(n);
    locality_.AddHostAddress(h.destination.substr(h.destination.find('@') + 1));
    refs_.host_names.push_back(h.name);
    s.hosts.push_back(std::move(h));
  }
  for (const auto& [group, members] : inv->groups) {
    if (std::find(refs_.host_names.begin(), refs_.host_names.end(), group) !=
        refs_.host_names.end()) {
      continue;  // a host and a group of one name: the host wins (Ansible's `all` aside)
    }
    s.host_groups[group] = members;
    refs_.host_names.push_back(group);
  }
}

void DrillParser::ReadHosts(const YAML::Node& n, std::vector<HostSpec>& out) {
  in_.ForEachNamed(
      n, "hosts", "host", Names({"name", "ssh"}),
      [&](const YAML::Node& item, Reader::Entries& k, const std::string& name) {
        HostSpec h;
        h.mark = MarkOf(item);
        h.name = name;
        if (!k.count("ssh")) {
          in_.Error(item, "host '" + h.name + "' needs `ssh: {destination: user@address}`");
        } else if (in_.IsMap(k["ssh"].value, "host.ssh")) {
          auto sk = in_.Keys(k["ssh"].value, Names({"destination", "options"}), "host.ssh");
          if (!sk.count("destination")) {
            in_.Error(k["ssh"].value, "host '" + h.name + "' ssh needs a `destination`");
          } else if (auto d = in_.Text(sk["destination"].value, "ssh.destination")) {
            h.destination = *d;
            // user@address, or the address alone (npos + 1 is 0).
            locality_.AddHostAddress(d->substr(d->find('@') + 1));
          }
          if (sk.count("options") && in_.IsSeq(sk["options"].value, "ssh.options")) {
            for (const auto& o : sk["options"].value) {
              if (auto t = in_.Text(o, "ssh.options")) h.options.push_back(*t);
            }
          }
        }
        refs_.host_names.push_back(h.name);
        out.push_back(std::move(h));
      });
}

}  // namespace firedrill
