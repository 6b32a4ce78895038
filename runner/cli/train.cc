#include "runner/cli/train.h"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "reports/debrief.h"
#include "reports/events_log.h"
#include "reports/history.h"
#include "reports/json_report.h"
#include "reports/report_files.h"
#include "reports/terminal.h"
#include "reports/train_view.h"
#include "runner/base/atomic_file.h"
#include "runner/base/values.h"
#include "runner/cli/ctl.h"
#include "runner/cli/report_dir.h"
#include "runner/engine/engine.h"
#include "runner/engine/score.h"
#include "runner/loader/loader.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace {

constexpr int kExitInvalid = 2;
constexpr int kExitError = 4;
constexpr Millis kDefaultInjectWithin{30000};

// The terminal in single-key mode for the session (no line buffering, no echo; Ctrl-C
// still interrupts), and as it was afterwards, whatever happens.
class SingleKeys {
 public:
  SingleKeys() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    on_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~SingleKeys() {
    if (on_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  SingleKeys(const SingleKeys&) = delete;
  SingleKeys& operator=(const SingleKeys&) = delete;

 private:
  termios saved_{};
  bool on_ = false;
};

// The runbook as the drill names it: from the current directory (the drill library's
// root, where drills are run from), else beside the drill file or one level above it.
std::string ReadRunbook(const Scenario& s, const std::string& drill_file) {
  if (s.recovery.runbook.empty()) return "";
  const fs::path rb = s.recovery.runbook;
  const fs::path dir = fs::path(drill_file).parent_path();
  for (const fs::path& p : {rb, dir / rb, dir.parent_path() / rb}) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    std::ifstream in(p);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  return "";
}

// Reads the trainee's keys until `done`, turning them into actions for the engine. A note
// is typed on the status line and ends with Enter (Escape drops it).
void ReadKeys(const std::atomic<bool>& done, TrainingDesk& desk, TrainView& view,
              const std::string& runbook, std::chrono::steady_clock::time_point origin) {
  using Kind = TraineeAction::Kind;
  std::string note;
  bool typing = false, open = true;
  while (!done.load()) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - origin)
                            .count();
    view.Tick(now);
    if (!open) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int r = ::poll(&p, 1, 200);
    if (r <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      open = false;  // end of input: the session goes on, without keys
      continue;
    }
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buf[i];
      if (typing) {
        if (c == '\r' || c == '\n') {
          desk.Push({Kind::kNote, note});
          note.clear();
          typing = false;
        } else if (c == 0x7f || c == '\b') {
          // Drop a whole UTF-8 character, not one byte of it.
          while (!note.empty() && (static_cast<unsigned char>(note.back()) & 0xC0) == 0x80) {
            note.pop_back();
          }
          if (!note.empty()) note.pop_back();
        } else if (c == 0x1b) {
          note.clear();
          typing = false;
        } else if (static_cast<unsigned char>(c) >= 0x20 && note.size() < 2000) {
          note += c;
        }
        view.SetTyping(note, typing);
        continue;
      }
      switch (c) {
        case 'a':
          desk.Push({Kind::kAcknowledge, ""});
          break;
        case 'h':
          desk.Push({Kind::kHint, ""});
          break;
        case 'd':
          desk.Push({Kind::kDeclare, ""});
          break;
        case 'q':
          desk.Push({Kind::kGiveUp, ""});
          break;
        case 'n':
          typing = true;
          view.SetTyping("", true);
          break;
        case 'r':
          desk.Push({Kind::kRunbook, ""});
          view.Print(runbook.empty() ? "(this drill names no runbook)"
                                     : "----- runbook -----\n" + runbook + "-------------------");
          break;
        default:
          break;
      }
    }
  }
}

// The difficulty tag of a training drill, "" when it is not one.
std::string Level(const Scenario& s) {
  bool training = false;
  std::string level;
  for (const auto& t : s.tags) {
    training |= t == "training";
    if (t == "easy" || t == "medium" || t == "hard") level = t;
  }
  return training ? level : "";
}

