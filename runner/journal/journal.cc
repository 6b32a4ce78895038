#include "runner/journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "runner/base/text.h"

namespace fs = std::filesystem;

namespace firedrill {
namespace {

constexpr const char* kJournalName = "journal";
constexpr const char* kCreatingName = "journal.creating";
// A run directory with no journal at all is left alone this long: its run may be about to
// create one.
constexpr auto kEmptyRunGrace = std::chrono::minutes(1);
// A journal bigger than this is not one of ours: refuse rather than read it whole.
constexpr off_t kMaxJournalBytes = 64 << 20;

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Io("open " + dir + ": " + ErrnoText(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::Io("fsync " + dir + ": " + ErrnoText(err));
  return Status::Ok();
}

// Takes the run's lock. EWOULDBLOCK means a live process holds it.
Status Lock(int fd, const std::string& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
  if (errno == EWOULDBLOCK) return Status::Failed(path + " belongs to a run that is still going");
  return Status::Io("flock " + path + ": " + ErrnoText(errno));
}

}  // namespace

const UndoKind* FindUndoKind(UndoKinds kinds, std::string_view name) {
  for (const UndoKind* k : kinds) {
    if (name == k->name) return k;
  }
  return nullptr;
}

Journal::Journal(std::string path, int fd, UndoKinds kinds)
    : path_(std::move(path)),
      run_dir_(fs::path(path_).parent_path().string()),
      fd_(fd),
      kinds_(kinds) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);  // drops the lock
}

Result<std::unique_ptr<Journal>> Journal::Create(const std::string& run_dir,
                                                 const nlohmann::json& header, UndoKinds kinds) {
  std::error_code ec;
  fs::create_directories(fs::path(run_dir).parent_path(), ec);
  if (ec) return Status::Io("cannot create " + run_dir + ": " + ec.message());
  if (::mkdir(run_dir.c_str(), 0700) != 0) {
    return Status::Io("cannot create " + run_dir + ": " + ErrnoText(errno));
  }
  std::string path = run_dir + "/" + kJournalName;
  // Written under a temporary name and renamed once its header is on disk, so a journal
  // never exists without one: a run killed in between leaves only the temporary file,
  // which RemoveAbandonedRuns recognises (nothing can have changed before the header).
  std::string creating = run_dir + "/" + kCreatingName;
  // O_CLOEXEC: services must not inherit the descriptor, or they would hold the lock
  // after the runner died and `firedrill rollback` would take the run for a live one.
  int fd = ::open(creating.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Io("cannot create " + creating + ": " + ErrnoText(errno));
  std::unique_ptr<Journal> j(new Journal(path, fd, kinds));
  // The lock is on the inode, so it moves with the rename.
  FD_RETURN_IF_ERROR(Lock(fd, creating));
  nlohmann::json open = header;
  open["op"] = "open";
  {
    std::lock_guard<std::mutex> l(j->mu_);
    FD_RETURN_IF_ERROR(j->Append(open));
  }
  j->header_ = open;
  if (::rename(creating.c_str(), path.c_str()) != 0) {
    return Status::Io("cannot rename " + creating + " to " + path + ": " + ErrnoText(errno));
  }
  FD_RETURN_IF_ERROR(FsyncDir(run_dir));
  FD_RETURN_IF_ERROR(FsyncDir(fs::path(run_dir).parent_path().string()));
  return j;
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path, UndoKinds kinds) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("cannot open " + path + ": " + ErrnoText(errno));
  std::unique_ptr<Journal> j(new Journal(path, fd, kinds));
  FD_RETURN_IF_ERROR(Lock(fd, path));
  FD_RETURN_IF_ERROR(j->Load());
  return j;
}

