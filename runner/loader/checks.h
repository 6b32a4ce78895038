// The checks that need the whole drill: names used in one section and defined in another,
// the blast radius (file and disk faults inside settings.allow_paths, process targets the
// drill did not start named in settings.allow_processes), and whether this build can run
// every probe kind and fault action the drill uses. Each problem is reported where the
// offending value is written.
#pragma once

#include <string>
#include <vector>

#include "runner/drill/scenario.h"
#include "runner/loader/reader.h"
#include "runner/loader/sections.h"

namespace firedrill {

void CheckReferences(Reader& in, const DrillRefs& refs, const Scenario& s);
void CheckBlastRadius(Reader& in, const DrillRefs& refs, const Scenario& s);
// Kinds and actions this build or machine cannot run: errors when `require_runnable`
// (what `run` needs), notes otherwise (what `validate` says).
// Puts what acts on a service where the service runs (a fault or a process probe of a
// service with `host:` runs on that host), and refuses a `host:` that contradicts it.
void PlaceOnHosts(Reader& in, Scenario& s);
// `host: GROUP` (an inventory's group, `hosts_from:`) on a fault, a steady-state check, a
// watch or a stop condition: one copy per member host, NAME@MEMBER. Refuses a group where
// only one host can be meant (a service, a data check, a partition's peer).
void ExpandGroups(Reader& in, Scenario& s);
void CheckRunnable(Reader& in, const Scenario& s, bool require_runnable);

// The static half of the file blast radius, on the drill's text before anything runs:
// `path` and the allow_paths entries may use ${workdir} (`workdir` is settings.workdir as
// written, "" for a temporary one). Returns why the path is outside, or "" when it is
// inside or cannot be judged before the run (it uses ${env:...} or ${port:...}); the run
// checks again on the real filesystem, symlinks resolved, right before it acts
// (runner/base/paths.h).
std::string OutsideAllowPathsStatically(const std::string& path,
                                        const std::vector<std::string>& allow,
                                        const std::string& workdir);

}  // namespace firedrill