// `hidden`: drawn by --random, so the screen names neither the drill nor its file until
// the debrief.
int Session(const TrainArgs& a, const Scenario& s, bool hidden) {
  Millis within = s.training.inject_within.value_or(kDefaultInjectWithin);
  if (!a.inject_within.empty()) {
    auto d = ParseDuration(a.inject_within);
    if (!d.ok() || d->count() < 0 || d->count() > 600000) {
      std::fprintf(stderr, "firedrill: --inject-within %s: %s\n", a.inject_within.c_str(),
                   d.ok() ? "must be 0s..10m" : d.status().message().c_str());
      return kExitInvalid;
    }
    within = *d;
  }
  // Uniform over [0, within]: the trainee cannot tell when it comes.
  std::random_device seed;
  std::mt19937_64 gen(seed());
  const Millis at{std::uniform_int_distribution<int64_t>(0, within.count())(gen)};

  std::string trainee = a.trainee;
  if (trainee.empty()) {
    const char* user = std::getenv("USER");
    trainee = user && *user ? user : "trainee";
  }
  const std::string report_dir =
      a.report_dir.empty() ? DefaultReportDir((hidden ? std::string("drawn") : s.name) + "-train")
                           : a.report_dir;
  std::error_code ec;
  fs::create_directories(report_dir, ec);
  if (ec) {
    std::fprintf(stderr, "firedrill: cannot create report directory %s: %s\n", report_dir.c_str(),
                 ec.message().c_str());
    return kExitInvalid;
  }
  const std::string runbook = ReadRunbook(s, a.file);

  const bool tty = ::isatty(STDOUT_FILENO);
  TrainView view(stdout, tty, TerminalView::WantColour(stdout), s);
  std::printf(
      "firedrill train: %s, on call: %s\n"
      "  The system starts, then something goes wrong at a moment you are not told (within "
      "%s).\n"
      "  Work on it from another terminal with real commands; nothing heals by itself.\n"
      "  Its services, as systemctl would: firedrill ctl %s status|stop|start|restart "
      "SERVICE\n"
      "  Keys: a acknowledge the page, r runbook, h hint, n note (Enter ends), d \"I think it "
      "is fixed\", q give up\n\n",
      hidden ? ("a drill drawn from " + a.random + " (" +
                (Level(s).empty() ? std::string("?") : Level(s)) + ")")
                   .c_str()
             : s.name.c_str(),
      trainee.c_str(), FormatDuration(within).c_str(), report_dir.c_str());
  std::fflush(stdout);

  TrainingDesk desk;
  EngineOptions eo;
  eo.report_dir = report_dir;
  eo.interrupt = a.interrupt;
  eo.state_dir = a.state_dir;
  eo.drill_file = fs::absolute(a.file, ec).string();
  eo.training = TrainingOptions{.first_fault_at = at, .desk = &desk, .trainee = trainee};
  // The game master's feed (--observe): every event, the trainee's included, as it comes.
  EventsLog events;
  if (Status es = events.Open(report_dir + "/events.jsonl"); !es.ok()) {
    std::fprintf(stderr, "firedrill: warning: no live feed for --observe: %s\n",
                 es.message().c_str());
  }
  eo.sink = [&view, &events](const Event& e) {
    events.Append(e);
    view.OnEvent(e);
  };

  CtlServer ctl;
  if (Status cs = ctl.Start(report_dir + "/ctl.sock", &desk); !cs.ok()) {
    std::fprintf(stderr, "firedrill: warning: no firedrill ctl for this session: %s\n",
                 cs.message().c_str());
  }
  RunRecord rec;
  {
    SingleKeys keys;
    std::atomic<bool> done{false};
    const auto origin = std::chrono::steady_clock::now();
    std::thread reader([&] { ReadKeys(done, desk, view, runbook, origin); });
    rec = RunDrill(s, eo);
    done = true;
    reader.join();
  }
  ctl.Stop();
  view.Finish();
  Outcome out = Score(s, rec);
  nlohmann::json report = ReportJson(s, rec, out, a.file);
  const std::string summary =
      TerminalView(nullptr, /*colour=*/false).FormatSummary(s, rec, out, report_dir);
  Status st = WriteReportFiles(report_dir, report, summary);
  const std::string debrief = DebriefMarkdown(report, runbook);
  if (hidden) {
    std::printf("\nThe drill drawn was %s (%s): %s\n", s.name.c_str(), Level(s).c_str(),
                a.file.c_str());
  }
  std::printf("\n%s\n  report: %s (debrief.md, report.json, postmortem.md)\n", debrief.c_str(),
              report_dir.c_str());
  std::fflush(stdout);
  if (Status ds = WriteFileAtomically(report_dir + "/debrief.md", debrief, FileMeta{.mode = 0644});
      !ds.ok() && st.ok()) {
    st = ds;
  }
  if (!a.no_history) {
    const std::string db = a.history_path.empty() ? DefaultHistoryPath() : a.history_path;
    Status hs = AppendRun(db, report, fs::absolute(report_dir, ec).string());
    if (!hs.ok()) {
      std::fprintf(stderr, "firedrill: warning: session not added to the history %s: %s\n",
                   db.c_str(), hs.message().c_str());
    }
  }
  if (!st.ok()) {
    std::fprintf(stderr, "firedrill: cannot write the report in %s: %s\n", report_dir.c_str(),
                 st.message().c_str());
    return kExitError;
  }
  return out.exit_code;
}

}  // namespace

