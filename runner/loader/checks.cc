#include "runner/loader/checks.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "injectors/fault_registry.h"
#include "probes/probe_registry.h"
#include "runner/base/paths.h"
#include "runner/base/suggest.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace {

// Stands for a temporary workdir, which cannot hold symlinks yet and is nowhere else.
constexpr const char* kVirtualWorkdir = "/\x01workdir";

// `text` with ${workdir} replaced, or nullopt when it refers to anything else.
std::optional<fs::path> Concrete(const std::string& text, const std::string& workdir) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      // $${ is a literal ${, as the expander writes it (runner/drill/expand.h).
      out += "${";
      i += 2;
    } else if (text.compare(i, 10, "${workdir}") == 0) {
      out += workdir;
      i += 9;
    } else if (text.compare(i, 2, "${") == 0) {
      return std::nullopt;
    } else {
      out += text[i];
    }
  }
  fs::path p(out);
  if (p.is_relative()) p = fs::path(workdir) / p;
  return p;
}

fs::path Resolve(const fs::path& p) {
  std::error_code ec;
  if (p.string().rfind(kVirtualWorkdir, 0) == 0) return p.lexically_normal();
  fs::path r = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : r;
}

}  // namespace

void CheckReferences(Reader& in, const DrillRefs& refs, const Scenario& s) {
  std::vector<std::string> services;
  for (const auto& svc : s.services) services.push_back(svc.name);
  for (const auto& [name, mark] : refs.services) {
    if (std::find(services.begin(), services.end(), name) == services.end()) {
      in.ErrorAt(mark, "no service named '" + name + "'" +
                           (services.empty() ? std::string(" (this drill starts no services)")
                                             : DidYouMean(name, services)));
    }
  }
  for (const auto& [name, mark] : refs.hosts) {
    if (std::find(refs.host_names.begin(), refs.host_names.end(), name) == refs.host_names.end()) {
      in.ErrorAt(mark,
                 "no host named '" + name + "' under `hosts:`" + DidYouMean(name, refs.host_names));
    }
  }
  bool has_detection = false, has_failover = false;
  for (const auto& w : s.watches) {
    has_detection |= w.kind == WatchKind::kDetection;
    has_failover |= w.kind == WatchKind::kFailover;
  }
  for (const auto& step : s.recovery.remediation) {
    if (step.after == RemediationStep::After::kDetection && !has_detection) {
      in.ErrorAt(step.mark, "remediation after detection needs a watch of kind detection");
    }
    if (step.after == RemediationStep::After::kFailover && !has_failover) {
      in.ErrorAt(step.mark, "remediation after failover needs a watch of kind failover");
    }
  }
  if (s.recovery.max_data_loss && !s.data) {
    in.ErrorAt(s.recovery.mark, "recovery.max_data_loss needs a `data:` section to measure it");
  }
}

void CheckBlastRadius(Reader& in, const DrillRefs& refs, const Scenario& s) {
  // File and disk faults outside the blast radius are refused here, on the text, so
  // `validate` says so; the run checks again on the real filesystem (runner/base/paths.h).
  auto paths = [&](const std::vector<FaultSpec>& list, const std::string& what) {
    for (const auto& f : list) {
      const FaultAction* a = FindFaultAction(f.action);
      if (!a) continue;
      for (const FieldSpec& field : a->fields) {
        if (field.type != FieldType::kPath || !f.with.Has(field.name)) continue;
        std::string why = OutsideAllowPathsStatically(f.with.String(field.name),
                                                      s.settings.allow_paths, s.settings.workdir);
        if (!why.empty()) in.ErrorAt(f.with.MarkOf(field.name), what + f.name + ": " + why);
      }
    }
  };
  paths(s.faults, "fault ");
  paths(s.setup, "setup step ");
  // A name or a PID stands for processes the drill may not have started (any sshd, any
  // postgres on the machine): only those listed may be signalled. The injector checks each
  // process again, with its start time, right before it signals (runner/drill/process_target.h).
  const auto& allowed = s.settings.allow_processes;
  const std::string listed =
      allowed.empty() ? std::string("settings.allow_processes is empty") : [&] {
        std::string l;
        for (const auto& a : allowed) l += (l.empty() ? "" : ", ") + a;
        return "settings.allow_processes lists " + l;
      }();
  for (const auto& [name, mark] : refs.process_names) {
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    in.ErrorAt(mark, "target {name: " + name +
                         "} would signal every process of that name on "
                         "the machine, and " +
                         listed +
                         "; a drill signals the processes it started, and those named there" +
                         DidYouMean(name, allowed));
  }
  for (const auto& [pid, mark] : refs.process_pids) {
    if (!allowed.empty()) continue;
    in.ErrorAt(mark, "target {pid: " + pid + "} names a process the drill did not start, and " +
                         listed + "; list the executable it runs there (its /proc/PID/comm)");
  }
}

