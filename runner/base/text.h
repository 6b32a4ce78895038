// Text for people: details on one short line, paths relative to the workdir, errno as
// words. Shared by the engine, probes and injectors (the terminal view keeps its own
// display rules).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace firedrill {

// Details are read in a terminal timeline, one line each, so output is cut short.
inline constexpr size_t kDetailTextMax = 80;

// The first line of `text` that is not blank, without leading or trailing blanks, cut to `max`
// characters; "..." marks anything left out (further lines or the cut). Control characters become
// '?'.
std::string OneLine(std::string_view text, size_t max = kDetailTextMax);
// OneLine in double quotes: `"OK"`.
std::string Quoted(std::string_view text, size_t max = kDetailTextMax);

// `path` as is when absolute, else below `workdir`.
std::string ResolvePath(const std::string& path, const std::string& workdir);

// strerror text, thread-safe, starting lower-case: "connection refused".
std::string ErrnoText(int err);

}  // namespace firedrill