Status Journal::Load() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Status::Io("stat " + path_ + ": " + ErrnoText(errno));
  if (st.st_size > kMaxJournalBytes) return Status::Invalid(path_ + " is too big to be a journal");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t got = ::pread(fd_, text.data(), text.size(), 0);
  if (got != st.st_size) return Status::Io("read " + path_ + ": short read");
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    bool torn = nl == std::string::npos;
    const size_t line_start = pos;
    std::string line = text.substr(pos, torn ? std::string::npos : nl - pos);
    pos = torn ? text.size() : nl + 1;
    ++line_no;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("op")) {
      // The last line may be torn by a crash mid-write. Its change was never made (the
      // change only happens after the line is on disk), so it is cut off.
      if (torn) {
        if (::ftruncate(fd_, static_cast<off_t>(line_start)) != 0) {
          return Status::Io("truncate " + path_ + ": " + ErrnoText(errno));
        }
        break;
      }
      return Status::Invalid(path_ + ":" + std::to_string(line_no) + ": not a journal line");
    }
    const std::string op = j.value("op", "");
    if (line_no == 1) {
      if (op != "open") return Status::Invalid(path_ + " is not a firedrill journal");
      header_ = j;
    } else if (op == "intend") {
      JournalEntry e;
      e.id = j.value("id", uint64_t{0});
      e.owner = j.value("owner", "");
      e.kind = j.value("kind", "");
      e.args = j.value("args", nlohmann::json::object());
      next_id_ = std::max(next_id_, e.id + 1);
      entries_.push_back(std::move(e));
    } else if (op == "done") {
      uint64_t id = j.value("id", uint64_t{0});
      for (auto& e : entries_) {
        if (e.id == id) {
          e.done = true;
          e.detail = j.value("detail", "");
        }
      }
    } else if (op == "close") {
      closed_ = true;
    }
    if (torn) {
      if (::write(fd_, "\n", 1) != 1) return Status::Io("write " + path_);
    }
  }
  if (header_.is_null()) return Status::Invalid(path_ + " is empty, not a firedrill journal");
  return Status::Ok();
}

Status Journal::Append(const nlohmann::json& line) {
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Io("cannot write journal " + path_ + ": " + ErrnoText(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
  // The whole point: the line is on disk before the change it announces is made.
  if (::fdatasync(fd_) != 0) {
    return Status::Io("cannot sync journal " + path_ + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

bool Journal::closed() const {
  std::lock_guard<std::mutex> l(mu_);
  return closed_;
}

Result<std::string> Journal::SavedPath(std::string_view hint) {
  std::lock_guard<std::mutex> l(mu_);
  std::string dir = run_dir_ + "/saved";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Io("cannot create " + dir + ": " + ErrnoText(errno));
  }
  std::string base = fs::path(std::string(hint)).filename().string();
  if (base.empty() || base == "." || base == "..") base = "file";
  return dir + "/" + std::to_string(next_saved_++) + "-" + base;
}

Result<uint64_t> Journal::Intend(std::string owner, std::string kind, nlohmann::json args) {
  if (!FindUndoKind(kinds_, kind)) return Status::Internal("no undo kind " + kind);
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return Status::Internal("journal " + path_ + " is closed");
  JournalEntry e{next_id_++, std::move(owner), std::move(kind), std::move(args), false, ""};
  FD_RETURN_IF_ERROR(Append(
      {{"op", "intend"}, {"id", e.id}, {"owner", e.owner}, {"kind", e.kind}, {"args", e.args}}));
  uint64_t id = e.id;
  entries_.push_back(std::move(e));
  return id;
}

Result<std::string> Journal::Undo(uint64_t id, const UndoContext& ctx) {
  JournalEntry e;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const JournalEntry& x) { return x.id == id; });
    if (it == entries_.end()) return Status::Internal("no journal entry " + std::to_string(id));
    if (it->done) return it->detail;
    e = *it;
  }
  const UndoKind* k = FindUndoKind(kinds_, e.kind);
  if (!k)
    return Status::Failed("unknown undo kind '" + e.kind + "' (journal from a newer firedrill?)");
  auto r = k->undo(e.args, ctx);
  if (!r.ok()) return r;
  FD_RETURN_IF_ERROR(Done(id, *r));
  return r;
}

Status Journal::Done(uint64_t id, std::string detail) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& e : entries_) {
    if (e.id != id) continue;
    if (e.done) return Status::Ok();
    FD_RETURN_IF_ERROR(Append({{"op", "done"}, {"id", id}, {"detail", detail}}));
    e.done = true;
    e.detail = std::move(detail);
    return Status::Ok();
  }
  return Status::Internal("no journal entry " + std::to_string(id));
}

