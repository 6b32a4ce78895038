#include "probes/alert_text.h"

#include "runner/base/text.h"

namespace firedrill {

namespace {
// Label sets and summaries in details are cut to this many characters.
constexpr size_t kLabelsShown = 60;
constexpr size_t kSummaryShown = 160;
}  // namespace

std::string BriefLabels(const nlohmann::json& labels) {
  if (!labels.is_object()) return "";
  std::string out;
  for (const auto& [k, v] : labels.items()) {
    if (k == "alertname") continue;
    if (!out.empty()) out += ", ";
    out += k + "=" + (v.is_string() ? "\"" + v.get_ref<const std::string&>() + "\"" : v.dump());
    if (out.size() > kLabelsShown) break;
  }
  return out.empty() ? "" : " {" + OneLine(out, kLabelsShown) + "}";
}

std::string BriefSummary(const nlohmann::json& alert) {
  if (!alert.is_object()) return "";
  auto a = alert.find("annotations");
  if (a == alert.end() || !a->is_object()) return "";
  for (const char* key : {"summary", "description"}) {
    auto s = a->find(key);
    if (s != a->end() && s->is_string() && !s->get_ref<const std::string&>().empty()) {
      return ": " + OneLine(s->get<std::string>(), kSummaryShown);
    }
  }
  return "";
}

}  // namespace firedrill
