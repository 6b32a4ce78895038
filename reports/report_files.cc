#include "reports/report_files.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/postmortem.h"
#include "runner/base/atomic_file.h"

namespace firedrill {
namespace {

using nlohmann::json;

struct Rendered {
  const char* file;
  std::string text;
};

// Every rendered file, from the report alone (and the summary), so that re-rendering a
// run needs nothing but its report directory.
std::vector<Rendered> Render(const json& report, const std::string& summary) {
  return {{kSummaryFile, summary},
          {kJunitFile, JunitXml({{report, summary}})},
          {kHtmlFile, HtmlReport(report)},
          {kPostmortemFile, PostmortemMarkdown(report)}};
}

Status WriteRendered(const std::string& dir, const std::vector<Rendered>& files) {
  std::string failed;
  for (const auto& f : files) {
    Status st = WriteFileAtomically(dir + "/" + f.file, f.text, FileMeta{.mode = 0644});
    if (!st.ok()) failed += (failed.empty() ? "" : "; ") + st.message();
  }
  return failed.empty() ? Status::Ok() : Status::Io(failed);
}

// The whole of a file; nullopt when it cannot be read.
std::optional<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

}  // namespace

Status WriteReportFiles(const std::string& dir, const json& report, const std::string& summary) {
  Status json_status = WriteJsonReport(dir + "/" + kReportJsonFile, report);
  Status rendered = WriteRendered(dir, Render(report, summary));
  if (json_status.ok()) return rendered;
  if (rendered.ok()) return json_status;
  return Status::Io(json_status.message() + "; " + rendered.message());
}

Status WriteCombinedJunit(const std::string& dir, const std::vector<JunitSuite>& suites) {
  return WriteRendered(dir, {{kJunitFile, JunitXml(suites)}});
}

Status RenderReportFiles(const std::string& dir) {
  const std::string path = dir + "/" + kReportJsonFile;
  std::optional<std::string> text = Slurp(path);
  if (!text) return Status::NotFound("cannot read " + path);
  json report = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded() || !report.is_object()) {
    return Status::Invalid(path + " is not a report (not a JSON object)");
  }
  if (report.value("format", std::string()) != kReportFormat) {
    return Status::Invalid(path + " is not a " + std::string(kReportFormat) + " report");
  }
  const std::string summary = Slurp(dir + "/" + kSummaryFile).value_or("");
  return WriteRendered(dir, Render(report, summary));
}

}  // namespace firedrill
