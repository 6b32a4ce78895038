#include "reports/html_timeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <vector>

#include "reports/html_common.h"
#include "runner/base/values.h"

namespace firedrill::html {

namespace {

using nlohmann::json;

// Geometry, in SVG user units; the SVG scales to the width of the page.
constexpr double kWidth = 1200;
constexpr double kLabelX = 8;
constexpr double kPlotX0 = 236;
constexpr double kPlotX1 = 1184;
constexpr double kMomentRowH = 15;
constexpr int kMomentRows = 3;
constexpr double kPhaseH = 18;
constexpr double kGroupH = 22;
constexpr double kLaneH = 24;
constexpr double kAxisH = 28;
constexpr double kCharW = 6.6;  // a 11-unit label's average character, to keep labels apart

// A 10-minute drill samples every check hundreds of times: stretches closer than this many
// units are drawn as one, and so are markers, so the picture stays readable and its size
// bounded. The table below the picture keeps every event.
constexpr double kMergeUnits = 4;
constexpr double kClusterUnits = 7;
constexpr double kMinBarUnits = 1.5;
constexpr size_t kMaxLabel = 32;
constexpr size_t kMaxTitleDetail = 160;
constexpr int kMaxTicks = 10;

struct Event {
  int64_t t = 0;
  std::string type, name, detail;
};

enum class Shape { kDown, kUp, kCross, kDot, kDiamond, kHint };

struct Mark {
  int64_t t = 0;
  Shape shape = Shape::kDot;
  std::string cls;
  std::string title;
};

struct Bar {
  int64_t from = 0, to = 0;
  std::string cls;
  std::string title;
};

struct Lane {
  std::string kind;  // fault, watch, probe, response: data-kind, for readers and tests
  std::string name;
  std::string label;
  std::vector<Bar> bars;  // drawn in order, under the marks
  std::vector<Mark> marks;
  std::string note;  // said in the lane when there is nothing to draw
};

Lane NewLane(std::string kind, std::string name, std::string label) {
  Lane lane;
  lane.kind = std::move(kind);
  lane.name = std::move(name);
  lane.label = std::move(label);
  return lane;
}

struct Group {
  std::string title;
  std::vector<Lane> lanes;
};

struct Moment {
  int64_t t = 0;
  std::string label;
  std::string cls;
};

class Scale {
 public:
  explicit Scale(int64_t end_ms) : end_(std::max<int64_t>(end_ms, 1)) {}
  double X(int64_t t) const {
    const double c = static_cast<double>(std::clamp<int64_t>(t, 0, end_));
    return kPlotX0 + (kPlotX1 - kPlotX0) * c / static_cast<double>(end_);
  }
  // How many milliseconds `units` of width stand for.
  int64_t Ms(double units) const {
    return std::llround(units * static_cast<double>(end_) / (kPlotX1 - kPlotX0));
  }
  int64_t end() const { return end_; }

 private:
  int64_t end_;
};

std::string Num(double v) { return fmt::format("{:.1f}", v); }

std::string TitleDetail(const std::string& detail) {
  return detail.empty() ? "" : ": " + Shorten(detail, kMaxTitleDetail);
}

std::vector<Event> EventsOf(const json& report) {
  std::vector<Event> events;
  for (const auto& e : Array(report, "timeline")) {
    const auto t = Int(e, "t_ms");
    if (!t) continue;
    events.push_back({*t, Text(e, "type"), Text(e, "name"), Text(e, "detail")});
  }
  // The format promises time order; a hand-edited file may not keep it.
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.t < b.t; });
  return events;
}

std::optional<int64_t> FirstFault(const json& report) {
  std::optional<int64_t> first;
  for (const auto& f : Array(report, "faults")) {
    if (auto t = Int(f, "injected_at_ms")) first = first ? std::min(*first, *t) : *t;
  }
  return first;
}

int64_t EndOf(const json& report, const std::vector<Event>& events) {
  int64_t end = events.empty() ? 0 : events.back().t;
  for (const auto& f : Array(report, "faults")) {
    for (const char* key : {"injected_at_ms", "rolled_back_at_ms"}) {
      if (auto t = Int(f, key)) end = std::max(end, *t);
    }
  }
  return end;
}

