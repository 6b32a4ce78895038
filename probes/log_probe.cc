// log: a line appended to a file since the drill started matches a regex.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "runner/base/file_watch.h"
#include "runner/base/regex.h"
#include "runner/base/text.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

// A read takes at most this much new text, so a log that grows fast cannot stall a sample
// (or a loop thread); the rest waits for the next read.
constexpr size_t kReadCap = 16 << 20;
// A "line" that never ends (binary data, a runaway writer) is judged in pieces this long.
constexpr size_t kMaxLine = 1 << 20;

// Where reading resumes: an offset into one particular file (device and inode), so that
// a log rotated under the same name is read again from its start.
struct Position {
  bool known = false;  // false: the file did not exist
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t offset = 0;
};

// Read at each sample, and, where the run has a loop, also as soon as the file changes
// (runner/base/file_watch.h): a matching line is then stamped with the moment its write was
// reported, not the moment of the next sample. Both read under one lock, so a line is judged
// once whoever reads it.
class LogProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe.
  LogProbe(std::string path, std::string matches, Position start, const RunContext& ctx)
      : path_(std::move(path)), ctx_(ctx), pattern_(std::move(matches)), pos_(start) {}

  // Before the members the callback uses go.
  ~LogProbe() override { watch_.reset(); }

  // Follows the file through `loop` from now on. Without a watch (no such directory yet,
  // no inotify instance left) the probe reads at its samples, and tries again at each.
  // REQUIRES: `loop` outlives the probe.
  void Watch(EventLoop* loop) {
    std::lock_guard<std::mutex> lock(mu_);
    loop_ = loop;
    StartWatch();
  }

  ProbeOutcome Sample(const SampleVars& vars) override {
    std::lock_guard<std::mutex> lock(mu_);
    // Latched: the question is whether such a line was appended, and one was.
    if (matched_) return Matched();
    if (loop_ && !watch_) StartWatch();
    auto re = pattern_.Compile(*ctx_.expander, vars.seq);
    if (!re.ok()) return {false, re.status().message()};
    return Scan(**re);
  }

 private:
  // REQUIRES: mu_ held.
  void StartWatch() {
    auto w = FileWatch::Start(*loop_, path_, [this] { OnChange(); });
    if (w.ok()) watch_ = std::move(*w);
  }

  // On a loop thread, as the kernel reports a change.
  void OnChange() {
    std::lock_guard<std::mutex> lock(mu_);
    if (matched_) return;
    // Watched probes have no ${seq} in their pattern (Make sees to it).
    auto re = pattern_.Compile(*ctx_.expander, std::nullopt);
    if (re.ok()) Scan(**re);  // a bad pattern is reported by the next sample
  }

  ProbeOutcome Matched() const { return {true, *matched_, matched_at_}; }

  // Reads what is new and judges it.
  // REQUIRES: mu_ held.
  ProbeOutcome Scan(const RE2& re) {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err != ENOENT) return {false, "cannot read " + path_ + ": " + ErrnoText(err)};
      // Gone (rotated away, not yet recreated): whatever appears next is new.
      Restart(Position{});
      return {false, "no new line matches " + pattern_.Shown() + " (no file)"};
    }
    Status read = ReadNew(fd);
    ::close(fd);
    if (!read.ok()) return {false, read.message()};
    // Taken after the read, so never before the write of any line it read: a change
    // reported by the watch is read at once, so this is when the matching line's write was
    // reported (to within the read). A sample's read says only "by now".
    const int64_t read_at = ctx_.env->NowMs();

    std::string_view rest = pending_;
    // Only complete lines are judged: a line still being written could match its
    // beginning and not its end ($, or text the writer has not flushed yet).
    while (true) {
      size_t nl = rest.find('\n');
      size_t consumed = nl + 1;
      if (nl == std::string_view::npos) {
        if (rest.size() < kMaxLine) break;
        nl = consumed = kMaxLine;
      }
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(consumed);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++lines_seen_;
      // RE2 is linear in the line, so a read's cost is bounded by kReadCap.
      if (RegexSearch(re, line)) {
        matched_ = "matched " + Quoted(line);
        // Polled (no watch): as of the sample, which the engine knows already.
        if (watch_) matched_at_ = read_at;
        pending_.clear();
        return Matched();
      }
    }
    pending_.erase(0, pending_.size() - rest.size());
    return {false, "no new line matches " + pattern_.Shown() + " (" + std::to_string(lines_seen_) +
                       (lines_seen_ == 1 ? " new line)" : " new lines)")};
  }

  void Restart(Position p) {
    pos_ = p;
    pending_.clear();
  }

  // Appends what was written since the last sample to pending_.
  Status ReadNew(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Status::Io("fstat " + path_ + ": " + ErrnoText(errno));
    const auto size = static_cast<uint64_t>(st.st_size);
    if (!pos_.known || st.st_dev != pos_.dev || st.st_ino != pos_.ino) {
      // A file created or replaced (rotated) since the drill started: all of it is new.
      Restart(Position{true, st.st_dev, st.st_ino, 0});
    } else if (size < pos_.offset) {
      // Truncated in place (copytruncate): what is there now was written since.
      Restart(Position{true, st.st_dev, st.st_ino, 0});
    }
    // An unfinished last line left from the sample before counts against the cap, so that
    // a writer that never ends its line cannot pile text up here without bound.
    const uint64_t room = pending_.size() < kReadCap ? kReadCap - pending_.size() : 0;
    const uint64_t want = std::min<uint64_t>(size - pos_.offset, room);
    const size_t old = pending_.size();
    pending_.resize(old + want);
    size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd, pending_.data() + old + got, want - got,
                          static_cast<off_t>(pos_.offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        pending_.resize(old);
        return Status::Io("read " + path_ + ": " + ErrnoText(errno));
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    pending_.resize(old + got);
    pos_.offset += got;
    return Status::Ok();
  }

  const std::string path_;
  const RunContext& ctx_;
  std::mutex mu_;  // guards everything below: samples and the watch's callback both read
  Pattern pattern_;
  Position pos_;
  std::string pending_;  // read, not yet judged: an unfinished last line, or lines left over
  int64_t lines_seen_ = 0;
  std::optional<std::string> matched_;
  std::optional<int64_t> matched_at_;  // when a watched probe read the matching line
  EventLoop* loop_ = nullptr;
  std::unique_ptr<FileWatch> watch_;
};

