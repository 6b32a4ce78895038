// A drill's artifacts: the systems' own logs and files (sentinel-1.log, HAProxy's log),
// copied into REPORT_DIR/artifacts/ at teardown, before a temporary workdir is removed.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace firedrill {

struct ArtifactNote {
  std::string type;    // artifact.collected | artifact.cut | artifact.refused | artifact.missing
  std::string name;    // the file, as placed under artifacts/ (or the pattern)
  std::string detail;  // bytes kept, or why not
};

// Copies every regular file the `patterns` (already expanded; relative ones against
// `workdir`; glob(3) patterns) match into `dest`, keeping its path relative to the workdir
// (files outside it under `dest`/abs/PATH). A match whose real path (symlinks followed) is
// outside every one of `roots` is refused and not read: the loader's check of the text is
// not enough once links are involved. Each file keeps at most `cap` bytes, its last ones
// (the end of a log says the most), and says so when cut. Never fails: each outcome is a
// note, for the timeline.
std::vector<ArtifactNote> CollectArtifacts(const std::vector<std::string>& patterns,
                                           const std::string& workdir,
                                           const std::vector<std::string>& roots,
                                           const std::string& dest, size_t cap);

}  // namespace firedrill