// Steady-state checks are sampled in the fault phase only: their lanes end where the
// phase after it begins.
int64_t FaultPhaseEnd(const std::vector<Event>& events, int64_t end) {
  bool in_faults = false;
  for (const auto& e : events) {
    if (e.type != "phase") continue;
    if (in_faults) return e.t;
    in_faults = e.name == "faults";
  }
  return end;
}

// ---- lanes ----

Lane FaultLane(const json& f, const std::vector<Event>& events) {
  Lane lane = NewLane("fault", Text(f, "name"), Text(f, "name"));
  const std::string detail = Text(f, "detail");
  const auto injected = Int(f, "injected_at_ms");
  const auto rolled_back = Int(f, "rolled_back_at_ms");
  if (injected && rolled_back) {
    lane.bars.push_back({*injected, *rolled_back, "bar-fault",
                         fmt::format("{} in effect from {} to {}", lane.name, Offset(*injected),
                                     Offset(*rolled_back))});
  }
  if (injected) {
    lane.marks.push_back({*injected, Shape::kDown, "m-fault",
                          fmt::format("{} injected ({}) at {}{}", lane.name, Text(f, "action"),
                                      Offset(*injected), TitleDetail(detail))});
  }
  if (rolled_back) {
    lane.marks.push_back({*rolled_back, Shape::kUp, "m-rollback",
                          fmt::format("{} rolled back at {}", lane.name, Offset(*rolled_back))});
  }
  for (const auto& e : events) {
    if (e.name != lane.name || ToneOf(e.type) != Tone::kBad || e.type.rfind("fault.", 0) != 0) {
      continue;
    }
    lane.marks.push_back(
        {e.t, Shape::kCross, "m-bad",
         fmt::format("{} {} at {}{}", lane.name, e.type, Offset(e.t), TitleDetail(e.detail))});
  }
  if (lane.marks.empty()) lane.note = "not injected";
  return lane;
}

Lane WatchLane(const json& w, std::optional<int64_t> first_fault,
               const std::vector<Event>& events) {
  const std::string name = Text(w, "name");
  const std::string kind = Text(w, "kind");
  Lane lane = NewLane("watch", name, kind.empty() ? name : name + " · " + kind);
  const auto within = Int(w, "within_ms");
  if (first_fault && within) {
    lane.bars.push_back({*first_fault, *first_fault + *within, "bar-window",
                         fmt::format("{} must pass within {} of the first fault ({} to {})",
                                     lane.name, FormatDuration(Millis(*within)),
                                     Offset(*first_fault), Offset(*first_fault + *within))});
  }
  for (const auto& e : events) {
    if (e.name != lane.name || (e.type != "watch.met" && e.type != "watch.missed")) continue;
    const bool met = e.type == "watch.met";
    lane.marks.push_back({e.t, met ? Shape::kDot : Shape::kCross, met ? "m-good" : "m-bad",
                          fmt::format("{} {} at {}{}", lane.name, met ? "met" : "missed",
                                      Offset(e.t), TitleDetail(e.detail))});
  }
  const auto passed = Int(w, "passed_after_ms");
  if (lane.marks.empty() && first_fault && passed) {
    lane.marks.push_back(
        {*first_fault + *passed, Shape::kDot, "m-good",
         fmt::format("{} passed {} after the first fault", lane.name, HumanMillis(*passed))});
  }
  if (!first_fault) lane.note = "no fault injected: not watched";
  return lane;
}

struct Stretch {
  int64_t from = 0, to = 0;
  int count = 0;
  std::string detail;  // the first failure's
};

