#include "reports/history.h"

#include <fmt/format.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>
#include <tuple>

#include "runner/base/values.h"

namespace firedrill {

using nlohmann::json;

namespace {

namespace fs = std::filesystem;

// Long enough for another run's insert (milliseconds) or a migration to finish, short
// enough that a wedged writer is reported rather than waited on for ever.
constexpr int kBusyTimeoutMs = 5000;
constexpr int kSetupRetryMs = 50;

// kMigrations[v] takes a file at schema version v to v + 1, inside one transaction. Append
// only: a released step is never edited, since files in the field have already run it.
constexpr std::array<const char*, kHistorySchemaVersion> kMigrations = {
    // 1: one row per run. metrics is report.json's object as JSON text, so that a metric
    // added to the report later needs no migration. started_at sorts as time (fixed shape).
    R"sql(
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        file TEXT NOT NULL,
        mode TEXT NOT NULL,
        started_at TEXT NOT NULL,
        verdict TEXT NOT NULL,
        score INTEGER,
        exit_code INTEGER,
        metrics TEXT NOT NULL,
        report_dir TEXT NOT NULL,
        recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX runs_by_drill ON runs (name, started_at, id);
    )sql",
    // 2: training sessions (`firedrill train`): who trained, and report.json's `training`
    // object as JSON text; NULL for runs.
    R"sql(
      ALTER TABLE runs ADD COLUMN trainee TEXT;
      ALTER TABLE runs ADD COLUMN training TEXT;
      CREATE INDEX runs_by_trainee ON runs (trainee, started_at, id);
    )sql",
};

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Status SqlError(sqlite3* db, const std::string& path, const std::string& doing) {
  return Status::Io(fmt::format("history {}: {}: {}", path, doing, sqlite3_errmsg(db)));
}

Result<Stmt> Prepare(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    Stmt guard(raw);
    return SqlError(db, path, "preparing a statement");
  }
  return Stmt(raw);
}

// For statements without values (schema, pragmas, transactions).
Status Exec(sqlite3* db, const std::string& path, const char* sql, const std::string& doing) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqlError(db, path, doing);
  }
  return Status::Ok();
}

Result<int> UserVersion(sqlite3* db, const std::string& path) {
  auto st = Prepare(db, path, "PRAGMA user_version");
  if (!st.ok()) return st.status();
  if (sqlite3_step(st->get()) != SQLITE_ROW)
    return SqlError(db, path, "reading the schema version");
  return sqlite3_column_int(st->get(), 0);
}

Status RefuseNewer(const std::string& path, int version) {
  return Status::Unsupported(fmt::format(
      "history {} has schema version {}, newer than the version {} this firedrill knows: "
      "it was written by a newer firedrill; use that one, or another file with --history",
      path, version, kHistorySchemaVersion));
}

// Brings the file to kHistorySchemaVersion. BEGIN IMMEDIATE takes the write lock before the
// version is read, so two runs creating the same new file do not both migrate it.
Status Migrate(sqlite3* db, const std::string& path) {
  auto v = UserVersion(db, path);
  if (!v.ok()) return v.status();
  if (*v > kHistorySchemaVersion) return RefuseNewer(path, *v);
  if (*v == kHistorySchemaVersion) return Status::Ok();
  FD_RETURN_IF_ERROR(Exec(db, path, "BEGIN IMMEDIATE", "locking it to update the schema"));
  auto rollback = [&](Status s) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  };
  v = UserVersion(db, path);
  if (!v.ok()) return rollback(v.status());
  if (*v > kHistorySchemaVersion) return rollback(RefuseNewer(path, *v));
  for (int from = *v; from < kHistorySchemaVersion; ++from) {
    Status s = Exec(db, path, kMigrations[from],
                    fmt::format("updating the schema from version {} to {}", from, from + 1));
    if (!s.ok()) return rollback(s);
    // PRAGMA takes no bound parameters; the number is this build's constant, not input.
    const std::string pragma = fmt::format("PRAGMA user_version = {}", from + 1);
    s = Exec(db, path, pragma.c_str(), "recording the schema version");
    if (!s.ok()) return rollback(s);
  }
  return Exec(db, path, "COMMIT", "committing the schema");
}

