// firedrill's command line. One table (kCommands) drives both dispatch and `firedrill help`.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "injectors/fault_registry.h"
#include "reports/json_report.h"
#include "reports/terminal.h"
#include "runner/base/suggest.h"
#include "runner/engine/engine.h"
#include "runner/engine/score.h"
#include "runner/journal/journal.h"
#include "runner/loader/catalog.h"
#include "runner/loader/loader.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace {

constexpr int kExitInvalid = 2;
constexpr int kExitError = 4;

struct Options {
  std::vector<std::string> files;
  std::string file;
  std::string report_dir;
  bool markdown = false;
  bool keep_workdir = false;
  bool quiet = false;
  std::string state_dir;
};

std::atomic<int> g_interrupts{0};

void OnSignal(int) {
  int n = ++g_interrupts;
  if (n == 2) {
    const char msg[] =
        "\nfiredrill: still rolling back, please wait (Ctrl-C once more forces an exit; the "
        "journal then keeps what is left for `firedrill rollback`)\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  } else if (n >= 3) {
    const char msg[] =
        "\nfiredrill: forced exit before rollback finished; run `firedrill rollback` to undo "
        "what is left\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(kExitError);
  }
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void PrintDiagnostics(const LoadResult& r) {
  for (const auto& d : r.errors) std::fprintf(stderr, "%s\n", d.ToString("error").c_str());
  for (const auto& d : r.notes) std::fprintf(stderr, "%s\n", d.ToString("note").c_str());
}

int CmdValidate(const Options& o) {
  int bad = 0;
  for (const auto& f : o.files) {
    LoadResult r = LoadScenarioFile(f);
    PrintDiagnostics(r);
    if (!r.ok()) {
      ++bad;
    } else if (!o.quiet) {
      std::printf("%s: ok (%s: %zu service(s), %zu fault(s), %zu watch(es))\n", f.c_str(),
                  r.scenario->name.c_str(), r.scenario->services.size(), r.scenario->faults.size(),
                  r.scenario->watches.size());
    }
  }
  return bad ? kExitInvalid : 0;
}

std::string DefaultReportDir(const std::string& name) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return "firedrill-out/" + name + "-" + stamp;
}

int CmdRun(const Options& o) {
  LoadResult r = LoadScenarioFile(o.file, LoadOptions{.require_runnable = true});
  PrintDiagnostics(r);
  if (!r.ok()) return kExitInvalid;
  const Scenario& s = *r.scenario;

  std::string report_dir = o.report_dir.empty() ? DefaultReportDir(s.name) : o.report_dir;
  std::error_code ec;
  fs::create_directories(report_dir, ec);
  if (ec) {
    std::fprintf(stderr, "firedrill: cannot create report directory %s: %s\n", report_dir.c_str(),
                 ec.message().c_str());
    return kExitInvalid;
  }

  InstallSignalHandlers();
  TerminalView view(stdout, TerminalView::WantColour(stdout));
  EngineOptions eo;
  eo.report_dir = report_dir;
  eo.interrupt = &g_interrupts;
  eo.keep_workdir = o.keep_workdir;
  eo.state_dir = o.state_dir;
  eo.drill_file = fs::absolute(o.file, ec).string();
  if (!o.quiet) eo.sink = [&view](const Event& e) { view.OnEvent(e); };
  if (!o.quiet) {
    std::printf("firedrill %s: %s (%s)\n", FIREDRILL_VERSION, s.name.c_str(), o.file.c_str());
    std::fflush(stdout);
  }
  RunRecord rec = RunDrill(s, eo);
  Outcome out = Score(s, rec);

  const std::string report_path = report_dir + "/report.json";
  Status st = WriteJsonReport(report_path, ReportJson(s, rec, out, o.file));
  view.PrintSummary(s, rec, out, report_dir);
  if (!st.ok()) {
    std::fprintf(stderr, "firedrill: cannot write %s: %s\n", report_path.c_str(),
                 st.message().c_str());
    return kExitError;
  }
  return out.exit_code;
}

