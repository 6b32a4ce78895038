// log: a line appended to a file since the drill started matches a regex.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>

#include "runner/base/regex.h"
#include "runner/base/text.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

// A sample reads at most this much new text, so a log that grows fast cannot stall a
// sample; the rest waits for the next one.
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

class LogProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe.
  LogProbe(std::string path, std::string matches, Position start, const RunContext& ctx)
      : path_(std::move(path)), pattern_(std::move(matches)), pos_(start), ctx_(ctx) {}

  ProbeOutcome Sample(const SampleVars& vars) override {
    // Latched: the question is whether such a line was appended, and one was.
    if (matched_) return {true, *matched_};
    auto re = pattern_.Compile(*ctx_.expander, vars.seq);
    if (!re.ok()) return {false, re.status().message()};

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
      // RE2 is linear in the line, so a sample's cost is bounded by kReadCap.
      if (RegexSearch(**re, line)) {
        matched_ = "matched " + Quoted(line);
        pending_.clear();
        return {true, *matched_};
      }
    }
    pending_.erase(0, pending_.size() - rest.size());
    return {false, "no new line matches " + pattern_.Shown() + " (" + std::to_string(lines_seen_) +
                       (lines_seen_ == 1 ? " new line)" : " new lines)")};
  }

 private:
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

  std::string path_;
  Pattern pattern_;
  Position pos_;
  std::string pending_;  // read, not yet judged: an unfinished last line, or lines left over
  int64_t lines_seen_ = 0;
  std::optional<std::string> matched_;
  const RunContext& ctx_;
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
  return std::unique_ptr<Probe>(new LogProbe(full, p.String("matches"), start, ctx));
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
