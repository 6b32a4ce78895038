// The sections of a drill (docs/drill-format.md), each read into the model
// (runner/drill/scenario.h). A section reports its own problems at their positions and
// fills in what it could read; references to other sections (a service a probe names, a
// host a fault runs on) are collected for the checks that run once every section is known
// (runner/loader/checks.h).
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/drill/scenario.h"
#include "runner/loader/fields.h"
#include "runner/loader/locality.h"
#include "runner/loader/reader.h"

namespace firedrill {

// A name used in one place and defined in another, and where it was used.
struct NameRef {
  std::string name;
  Mark mark;
};

// What the sections saw that only the whole drill can judge.
struct DrillRefs {
  std::vector<NameRef> services;  // {service: NAME} in targets and probes
  std::vector<NameRef> hosts;     // host: NAME
  std::vector<std::string> host_names;
  // Fault targets that name processes the drill may not have started: {name: EXE} (name is
  // EXE) and {pid: N} (name is N), at the value's position.
  std::vector<NameRef> process_names;
  std::vector<NameRef> process_pids;
};

class DrillParser {
 public:
  explicit DrillParser(Reader& reader) : in_(reader), fields_(reader, locality_) {}

  // Reads every section of `root` (a map) into `s`.
  void Parse(const YAML::Node& root, Scenario& s);
  const DrillRefs& refs() const { return refs_; }

 private:
  // A probe: one kind's map, plus the keys in `extras` beside it (`within` of a service's
  // `ready`, `every` of the data writer), which go to `extra_out`.
  std::optional<ProbeSpec> ReadProbe(const YAML::Node& n, const std::string& where,
                                     const std::vector<std::string>& extras = {},
                                     Reader::Entries* extra_out = nullptr,
                                     RefScope scope = RefScope::kNormal);

  void ReadTop(const Reader::Entries& k, Scenario& s);
  void ReadSettings(const YAML::Node& n, Settings& s);
  void ReadServices(const YAML::Node& n, std::vector<ServiceSpec>& out);
  void ReadHosts(const YAML::Node& n, std::vector<HostSpec>& out);
  void ReadInventory(const YAML::Node& n, Scenario& s);
  void ReadSteady(const YAML::Node& n, std::vector<SteadyCheck>& out);
  void ReadFaults(const YAML::Node& n, std::vector<FaultSpec>& out);
  void ReadSetup(const YAML::Node& n, std::vector<FaultSpec>& out);
  // The fields of one fault once its action is known.
  void ReadFaultAction(const YAML::Node& item, Reader::Entries& k, FaultSpec& f,
                       const std::string& where);
  std::optional<Target> ReadTarget(const YAML::Node& n, const std::string& where);
  void ReadWatches(const YAML::Node& n, std::vector<WatchSpec>& out);
  void ReadData(const YAML::Node& n, std::optional<DataSpec>& out);
  void ReadRecovery(const YAML::Node& n, Recovery& r);
  void ReadRemediation(const YAML::Node& item, std::vector<RemediationStep>& out);
  void ReadAbort(const YAML::Node& n, std::vector<StopCondition>& out);
  void ReadArtifacts(const YAML::Node& n, Scenario& s);
  void ReadTraining(const YAML::Node& n, Training& t);

  Reader& in_;
  Locality locality_;
  FieldParser fields_;
  DrillRefs refs_;
};

}  // namespace firedrill