int CmdRollback(const Options& o) {
  const std::string state_dir = o.state_dir.empty() ? DefaultStateDir() : o.state_dir;
  std::vector<std::string> paths;
  for (const auto& f : o.files) {
    std::error_code ec;
    paths.push_back(fs::is_directory(f, ec) ? f + "/journal" : f);
  }
  const bool named = !paths.empty();
  if (!named) {
    for (const auto& d : RemoveAbandonedRuns(state_dir)) {
      if (!o.quiet) {
        std::printf(
            "%s\n  removed: the run died before its journal was written; it changed "
            "nothing\n",
            d.c_str());
      }
    }
    paths = UnfinishedJournals(state_dir);
  }
  if (paths.empty()) {
    if (!o.quiet)
      std::printf("nothing to roll back (no unfinished journal in %s/runs)\n", state_dir.c_str());
    return 0;
  }
  int rc = 0;
  for (const auto& p : paths) {
    ReplayResult r = ReplayJournal(p, FaultUndoKinds(), UndoContext{Env::Default()});
    std::printf("%s\n", p.c_str());
    for (const auto& l : r.lines) std::printf("  %s\n", l.c_str());
    for (const auto& l : r.left) std::printf("  LEFT: %s\n", l.c_str());
    if (!r.left.empty() || (named && r.skipped_live)) rc = kExitError;
  }
  std::fflush(stdout);
  return rc;
}

int CmdFaults(const Options& o) {
  std::fputs((o.markdown ? FaultCatalogMarkdown() : FaultCatalogText()).c_str(), stdout);
  return 0;
}

int CmdProbes(const Options& o) {
  std::fputs((o.markdown ? ProbeCatalogMarkdown() : ProbeCatalogText()).c_str(), stdout);
  return 0;
}

int CmdScore(const Options&) {
  std::printf("%s\n", kScoreFormula);
  return 0;
}

struct Command {
  const char* name;
  const char* help;
  void (*setup)(CLI::App* app, Options* o);
  int (*run)(const Options& o);
};

const Command kCommands[] = {
    {"run", "run a drill: start, check, inject, watch, score, roll back, report",
     [](CLI::App* a, Options* o) {
       a->add_option("file", o->file, "drill file (YAML)")->required();
       a->add_option("--report-dir", o->report_dir,
                     "where report.json and service logs go (default firedrill-out/NAME-TIME)");
       a->add_flag("--keep-workdir", o->keep_workdir, "keep a temporary workdir after the run");
       a->add_flag("-q,--quiet", o->quiet, "no live timeline, summary only");
       a->add_option("--state-dir", o->state_dir,
                     "where the rollback journal goes (default $FIREDRILL_STATE_DIR, "
                     "$XDG_STATE_HOME/firedrill or ~/.local/state/firedrill)");
     },
     CmdRun},
    {"rollback", "undo whatever a run that died left behind, from its journal (idempotent)",
     [](CLI::App* a, Options* o) {
       a->add_option("journals", o->files,
                     "journal files or run directories (default: every unfinished one)");
       a->add_option("--state-dir", o->state_dir, "state directory to search (as for run)");
       a->add_flag("-q,--quiet", o->quiet, "print only what was undone");
     },
     CmdRollback},
    {"validate", "check drill files without touching anything",
     [](CLI::App* a, Options* o) {
       a->add_option("files", o->files, "drill files (YAML)")->required();
       a->add_flag("-q,--quiet", o->quiet, "print errors only");
     },
     CmdValidate},
    {"faults", "list every fault action with its fields, defaults and an example",
     [](CLI::App* a, Options* o) { a->add_flag("--markdown", o->markdown, "as Markdown tables"); },
     CmdFaults},
    {"probes", "list every probe kind with its fields, defaults and an example",
     [](CLI::App* a, Options* o) { a->add_flag("--markdown", o->markdown, "as Markdown tables"); },
     CmdProbes},
    {"score", "print the scoring formula", [](CLI::App*, Options*) {}, CmdScore},
};

}  // namespace
}  // namespace firedrill

int main(int argc, char** argv) {
  using namespace firedrill;
  CLI::App app{"firedrill: chaos and disaster-recovery game-days, scored"};
  app.set_version_flag("--version", FIREDRILL_VERSION);
  app.require_subcommand(1);
  Options opts;
  std::vector<std::pair<CLI::App*, const Command*>> subs;
  for (const Command& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    c.setup(sub, &opts);
    subs.emplace_back(sub, &c);
  }
  app.footer(
      "Exit codes: 0 all objectives met, 1 an objective missed, 2 invalid drill or usage,\n"
      "3 aborted (stop condition or operator), 4 error or a rollback that did not complete.");
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const Command& c : kCommands) names.push_back(c.name);
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::fprintf(stderr, "firedrill: unknown command '%s'%s\ncommands: %s (firedrill --help)\n",
                   argv[1], DidYouMean(argv[1], names).c_str(), list.c_str());
      return kExitInvalid;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitInvalid;
  }
  for (auto& [sub, cmd] : subs) {
    if (sub->parsed()) return cmd->run(opts);
  }
  return kExitInvalid;
}