// Failing stretches closer than `gap_ms` become one: a check that flaps every sample reads
// as failing for that while, which is what it was.
std::vector<Stretch> Merge(const std::vector<Stretch>& stretches, int64_t gap_ms) {
  std::vector<Stretch> merged;
  for (const auto& s : stretches) {
    if (!merged.empty() && s.from - merged.back().to < gap_ms) {
      merged.back().to = std::max(merged.back().to, s.to);
      merged.back().count += s.count;
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

Lane ProbeLane(const std::string& name, const std::vector<Event>& events, int64_t phase_end,
               const Scale& scale) {
  Lane lane = NewLane("probe", name, name);
  std::optional<int64_t> first;
  std::optional<Stretch> failing;
  std::vector<Stretch> stretches;
  for (const auto& e : events) {
    if (e.name != name || (e.type != "probe.pass" && e.type != "probe.fail")) continue;
    if (!first) first = e.t;
    if (e.type == "probe.fail" && !failing) failing = Stretch{e.t, e.t, 1, e.detail};
    if (e.type == "probe.pass" && failing) {
      failing->to = e.t;
      stretches.push_back(*failing);
      failing.reset();
    }
  }
  if (!first) return lane;
  const int64_t end = std::max(phase_end, stretches.empty() ? *first : stretches.back().to);
  if (failing) {
    failing->to = std::max(end, failing->from);
    stretches.push_back(*failing);
  }
  lane.bars.push_back({*first, end, "bar-pass",
                       fmt::format("{} sampled from {} to {}; passing unless red", name,
                                   Offset(*first), Offset(end))});
  for (const auto& s : Merge(stretches, scale.Ms(kMergeUnits))) {
    std::string title = fmt::format("{} failing from {} to {}", name, Offset(s.from), Offset(s.to));
    // Merged stretches had passes between them: drawn lighter, so flapping is not mistaken
    // for a check that failed throughout.
    std::string cls = "bar-fail";
    if (s.count > 1) {
      title +=
          fmt::format(" ({} failures, passing briefly between; the table lists each)", s.count);
      cls += " bar-flap";
    }
    lane.bars.push_back({s.from, s.to, cls, title + TitleDetail(s.detail)});
  }
  return lane;
}

std::vector<Lane> ProbeLanes(const std::vector<Event>& events, int64_t phase_end,
                             const Scale& scale) {
  std::vector<std::string> names;
  for (const auto& e : events) {
    if ((e.type == "probe.pass" || e.type == "probe.fail") &&
        std::find(names.begin(), names.end(), e.name) == names.end()) {
      names.push_back(e.name);
    }
  }
  std::vector<Lane> lanes;
  for (const auto& n : names) lanes.push_back(ProbeLane(n, events, phase_end, scale));
  return lanes;
}

std::optional<Lane> ResponseLane(const std::vector<Event>& events) {
  Lane lane = NewLane("response", "response", "remediation & hints");
  for (const auto& e : events) {
    const Tone tone = ToneOf(e.type);
    const bool remediation = e.type.rfind("remediation.", 0) == 0;
    if (!remediation && tone != Tone::kHint) continue;
    Mark m{e.t, Shape::kDiamond, "m-response",
           fmt::format("{} at {}{}", e.type, Offset(e.t), TitleDetail(e.detail))};
    if (tone == Tone::kHint) m.shape = Shape::kHint, m.cls = "m-hint";
    if (tone == Tone::kBad) m.shape = Shape::kCross, m.cls = "m-bad";
    if (e.type == "remediation.done") m.shape = Shape::kDot;
    lane.marks.push_back(std::move(m));
  }
  if (lane.marks.empty()) return std::nullopt;
  return lane;
}

std::vector<Group> Groups(const json& report, const std::vector<Event>& events,
                          const Scale& scale) {
  std::vector<Group> groups;
  Group faults{"Faults", {}};
  for (const auto& f : Array(report, "faults")) faults.lanes.push_back(FaultLane(f, events));
  if (!faults.lanes.empty()) groups.push_back(std::move(faults));

  Group watches{"Watches", {}};
  const auto first_fault = FirstFault(report);
  for (const auto& w : Array(report, "watches")) {
    watches.lanes.push_back(WatchLane(w, first_fault, events));
  }
  if (!watches.lanes.empty()) groups.push_back(std::move(watches));

  Group steady{"Steady state", ProbeLanes(events, FaultPhaseEnd(events, scale.end()), scale)};
  if (!steady.lanes.empty()) groups.push_back(std::move(steady));

  if (auto response = ResponseLane(events)) groups.push_back({"Response", {std::move(*response)}});
  return groups;
}

// ---- moments: the lines across every lane ----

std::vector<Moment> Moments(const json& report, const std::vector<Event>& events) {
  std::vector<Moment> moments;
  const json& metrics = Object(report, "metrics");
  if (const auto ff = FirstFault(report)) {
    moments.push_back({*ff, "first fault", "mo-fault"});
    const std::pair<const char*, const char*> measured[] = {
        {"detected_after_ms", "detected"},
        {"failed_over_after_ms", "failed over"},
        {"recovered_after_ms", "recovered"},
    };
    for (const auto& [key, label] : measured) {
      if (auto after = Int(metrics, key)) {
        moments.push_back(
            {*ff + *after, fmt::format("{} +{}", label, HumanMillis(*after)), "mo-good"});
      }
    }
  }
  for (const auto& e : events) {
    if (e.type == "abort") moments.push_back({e.t, "aborted", "mo-bad"});
    if (e.type == "error") moments.push_back({e.t, "error", "mo-bad"});
  }
  std::stable_sort(moments.begin(), moments.end(),
                   [](const Moment& a, const Moment& b) { return a.t < b.t; });
  return moments;
}

// The row of the moments' band each label goes in: the first where it does not run into
// the label before it, else the one with the most room.
std::vector<int> MomentRows(const std::vector<Moment>& moments, const Scale& scale) {
  std::vector<double> row_end(kMomentRows, -1e9);
  std::vector<int> rows;
  for (const auto& m : moments) {
    const double x = scale.X(m.t);
    int row = 0;
    for (int r = 0; r < kMomentRows; ++r) {
      if (row_end[r] < x) {
        row = r;
        break;
      }
      if (row_end[r] < row_end[row]) row = r;
    }
    row_end[row] = x + 8 + kCharW * static_cast<double>(m.label.size());
    rows.push_back(row);
  }
  return rows;
}

// ---- drawing ----

// An element with a tooltip (SVG's own <title>: no script needed) and, after it, `body`
// (already HTML).
std::string Titled(std::string_view element, std::string_view attributes, const std::string& title,
                   std::string_view body = "") {
  return fmt::format("<{0} {1}><title>{2}</title>{3}</{0}>", element, attributes, Escape(title),
                     body);
}

std::string RectBar(const Bar& b, const Scale& scale, double y, double h) {
  const double x0 = scale.X(b.from);
  const double w = std::max(scale.X(b.to) - x0, kMinBarUnits);
  return Titled("rect",
                fmt::format("x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"{}\"", Num(x0),
                            Num(y), Num(w), Num(h), b.cls),
                b.title);
}

std::string ShapePath(Shape shape, double x, double y) {
  switch (shape) {
    case Shape::kDown:
      return fmt::format("M{} {}h12l-6 11z", Num(x - 6), Num(y - 6));
    case Shape::kUp:
      return fmt::format("M{} {}h12l-6 -11z", Num(x - 6), Num(y + 6));
    case Shape::kCross:
      return fmt::format("M{0} {1}l10 10M{0} {2}l10 -10", Num(x - 5), Num(y - 5), Num(y + 5));
    case Shape::kDiamond:
      return fmt::format("M{} {}l6 6l-6 6l-6 -6z", Num(x), Num(y - 6));
    case Shape::kDot:
    case Shape::kHint:
      break;
  }
  return "";
}

std::string MarkSvg(const Mark& m, int count, double x, double y) {
  std::string title = m.title;
  if (count > 1) title = fmt::format("{} events here; the first: {}", count, m.title);
  std::string s;
  if (m.shape == Shape::kDot || m.shape == Shape::kHint) {
    const double r = m.shape == Shape::kHint ? 7 : 5;
    s = Titled("circle",
               fmt::format("cx=\"{}\" cy=\"{}\" r=\"{}\" class=\"mark {}\"", Num(x), Num(y), Num(r),
                           m.cls),
               title);
    if (m.shape == Shape::kHint) {
      s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"hint-q\">?</text>", Num(x), Num(y + 4));
    }
  } else {
    s = Titled("path", fmt::format("d=\"{}\" class=\"mark {}\"", ShapePath(m.shape, x, y), m.cls),
               title);
  }
  if (count > 1) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"count\">×{}</text>", Num(x + 8), Num(y + 4),
                     count);
  }
  return s;
}