int RunTrainingSession(const TrainArgs& a) {
  LoadResult loaded = LoadScenarioFile(a.file, LoadOptions{.require_runnable = true});
  for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", d.ToString("error").c_str());
  for (const auto& d : loaded.notes) std::fprintf(stderr, "%s\n", d.ToString("note").c_str());
  if (!loaded.ok()) return kExitInvalid;
  return Session(a, *loaded.scenario, /*hidden=*/false);
}

int RunRandomTrainingSession(const TrainArgs& a) {
  std::error_code ec;
  if (!fs::is_directory(a.random, ec)) {
    std::fprintf(stderr, "firedrill: train --random: %s is not a directory\n", a.random.c_str());
    return kExitInvalid;
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(a.random, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  // Every drill is checked, as a gate does: a wheel with a broken drill draws nothing.
  std::vector<std::pair<std::string, Scenario>> wheel;
  bool invalid = false;
  for (const auto& f : files) {
    LoadResult r = LoadScenarioFile(f, LoadOptions{.require_runnable = true});
    for (const auto& d : r.errors) std::fprintf(stderr, "%s\n", d.ToString("error").c_str());
    if (!r.ok()) {
      invalid = true;
      continue;
    }
    const std::string level = Level(*r.scenario);
    if (level.empty() || (!a.difficulty.empty() && level != a.difficulty)) continue;
    wheel.emplace_back(f, std::move(*r.scenario));
  }
  if (invalid) return kExitInvalid;
  if (wheel.empty()) {
    std::fprintf(stderr, "firedrill: train --random: no drill in %s is tagged training and %s\n",
                 a.random.c_str(),
                 a.difficulty.empty() ? "one of easy, medium, hard" : a.difficulty.c_str());
    return kExitInvalid;
  }
  std::random_device seed;
  std::mt19937_64 gen(seed());
  const size_t pick = std::uniform_int_distribution<size_t>(0, wheel.size() - 1)(gen);
  TrainArgs args = a;
  args.file = wheel[pick].first;
  return Session(args, wheel[pick].second, /*hidden=*/true);
}

int ObserveTrainingSession(const std::string& dir, const std::atomic<int>* interrupt) {
  const std::string path = dir + "/events.jsonl";
  auto stop = [&] { return interrupt && interrupt->load() > 0; };
  // Bounded: a session lasts at most its drill's settings.timeout (24 h at most), and a
  // game master may start watching before the session does (10 min at most).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::hours(25);
  const auto wait_until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    std::printf("waiting for a training session to write %s ...\n", path.c_str());
    std::fflush(stdout);
  }
  while (!fs::exists(path, ec)) {
    if (stop() || std::chrono::steady_clock::now() > wait_until) {
      std::fprintf(stderr, "firedrill: no training session in %s\n", dir.c_str());
      return kExitInvalid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  TerminalView view(stdout, TerminalView::WantColour(stdout));
  std::ifstream in;
  std::string pending;
  std::streamoff offset = 0;
  while (!stop() && std::chrono::steady_clock::now() < give_up) {
    const auto size = static_cast<std::streamoff>(fs::file_size(path, ec));
    if (!ec && size < offset) offset = 0;  // a new session in the same directory
    if (!ec && size > offset) {
      in.close();
      in.clear();
      in.open(path, std::ios::binary);
      in.seekg(offset);
      std::string chunk(static_cast<size_t>(size - offset), '\0');
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      chunk.resize(static_cast<size_t>(in.gcount()));
      offset += static_cast<std::streamoff>(chunk.size());
      pending += chunk;
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        const std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        auto e = ParseEventLine(line);
        if (!e) continue;
        view.OnEvent(*e);
        if (e->type == "phase" && e->name == "done") return 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return stop() ? 3 : 0;
}

}  // namespace firedrill
