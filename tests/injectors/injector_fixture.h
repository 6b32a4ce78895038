// What an injector test needs around a fault: a work directory, a journal in a state
// directory beside it, and a RunContext tying them together. Everything lives under one
// TempDir and goes when the test ends, pass or fail.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "injectors/fault_registry.h"
#include "runner/drill/context.h"
#include "runner/drill/fault.h"
#include "runner/journal/journal.h"
#include "tests/testing.h"

namespace firedrill::testing {

// Services by name, as a test declares them.
class Directory final : public ServiceDirectory {
 public:
  std::map<std::string, pid_t> groups;
  std::optional<pid_t> ProcessGroup(const std::string& name) const override {
    auto it = groups.find(name);
    if (it == groups.end()) return std::nullopt;
    return it->second;
  }
};

struct InjectorFixture {
  TempDir dir;
  std::string workdir = dir / "work";
  std::string state_dir = dir / "state";
  Expander expander{workdir, {}};
  Directory services;
  std::unique_ptr<Journal> journal;
  RunContext ctx;

  // `allow`: settings.allow_paths as expanded; empty means the workdir alone.
  explicit InjectorFixture(Env* env = Env::Default(), std::vector<std::string> allow = {}) {
    std::filesystem::create_directories(workdir);
    auto j = Journal::Create(state_dir + "/runs/test", {{"run", "test"}, {"drill", "test"}},
                             FaultUndoKinds());
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    if (j.ok()) journal = std::move(*j);
    ctx.env = env;
    ctx.expander = &expander;
    ctx.services = &services;
    ctx.workdir = workdir;
    ctx.allow_paths = allow.empty() ? std::vector<std::string>{workdir} : allow;
    ctx.journal = journal.get();
  }
  std::string journal_path() const { return state_dir + "/runs/test/journal"; }
};

// The figure `name` of `fault` (Fault::figures), or -1 when it has none of that name: no
// figure is negative, so a missing one fails any bound a test sets.
inline double Figure(const Fault& fault, const std::string& name) {
  auto it = fault.figures().find(name);
  return it == fault.figures().end() ? -1 : it->second;
}

}  // namespace firedrill::testing
