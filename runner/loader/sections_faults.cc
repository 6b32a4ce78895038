// What a drill checks and does: the steady state, the faults and their targets, the
// watches, the data check, recovery and the stop conditions.
#include "injectors/fault_registry.h"
#include "runner/base/suggest.h"
#include "runner/loader/sections.h"

namespace firedrill {
void DrillParser::ReadSteady(const YAML::Node& n, std::vector<SteadyCheck>& out) {
  in_.ForEachNamed(
      n, "steady_state", "steady_state check", Names({"name", "probe"}),
      [&](const YAML::Node& item, Reader::Entries& k, const std::string& name) {
        SteadyCheck c;
        c.mark = MarkOf(item);
        c.name = name;
        if (!k.count("probe")) {
          in_.Error(item, "steady_state check '" + c.name + "' needs a `probe`");
          return;
        }
        if (auto p = ReadProbe(k["probe"].value, "steady_state '" + c.name + "'.probe"))
          c.probe = std::move(*p);
        out.push_back(std::move(c));
      });
}

std::optional<Target> DrillParser::ReadTarget(const YAML::Node& n, const std::string& where) {
  if (!in_.IsMap(n, where)) return std::nullopt;
  auto k = in_.Keys(n, Names({"service", "pidfile", "pid", "name"}), where);
  if (k.size() != 1) {
    if (k.size() > 1 || n.size() == 0) {
      in_.Error(n, where + " names exactly one of service, pidfile, pid, name");
    }
    return std::nullopt;
  }
  Target t;
  t.mark = MarkOf(n);
  const auto& [key, e] = *k.begin();
  if (key == "pid") {
    auto v = in_.IntOf(e.value, where + ".pid", 2, 4194304);
    if (!v) return std::nullopt;
    t.pid = *v;
    refs_.process_pids.push_back({std::to_string(*v), MarkOf(e.value)});
    return t;
  }
  auto s = in_.Text(e.value, where + "." + key);
  if (!s) return std::nullopt;
  if (s->empty()) {
    in_.Error(e.value, where + "." + key + " must not be empty");
    return std::nullopt;
  }
  if (key == "service") {
    t.service = *s;
    refs_.services.push_back({*s, MarkOf(e.value)});
  } else if (key == "pidfile") {
    t.pidfile = *s;
  } else {
    t.name = *s;
    refs_.process_names.push_back({*s, MarkOf(e.value)});
  }
  return t;
}

void DrillParser::ReadFaults(const YAML::Node& n, std::vector<FaultSpec>& out) {
  in_.ForEachNamed(n, "faults", "fault",
                   Names({"name", "at", "action", "target", "with", "duration", "host"}),
                   [&](const YAML::Node& item, Reader::Entries& k, const std::string& name) {
                     FaultSpec f;
                     f.mark = MarkOf(item);
                     f.name = name;
                     ReadFaultAction(item, k, f, "fault '" + name + "'");
                     out.push_back(std::move(f));
                   });
}

// Setup steps are fault actions marked `setup`, made once before the services start: no
// time, no duration, no target.
void DrillParser::ReadSetup(const YAML::Node& n, std::vector<FaultSpec>& out) {
  in_.ForEachNamed(n, "setup", "setup step", Names({"name", "action", "with"}),
                   [&](const YAML::Node& item, Reader::Entries& k, const std::string& name) {
                     FaultSpec f;
                     f.mark = MarkOf(item);
                     f.name = name;
                     ReadFaultAction(item, k, f, "setup step '" + name + "'");
                     const FaultAction* a = FindFaultAction(f.action);
                     if (a && !a->setup) {
                       std::vector<std::string> steps;
                       for (const FaultAction* s : FaultActions()) {
                         if (s->setup) steps.push_back(s->name);
                       }
                       std::string list;
                       for (const auto& s : steps) list += (list.empty() ? "" : ", ") + s;
                       in_.Error(k["action"].value, "setup step '" + name + "': " + f.action +
                                                        " is a fault, not a setup step (setup "
                                                        "steps: " +
                                                        list + ")");
                     }
                     out.push_back(std::move(f));
                   });
}

void DrillParser::ReadFaultAction(const YAML::Node& item, Reader::Entries& k, FaultSpec& f,
                                  const std::string& where) {
  if (k.count("at")) {
    if (auto d = in_.DurationOf(k["at"].value, where + ".at", 0, 86400000)) f.at = *d;
  }
  if (k.count("duration")) {
    if (auto d = in_.DurationOf(k["duration"].value, where + ".duration", 0, 86400000))
      f.duration = *d;
  }
  if (k.count("host")) {
    if (auto s = in_.Scalar(k["host"].value, where + ".host")) {
      f.host = *s;
      refs_.hosts.push_back({*s, MarkOf(k["host"].value)});
    }
  }
  const FaultAction* action = nullptr;
  if (!k.count("action")) {
    in_.Error(item, where + " needs an `action` (see `firedrill faults`)");
  } else if (auto s = in_.Scalar(k["action"].value, where + ".action")) {
    f.action_mark = MarkOf(k["action"].value);
    action = FindFaultAction(*s);
    if (!action) {
      std::vector<std::string> actions;
      for (const FaultAction* a : FaultActions()) actions.push_back(a->name);
      in_.Error(k["action"].value, "unknown action '" + *s + "' in " + where +
                                       DidYouMean(*s, actions) +
                                       " (run `firedrill faults` for the list)");
    }
    f.action = *s;
  }
  if (k.count("target")) f.target = ReadTarget(k["target"].value, where + ".target");
  if (!action) return;
  if (action->target == Use::kRequired && !k.count("target")) {
    in_.Error(item,
              where + ": " + action->name +
                  " needs a `target`: {service: NAME} | {pidfile: PATH} | {pid: N} | {name: EXE}");
  }
  if (action->target == Use::kForbidden && k.count("target")) {
    in_.Error(k["target"].key,
              where + ": " + action->name + " takes no `target`; its fields go under `with`");
  }
  if (action->duration == Use::kRequired && !k.count("duration")) {
    in_.Error(item, where + ": " + action->name +
                        " needs a `duration` (how long the fault lasts before it is rolled back)");
  }
  if (action->duration == Use::kRequired && f.duration && f.duration->count() == 0) {
    in_.Error(k["duration"].value, where + ": " + action->name + " needs a duration above 0s");
  }
  if (action->duration == Use::kForbidden && f.duration && f.duration->count() > 0) {
    in_.Error(k["duration"].value,
              where + ": " + action->name +
                  " cannot be undone, so it takes no duration (remove it or use 0s)");
  }
  YAML::Node with = k.count("with") ? k["with"].value : YAML::Node();
  if (action->fields.empty() && k.count("with") && !with.IsNull() &&
      !(with.IsMap() && with.size() == 0)) {
    in_.Error(k["with"].key, where + ": " + action->name + " takes no `with` fields");
  } else if (auto p =
                 fields_.Parse(with, action->fields, where + ".with", RefScope::kNormal, f.mark)) {
    f.with = *p;
    if (f.with.Has("peer")) refs_.hosts.push_back({f.with.String("peer"), f.with.MarkOf("peer")});
    if (action->check) {
      if (auto e = action->check(f)) {
        in_.ErrorAt(e->mark.line ? e->mark : f.mark, where + ": " + e->message);
      }
    }
  }
}

void DrillParser::ReadWatches(const YAML::Node& n, std::vector<WatchSpec>& out) {
  in_.ForEachNamed(
      n, "watches", "watch", Names({"name", "kind", "probe", "within"}),
      [&](const YAML::Node& item, Reader::Entries& k, const std::string& name) {
        WatchSpec w;
        w.mark = MarkOf(item);
        w.name = name;
        const std::string where = "watch '" + w.name + "'";
        if (k.count("kind")) {
          if (auto s = in_.Scalar(k["kind"].value, where + ".kind")) {
            if (*s == "detection") {
              w.kind = WatchKind::kDetection;
            } else if (*s == "failover") {
              w.kind = WatchKind::kFailover;
            } else if (*s == "custom") {
              w.kind = WatchKind::kCustom;
            } else {
              in_.Error(k["kind"].value,
                        where + ".kind must be detection, failover or custom" +
                            DidYouMean(*s, Names({"detection", "failover", "custom"})));
            }
          }
        }
        if (!k.count("within")) {
          in_.Error(item,
                    where + " needs `within` (how fast it must respond after the first fault)");
        } else if (auto d = in_.DurationOf(k["within"].value, where + ".within", 1, 86400000)) {
          w.within = *d;
        }
        if (!k.count("probe")) {
          in_.Error(item, where + " needs a `probe`");
        } else if (auto p = ReadProbe(k["probe"].value, where + ".probe")) {
          w.probe = std::move(*p);
        }
        out.push_back(std::move(w));
      });
}

void DrillParser::ReadData(const YAML::Node& n, std::optional<DataSpec>& out) {
  if (!in_.IsMap(n, "data")) return;
  auto k = in_.Keys(n, Names({"writer", "verifier"}), "data");
  DataSpec d;
  d.mark = MarkOf(n);
  bool ok = true;
  if (!k.count("writer")) {
    in_.Error(n, "data needs a `writer` probe (a write that is acknowledged when it passes)");
    ok = false;
  } else {
    Reader::Entries extra;
    auto p = ReadProbe(k["writer"].value, "data.writer", Names({"every"}), &extra, RefScope::kData);
    if (p) {
      d.writer = std::move(*p);
    } else {
      ok = false;
    }
    if (extra.count("every")) {
      if (auto e = in_.DurationOf(extra["every"].value, "data.writer.every", 1, 3600000))
        d.every = *e;
    }
  }
  if (!k.count("verifier")) {
    in_.Error(n, "data needs a `verifier` probe (passes when write ${seq} survived)");
    ok = false;
  } else if (auto p =
                 ReadProbe(k["verifier"].value, "data.verifier", {}, nullptr, RefScope::kData)) {
    d.verifier = std::move(*p);
  } else {
    ok = false;
  }
  if (ok) out = std::move(d);
}

void DrillParser::ReadRecovery(const YAML::Node& n, Recovery& r) {
  if (!in_.IsMap(n, "recovery")) return;
  r.mark = MarkOf(n);
  auto k = in_.Keys(
      n, Names({"within", "steady_for", "max_data_loss", "remediation", "runbook", "hints"}),
      "recovery");
  if (k.count("within")) {
    if (auto d = in_.DurationOf(k["within"].value, "recovery.within", 1, 86400000)) r.within = *d;
  }
  if (k.count("steady_for")) {
    if (auto d = in_.DurationOf(k["steady_for"].value, "recovery.steady_for", 0, 86400000))
      r.steady_for = *d;
  }
  if (k.count("max_data_loss")) {
    if (auto v = in_.IntOf(k["max_data_loss"].value, "recovery.max_data_loss", 0, 0))
      r.max_data_loss = *v;
  }
  if (k.count("runbook")) {
    if (auto s = in_.Text(k["runbook"].value, "recovery.runbook")) r.runbook = *s;
  }
  if (k.count("remediation") && in_.IsSeq(k["remediation"].value, "recovery.remediation")) {
    for (const auto& item : k["remediation"].value) ReadRemediation(item, r.remediation);
  }
  if (k.count("hints") && in_.IsSeq(k["hints"].value, "recovery.hints")) {
    for (const auto& item : k["hints"].value) {
      if (!in_.IsMap(item, "each hint")) continue;
      auto hk = in_.Keys(item, Names({"after", "text"}), "hint");
      Hint h;
      h.mark = MarkOf(item);
      if (!hk.count("after")) {
        in_.Error(item, "a hint needs `after` (a duration)");
      } else if (auto d = in_.DurationOf(hk["after"].value, "hint.after", 0, 86400000)) {
        h.after = *d;
      }
      if (!hk.count("text")) {
        in_.Error(item, "a hint needs `text`");
      } else if (auto s = in_.Scalar(hk["text"].value, "hint.text")) {
        h.text = *s;
      }
      r.hints.push_back(std::move(h));
    }
  }
}

void DrillParser::ReadRemediation(const YAML::Node& item, std::vector<RemediationStep>& out) {
  if (!in_.IsMap(item, "each remediation step")) return;
  auto rk = in_.Keys(item, Names({"after", "run", "timeout", "host"}), "remediation step");
  RemediationStep step;
  step.mark = MarkOf(item);
  if (!rk.count("after")) {
    in_.Error(item, "a remediation step needs `after`: detection, failover, or a duration");
  } else if (auto s = in_.Scalar(rk["after"].value, "remediation.after")) {
    if (*s == "detection") {
      step.after = RemediationStep::After::kDetection;
    } else if (*s == "failover") {
      step.after = RemediationStep::After::kFailover;
    } else if (auto d = ParseDuration(*s); d.ok()) {
      step.after = RemediationStep::After::kOffset;
      step.offset = *d;
    } else {
      in_.Error(rk["after"].value, "remediation.after must be detection, failover or a duration: " +
                                       d.status().message() +
                                       DidYouMean(*s, Names({"detection", "failover"})));
    }
  }
  if (!rk.count("run")) {
    in_.Error(item, "a remediation step needs `run`");
  } else if (auto s = in_.Text(rk["run"].value, "remediation.run")) {
    step.run = *s;
  }
  if (rk.count("timeout")) {
    if (auto d = in_.DurationOf(rk["timeout"].value, "remediation.timeout", 1, 3600000))
      step.timeout = *d;
  }
  if (rk.count("host")) {
    if (auto h = in_.Scalar(rk["host"].value, "remediation.host")) {
      step.host = *h;
      refs_.hosts.push_back({*h, MarkOf(rk["host"].value)});
    }
  }
  out.push_back(std::move(step));
}

void DrillParser::ReadAbort(const YAML::Node& n, std::vector<StopCondition>& out) {
  if (!in_.IsSeq(n, "abort_when")) return;
  // Names are optional here (abort-1, abort-2, ... by position), but a name that is given
  // is checked like every other, and no two conditions share one.
  std::map<std::string, Mark> seen;
  int i = 0;
  for (const auto& item : n) {
    ++i;
    if (!in_.IsMap(item, "each abort_when condition")) continue;
    auto k = in_.Keys(item, Names({"name", "probe"}), "abort_when condition");
    StopCondition c;
    c.mark = MarkOf(item);
    c.name = "abort-" + std::to_string(i);
    Mark name_mark = c.mark;
    if (k.count("name")) {
      const YAML::Node& name = k["name"].value;
      auto s = in_.Scalar(name, "abort_when name");
      if (!s || !in_.CheckName(name, *s, "abort_when condition")) continue;
      c.name = *s;
      name_mark = MarkOf(name);
    }
    in_.UniqueName(seen, c.name, name_mark, "abort_when condition");
    if (!k.count("probe")) {
      in_.Error(item, "an abort_when condition needs a `probe`");
      continue;
    }
    if (auto p = ReadProbe(k["probe"].value, "abort_when '" + c.name + "'.probe"))
      c.probe = std::move(*p);
    out.push_back(std::move(c));
  }
}

}  // namespace firedrill
