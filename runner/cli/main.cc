// firedrill's command line. One table (kCommands) drives both dispatch and `firedrill help`.
#include <langinfo.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "injectors/fault_registry.h"
#include "reports/history.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/push_metrics.h"
#include "reports/report_files.h"
#include "reports/terminal.h"
#include "runner/base/suggest.h"
#include "runner/base/values.h"
#include "runner/cli/ctl.h"
#include "runner/cli/report_dir.h"
#include "runner/cli/train.h"
#include "runner/engine/engine.h"
#include "runner/engine/remote/agent.h"
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
  std::string push_url;
  std::string history_path;  // "" = DefaultHistoryPath()
  bool no_history = false;
  std::string drill;    // history: one drill's runs
  int last = 0;         // history: the last N runs of each drill (0 = all)
  std::string trainee;  // history: one trainee's training sessions
  std::string format = "table";
  std::string report_dir;
  bool markdown = false;
  bool keep_workdir = false;
  bool dry_run = false;
  bool quiet = false;
  std::string state_dir;
  TrainArgs train;
  std::string agent_dir;   // agent: this run's directory on this host
  std::string agent_host;  // agent: the drill's name for this host
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

// The drill files a `run` names: each argument a file, or a directory whose *.yaml and
// *.yml files (not its subdirectories) are taken in name order.
std::vector<std::string> DrillFiles(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const auto& a : args) {
    std::error_code ec;
    if (!fs::is_directory(a, ec)) {
      files.push_back(a);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(a, ec)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) {
        found.push_back(e.path().string());
      }
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// What one run leaves for the gate.
struct RunResult {
  std::string file;
  std::string name;
  std::string report_dir;
  nlohmann::json report;  // null when it did not run
  int exit_code = kExitError;
  std::string summary;  // the end-of-run summary, without colour
};

// One junit.xml for the whole gate, one <testsuite> per drill, so CI shows every drill of
// the gate in one test report. A drill the gate did not reach (interrupted) is there too,
// as an aborted run, so that a job never looks complete when it was not.
Status WriteGateJunit(const std::string& dir, const std::vector<RunResult>& runs) {
  std::vector<JunitSuite> suites;
  for (const auto& r : runs) {
    nlohmann::json report = r.report;
    if (!report.is_object()) {
      report = {{"format", kReportFormat},
                {"name", r.name},
                {"file", r.file},
                {"verdict", "aborted"},
                {"score", 0},
                {"exit_code", 3},
                {"aborted_reason", "not run: the gate was interrupted before it"},
                {"reasons", {"not run: the gate was interrupted before it"}}};
    }
    suites.push_back({std::move(report), r.summary});
  }
  return WriteCombinedJunit(dir, suites);
}

// Pushes the run's figures when asked; the push's result goes on the report's timeline
// (it happened after the engine's last event) and on the terminal, and never changes the
// verdict: a Pushgateway that is down must not fail a drill that passed.
void PushIfAsked(const Options& o, nlohmann::json& report, bool live) {
  if (o.push_url.empty()) return;
  // A dry run is a rehearsal of the drill, not a result of the system: its score of 0 and
  // missing figures must not replace the last real run's on the dashboards.
  if (o.dry_run) {
    if (live) std::printf("  metrics not pushed: a dry run\n");
    return;
  }
  Status st = PushMetrics(o.push_url, report);
  int64_t t_ms = 0;
  if (report["timeline"].is_array() && !report["timeline"].empty()) {
    t_ms = report["timeline"].back().value("t_ms", int64_t{0});
  }
  nlohmann::json e = {{"t_ms", t_ms},
                      {"type", st.ok() ? "metrics.pushed" : "metrics.push_failed"},
                      {"name", "pushgateway"},
                      {"detail", st.ok() ? o.push_url : st.message()}};
  report["timeline"].push_back(e);
  if (!st.ok()) {
    std::fprintf(stderr, "firedrill: warning: metrics not pushed: %s\n", st.message().c_str());
  } else if (live) {
    std::printf("  metrics pushed to %s\n", o.push_url.c_str());
  }
}

RunResult RunOne(const Options& o, const std::string& file, const Scenario& s,
                 const std::string& report_dir) {
  RunResult res{file, s.name, report_dir, nullptr, kExitError, ""};
  std::error_code ec;
  fs::create_directories(report_dir, ec);
  if (ec) {
    std::fprintf(stderr, "firedrill: cannot create report directory %s: %s\n", report_dir.c_str(),
                 ec.message().c_str());
    res.exit_code = kExitInvalid;
    return res;
  }
  // The view adds the status line only on a terminal (a pipe or CI log gets event lines).
  TerminalView view(stdout, TerminalView::WantColour(stdout), o.quiet ? nullptr : &s);
  EngineOptions eo;
  eo.report_dir = report_dir;
  eo.interrupt = &g_interrupts;
  eo.keep_workdir = o.keep_workdir;
  eo.dry_run = o.dry_run;
  eo.state_dir = o.state_dir;
  eo.drill_file = fs::absolute(file, ec).string();
  if (!o.quiet) eo.sink = [&view](const Event& e) { view.OnEvent(e); };
  if (!o.quiet) {
    std::printf("firedrill %s: %s (%s)\n", FIREDRILL_VERSION, s.name.c_str(), file.c_str());
    std::fflush(stdout);
  }
  RunRecord rec = RunDrill(s, eo);
  view.Finish();  // the status line goes before anything else is printed
  Outcome out = Score(s, rec);

  res.report = ReportJson(s, rec, out, file);
  PushIfAsked(o, res.report, !o.quiet);
  res.summary = TerminalView(nullptr, /*colour=*/false).FormatSummary(s, rec, out, report_dir);
  Status st = WriteReportFiles(report_dir, res.report, res.summary);
  view.PrintSummary(s, rec, out, report_dir);
  res.exit_code = out.exit_code;
  if (!o.no_history) {
    // The history is for trends: a store that cannot be written is a warning, and the
    // verdict stays what the drill earned.
    const std::string db = o.history_path.empty() ? DefaultHistoryPath() : o.history_path;
    Status hs = AppendRun(db, res.report, fs::absolute(report_dir, ec).string());
    if (!hs.ok()) {
      std::fprintf(stderr, "firedrill: warning: run not added to the history %s: %s\n", db.c_str(),
                   hs.message().c_str());
    }
  }
  if (!st.ok()) {
    std::fprintf(stderr, "firedrill: cannot write the report in %s: %s\n", report_dir.c_str(),
                 st.message().c_str());
    res.exit_code = kExitError;
  }
  return res;
}

// The most severe of two exit codes: 4 (error), then 3 (aborted), then 1 (failed).
int MoreSevere(int a, int b) {
  auto rank = [](int c) { return c == kExitError ? 3 : c == 3 ? 2 : c == 0 ? 0 : 1; };
  return rank(b) > rank(a) ? b : a;
}

void PrintGateSummary(const std::vector<RunResult>& runs, const std::string& dir) {
  size_t name_w = 5;
  for (const auto& r : runs) name_w = std::max(name_w, r.name.size());
  std::printf("\n  gate: %zu drill(s)\n\n  %-*s  %-8s  %5s  %-9s  %-9s  %s\n", runs.size(),
              static_cast<int>(name_w), "drill", "verdict", "score", "MTTD", "MTTR", "report");
  auto seconds = [](const nlohmann::json& m, const char* key) {
    return m.is_object() && m.contains(key) && m[key].is_number_integer()
               ? HumanMillis(m[key].get<int64_t>())
               : std::string("-");
  };
  for (const auto& r : runs) {
    const bool ran = r.report.is_object();
    const nlohmann::json m = ran ? r.report["metrics"] : nlohmann::json();
    std::printf("  %-*s  %-8s  %5s  %-9s  %-9s  %s\n", static_cast<int>(name_w), r.name.c_str(),
                ran ? r.report.value("verdict", std::string("?")).c_str() : "not run",
                ran ? std::to_string(r.report.value("score", 0)).c_str() : "-",
                seconds(m, "detected_after_ms").c_str(), seconds(m, "recovered_after_ms").c_str(),
                ran ? r.report_dir.c_str() : "-");
  }
  std::printf("\n  junit  %s/junit.xml\n", dir.c_str());
  std::fflush(stdout);
}

int CmdRun(const Options& o) {
  const std::vector<std::string> files = DrillFiles(o.files);
  if (files.empty()) {
    std::fprintf(stderr, "firedrill: no drill files in %s\n",
                 o.files.empty() ? "(nothing given)" : o.files.front().c_str());
    return kExitInvalid;
  }
  // Every drill is validated before any runs: a gate with a broken drill runs nothing.
  std::vector<LoadResult> loaded;
  std::map<std::string, std::string> by_name;
  bool invalid = false;
  for (const auto& f : files) {
    loaded.push_back(LoadScenarioFile(f, LoadOptions{.require_runnable = true}));
    PrintDiagnostics(loaded.back());
    if (!loaded.back().ok()) {
      invalid = true;
      continue;
    }
    const std::string& name = loaded.back().scenario->name;
    auto [it, fresh] = by_name.emplace(name, f);
    if (!fresh) {
      std::fprintf(stderr,
                   "%s: error: drill name '%s' is also the name of %s; a gate writes "
                   "each drill's report to DIR/NAME, so names must differ\n",
                   f.c_str(), name.c_str(), it->second.c_str());
      invalid = true;
    }
  }
  if (invalid) return kExitInvalid;

  InstallSignalHandlers();
  const bool gate = files.size() > 1 || fs::is_directory(o.files.front());
  if (!gate) {
    const Scenario& s = *loaded.front().scenario;
    return RunOne(o, files.front(), s,
                  o.report_dir.empty() ? DefaultReportDir(s.name) : o.report_dir)
        .exit_code;
  }

  const std::string dir = o.report_dir.empty() ? DefaultReportDir("gate") : o.report_dir;
  std::vector<RunResult> runs;
  int rc = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const Scenario& s = *loaded[i].scenario;
    // An operator's Ctrl-C ends the gate: the drills after it are not run (exit 3 at least).
    if (g_interrupts.load() > 0) {
      runs.push_back({files[i], s.name, "", nullptr, 3, ""});
      rc = MoreSevere(rc, 3);
      continue;
    }
    if (!o.quiet && i > 0) std::printf("\n");
    runs.push_back(RunOne(o, files[i], s, dir + "/" + s.name));
    rc = MoreSevere(rc, runs.back().exit_code);
  }
  Status st = WriteGateJunit(dir, runs);
  PrintGateSummary(runs, dir);
  if (!st.ok()) {
    std::fprintf(stderr, "firedrill: cannot write %s/junit.xml: %s\n", dir.c_str(),
                 st.message().c_str());
    rc = MoreSevere(rc, kExitError);
  }
  return rc;
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
    ReplayResult r = ReplayJournal(p, RunUndoKinds(), UndoContext{Env::Default()});
    std::printf("%s\n", p.c_str());
    for (const auto& l : r.lines) std::printf("  %s\n", l.c_str());
    for (const auto& l : r.left) std::printf("  LEFT: %s\n", l.c_str());
    if (!r.left.empty() || (named && r.skipped_live)) rc = kExitError;
  }
  std::fflush(stdout);
  return rc;
}

