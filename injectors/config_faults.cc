// config.set: a regex replacement inside a text file (configuration drift). The original
// is saved and journaled first and restored byte for byte; the drifted file replaces it
// atomically with the same mode and owner, as an editor or a config tool would write it.
//
// `match` is compiled like every regex of a drill (probes/probe_util.h: ECMAScript,
// multiline, so ^ and $ also match at line breaks) and is applied to the whole file, so a
// match may span lines. Every match is replaced. A replacement that changes nothing (no
// match, or the text already reads that way) fails the injection: a drift that did not
// happen would make the drill silently meaningless.
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include <iterator>
#include <regex>

#include "runner/drill/fault.h"
#include "injectors/support/file_ops.h"
#include "runner/base/atomic_file.h"
#include "runner/drill/pattern.h"
#include "runner/base/text.h"
#include "runner/base/values.h"

namespace firedrill {
namespace {

// Configuration files are small; this keeps the matcher's stack (below) bounded.
constexpr uint64_t kMaxConfigBytes = uint64_t{256} << 10;
// libstdc++ matches recursively: a pattern whose match runs across many characters, such
// as [\s\S]* or (a|\n)*, takes about 0.8 KiB of stack per character at -O2 (measured over
// 256 KiB of text). The replacement therefore runs on a thread whose stack fits the worst
// case with room to spare; it is only reserved address space until touched.
constexpr size_t kStackBase = size_t{8} << 20;
constexpr size_t kStackPerByte = 2048;

struct Replaced {
  std::string text;
  size_t matches = 0;
  std::string first_before, first_after;
};

struct ReplaceJob {
  const std::string* text;
  const std::regex* re;
  const std::string* format;
  Replaced out;
  std::string error;
};

void* RunReplace(void* arg) {
  auto* job = static_cast<ReplaceJob*>(arg);
  try {
    const std::string& text = *job->text;
    auto last = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), *job->re), end; it != end; ++it) {
      const std::smatch& m = *it;
      job->out.text.append(m.prefix().first, m.prefix().second);
      const size_t at = job->out.text.size();
      m.format(std::back_inserter(job->out.text), *job->format);
      if (job->out.matches++ == 0) {
        job->out.first_before = m.str();
        job->out.first_after = job->out.text.substr(at);
      }
      last = m.suffix().first;
    }
    job->out.text.append(last, text.cend());
  } catch (const std::exception& e) {
    // regex_error (complexity) or bad_alloc.
    job->error = e.what();
  }
  return nullptr;
}

// Every match of `re` in `text` replaced by `format` ($1, $&, $$ as in ECMAScript).
Result<Replaced> ReplaceAll(const std::string& text, const std::regex& re,
                            const std::string& format) {
  ReplaceJob job{&text, &re, &format, {}, {}};
  pthread_attr_t attr;
  if (int err = pthread_attr_init(&attr); err != 0) {
    return Status::Internal("pthread_attr_init: " + ErrnoText(err));
  }
  int err = pthread_attr_setstacksize(&attr, kStackBase + kStackPerByte * text.size());
  pthread_t thread;
  if (err == 0) err = pthread_create(&thread, &attr, RunReplace, &job);
  pthread_attr_destroy(&attr);
  if (err != 0) return Status::Internal("cannot start the regex thread: " + ErrnoText(err));
  pthread_join(thread, nullptr);
  if (!job.error.empty()) return Status::Failed("regex replacement gave up: " + job.error);
  return std::move(job.out);
}