Result<Db> Open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Status::Io(fmt::format("history {}: cannot open: {}", path,
                                  raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  // WAL lets readers go on while a run appends, and writers queue on the busy timeout
  // instead of failing at once. The mode is stored in the file, so this is a no-op after
  // the first time. That first time, and the schema's creation, can meet another run
  // doing the same to a new file: SQLite then answers "busy" without waiting (switching the
  // journal mode does not wait on the busy handler), so both steps are tried again, every
  // 50 ms, for as long as the busy timeout. (4 processes creating one file at once failed
  // this way in CI before.)
  Status st = Status::Ok();
  for (int waited = 0;; waited += kSetupRetryMs) {
    st = Exec(db.get(), path, "PRAGMA journal_mode = WAL", "switching to WAL");
    if (st.ok()) st = Migrate(db.get(), path);
    const int code = sqlite3_errcode(db.get()) & 0xff;
    if (st.ok() || (code != SQLITE_BUSY && code != SQLITE_LOCKED) || waited >= kBusyTimeoutMs) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kSetupRetryMs));
  }
  if (!st.ok()) return st;
  return db;
}

void BindText(sqlite3_stmt* st, int i, const std::string& s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void BindOptionalInt(sqlite3_stmt* st, int i, const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) {
    sqlite3_bind_int64(st, i, v.get<int64_t>());
  } else {
    sqlite3_bind_null(st, i);
  }
}

std::string StringOr(const json& report, const char* key, const std::string& fallback = "") {
  auto it = report.find(key);
  return it != report.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::string ColumnText(sqlite3_stmt* st, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
}

std::optional<int64_t> ColumnOptionalInt(sqlite3_stmt* st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(st, i);
}

}  // namespace

std::string DefaultHistoryPath() {
  const char* xdg = getenv("XDG_DATA_HOME");
  if (xdg && xdg[0] == '/') return std::string(xdg) + "/firedrill/history.db";
  std::string home;
  if (const char* h = getenv("HOME"); h && h[0] != '\0') {
    home = h;
  } else {
    // Cron and systemd units may run without HOME.
    std::array<char, 4096> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir) {
      home = found->pw_dir;
    }
  }
  if (home.empty()) return "";
  return home + "/.local/share/firedrill/history.db";
}