// Marks of one shape closer than kClusterUnits are drawn as one, which says how many.
std::string MarksSvg(std::vector<Mark> marks, const Scale& scale, double y) {
  std::stable_sort(marks.begin(), marks.end(), [](const Mark& a, const Mark& b) {
    return a.cls != b.cls ? a.cls < b.cls : a.t < b.t;
  });
  std::string s;
  for (size_t i = 0; i < marks.size();) {
    const double x = scale.X(marks[i].t);
    size_t j = i + 1;
    while (j < marks.size() && marks[j].cls == marks[i].cls && marks[j].shape == marks[i].shape &&
           scale.X(marks[j].t) - x < kClusterUnits) {
      ++j;
    }
    s += MarkSvg(marks[i], static_cast<int>(j - i), x, y);
    i = j;
  }
  return s;
}

std::string LaneSvg(const Lane& lane, const Scale& scale, double y, bool odd) {
  std::string s = fmt::format("<g class=\"lane\" data-kind=\"{}\" data-name=\"{}\">",
                              Escape(lane.kind), Escape(lane.name));
  s += fmt::format("<rect x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"lane-bg{}\"/>",
                   Num(y), Num(kWidth), Num(kLaneH), odd ? " odd" : "");
  // The visible text is the short form; its tooltip, the whole name.
  s += Titled("text",
              fmt::format("x=\"{}\" y=\"{}\" class=\"lane-label\"", Num(kLabelX + 10),
                          Num(y + kLaneH / 2 + 4)),
              lane.label, Escape(Shorten(lane.label, kMaxLabel)));
  for (const auto& b : lane.bars) s += RectBar(b, scale, y + 6, kLaneH - 12);
  s += MarksSvg(lane.marks, scale, y + kLaneH / 2);
  if (!lane.note.empty()) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"note\">{}</text>", Num(kPlotX0 + 6),
                     Num(y + kLaneH / 2 + 4), Escape(lane.note));
  }
  return s + "</g>";
}