void ExpandGroups(Reader& in, Scenario& s) {
  if (s.host_groups.empty()) return;
  auto group = [&](const std::string& host) -> const std::vector<std::string>* {
    auto it = s.host_groups.find(host);
    return it == s.host_groups.end() ? nullptr : &it->second;
  };
  // One copy per member, named NAME@MEMBER: each is judged, reported and rolled back on
  // its own, as if the drill had listed them.
  auto each = [&](auto& items, auto host_of, auto set_host) {
    using Item = typename std::decay_t<decltype(items)>::value_type;
    std::vector<Item> out;
    for (auto& item : items) {
      const std::vector<std::string>* members = group(host_of(item));
      if (!members) {
        out.push_back(std::move(item));
        continue;
      }
      for (const auto& m : *members) {
        Item copy = item;
        copy.name = item.name + "@" + m;
        set_host(copy, m);
        out.push_back(std::move(copy));
      }
    }
    items = std::move(out);
  };
  auto probe_host = [](const ProbeSpec& p) {
    return p.params.Has("host") ? p.params.String("host") : std::string();
  };
  auto set_probe_host = [](ProbeSpec& p, const std::string& m) {
    p.params.Set("host", Param{m, p.params.MarkOf("host")});
  };
  each(
      s.faults, [](const FaultSpec& f) { return f.host; },
      [](FaultSpec& f, const std::string& m) { f.host = m; });
  each(
      s.steady_state, [&](const SteadyCheck& c) { return probe_host(c.probe); },
      [&](SteadyCheck& c, const std::string& m) { set_probe_host(c.probe, m); });
  each(
      s.watches, [&](const WatchSpec& w) { return probe_host(w.probe); },
      [&](WatchSpec& w, const std::string& m) { set_probe_host(w.probe, m); });
  each(
      s.abort_when, [&](const StopCondition& c) { return probe_host(c.probe); },
      [&](StopCondition& c, const std::string& m) { set_probe_host(c.probe, m); });
  // What is one thing cannot be on many hosts.
  for (const auto& svc : s.services) {
    if (group(svc.host)) {
      in.ErrorAt(svc.mark, "service '" + svc.name + "' runs on one host; '" + svc.host +
                               "' is a group of the inventory (name one of its hosts)");
    }
  }
  for (const auto& step : s.recovery.remediation) {
    if (group(step.host)) {
      in.ErrorAt(step.mark, "a remediation step runs on one host; '" + step.host + "' is a group");
    }
  }
  for (const auto& f : s.faults) {
    if (f.with.Has("peer") && group(f.with.String("peer"))) {
      in.ErrorAt(f.with.MarkOf("peer"),
                 "a fault's peer is one host; '" + f.with.String("peer") + "' is a group");
    }
  }
  if (s.data) {
    for (const ProbeSpec* p : {&s.data->writer, &s.data->verifier}) {
      if (group(probe_host(*p))) {
        in.ErrorAt(p->params.MarkOf("host"),
                   "a data check runs on one host; '" + probe_host(*p) + "' is a group");
      }
    }
  }
}

