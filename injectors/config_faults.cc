// config.set: a regex replacement inside a text file (configuration drift). The original
// is saved and journaled first and restored byte for byte; the drifted file replaces it
// atomically with the same mode and owner, as an editor or a config tool would write it.
//
// `match` is compiled like every regex of a drill (runner/base/regex.h: RE2, multiline, so
// ^ and $ also match at line breaks) and is applied to the whole file, so a match may span
// lines (`\n` in the pattern). Every match is replaced; `replace` writes $1 for a group,
// $& for the match, $$ for a dollar. A replacement that changes nothing (no match, or the
// text already reads that way) fails the injection: a drift that did not happen would make
// the drill silently meaningless.
#include <fcntl.h>
#include <sys/stat.h>

#include "injectors/journaled_fault.h"
#include "injectors/support/file_ops.h"
#include "runner/base/atomic_file.h"
#include "runner/base/regex.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"
#include "runner/drill/pattern.h"

namespace firedrill {
namespace {

// config.set edits configuration, which is small; a larger file is refused rather than
// read whole.
constexpr uint64_t kMaxConfigBytes = uint64_t{256} << 10;

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

class ConfigFault final : public JournaledFault {
 public:
  ConfigFault(std::string name, std::string path, std::string match, std::string replace,
              const RunContext& ctx)
      : JournaledFault(std::move(name), ctx),
        path_(std::move(path)),
        pattern_(std::move(match)),
        replace_(std::move(replace)) {}

 private:
  Result<std::string> Apply() override {
    if (!ctx().expander) return Status::Internal("no expander for the drill's ${...}");
    auto path = ExpandInside(path_, ctx());
    if (!path.ok()) return path.status();
    auto fd = OpenInside(*path, O_RDONLY, ctx());
    if (!fd.ok()) return fd.status();
    const std::string shown = Shown(*path, ctx());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return Status::Io("stat " + shown + ": " + ErrnoText(errno));
    if (static_cast<uint64_t>(st.st_size) > kMaxConfigBytes) {
      return Status::Failed(shown + " is " + FormatBytes(st.st_size) +
                            ": config.set edits text files up to " + FormatBytes(kMaxConfigBytes));
    }
    auto text = ReadAll(fd->get(), static_cast<uint64_t>(st.st_size), shown);
    if (!text.ok()) return text.status();
    auto re = pattern_.Compile(*ctx().expander, std::nullopt);
    if (!re.ok()) return re.status();
    auto format = ctx().expander->Expand(replace_);
    if (!format.ok()) return format.status();
    auto r = RegexReplaceAll(**re, *text, *format);
    if (!r.ok()) return r.status().Annotate("replace");
    if (r->matches == 0) {
      return Status::Failed(pattern_.Shown() + " matches nothing in " + shown +
                            ": nothing changed");
    }
    if (r->text == *text) {
      return Status::Failed(shown + " already reads that way after replacing " + pattern_.Shown() +
                            ": nothing changed");
    }

    auto saved = Adopt(SaveAndJournal(fd->get(), *path, owner(), ctx()));
    if (!saved.ok()) return saved.status();
    Status written = WriteFileAtomically(
        *path, r->text,
        FileMeta{
            .mode = static_cast<mode_t>(st.st_mode & 07777), .uid = st.st_uid, .gid = st.st_gid});
    if (!written.ok()) return RestoreAfterFailure(written, id(), ctx());
    SetFigure("replacements", static_cast<double>(r->matches));
    return "replaced " + std::to_string(r->matches) + " match(es) of " + pattern_.Shown() + " in " +
           shown + ": " + Quoted(r->first_before, 30) + " -> " + Quoted(r->first_after, 30);
  }

  std::string path_;
  Pattern pattern_;
  std::string replace_;
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
