#include "reports/debrief.h"

#include <fmt/format.h>

#include "runner/base/values.h"

namespace firedrill {

using nlohmann::json;

namespace {

std::string Ms(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return "never";
  return HumanMillis(j[key].get<int64_t>());
}

bool Shown(const std::string& type) {
  return type == "page" || type == "hint" || type == "recovered" || type == "abort" ||
         type == "error" || type == "fault.injected" || type == "watch.met" ||
         type.rfind("trainee.", 0) == 0;
}

}  // namespace

std::string DebriefMarkdown(const json& r, const std::string& runbook) {
  const json empty = json::object();
  const json& t = r.contains("training") && r["training"].is_object() ? r["training"] : empty;
  const json& m = r.contains("metrics") && r["metrics"].is_object() ? r["metrics"] : empty;
  std::string md = fmt::format("# Debrief: {} ({})\n\n", r.value("name", std::string("?")),
                               t.value("trainee", std::string("trainee")));
  const int code = r.value("exit_code", 4);
  const std::string outcome =
      code == 0   ? "recovered in time"
      : code == 1 ? "recovered too late, or not at all"
      : code == 3 ? "stopped before recovery (" + r.value("aborted_reason", std::string("?")) + ")"
                  : "the session could not be carried out";
  md += fmt::format("**{}**: score {} of 100.\n\n", outcome, r.value("score", 0));

  md += "## Figures\n\n";
  md += "Times count from the fault.\n\n";
  md += fmt::format("- paged after: {}\n", Ms(t, "paged_after_ms"));
  md += fmt::format("- acknowledged after: {}\n", Ms(t, "acknowledged_after_ms"));
  md += fmt::format("- first note after: {}\n", Ms(t, "first_note_after_ms"));
  md += fmt::format("- recovered after: {}", Ms(t, "recovered_after_ms"));
  // The RTO the drill gives, from the objective that judges it.
  if (r.contains("objectives") && r["objectives"].is_array()) {
    for (const auto& o : r["objectives"]) {
      if (o.value("name", std::string()) == "recovery.within" &&
          o["target_ms"].is_number_integer()) {
        md += fmt::format(" (the target: {})", HumanMillis(o["target_ms"].get<int64_t>()));
      }
    }
  }
  md += "\n";
  md +=
      fmt::format("- hints used: {} of {}\n", t.value("hints_used", 0), t.value("hints_total", 0));
  const json decl = t.value("declarations", json::object());
  md += fmt::format("- declared fixed: {} time(s) rightly, {} time(s) too early\n",
                    decl.value("true", 0), decl.value("false", 0));
  if (m.contains("availability") && m["availability"].is_number()) {
    md += fmt::format("- availability while broken: {:.1f}%\n",
                      m["availability"].get<double>() * 100.0);
  }
  md += "\n## Score\n\n";
  if (r.contains("score_parts") && r["score_parts"].is_array() && !r["score_parts"].empty()) {
    md += "| part | weight | value | points |\n|---|---|---|---|\n";
    for (const auto& p : r["score_parts"]) {
      md +=
          fmt::format("| {} | {} | {:.2f} | {:.1f} |\n", p.value("part", std::string()),
                      p.value("weight", 0.0), p.value("value", 0.0), p.value("contribution", 0.0));
    }
    md += "\n(`firedrill score` prints the formula.)\n";
  } else {
    md += "Not scored: the session was stopped or could not be carried out.\n";
  }

  md += "\n## Timeline\n\n";
  if (r.contains("timeline") && r["timeline"].is_array()) {
    for (const auto& e : r["timeline"]) {
      const std::string type = e.value("type", std::string());
      if (!Shown(type)) continue;
      const std::string name = e.value("name", std::string());
      const std::string detail = e.value("detail", std::string());
      md += fmt::format("- +{} {}{}{}\n", HumanMillis(e.value("t_ms", int64_t{0})), type,
                        name.empty() ? "" : " " + name, detail.empty() ? "" : ": " + detail);
    }
  }

  md += "\n## What the runbook says\n\n";
  md += runbook.empty() ? "This drill names no runbook, or it could not be read.\n" : runbook;
  if (!md.empty() && md.back() != '\n') md += '\n';
  return md;
}

}  // namespace firedrill