void PlaceOnHosts(Reader& in, Scenario& s) {
  std::map<std::string, std::string> host_of;  // service -> its host ("" here)
  for (const auto& svc : s.services) host_of[svc.name] = svc.host;
  // What acts on a service acts where the service runs: a signal must reach its process
  // group, which only that host's agent knows.
  for (auto& f : s.faults) {
    if (!f.target || f.target->service.empty()) continue;
    auto it = host_of.find(f.target->service);
    if (it == host_of.end()) continue;
    if (f.host.empty()) {
      f.host = it->second;
    } else if (f.host != it->second) {
      in.ErrorAt(f.mark, "fault '" + f.name + "' targets service '" + f.target->service +
                             "', which runs " +
                             (it->second.empty() ? "here" : "on host '" + it->second + "'") +
                             ", but names host '" + f.host + "'");
    }
  }
  auto probe = [&](ProbeSpec& p) {
    if (!p.params.Has("service")) return;
    auto it = host_of.find(p.params.String("service"));
    if (it == host_of.end() || it->second.empty()) return;
    if (!p.params.Has("host")) {
      p.params.Set("host", Param{it->second, p.params.MarkOf("service")});
    } else if (p.params.String("host") != it->second) {
      in.ErrorAt(p.params.MarkOf("host"), "service '" + p.params.String("service") +
                                              "' runs on host '" + it->second + "', not on host '" +
                                              p.params.String("host") + "'");
    }
  };
  for (auto& svc : s.services) {
    if (svc.ready) probe(*svc.ready);
  }
  for (auto& c : s.steady_state) probe(c.probe);
  for (auto& w : s.watches) probe(w.probe);
  for (auto& c : s.abort_when) probe(c.probe);
}

void CheckRunnable(Reader& in, const Scenario& s, bool require_runnable) {
  std::set<std::string> said;
  auto report = [&](Mark m, const std::string& msg) {
    if (!said.insert(msg).second) return;  // once per kind/action is enough
    if (require_runnable) {
      in.ErrorAt(m, msg);
    } else {
      in.NoteAt(m, msg);
    }
  };
  ForEachProbe(s, [&](const ProbeSpec& p, const ServiceSpec*) {
    const ProbeKind* k = FindProbeKind(p.kind);
    if (!k) return;
    std::string why = WhyNotRunnable(*k);
    if (!why.empty()) report(p.mark, "probe kind '" + p.kind + "' cannot run here: " + why);
  });
  for (const auto& f : s.setup) {
    const FaultAction* a = FindFaultAction(f.action);
    if (!a) continue;
    std::string why = WhyNotRunnable(*a);
    if (!why.empty()) report(f.action_mark, "action '" + f.action + "' cannot run here: " + why);
  }
  for (const auto& f : s.faults) {
    const FaultAction* a = FindFaultAction(f.action);
    if (!a) continue;
    std::string why = WhyNotRunnable(*a);
    if (!why.empty()) report(f.action_mark, "action '" + f.action + "' cannot run here: " + why);
  }
}

std::string OutsideAllowPathsStatically(const std::string& path,
                                        const std::vector<std::string>& allow,
                                        const std::string& workdir) {
  std::string wd = workdir.empty() ? kVirtualWorkdir : workdir;
  if (wd.find("${") != std::string::npos) return "";
  auto p = Concrete(path, wd);
  if (!p) return "";
  fs::path real = Resolve(*p);
  std::vector<std::string> roots = allow.empty() ? std::vector<std::string>{"${workdir}"} : allow;
  std::string shown;
  for (const auto& a : roots) {
    auto root = Concrete(a, wd);
    if (!root) return "";  // an allowed root known only at run time
    fs::path r = Resolve(*root);
    if (PathWithin(real, r)) return "";
    shown += (shown.empty() ? "" : ", ") + a;
  }
  std::string why = path + " is outside settings.allow_paths [" + shown + "]";
  if (real.string().rfind(kVirtualWorkdir, 0) != 0 && real != p->lexically_normal()) {
    why += " (it resolves to " + real.string() + ")";
  }
  return why;
}

}  // namespace firedrill