constexpr FieldSpec kFields[] = {
    {.name = "path", .type = FieldType::kPath, .doc = "log file to follow", .required = true},
    {.name = "matches",
     .type = FieldType::kRegex,
     .doc = "regex a new line must match",
     .required = true},
};

// Called when the drill starts: everything already in the file is history.
// REQUIRES: ctx.expander is set and ctx outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  auto path = ctx.expander->Expand(p.String("path"));
  if (!path.ok()) return path.status();
  std::string full = ResolvePath(*path, ctx.workdir);
  Position start;
  struct stat st {};
  // A file that cannot be looked at now counts as empty; sampling will say why it fails.
  if (::stat(full.c_str(), &st) == 0) {
    start = Position{true, st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size)};
  }
  auto probe = std::make_unique<LogProbe>(full, p.String("matches"), start, ctx);
  // A data verifier's pattern changes with each sample's ${seq}: only its samples can judge.
  if (ctx.loop && p.String("matches").find("${seq") == std::string::npos) probe->Watch(ctx.loop);
  return std::unique_ptr<Probe>(std::move(probe));
}

}  // namespace

extern const ProbeKind kLogProbe = {
    .name = "log",
    .doc = "pass once a line appended since the drill started matches",
    .fields = kFields,
    .example = R"({log: {path: "${workdir}/sentinel.log", matches: "\\+odown master"}})",
    .check = nullptr,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