std::string PhasesSvg(const std::vector<Event>& events, const Scale& scale, double y) {
  std::vector<std::pair<int64_t, std::string>> phases;
  for (const auto& e : events) {
    if (e.type == "phase") phases.emplace_back(e.t, e.name);
  }
  std::string s = "<g class=\"phases\">";
  s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"group\">Phases</text>", Num(kLabelX),
                   Num(y + kPhaseH / 2 + 4));
  for (size_t i = 0; i < phases.size(); ++i) {
    const int64_t to = i + 1 < phases.size() ? phases[i + 1].first : scale.end();
    if (to <= phases[i].first) continue;
    const Bar bar{
        phases[i].first, to, i % 2 ? "ph-b" : "ph-a",
        fmt::format("{} from {} to {}", phases[i].second, Offset(phases[i].first), Offset(to))};
    s += RectBar(bar, scale, y, kPhaseH);
    const double w = scale.X(to) - scale.X(phases[i].first);
    if (w > kCharW * static_cast<double>(phases[i].second.size()) + 6) {
      s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"ph-label\">{}</text>",
                       Num(scale.X(phases[i].first) + 3), Num(y + kPhaseH / 2 + 4),
                       Escape(phases[i].second));
    }
  }
  return s + "</g>";
}

std::string MomentsSvg(const std::vector<Moment>& moments, const Scale& scale, double top,
                       double bottom) {
  const std::vector<int> rows = MomentRows(moments, scale);
  std::string s = "<g class=\"moments\">";
  for (size_t i = 0; i < moments.size(); ++i) {
    const double x = scale.X(moments[i].t);
    const double label_y = top + kMomentRowH * (rows[i] + 1) - 3;
    s += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" class=\"moment {3}\"/>",
                     Num(x), Num(label_y + 3), Num(bottom), moments[i].cls);
    // Near the right edge the label goes to the left of its line.
    const bool left = x + kCharW * static_cast<double>(moments[i].label.size()) > kWidth;
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"mo-label {}\"{}>{}</text>",
                     Num(left ? x - 3 : x + 3), Num(label_y), moments[i].cls,
                     left ? " text-anchor=\"end\"" : "", Escape(moments[i].label));
  }
  return s + "</g>";
}

// A step of 1, 2, 2.5 or 5 times a power of ten (or whole minutes and hours), giving at
// most kMaxTicks ticks after 0.
int64_t TickStep(int64_t end) {
  static constexpr int64_t kSteps[] = {
      1,      2,      5,      10,      20,      50,      100,      200,      250,
      500,    1000,   2000,   5000,    10000,   15000,   30000,    60000,    120000,
      300000, 600000, 900000, 1800000, 3600000, 7200000, 21600000, 43200000, 86400000};
  for (int64_t step : kSteps) {
    if (end / step <= kMaxTicks) return step;
  }
  return (end / kMaxTicks / 86400000 + 1) * 86400000;
}