Result<std::string> ReadAll(int fd, uint64_t size, const std::string& shown) {
  std::string text(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Io("read " + shown + ": " + ErrnoText(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

class ConfigFault final : public Fault {
 public:
  ConfigFault(std::string name, std::string path, std::string match, std::string replace,
              const RunContext& ctx)
      : name_(std::move(name)),
        path_(std::move(path)),
        pattern_(std::move(match)),
        replace_(std::move(replace)),
        ctx_(ctx) {}

  Result<std::string> Inject() override {
    if (!ctx_.journal) return Status::Internal("no journal: refusing to inject");
    if (!ctx_.expander) return Status::Internal("no expander for the drill's ${...}");
    auto path = ExpandInside(path_, ctx_);
    if (!path.ok()) return path.status();
    auto fd = OpenInside(*path, O_RDONLY, ctx_);
    if (!fd.ok()) return fd.status();
    const std::string shown = Shown(*path, ctx_);
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return Status::Io("stat " + shown + ": " + ErrnoText(errno));
    if (static_cast<uint64_t>(st.st_size) > kMaxConfigBytes) {
      return Status::Failed(shown + " is " + FormatBytes(st.st_size) +
                            ": config.set edits text files up to " + FormatBytes(kMaxConfigBytes));
    }
    auto text = ReadAll(fd->get(), static_cast<uint64_t>(st.st_size), shown);
    if (!text.ok()) return text.status();
    auto re = pattern_.Compile(*ctx_.expander, std::nullopt);
    if (!re.ok()) return re.status();
    auto format = ctx_.expander->Expand(replace_);
    if (!format.ok()) return format.status();
    auto r = ReplaceAll(*text, **re, *format);
    if (!r.ok()) return r.status();
    if (r->matches == 0) {
      return Status::Failed(pattern_.Shown() + " matches nothing in " + shown +
                            ": nothing changed");
    }
    if (r->text == *text) {
      return Status::Failed(shown + " already reads that way after replacing " + pattern_.Shown() +
                            ": nothing changed");
    }

    auto id = SaveAndJournal(fd->get(), *path, "fault " + name_, ctx_);
    if (!id.ok()) return id.status();
    id_ = *id;
    Status written = WriteFileAtomically(
        *path, r->text,
        FileMeta{.mode = static_cast<mode_t>(st.st_mode & 07777), .uid = st.st_uid, .gid = st.st_gid});
    if (!written.ok()) return RestoreAfterFailure(written, id_, ctx_);
    return "replaced " + std::to_string(r->matches) + " match(es) of " + pattern_.Shown() + " in " +
           shown + ": " + Quoted(r->first_before, 30) + " -> " + Quoted(r->first_after, 30);
  }

  Result<std::string> Rollback() override { return ctx_.journal->Undo(id_, ctx_.undo()); }

 private:
  std::string name_, path_;
  Pattern pattern_;
  std::string replace_;
  uint64_t id_ = 0;
  const RunContext& ctx_;
};

constexpr FieldSpec kFields[] = {
    {.name = "path",
     .type = FieldType::kPath,
     .doc = "text file, at most 256 KiB (inside allow_paths)",
     .required = true},
    {.name = "match",
     .type = FieldType::kRegex,
     .doc = "regex (multiline: ^ and $ at line breaks); every match is replaced",
     .required = true},
    {.name = "replace",
     .type = FieldType::kString,
     .doc = "replacement: $1 for a group, $& the match, $$ a dollar",
     .required = true},
};

Result<std::unique_ptr<Fault>> Make(const FaultSpec& f, const RunContext& ctx) {
  auto path = ExpandInside(f.with.String("path"), ctx);
  if (!path.ok()) return path.status();
  return std::unique_ptr<Fault>(new ConfigFault(
      f.name, f.with.String("path"), f.with.String("match"), f.with.String("replace"), ctx));
}

}  // namespace

extern const FaultAction kConfigSet = {
    .name = "config.set",
    .doc =
        "rewrite part of a text file with a regex (fails when nothing would change); "
        "restored byte for byte",
    .target = Use::kForbidden,
    .duration = Use::kOptional,
    .fields = kFields,
    .example =
        R"({name: drift, at: 1s, action: config.set, with: {path: "${workdir}/replica.conf", match: "^replicaof .*$", replace: "replicaof 127.0.0.1 1"}})",
    .check = nullptr,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
