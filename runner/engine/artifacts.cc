#include "runner/engine/artifacts.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "runner/base/atomic_file.h"
#include "runner/base/paths.h"
#include "runner/base/unique_fd.h"
#include "runner/base/values.h"

namespace firedrill {
namespace {

namespace fs = std::filesystem;

// The last `cap` bytes of the file open at `fd` of `size` bytes.
bool ReadTail(int fd, off_t size, size_t cap, std::string* out) {
  const off_t from = size > static_cast<off_t>(cap) ? size - static_cast<off_t>(cap) : 0;
  out->resize(static_cast<size_t>(size - from));
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n = ::pread(fd, out->data() + got, out->size() - got, from + got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // shrank while being read: keep what there was
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return true;
}

std::string Bytes(size_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

std::vector<ArtifactNote> CollectArtifacts(const std::vector<std::string>& patterns,
                                           const std::string& workdir,
                                           const std::vector<std::string>& roots,
                                           const std::string& dest, size_t cap) {
  std::vector<ArtifactNote> notes;
  std::error_code ec;
  const fs::path wd = fs::weakly_canonical(workdir, ec);
  std::vector<fs::path> real_roots;
  for (const auto& r : roots) {
    fs::path p =
        fs::weakly_canonical(fs::path(r).is_relative() ? fs::path(workdir) / r : fs::path(r), ec);
    if (!ec) real_roots.push_back(p);
  }
  for (const auto& pattern : patterns) {
    const std::string full =
        fs::path(pattern).is_relative() ? (fs::path(workdir) / pattern).string() : pattern;
    glob_t g{};
    const int rc = ::glob(full.c_str(), GLOB_ERR, nullptr, &g);
    std::unique_ptr<glob_t, void (*)(glob_t*)> free_glob(&g, ::globfree);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
      notes.push_back({"artifact.missing", pattern, "nothing matched"});
      continue;
    }
    if (rc != 0) {
      notes.push_back({"artifact.missing", pattern, "cannot read the directories it names"});
      continue;
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      const std::string match = g.gl_pathv[i];
      const fs::path real = fs::canonical(match, ec);
      if (ec) {
        notes.push_back({"artifact.missing", match, ec.message()});
        continue;
      }
      bool inside = false;
      for (const auto& r : real_roots) inside = inside || PathWithin(real, r);
      if (!inside) {
        notes.push_back({"artifact.refused", match,
                         "its real path " + real.string() +
                             " is outside the workdir and settings.allow_paths"});
        continue;
      }
      UniqueFd fd(::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
      struct stat st {};
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        notes.push_back({"artifact.missing", match, "not a regular file that can be read"});
        continue;
      }
      const std::string rel =
          PathWithin(real, wd) ? real.lexically_relative(wd).string() : "abs" + real.string();
      std::string data;
      ReadTail(fd.get(), st.st_size, cap, &data);
      const fs::path out = fs::path(dest) / rel;
      fs::create_directories(out.parent_path(), ec);
      Status w = WriteFileAtomically(out.string(), data, FileMeta{.mode = 0644});
      if (!w.ok()) {
        notes.push_back({"artifact.missing", rel, w.message()});
      } else if (static_cast<size_t>(st.st_size) > cap) {
        notes.push_back({"artifact.cut", rel,
                         "kept the last " + Bytes(data.size()) + " of " +
                             Bytes(static_cast<size_t>(st.st_size))});
      } else {
        notes.push_back({"artifact.collected", rel, Bytes(data.size())});
      }
    }
  }
  return notes;
}

}  // namespace firedrill
