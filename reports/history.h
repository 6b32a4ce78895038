// The run history: every run's headline figures in one SQLite file, so that a team can see
// whether MTTD and MTTR improved since last month without keeping every report directory.
// Several runs may end at once (a gate, cron on a shared box), so writers share the file
// through WAL and a busy timeout rather than a lock of our own. The schema is versioned
// with PRAGMA user_version (docs/history-and-postmortem.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runner/base/status.h"

namespace firedrill {

// The schema this build writes and reads. A file with a newer one is refused, never
// downgraded: an older firedrill cannot know what the newer columns mean.
inline constexpr int kHistorySchemaVersion = 2;

// One recorded run, as report.json said it.
struct HistoryRun {
  int64_t id = 0;  // assigned by the store, increasing
  std::string name;
  std::string file;
  std::string mode;
  std::string started_at;  // as report.json wrote it: "2026-11-21T23:18:00.632Z"
  std::string verdict;
  std::optional<int64_t> score;
  std::optional<int64_t> exit_code;
  nlohmann::json metrics;  // report.json's `metrics` object, its keys unchanged
  std::string report_dir;
  // Mode "train": report.json's training.trainee and `training` object (null otherwise).
  std::string trainee;
  nlohmann::json training;
};

// $XDG_DATA_HOME/firedrill/history.db when XDG_DATA_HOME is set and absolute (the XDG spec
// says to ignore a relative one), else ~/.local/share/firedrill/history.db with ~ from HOME
// or the password database; "" when there is no home at all.
std::string DefaultHistoryPath();

// Appends one run, creating the file (and its parent directories) and the schema as needed.
// `report` is report.json as written; `report_dir` is where it lies (made absolute, so the
// history can be read from anywhere). kInvalid when the report lacks `name`, `started_at`
// or `verdict`; kUnsupported for a newer schema.
Status AppendRun(const std::string& db_path, const nlohmann::json& report,
                 const std::string& report_dir);

// The runs of `drill` ("" = every drill), grouped by drill name (in name order), each
// drill's runs oldest to newest. `last_n` > 0 keeps each drill's newest `last_n` runs.
// A file that does not exist yet is an empty history, and is not created.
// `trainee` non-empty keeps only that trainee's training sessions.
Result<std::vector<HistoryRun>> ReadHistory(const std::string& db_path, const std::string& drill,
                                            int last_n, const std::string& trainee = "");

// An array of objects with exactly id, name, file, mode, started_at, verdict, score,
// exit_code, metrics, report_dir, and for a training session also trainee and training;
// indented, ending with a newline.
std::string HistoryJson(const std::vector<HistoryRun>& runs);

// RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma, quote, CR
// or LF. The metrics are flattened to detected_after_ms, failed_over_after_ms,
// recovered_after_ms, availability and data_lost_count; a null is an empty field.
std::string HistoryCsv(const std::vector<HistoryRun>& runs);

// For people: per drill its runs (id, when, verdict, score, MTTD, MTTR) and the trend of
// MTTD and MTTR as a sparkline, one mark per run, a gap where a figure is null. `unicode`
// picks block characters (▁..█) or ASCII for terminals and logs that cannot show them.
std::string HistoryTable(const std::vector<HistoryRun>& runs, bool unicode);

// For `history --trainee NAME`: each training session (when, drill, outcome, score, time to
// acknowledge and to recover, hints used, false declarations), oldest first, then the
// progress: the trend of time to recover and of the score, and the first and latest.
std::string TraineeTable(const std::string& trainee, const std::vector<HistoryRun>& runs,
                         bool unicode);

// The sparkline alone: one mark per value, scaled from the smallest to the largest value
// present; a null is a space. Equal values all get the middle mark.
std::string Sparkline(const std::vector<std::optional<double>>& values, bool unicode);

}  // namespace firedrill
