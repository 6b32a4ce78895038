// junit.xml: a run's result in the JUnit XML form CI systems (GitLab, Jenkins, GitHub
// test reporters) read, so a pipeline shows which objective or watch of a drill missed.
// Rendered from report.json alone, so `firedrill report DIR` can render it again from a
// finished run and a gate of several drills gets one combined file. docs/junit.md is the
// format; it validates against both Jenkins' permissive junit-10 schema and the strict Ant
// JUnit schema (tests/reports/junit-10.xsd, tests/reports/ant-junit.xsd).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace firedrill {

struct JunitSuite {
  nlohmann::json report;  // a run's report.json, as written
  std::string summary;    // the terminal summary of that run (plain text), for <system-out>
};

struct JunitOptions {
  std::string hostname;  // "" = gethostname() ("localhost" if that fails)
};

// One <testsuites> document, one <testsuite> per run, in order (its `id` is the index).
// Never fails: a key the report lacks is rendered as absent or empty, so whatever the
// report holds, the output is well-formed XML in UTF-8.
std::string JunitXml(const std::vector<JunitSuite>& suites, const JunitOptions& options = {});

// "2026-11-22T00:03:23.466Z" -> "2026-11-22T00:03:23": the Ant schema's timestamp, UTC
// without a fraction or zone. "" when `started_at` is not in report.json's shape.
std::string JunitTimestamp(const std::string& started_at);

}  // namespace firedrill
