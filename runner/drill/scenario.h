// The in-memory model of a `firedrill/v1` drill, as produced by the loader. Strings still
// hold their ${...} references; they are expanded at run time (runner/expand.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runner/drill/schema.h"

namespace firedrill {

// One probe: exactly one kind, and its validated fields.
struct ProbeSpec {
  std::string kind;  // "command", "tcp", ...
  Params params;
  Mark mark;
};

struct Settings {
  Millis probe_interval{500};
  Millis settle{10000};
  Millis timeout{600000};
  std::string workdir;                   // empty: a fresh directory under $TMPDIR
  std::vector<std::string> allow_paths;  // empty: just the workdir
  // Executable names (/proc/PID/comm) that {name:}, {pid:} and {pidfile:} targets may
  // signal without the drill having started them; empty: only the drill's own processes.
  std::vector<std::string> allow_processes;
  Millis stop_grace{5000};  // extension: SIGTERM -> SIGKILL grace at teardown
  // Extension: how long a host's agent waits for the controller's renewal before it rolls
  // its host back by itself (the dead-man); 0 turns the dead-man off.
  Millis lease{10000};
};

enum class RestartPolicy { kNever, kOnFailure };

struct ServiceSpec {
  std::string name;
  std::string run;
  std::optional<ProbeSpec> ready;
  Millis ready_within{10000};
  RestartPolicy restart = RestartPolicy::kNever;
  // Runs as this unprivileged user (empty: as firedrill), in a directory it owns,
  // ${workdir}/users/USER. Only firedrill running as root may (the loader checks).
  std::string user;
  // Extension: runs on this host of `hosts:` (its agent starts it and checks it ready).
  std::string host;
  Mark mark;
};

struct HostSpec {
  std::string name;
  std::string destination;
  std::vector<std::string> options;
  Mark mark;
};

struct SteadyCheck {
  std::string name;
  ProbeSpec probe;
  Mark mark;
};

// What a fault acts on. Exactly one of the members is set.
struct Target {
  std::string service;
  std::string pidfile;
  int64_t pid = 0;
  std::string name;  // executable name
  Mark mark;
  std::string Describe() const;
};

struct FaultSpec {
  std::string name;
  Millis at{0};
  std::string action;
  std::optional<Target> target;
  Params with;
  std::optional<Millis> duration;
  std::string host;
  Mark mark;
  Mark action_mark;
};

enum class WatchKind { kDetection, kFailover, kCustom };
const char* WatchKindName(WatchKind k);

struct WatchSpec {
  std::string name;
  WatchKind kind = WatchKind::kCustom;
  ProbeSpec probe;
  Millis within{0};
  Mark mark;
};

struct DataSpec {
  ProbeSpec writer;
  Millis every{100};
  ProbeSpec verifier;
  Mark mark;
};

// When a remediation step runs: after the first detection, after failover, or at an
// offset from the first fault.
struct RemediationStep {
  enum class After { kDetection, kFailover, kOffset };
  After after = After::kOffset;
  Millis offset{0};
  std::string run;
  Millis timeout{30000};
  std::string host;  // extension: run on this host of `hosts:`, by its agent
  Mark mark;
};

struct Hint {
  Millis after{0};
  std::string text;
  Mark mark;
};

struct Recovery {
  Millis within{60000};
  Millis steady_for{3000};
  std::optional<int64_t> max_data_loss;
  std::vector<RemediationStep> remediation;
  std::string runbook;
  std::vector<Hint> hints;
  Mark mark;
};

struct StopCondition {
  std::string name;
  ProbeSpec probe;
  Mark mark;
};

// How `firedrill train` plays the drill (`run` ignores it).
struct Training {
  // The first fault comes at a random moment within this once the steady state holds, so
  // that a trainee cannot just wait for it; `train --inject-within` overrides it.
  std::optional<Millis> inject_within;
  Mark mark;
};

struct Scenario {
  std::string file;  // as given on the command line
  std::string api_version;
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  // Files to keep from the run (paths or glob patterns, relative to the workdir, inside it
  // or settings.allow_paths): copied into REPORT_DIR/artifacts/ at teardown, before the
  // workdir goes.
  std::vector<std::string> artifacts;
  Settings settings;
  std::vector<ServiceSpec> services;
  std::vector<HostSpec> hosts;  // `hosts:`, then those of `hosts_from:` not named there
  // Extension: `hosts_from: INVENTORY` (an Ansible inventory), as written, and what
  // `ansible-inventory --list` said of it (handed on to the hosts' agents, which load the
  // drill without Ansible); its groups, by name, with their member hosts.
  std::string hosts_from;
  std::string inventory_json;
  std::map<std::string, std::vector<std::string>> host_groups;
  std::vector<SteadyCheck> steady_state;
  std::vector<FaultSpec> faults;
  // Extension: what the drill sets up before its services start and takes down after they
  // stop (a tmpfs, a loop-mounted image), with fault actions marked `setup`; no at or
  // duration. Journaled, so `firedrill rollback` takes it down after a crash too.
  std::vector<FaultSpec> setup;
  std::vector<WatchSpec> watches;
  std::optional<DataSpec> data;
  Recovery recovery;
  std::vector<StopCondition> abort_when;
  Training training;
  std::vector<std::string> port_names;  // every ${port:NAME} used, picked at run start
};

// Every probe of the drill, in file order of the sections: services' `ready` (with the
// service they check), steady-state checks, watches, stop conditions, the data writer and
// verifier (with null). What the loader checks and what a run's hosts must sample are
// found by the same walk.
void ForEachProbe(const Scenario& s,
                  const std::function<void(const ProbeSpec&, const ServiceSpec* service)>& fn);

}  // namespace firedrill