int CmdReport(const Options& o) {
  int rc = 0;
  for (const auto& dir : o.files) {
    Status st = RenderReportFiles(dir);
    if (!st.ok()) {
      std::fprintf(stderr, "firedrill: %s: %s\n", dir.c_str(), st.message().c_str());
      rc = st.code() == Status::Code::kIo ? kExitError : kExitInvalid;
    } else if (!o.quiet) {
      std::printf("%s: rendered again from report.json\n", dir.c_str());
    }
  }
  return rc;
}

// Sparklines in Unicode blocks when the locale can show them, else in ASCII.
bool Utf8Terminal() {
  std::setlocale(LC_CTYPE, "");
  const char* codeset = nl_langinfo(CODESET);
  return codeset && std::string(codeset) == "UTF-8";
}

int CmdHistory(const Options& o) {
  const std::string db = o.history_path.empty() ? DefaultHistoryPath() : o.history_path;
  std::error_code ec;
  if (!fs::exists(db, ec)) {
    std::fprintf(stderr, "firedrill: no history at %s (every `firedrill run` adds to it)\n",
                 db.c_str());
    return kExitInvalid;
  }
  Result<std::vector<HistoryRun>> runs = ReadHistory(db, o.drill, o.last, o.trainee);
  if (!runs.ok()) {
    std::fprintf(stderr, "firedrill: %s: %s\n", db.c_str(), runs.status().message().c_str());
    return kExitError;
  }
  if (!o.trainee.empty() && runs->empty()) {
    std::fprintf(stderr, "firedrill: no training session of '%s' in %s\n", o.trainee.c_str(),
                 db.c_str());
    return kExitInvalid;
  }
  if (!o.trainee.empty() && o.format == "table") {
    std::fputs(TraineeTable(o.trainee, *runs, Utf8Terminal()).c_str(), stdout);
    return 0;
  }
  if (!o.drill.empty() && runs->empty()) {
    std::fprintf(stderr, "firedrill: no run of drill '%s' in %s\n", o.drill.c_str(), db.c_str());
    return kExitInvalid;
  }
  std::string text = o.format == "json"  ? HistoryJson(*runs)
                     : o.format == "csv" ? HistoryCsv(*runs)
                                         : HistoryTable(*runs, Utf8Terminal());
  std::fputs(text.c_str(), stdout);
  return 0;
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
       a->add_option("files", o->files,
                     "drill files (YAML), or directories of them; more than one runs a gate")
           ->required();
       a->add_option("--report-dir", o->report_dir,
                     "where the report files and service logs go (default "
                     "firedrill-out/NAME-TIME; for a gate firedrill-out/gate-TIME, each drill "
                     "in DIR/NAME)");
       a->add_option("--push-metrics", o->push_url,
                     "Pushgateway URL: push the run's figures (job firedrill, drill NAME)");
       a->add_option("--history", o->history_path,
                     "the run history to add to (default $XDG_DATA_HOME/firedrill/history.db "
                     "or ~/.local/share/firedrill/history.db)");
       a->add_flag("--no-history", o->no_history, "do not add this run to the history");
       a->add_flag("--keep-workdir", o->keep_workdir, "keep a temporary workdir after the run");
       a->add_flag("--dry-run", o->dry_run,
                   "start the services and watch for as long as the fault phase would last, "
                   "injecting nothing (mode dry-run)");
       a->add_flag("-q,--quiet", o->quiet, "no live timeline, summary only");
       a->add_option("--state-dir", o->state_dir,
                     "where the rollback journal goes (default $FIREDRILL_STATE_DIR, "
                     "$XDG_STATE_HOME/firedrill or ~/.local/state/firedrill)");
     },
     CmdRun},
    {"train",
     "rehearse a drill as on call: a real fault at a random moment, the page, hints, a debrief",
     [](CLI::App* a, Options* o) {
       a->add_option("file", o->train.file, "the drill file (YAML)");
       a->add_option("--random", o->train.random,
                     "draw the drill from this directory's training drills (tagged training and "
                     "easy, medium or hard); it is named only after the session");
       a->add_option("--difficulty", o->train.difficulty, "with --random: only this level")
           ->check(CLI::IsMember({"easy", "medium", "hard"}));
       a->add_option("--observe", o->train.observe,
                     "follow the session writing to this report directory (a game master's "
                     "view: every event, the trainee's keys included; no controls)");
       a->add_option("--trainee", o->train.trainee, "who is training (default $USER)");
       a->add_option("--report-dir", o->train.report_dir,
                     "where the report and debrief go (default firedrill-out/NAME-train-TIME)");
       a->add_option("--history", o->train.history_path, "the history to add to (as for run)");
       a->add_flag("--no-history", o->train.no_history, "do not add this session to the history");
       a->add_option("--inject-within", o->train.inject_within,
                     "the fault comes at a random moment within this once the system is healthy "
                     "(default the drill's training.inject_within, else 30s; 0s: at once)");
       a->add_option("--state-dir", o->train.state_dir,
                     "where the rollback journal goes (as for run)");
     },
     [](const Options& o) {
       InstallSignalHandlers();
       TrainArgs args = o.train;
       args.interrupt = &g_interrupts;
       if (!args.observe.empty()) {
         if (!args.file.empty()) {
           std::fprintf(stderr, "firedrill: train: --observe DIR takes no drill file\n");
           return kExitInvalid;
         }
         return ObserveTrainingSession(args.observe, args.interrupt);
       }
       if (!args.random.empty()) {
         if (!args.file.empty()) {
           std::fprintf(stderr, "firedrill: train: --random DIR takes no drill file\n");
           return kExitInvalid;
         }
         return RunRandomTrainingSession(args);
       }
       if (!args.difficulty.empty()) {
         std::fprintf(stderr, "firedrill: train: --difficulty goes with --random DIR\n");
         return kExitInvalid;
       }
       if (args.file.empty()) {
         std::fprintf(stderr,
                      "firedrill: train: a drill file is required (or --random DIR, or "
                      "--observe DIR)\n");
         return kExitInvalid;
       }
       return RunTrainingSession(args);
     }},
    {"ctl", "a training session's services, as systemctl would: status, stop, start, restart",
     [](CLI::App* a, Options* o) {
       a->add_option("dir", o->report_dir, "the session's report directory")->required();
       a->add_option("args", o->files, "status [SERVICE] | stop|start|restart SERVICE")->required();
     },
     [](const Options& o) { return RunCtl(o.report_dir, o.files); }},
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
    {"report", "render a run's junit.xml, report.html and postmortem.md again from its report.json",
     [](CLI::App* a, Options* o) {
       a->add_option("dirs", o->files, "report directories (as --report-dir of run)")->required();
       a->add_flag("-q,--quiet", o->quiet, "print errors only");
     },
     CmdReport},
    {"history", "past runs of each drill and the trend of MTTD and MTTR",
     [](CLI::App* a, Options* o) {
       a->add_option("drill", o->drill, "only this drill's runs (its name)");
       a->add_option("--history", o->history_path, "the history to read (default as for run)");
       a->add_option("--trainee", o->trainee,
                     "only this trainee's training sessions (`firedrill train`), and their "
                     "progress");
       a->add_option("--last", o->last, "only the last N runs of each drill")
           ->check(CLI::Range(1, 1000000));
       a->add_option("--format", o->format, "table (default), json or csv")
           ->check(CLI::IsMember({"table", "json", "csv"}));
     },
     CmdHistory},
    {"faults", "list every fault action with its fields, defaults and an example",
     [](CLI::App* a, Options* o) { a->add_flag("--markdown", o->markdown, "as Markdown tables"); },
     CmdFaults},
    {"probes", "list every probe kind with its fields, defaults and an example",
     [](CLI::App* a, Options* o) { a->add_flag("--markdown", o->markdown, "as Markdown tables"); },
     CmdProbes},
    {"score", "print the scoring formula", [](CLI::App*, Options*) {}, CmdScore},
    // Last: started by a controller over ssh, not by a person.
    {"agent",
     "serve a drill's work on this host, for a controller over ssh (JSON lines on stdin/stdout)",
     [](CLI::App* a, Options* o) {
       a->add_option("--dir", o->agent_dir, "this run's directory on this host")->required();
       a->add_option("--host", o->agent_host, "the drill's name for this host")->required();
     },
     [](const Options& o) { return RunAgent({.dir = o.agent_dir, .host = o.agent_host}); }},
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
