#include "runner/engine/workdir.h"

#include <stdlib.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <vector>

#include "runner/base/proc.h"
#include "runner/drill/expand.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace {

constexpr const char* kWorkdirMarker = ".firedrill-workdir";

}  // namespace

Result<Workdir> MakeWorkdir(const Scenario& drill, const std::string& label) {
  Workdir out;
  std::error_code ec;
  if (drill.settings.workdir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/firedrill-" + label + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) return Status::Io("cannot create a work directory under " + tmpl);
    out.path = buf.data();
    out.temporary = true;
  } else {
    Expander env_only;
    auto w = env_only.Expand(drill.settings.workdir);
    if (!w.ok()) return w.status().Annotate("settings.workdir");
    out.path = *w;
    if (fs::exists(out.path, ec)) {
      bool ours = fs::exists(fs::path(out.path) / kWorkdirMarker, ec);
      bool empty = fs::is_directory(out.path, ec) && fs::is_empty(out.path, ec);
      if (!ours && !empty) {
        return Status::Invalid("settings.workdir " + out.path +
                               " exists and was not created by firedrill (no " + kWorkdirMarker +
                               "); refusing to empty it");
      }
      fs::remove_all(out.path, ec);
      if (ec) return Status::Io("cannot empty workdir " + out.path + ": " + ec.message());
    }
    fs::create_directories(out.path, ec);
    if (ec) return Status::Io("cannot create workdir " + out.path + ": " + ec.message());
  }
  std::ofstream(fs::path(out.path) / kWorkdirMarker)
      << "created by firedrill for " << drill.name << "\n";
  return out;
}

Result<std::unique_ptr<Journal>> CreateRunJournal(const std::string& state_dir,
                                                  const RunIdentity& run, UndoKinds kinds) {
  char stamp[32];
  std::time_t now = std::chrono::system_clock::to_time_t(run.started_at);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const std::string run_id = run.drill_name + "-" + stamp + "-" + std::to_string(getpid());
  auto self = ReadProcStat(getpid());
  return Journal::Create(state_dir + "/runs/" + run_id,
                         {{"run", run_id},
                          {"drill", run.drill_name},
                          {"file", run.drill_file},
                          {"workdir", run.workdir},
                          {"pid", getpid()},
                          {"pid_start", self ? self->start_ticks : 0}},
                         kinds);
}

}  // namespace firedrill
