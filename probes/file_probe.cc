// file: existence, content, checksum of a file, or free space of its filesystem.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <vector>

#include "runner/base/sha256.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

// `contains` looks at no more than this much of a file; the checksum reads all of it.
constexpr uint64_t kContainsCap = uint64_t{64} << 20;
constexpr size_t kChunk = 1 << 20;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Scan {
  bool found = false;                 // `needle` seen within the first kContainsCap bytes
  std::optional<std::string> sha256;  // hex, when asked for
};

// One pass over the file for both `contains` and `sha256`, in chunks so that a large file
// never sits in memory. A needle straddling two chunks is found through the tail of the
// previous chunk kept in front of the next.
Result<Scan> ScanFile(const std::string& path, const std::string* needle, bool want_sha,
                      const RunContext& ctx) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Io("cannot read: " + ErrnoText(errno));
  Scan scan;
  Sha256 hash;
  std::vector<char> buf(kChunk);
  std::string window;  // tail of what was read + the new chunk, for `contains`
  uint64_t searched = 0;
  bool need_search = needle != nullptr;
  if (need_search && needle->empty()) {
    scan.found = true;
    need_search = false;
  }
  Status error;
  while (need_search || want_sha) {
    if (ctx.cancelled()) {
      error = Status::Failed("cancelled");
      break;
    }
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = Status::Io("read: " + ErrnoText(errno));
      break;
    }
    if (n == 0) break;
    if (want_sha) hash.Update(buf.data(), static_cast<size_t>(n));
    if (need_search) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, kContainsCap - searched));
      searched += take;
      window.append(buf.data(), take);
      if (window.find(*needle) != std::string::npos) {
        scan.found = true;
        need_search = false;
      } else if (searched >= kContainsCap) {
        need_search = false;
      } else if (needle->size() > 1 && window.size() >= needle->size()) {
        window.erase(0, window.size() - (needle->size() - 1));
      } else if (needle->size() <= 1) {
        window.clear();
      }
    }
  }
  ::close(fd);
  if (!error.ok()) return error;
  if (want_sha) {
    auto hex = hash.FinishHex();
    if (!hex.ok()) return hex.status();
    scan.sha256 = std::move(*hex);
  }
  return scan;
}

struct FreeSpace {
  uint64_t bytes = 0;
  double percent = 0;
};

Result<FreeSpace> FreeSpaceOf(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return Status::Io("statvfs: " + ErrnoText(errno));
  FreeSpace f;
  f.bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  // Some pseudo filesystems report no blocks at all: nothing is free on them.
  f.percent = vfs.f_blocks == 0
                  ? 0.0
                  : static_cast<double>(vfs.f_bavail) / static_cast<double>(vfs.f_blocks) * 100.0;
  return f;
}

// "5%", "3.4%".
std::string PercentText(double p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", p);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s + "%";
}

class FileProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe.
  FileProbe(const Params& p, const RunContext& ctx) : path_(p.String("path")), ctx_(ctx) {
    const Params& e = p.Object("expect");
    exists_ = e.Bool("exists");
    if (e.Has("contains")) contains_ = e.String("contains");
    if (e.Has("sha256")) sha256_ = Lower(e.String("sha256"));
    if (e.Has("free_below")) free_below_ = e.Size("free_below");
  }

  ProbeOutcome Sample(const SampleVars& vars) override {
    auto expanded = ctx_.expander->Expand(path_, vars.seq);
    if (!expanded.ok()) return {false, expanded.status().message()};
    const std::string path = ResolvePath(*expanded, ctx_.workdir);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) return {false, "stat: " + ErrnoText(errno)};
      return {!exists_, exists_ ? "does not exist" : "absent"};
    }
    if (!exists_) return {false, "exists (expected absent)"};

    std::vector<std::string> passed{"exists"};
    std::optional<std::string> contains;
    if (contains_) {
      auto c = ctx_.expander->Expand(*contains_, vars.seq);
      if (!c.ok()) return {false, c.status().message()};
      contains = std::move(*c);
    }
    if (contains || sha256_) {
      if (S_ISDIR(st.st_mode)) return {false, "is a directory"};
      auto scan = ScanFile(path, contains ? &*contains : nullptr, sha256_.has_value(), ctx_);
      if (!scan.ok()) return {false, scan.status().message()};
      if (contains) {
        if (!scan->found) return {false, "does not contain " + Quoted(*contains)};
        passed.push_back("contains " + Quoted(*contains));
      }
      if (sha256_) {
        if (*scan->sha256 != *sha256_) {
          return {false, "sha256 " + scan->sha256->substr(0, 12) + "... (expected " +
                             sha256_->substr(0, 12) + "...)"};
        }
        passed.push_back("sha256 matches");
      }
    }
    if (free_below_) {
      auto f = FreeSpaceOf(path);
      if (!f.ok()) return {false, f.status().message()};
      const bool below = free_below_->is_percent() ? f->percent < free_below_->percent
                                                   : f->bytes < free_below_->bytes;
      const std::string limit = free_below_->is_percent() ? PercentText(free_below_->percent)
                                                          : FormatBytes(free_below_->bytes);
      std::string text = "free " + FormatBytes(f->bytes) + " (" + PercentText(f->percent) + ")";
      if (!below) return {false, text + ", not below " + limit};
      passed.push_back(text + " < " + limit);
    }
    // "exists" says nothing new once another check has read the file.
    if (passed.size() > 1) passed.erase(passed.begin());
    std::string detail;
    for (const auto& p : passed) detail += (detail.empty() ? "" : ", ") + p;
    return {true, detail};
  }

 private:
  std::string path_;
  bool exists_ = true;
  std::optional<std::string> contains_;
  std::optional<std::string> sha256_;
  std::optional<SizeValue> free_below_;
  const RunContext& ctx_;
};

constexpr FieldSpec kExpectFields[] = {
    {.name = "exists",
     .type = FieldType::kBool,
     .doc = "the path exists (or not)",
     .default_value = "true"},
    {.name = "contains", .type = FieldType::kString, .doc = "the file contains this text"},
    {.name = "sha256", .type = FieldType::kString, .doc = "the file's SHA-256, hex"},
    {.name = "free_below",
     .type = FieldType::kSizeOrPercent,
     .doc = "free space of the filesystem is below this (size or %)"},
};

constexpr FieldSpec kFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "file (or, for free_below, any path on the filesystem)",
     .required = true},
    {.name = "expect",
     .type = FieldType::kObject,
     .doc = "what passing means",
     .fields = kExpectFields},
};

std::optional<FieldError> Check(const Params& p, Mark) {
  const Params& e = p.Object("expect");
  if (e.Has("sha256")) {
    const std::string& h = e.String("sha256");
    if (h.size() != 64 || h.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      return FieldError{e.MarkOf("sha256"), "sha256 must be 64 hexadecimal digits"};
    }
  }
  return std::nullopt;
}

// REQUIRES: ctx.expander is set and ctx outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  return std::unique_ptr<Probe>(new FileProbe(p, ctx));
}

}  // namespace

extern const ProbeKind kFileProbe = {
    .name = "file",
    .doc = "check a file exists, contains text, has a checksum, or its filesystem's free space",
    .fields = kFields,
    .example =
        R"({file: {path: "${workdir}/dump.rdb", expect: {exists: true, contains: "REDIS"}}})",
    .check = Check,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