std::vector<JournalEntry> Journal::Entries() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_;
}

std::vector<JournalEntry> Journal::Pending() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<JournalEntry> out;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (!it->done) out.push_back(*it);
  }
  return out;
}

Status Journal::Close() {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return Status::Ok();
  for (const auto& e : entries_) {
    if (!e.done) return Status::Internal("journal entry " + std::to_string(e.id) + " not undone");
  }
  FD_RETURN_IF_ERROR(Append({{"op", "close"}}));
  closed_ = true;
  std::error_code ec;
  fs::remove_all(run_dir_ + "/saved", ec);
  return Status::Ok();
}

std::string DefaultStateDir() {
  if (const char* s = getenv("FIREDRILL_STATE_DIR"); s && *s) return s;
  if (const char* s = getenv("XDG_STATE_HOME"); s && *s) return std::string(s) + "/firedrill";
  const char* home = getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/firedrill";
}

std::vector<std::string> UnfinishedJournals(const std::string& state_dir) {
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(fs::path(state_dir) / "runs", ec)) {
    fs::path p = d.path() / kJournalName;
    if (!fs::is_regular_file(p, ec)) continue;
    // Closed journals end with the close line; read only the tail to know.
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char tail[64] = {};
    struct stat st {};
    ::fstat(fd, &st);
    off_t from = st.st_size > 63 ? st.st_size - 63 : 0;
    ssize_t n = ::pread(fd, tail, 63, from);
    ::close(fd);
    std::string t(tail, n > 0 ? static_cast<size_t>(n) : 0);
    if (t.find("{\"op\":\"close\"}") != std::string::npos) continue;
    found.emplace_back(fs::last_write_time(p, ec), p.string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

std::vector<std::string> RemoveAbandonedRuns(const std::string& state_dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(fs::path(state_dir) / "runs", ec)) {
    std::error_code e;
    if (!d.is_directory(e) || fs::exists(d.path() / kJournalName, e)) continue;
    const fs::path creating = d.path() / kCreatingName;
    if (fs::exists(creating, e)) {
      // Locked: a live run between creating its journal and renaming it.
      int fd = ::open(creating.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      const bool live = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
      ::close(fd);
      if (live) continue;
    } else {
      // Nothing but the directory (or not ours): only an old, empty one is abandoned.
      if (!fs::is_empty(d.path(), e) || e) continue;
      const auto age = fs::file_time_type::clock::now() - fs::last_write_time(d.path(), e);
      if (e || age < kEmptyRunGrace) continue;
    }
    if (fs::remove_all(d.path(), e) != static_cast<std::uintmax_t>(-1) && !e) {
      removed.push_back(d.path().string());
    }
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

ReplayResult ReplayJournal(const std::string& path, UndoKinds kinds, const UndoContext& ctx) {
  ReplayResult r;
  auto j = Journal::Open(path, kinds);
  if (!j.ok()) {
    if (j.status().code() == Status::Code::kFailed) {
      r.skipped_live = true;
      r.lines.push_back("skipped: " + j.status().message());
    } else {
      r.left.push_back(j.status().message());
    }
    return r;
  }
  Journal& jr = **j;
  if (jr.closed()) {
    r.complete = true;
    r.lines.push_back("nothing to undo: the run finished its rollback");
    return r;
  }
  // Newest first: later changes may sit on top of earlier ones.
  for (const auto& e : jr.Pending()) {
    auto u = jr.Undo(e.id, ctx);
    if (u.ok()) {
      r.lines.push_back(e.owner + ": " + *u);
    } else {
      r.left.push_back(e.owner + ": " + e.kind + ": " + u.status().message());
    }
  }
  if (r.left.empty()) {
    Status st = jr.Close();
    if (!st.ok()) r.left.push_back(st.message());
  }
  r.complete = r.left.empty();
  return r;
}

}  // namespace firedrill
