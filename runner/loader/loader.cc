// The entry points: a drill's bytes through the limits (runner/loader/limits.h), yaml-cpp,
// the sections and the whole-drill checks, in that order; each step runs only when the one
// before found nothing wrong that would make it meaningless.
#include "runner/loader/loader.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "runner/base/values.h"
#include "runner/loader/checks.h"
#include "runner/loader/limits.h"
#include "runner/loader/reader.h"
#include "runner/loader/sections.h"

namespace firedrill {

std::string Diagnostic::ToString(const char* severity) const {
  std::string where = file;
  if (mark.line > 0) where += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  return where + ": " + severity + ": " + message;
}

namespace {

LoadResult Refused(const std::string& file, Rejection why) {
  LoadResult r;
  r.errors.push_back(Diagnostic{file, why.mark, std::move(why.message)});
  return r;
}

LoadResult Load(const std::string& text, const std::string& file, const LoadOptions& opts) {
  if (auto bad = CheckStructure(text, opts)) return Refused(file, std::move(*bad));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Mark m = e.mark.is_null() ? Mark{1, 1} : Mark{e.mark.line + 1, e.mark.column + 1};
    return Refused(file, Rejection{m, "not valid YAML: " + e.msg});
  }
  if (!root.IsDefined() || root.IsNull()) {
    return Refused(file, Rejection{{1, 1},
                                   "the file is empty; a drill starts with "
                                   "`apiVersion: firedrill/v1`"});
  }
  if (!root.IsMap()) {
    return Refused(file, Rejection{MarkOf(root),
                                   "a drill is a map of keys (apiVersion, name, "
                                   "...)" +
                                       Reader::Got(root)});
  }
  Reader in(file, text, opts);
  Scenario s;
  s.file = file;
  DrillParser parser(in);
  parser.Parse(root, s);
  if (in.error_count() == 0) CheckReferences(in, parser.refs(), s);
  if (in.error_count() == 0) ExpandGroups(in, s);
  if (in.error_count() == 0) PlaceOnHosts(in, s);
  if (in.error_count() == 0) CheckBlastRadius(in, parser.refs(), s);
  if (in.error_count() == 0) CheckRunnable(in, s, opts.require_runnable);

  LoadResult result;
  result.errors = in.TakeErrors();
  result.notes = in.TakeNotes();
  if (result.errors.empty()) result.scenario = std::move(s);
  return result;
}

}  // namespace

LoadResult LoadScenarioText(const std::string& text, const std::string& file_name,
                            const LoadOptions& opts) {
  if (text.size() > opts.max_bytes) {
    return Refused(file_name, TooBig(FormatBytes(text.size()), opts));
  }
  if (auto bad = CheckEncoding(text)) return Refused(file_name, std::move(*bad));
  try {
    return Load(text, file_name, opts);
  } catch (const std::exception& e) {
    // yaml-cpp can throw from deep inside node access on pathological input.
    return Refused(file_name, Rejection{{1, 1}, std::string("cannot read drill: ") + e.what()});
  }
}

LoadResult LoadScenarioFile(const std::string& path, const LoadOptions& opts) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Refused(path, Rejection{{}, "is a directory, not a drill file"});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Refused(path, Rejection{{}, "cannot open file"});
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    // Stop early: the file may be huge, or endless (/dev/zero).
    if (text.size() > opts.max_bytes) {
      std::error_code size_ec;  // set for what has no size: a pipe, a device
      uintmax_t size = std::filesystem::file_size(path, size_ec);
      return Refused(
          path, TooBig(!size_ec && size >= text.size() ? FormatBytes(size)
                                                       : "more than " + FormatBytes(opts.max_bytes),
                       opts));
    }
  }
  return LoadScenarioText(text, path, opts);
}

}  // namespace firedrill