Status AppendRun(const std::string& db_path, const json& report, const std::string& report_dir) {
  if (db_path.empty()) return Status::Invalid("no history path");
  if (!report.is_object()) return Status::Invalid("history: the report is not a JSON object");
  for (const char* key : {"name", "started_at", "verdict"}) {
    auto it = report.find(key);
    if (it == report.end() || !it->is_string()) {
      return Status::Invalid(fmt::format("history: the report has no string `{}`", key));
    }
  }
  const fs::path parent = fs::path(db_path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) {
      return Status::Io(
          fmt::format("history {}: cannot create {}: {}", db_path, parent.string(), ec.message()));
    }
  }
  auto db = Open(db_path, /*create=*/true);
  if (!db.ok()) return db.status();
  auto st = Prepare(db->get(), db_path,
                    "INSERT INTO runs (name, file, mode, started_at, verdict, score, exit_code, "
                    "metrics, report_dir, trainee, training) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!st.ok()) return st.status();
  sqlite3_stmt* s = st->get();
  BindText(s, 1, report["name"].get<std::string>());
  BindText(s, 2, StringOr(report, "file"));
  BindText(s, 3, StringOr(report, "mode", "run"));
  BindText(s, 4, report["started_at"].get<std::string>());
  BindText(s, 5, report["verdict"].get<std::string>());
  BindOptionalInt(s, 6, report.value("score", json()));
  BindOptionalInt(s, 7, report.value("exit_code", json()));
  // The replace handler: a report is valid UTF-8 as written, but dump() must never throw.
  BindText(s, 8,
           report.value("metrics", json()).dump(-1, ' ', false, json::error_handler_t::replace));
  // The default report directory is relative to where `run` was started; `history` is
  // read from anywhere.
  std::string dir = report_dir;
  if (!dir.empty() && fs::path(dir).is_relative()) {
    std::error_code ec;
    const fs::path abs = fs::absolute(dir, ec);
    if (!ec) dir = abs.lexically_normal().string();
  }
  BindText(s, 9, dir);
  const json training = report.value("training", json());
  if (training.is_object()) {
    BindText(s, 10, training.value("trainee", std::string()));
    BindText(s, 11, training.dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    sqlite3_bind_null(s, 10);
    sqlite3_bind_null(s, 11);
  }
  if (sqlite3_step(s) != SQLITE_DONE) return SqlError(db->get(), db_path, "appending the run");
  return Status::Ok();
}

Result<std::vector<HistoryRun>> ReadHistory(const std::string& db_path, const std::string& drill,
                                            int last_n, const std::string& trainee) {
  if (db_path.empty()) return Status::Invalid("no history path");
  std::error_code ec;
  if (!fs::exists(db_path, ec)) {
    if (ec) return Status::Io(fmt::format("history {}: {}", db_path, ec.message()));
    return std::vector<HistoryRun>{};
  }
  auto db = Open(db_path, /*create=*/false);
  if (!db.ok()) return db.status();
  // Newest first within each drill to count the last N, then oldest first for reading.
  auto st = Prepare(db->get(), db_path,
                    "SELECT id, name, file, mode, started_at, verdict, score, exit_code, metrics, "
                    "report_dir, trainee, training FROM ("
                    "  SELECT *, ROW_NUMBER() OVER ("
                    "    PARTITION BY name ORDER BY started_at DESC, id DESC) AS newest"
                    "  FROM runs WHERE (?1 = '' OR name = ?1) AND (?3 = '' OR trainee = ?3))"
                    " WHERE ?2 <= 0 OR newest <= ?2"
                    " ORDER BY name, started_at, id");
  if (!st.ok()) return st.status();
  sqlite3_stmt* s = st->get();
  BindText(s, 1, drill);
  sqlite3_bind_int(s, 2, last_n);
  BindText(s, 3, trainee);
  std::vector<HistoryRun> runs;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    HistoryRun r;
    r.id = sqlite3_column_int64(s, 0);
    r.name = ColumnText(s, 1);
    r.file = ColumnText(s, 2);
    r.mode = ColumnText(s, 3);
    r.started_at = ColumnText(s, 4);
    r.verdict = ColumnText(s, 5);
    r.score = ColumnOptionalInt(s, 6);
    r.exit_code = ColumnOptionalInt(s, 7);
    r.metrics = json::parse(ColumnText(s, 8), nullptr, /*allow_exceptions=*/false);
    if (r.metrics.is_discarded()) r.metrics = nullptr;
    r.report_dir = ColumnText(s, 9);
    r.trainee = ColumnText(s, 10);
    if (sqlite3_column_type(s, 11) != SQLITE_NULL) {
      r.training = json::parse(ColumnText(s, 11), nullptr, /*allow_exceptions=*/false);
      if (r.training.is_discarded()) r.training = nullptr;
    }
    runs.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return SqlError(db->get(), db_path, "reading the runs");
  return runs;
}

namespace {

json OrNull(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// A metric by report.json's key, for the flat formats; data_lost_count is data_lost.count.
json Metric(const json& metrics, const std::string& key) {
  if (!metrics.is_object()) return nullptr;
  if (key == "data_lost_count") {
    auto it = metrics.find("data_lost");
    if (it == metrics.end() || !it->is_object()) return nullptr;
    return it->value("count", json());
  }
  return metrics.value(key, json());
}

std::optional<int64_t> MetricMs(const json& metrics, const std::string& key) {
  json v = Metric(metrics, key);
  if (v.is_number()) return v.get<int64_t>();
  return std::nullopt;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvValue(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return CsvField(v.get<std::string>());
  return CsvField(v.dump());
}

constexpr std::array<const char*, 5> kCsvMetrics = {"detected_after_ms", "failed_over_after_ms",
                                                    "recovered_after_ms", "availability",
                                                    "data_lost_count"};

std::string MillisOrDash(const std::optional<int64_t>& ms) {
  return ms ? HumanMillis(*ms) : std::string("-");
}

// "2026-11-21T23:18:00.632Z" -> "2026-11-21 23:18:00": a table is read, not parsed.
std::string When(const std::string& started_at) {
  if (started_at.size() < 19 || started_at[10] != 'T') return started_at;
  std::string w = started_at.substr(0, 19);
  w[10] = ' ';
  return w;
}

std::string Pad(const std::string& s, size_t width, bool right) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

std::string TrendLine(const std::string& label, const std::vector<std::optional<int64_t>>& ms,
                      bool unicode) {
  std::vector<std::optional<double>> values;
  std::optional<int64_t> first, last, best;
  for (const auto& v : ms) {
    values.push_back(v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt);
    if (!v) continue;
    if (!first) first = v;
    last = v;
    if (!best || *v < *best) best = v;
  }
  std::string line = fmt::format("  {} trend  {}", label, Sparkline(values, unicode));
  if (!first) return line + "  (never measured)\n";
  return line + fmt::format("  first {}, last {}, best {}\n", HumanMillis(*first),
                            HumanMillis(*last), HumanMillis(*best));
}

void AppendDrillTable(std::string& out, const std::string& name,
                      const std::vector<const HistoryRun*>& runs, bool unicode) {
  out += fmt::format("{} ({} run{})\n", name, runs.size(), runs.size() == 1 ? "" : "s");
  const std::vector<std::string> header = {"id",    "started (UTC)", "verdict",
                                           "score", "MTTD",          "MTTR"};
  const std::vector<bool> right = {true, false, false, true, true, true};
  std::vector<std::vector<std::string>> rows = {header};
  std::vector<std::optional<int64_t>> mttd, mttr;
  for (const HistoryRun* r : runs) {
    mttd.push_back(MetricMs(r->metrics, "detected_after_ms"));
    mttr.push_back(MetricMs(r->metrics, "recovered_after_ms"));
    rows.push_back({std::to_string(r->id), When(r->started_at), r->verdict,
                    r->score ? std::to_string(*r->score) : "-", MillisOrDash(mttd.back()),
                    MillisOrDash(mttr.back())});
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) line += "  " + Pad(row[c], width[c], right[c]);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  out += TrendLine("MTTD", mttd, unicode);
  out += TrendLine("MTTR", mttr, unicode);
}

}  // namespace

std::string HistoryJson(const std::vector<HistoryRun>& runs) {
  json out = json::array();
  for (const auto& r : runs) {
    out.push_back({{"id", r.id},
                   {"name", r.name},
                   {"file", r.file},
                   {"mode", r.mode},
                   {"started_at", r.started_at},
                   {"verdict", r.verdict},
                   {"score", OrNull(r.score)},
                   {"exit_code", OrNull(r.exit_code)},
                   {"metrics", r.metrics},
                   {"report_dir", r.report_dir}});
    if (r.mode == "train") {
      out.back()["trainee"] = r.trainee;
      out.back()["training"] = r.training;
    }
  }
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string HistoryCsv(const std::vector<HistoryRun>& runs) {
  std::string out = "id,name,file,mode,started_at,verdict,score,exit_code";
  for (const char* m : kCsvMetrics) out += std::string(",") + m;
  out += ",report_dir\r\n";
  for (const auto& r : runs) {
    out += std::to_string(r.id);
    for (const std::string* s : {&r.name, &r.file, &r.mode, &r.started_at, &r.verdict}) {
      out += "," + CsvField(*s);
    }
    out += "," + CsvValue(OrNull(r.score)) + "," + CsvValue(OrNull(r.exit_code));
    for (const char* m : kCsvMetrics) out += "," + CsvValue(Metric(r.metrics, m));
    out += "," + CsvField(r.report_dir) + "\r\n";
  }
  return out;
}

std::string Sparkline(const std::vector<std::optional<double>>& values, bool unicode) {
  static constexpr std::array<const char*, 8> kBlocks = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static constexpr std::array<const char*, 8> kAscii = {"_", ".", "-", ":", "=", "+", "*", "#"};
  const auto& marks = unicode ? kBlocks : kAscii;
  std::optional<double> lo, hi;
  for (const auto& v : values) {
    if (!v) continue;
    lo = lo ? std::min(*lo, *v) : *v;
    hi = hi ? std::max(*hi, *v) : *v;
  }
  std::string out;
  for (const auto& v : values) {
    if (!v) {
      out += ' ';
      continue;
    }
    size_t level = 3;
    if (*hi > *lo) {
      level = static_cast<size_t>(std::lround((*v - *lo) / (*hi - *lo) * (marks.size() - 1)));
    }
    out += marks[std::min(level, marks.size() - 1)];
  }
  return out;
}

std::string HistoryTable(const std::vector<HistoryRun>& runs, bool unicode) {
  if (runs.empty()) return "no runs recorded\n";
  // ReadHistory groups by drill already; grouping again keeps any order correct.
  std::map<std::string, std::vector<const HistoryRun*>> by_drill;
  for (const auto& r : runs) by_drill[r.name].push_back(&r);
  std::string out;
  for (const auto& [name, drill_runs] : by_drill) {
    if (!out.empty()) out += "\n";
    AppendDrillTable(out, name, drill_runs, unicode);
  }
  return out;
}

std::string TraineeTable(const std::string& trainee, const std::vector<HistoryRun>& all,
                         bool unicode) {
  std::vector<const HistoryRun*> runs;
  for (const auto& r : all) {
    if (r.mode == "train") runs.push_back(&r);
  }
  if (runs.empty()) return "no training session of " + trainee + " recorded\n";
  std::stable_sort(runs.begin(), runs.end(), [](const HistoryRun* a, const HistoryRun* b) {
    return std::tie(a->started_at, a->id) < std::tie(b->started_at, b->id);
  });
  auto outcome = [](const HistoryRun& r) -> std::string {
    if (!r.exit_code) return r.verdict;
    switch (*r.exit_code) {
      case 0:
        return "in time";
      case 1:
        return "too late";
      case 3:
        return r.training.is_object() && r.training.value("gave_up", false) ? "gave up" : "stopped";
      default:
        return "error";
    }
  };
  auto count = [](const json& t, const char* key) -> std::string {
    if (!t.is_object()) return "-";
    const json& v = t.value(key, json());
    return v.is_number_integer() ? std::to_string(v.get<int64_t>()) : std::string("-");
  };
  size_t name_w = 5;
  for (const HistoryRun* r : runs) name_w = std::max(name_w, r->name.size());
  std::string out = fmt::format("{}: {} training session{}\n\n", trainee, runs.size(),
                                runs.size() == 1 ? "" : "s");
  out += fmt::format("  {:<5} {:<19}  {}  {:<8}  {:>5}  {:>9}  {:>9}  {:>5}  {:>5}\n", "id",
                     "started (UTC)", Pad("drill", name_w, false), "outcome", "score", "ack",
                     "recovered", "hints", "false");
  std::vector<std::optional<int64_t>> recovered, scores;
  for (const HistoryRun* r : runs) {
    const json& t = r->training;
    const json decl = t.is_object() ? t.value("declarations", json()) : json();
    out += fmt::format("  {:<5} {:<19}  {}  {:<8}  {:>5}  {:>9}  {:>9}  {:>5}  {:>5}\n", r->id,
                       When(r->started_at), Pad(r->name, name_w, false), outcome(*r),
                       r->score ? std::to_string(*r->score) : std::string("-"),
                       MillisOrDash(MetricMs(r->metrics, "acknowledged_after_ms")),
                       MillisOrDash(MetricMs(r->metrics, "recovered_after_ms")),
                       count(t, "hints_used"), count(decl, "false"));
    recovered.push_back(MetricMs(r->metrics, "recovered_after_ms"));
    scores.push_back(r->score);
  }
  out += "\n" + TrendLine("recovered", recovered, unicode);
  std::vector<std::optional<double>> sv;
  std::optional<int64_t> first, last;
  for (const auto& v : scores) {
    sv.push_back(v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt);
    if (v && !first) first = v;
    if (v) last = v;
  }
  out += fmt::format("  score     trend  {}", Sparkline(sv, unicode));
  out += first ? fmt::format("  first {}, last {}\n", *first, *last)
               : std::string("  (never scored)\n");
  return out;
}

}  // namespace firedrill