std::string AxisSvg(const Scale& scale, double top, double bottom) {
  const int64_t step = TickStep(scale.end());
  std::string s = "<g class=\"axis\">";
  s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" class=\"axis-line\"/>",
                   Num(kPlotX0), Num(kPlotX1), Num(bottom));
  for (int64_t t = 0; t <= scale.end(); t += step) {
    const double x = scale.X(t);
    s += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" class=\"grid\"/>", Num(x),
                     Num(top), Num(bottom + 4));
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>", Num(x), Num(bottom + 17),
                     t == 0 ? "0" : FormatDuration(Millis(t)));
  }
  return s + "</g>";
}

}  // namespace

std::string TimelineSvg(const json& report) {
  const std::vector<Event> events = EventsOf(report);
  const Scale scale(EndOf(report, events));
  const std::vector<Group> groups = Groups(report, events, scale);

  const double phases_y = kMomentRowH * kMomentRows + 4;
  const double lanes_y = phases_y + kPhaseH + 4;
  double height = lanes_y;
  for (const auto& g : groups) height += kGroupH + kLaneH * static_cast<double>(g.lanes.size());
  const double axis_y = height + 4;
  height = axis_y + kAxisH;

  std::string s = fmt::format(
      "<svg class=\"timeline\" viewBox=\"0 0 {} {}\" role=\"img\" aria-labelledby=\"tl-title\">"
      "<title id=\"tl-title\">Timeline of {}</title>",
      Num(kWidth), Num(height), Escape(Text(report, "name")));
  s += AxisSvg(scale, phases_y, axis_y);
  s += PhasesSvg(events, scale, phases_y);
  double y = lanes_y;
  for (const auto& g : groups) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"group\">{}</text>", Num(kLabelX),
                     Num(y + kGroupH - 6), Escape(g.title));
    y += kGroupH;
    bool odd = false;
    for (const auto& lane : g.lanes) {
      s += LaneSvg(lane, scale, y, odd);
      y += kLaneH;
      odd = !odd;
    }
  }
  s += MomentsSvg(Moments(report, events), scale, 0, axis_y);
  return s + "</svg>";
}

std::string TimelineLegend() {
  struct Item {
    const char* swatch;  // an inline SVG of the symbol
    const char* text;
  };
  static constexpr Item kItems[] = {
      {"<rect x=\"1\" y=\"4\" width=\"20\" height=\"8\" class=\"bar-pass\"/>", "check passing"},
      {"<rect x=\"1\" y=\"4\" width=\"20\" height=\"8\" class=\"bar-fail\"/>", "check failing"},
      {"<rect x=\"1\" y=\"4\" width=\"20\" height=\"8\" class=\"bar-fail bar-flap\"/>",
       "failing, with short passes between"},
      {"<rect x=\"1\" y=\"4\" width=\"20\" height=\"8\" class=\"bar-window\"/>",
       "watch's window (within)"},
      {"<rect x=\"1\" y=\"4\" width=\"20\" height=\"8\" class=\"bar-fault\"/>", "fault in effect"},
      {"<path d=\"M5 2h12l-6 11z\" class=\"mark m-fault\"/>", "injected"},
      {"<path d=\"M5 14h12l-6 -11z\" class=\"mark m-rollback\"/>", "rolled back"},
      {"<circle cx=\"11\" cy=\"8\" r=\"5\" class=\"mark m-good\"/>", "watch met"},
      {"<path d=\"M6 3l10 10M6 13l10 -10\" class=\"mark m-bad\"/>", "missed or failed"},
      {"<path d=\"M11 2l6 6l-6 6l-6 -6z\" class=\"mark m-response\"/>", "remediation"},
      {"<circle cx=\"11\" cy=\"8\" r=\"6\" class=\"mark m-hint\"/>", "hint"},
      {"<line x1=\"11\" x2=\"11\" y1=\"0\" y2=\"16\" class=\"moment mo-good\"/>",
       "detected / failed over / recovered"},
  };
  std::string s = "<ul class=\"legend\">";
  for (const auto& item : kItems) {
    s += fmt::format(
        "<li><svg viewBox=\"0 0 22 16\" width=\"22\" height=\"16\" "
        "aria-hidden=\"true\">{}</svg>{}</li>",
        item.swatch, item.text);
  }
  return s + "</ul>";
}

}  // namespace firedrill::html
