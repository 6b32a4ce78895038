#include "reports/terminal.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <string_view>
#include <system_error>

#include "reports/ansi.h"
#include "runner/base/utf8.h"
#include "runner/base/values.h"

namespace firedrill {

namespace {

using ansi::kBold;
using ansi::kBoldGreen;
using ansi::kBoldRed;
using ansi::kBoldYellow;
using ansi::kDim;
using ansi::kGreen;
using ansi::kRed;
using ansi::kReset;
using ansi::kYellow;

// Probe details can be whole command outputs; the live view shows the start of them
// (the report keeps all of it).
constexpr size_t kMaxDetail = 200;
constexpr size_t kMaxName = 64;
constexpr const char* kNull = "—";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
bool Contains(std::string_view s, std::string_view p) { return s.find(p) != s.npos; }

// How an event type looks. The engine's set of types grows, so this goes by shape
// (prefixes and suffixes) rather than a closed list.
struct Look {
  const char* symbol;  // with colour (Unicode)
  const char* ascii;   // without: plain ASCII, for logs and dumb terminals
  const char* style;
  bool whole_line;  // style the name and detail too, not just the symbol and type
};

Look LookOf(std::string_view type) {
  if (StartsWith(type, "fault.")) {
    if (Contains(type, "fail") || Contains(type, "error")) return {"✗", "!", kBoldRed, true};
    if (type == "fault.injected") return {"✗", "!", kRed, false};
    if (Contains(type, "roll")) return {"↺", "~", kYellow, false};
    return {"•", "*", kYellow, false};
  }
  if (EndsWith(type, ".fail") || EndsWith(type, ".failed") || EndsWith(type, ".missed") ||
      EndsWith(type, ".error") || EndsWith(type, ".aborted") || type == "error" ||
      StartsWith(type, "abort")) {
    return {"✗", "x", kRed, false};
  }
  if (EndsWith(type, ".pass") || EndsWith(type, ".passed") || EndsWith(type, ".met") ||
      EndsWith(type, ".held") || type == "recovered" || EndsWith(type, ".recovered")) {
    return {"✓", "+", kGreen, false};
  }
  if (type == "phase" || StartsWith(type, "phase.")) return {"▶", ">", kBold, true};
  // A trainee must not miss a hint among the probe noise.
  if (type == "hint" || StartsWith(type, "hint.")) return {"?", "?", kBoldYellow, true};
  return {"·", ".", kDim, true};
}

}  // namespace

std::string TerminalSafe(std::string_view s, size_t max) {
  const std::string valid = ValidUtf8(s);
  std::string out;
  out.reserve(std::min(valid.size(), max * 2));
  size_t points = 0;
  for (size_t i = 0; i < valid.size(); ++i) {
    const auto c = static_cast<unsigned char>(valid[i]);
    if ((c & 0xC0) != 0x80 && ++points > max) {
      out += "...";
      break;
    }
    if (c == '\r' && i + 1 < valid.size() && valid[i + 1] == '\n') continue;
    if (c == '\n' || c == '\r') {
      if (i + 1 < valid.size()) out += " | ";
    } else if (c == '\t') {
      out.push_back(' ');
    } else if (c < 0x20 || c == 0x7F) {
      out.push_back('?');
    } else if (c == 0xC2 && i + 1 < valid.size() &&
               static_cast<unsigned char>(valid[i + 1]) < 0xA0) {
      out.push_back('?');  // U+0080..U+009F
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

namespace {

// "+5.003s": time since the run started.
std::string Offset(int64_t t_ms) {
  const char sign = t_ms < 0 ? '-' : '+';
  const uint64_t a = t_ms < 0 ? 0 - static_cast<uint64_t>(t_ms) : static_cast<uint64_t>(t_ms);
  return fmt::format("{}{}.{:03}s", sign, a / 1000, a % 1000);
}

std::string Padded(std::string_view s, size_t width) { return fmt::format("{:<{}}", s, width); }

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const char* VerdictStyle(std::string_view verdict) {
  if (verdict == "passed") return kBoldGreen;
  if (verdict == "aborted") return kBoldYellow;
  return kBoldRed;
}

std::string Plural(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string Availability(double a) {
  std::string s = fmt::format("{:.1f}%", a * 100);
  // Rounding must not claim a perfect run that was not.
  if (a < 1.0 && s == "100.0%") s = "99.9%";
  if (a > 0.0 && s == "0.0%") s = "0.1%";
  return s;
}

// Erases the line the cursor is on and returns to its start.
constexpr const char* kClearLine = "\r\x1b[2K";
// Often enough that the elapsed time (shown in tenths) moves smoothly.
constexpr auto kRedrawEvery = std::chrono::milliseconds(250);

bool DumbTerminal() {
  const char* term = std::getenv("TERM");
  return term != nullptr && std::strcmp(term, "dumb") == 0;
}

// The terminal's width in columns, less one: a line that reaches the last column leaves
// some terminals with a pending wrap, and the next clear would miss a row.
size_t StatusWidth(FILE* f) {
  struct winsize ws {};
  size_t cols = 80;
  if (::ioctl(::fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) cols = ws.ws_col;
  return cols > 1 ? cols - 1 : 1;
}

}  // namespace

TerminalView::TerminalView(FILE* out, bool colour, const Scenario* status)
    : out_(out), colour_(colour) {
  if (status == nullptr || out_ == nullptr || !::isatty(::fileno(out_)) || DumbTerminal()) return;
  status_ = std::make_unique<StatusLine>(*status);
  try {
    redraw_ = std::thread([this] { Redraw(); });
  } catch (const std::system_error&) {
    // No periodic redraw: the line still moves with each event.
  }
}

TerminalView::~TerminalView() { Finish(); }

void TerminalView::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (status_shown_) {
      std::fputs(kClearLine, out_);
      std::fflush(out_);
      status_shown_ = false;
    }
    cv_.notify_all();
  }
  if (redraw_.joinable()) redraw_.join();
}

std::string TerminalView::StatusText() {
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - last_event_at_)
                         .count();
  return status_->Render(status_->last_event_ms() + since, StatusWidth(out_), colour_);
}

void TerminalView::Redraw() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!finished_) {
    cv_.wait_for(lock, kRedrawEvery);
    if (finished_ || !status_->started()) continue;
    // Holding mu_ while writing keeps the line whole between event lines; a terminal that
    // stops reading stalls only this view, never the engine (the bus delivers events).
    const std::string line = kClearLine + StatusText();
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
    status_shown_ = true;
  }
}

bool TerminalView::WantColour(FILE* f) {
  if (f == nullptr || !::isatty(::fileno(f))) return false;
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour != nullptr && no_colour[0] != '\0') return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

std::string TerminalView::FormatEvent(const Event& e) const {
  const Look look = LookOf(e.type);
  auto paint = [&](const char* style, const std::string& text) {
    return colour_ && !text.empty() ? style + text + kReset : text;
  };
  const std::string type = TerminalSafe(e.type, kMaxName);
  const std::string name = TerminalSafe(e.name, kMaxName);
  const std::string detail = TerminalSafe(e.detail, kMaxDetail);
  const char* rest_style = look.whole_line ? look.style : "";

  std::string line = "  " + paint(kDim, fmt::format("{:>8}", Offset(e.t_ms))) + "  ";
  const std::string head = fmt::format("{} {}", colour_ ? look.symbol : look.ascii, type);
  if (name.empty() && detail.empty()) return line + paint(look.style, head);
  // Pad outside the escape codes so the columns line up with and without colour.
  line += paint(look.style, head) + std::string(type.size() < 18 ? 18 - type.size() : 0, ' ');
  line += " ";
  if (detail.empty()) return line + paint(rest_style, name);
  return line + paint(rest_style, Padded(name, 14) + " " + detail);
}

void TerminalView::OnEvent(const Event& e) {
  if (status_ == nullptr) {
    Write(FormatEvent(e) + "\n");
    return;
  }
  const std::string line = FormatEvent(e);
  std::lock_guard<std::mutex> lock(mu_);
  std::string text;
  if (status_shown_) text = kClearLine;
  text += line + "\n";
  if (!finished_) {
    status_->OnEvent(e);
    last_event_at_ = std::chrono::steady_clock::now();
    text += kClearLine + StatusText();
  }
  status_shown_ = !finished_;
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

void TerminalView::Write(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

void TerminalView::PrintSummary(const Scenario& scenario, const RunRecord& run,
                                const Outcome& outcome, const std::string& report_dir) {
  Finish();
  Write(FormatSummary(scenario, run, outcome, report_dir));
}

std::string TerminalView::FormatSummary(const Scenario& scenario, const RunRecord& run,
                                        const Outcome& outcome,
                                        const std::string& report_dir) const {
  auto paint = [&](const char* style, const std::string& text) {
    return colour_ && !text.empty() ? style + text + kReset : text;
  };
  auto ms_or_null = [](const std::optional<int64_t>& v) {
    return v ? HumanMillis(*v) : std::string(kNull);
  };
  auto status = [&](bool met) {
    return met ? paint(kGreen, Padded("met", 6)) : paint(kRed, Padded("MISSED", 6));
  };

  std::string s;
  auto out = std::back_inserter(s);

  fmt::format_to(out, "\n  {}  {}  score {}/100\n",
                 paint(kBold, TerminalSafe(scenario.name, kMaxName)),
                 paint(VerdictStyle(outcome.verdict), Upper(outcome.verdict)), outcome.score);
  if (!run.error.empty()) {
    fmt::format_to(out, "  {} {}\n", paint(kBoldRed, "error:"), TerminalSafe(run.error, 1000));
  }
  if (run.aborted) {
    fmt::format_to(
        out, "  {} {}\n", paint(kBoldYellow, "aborted:"),
        run.abort_reason.empty() ? "no reason recorded" : TerminalSafe(run.abort_reason, 1000));
  }

  const Metrics& m = outcome.metrics;
  constexpr size_t kLabel = 21;
  s += "\n  " + paint(kBold, "metrics") + "\n";
  auto metric = [&](const char* label, const std::string& value) {
    fmt::format_to(out, "    {}{}\n", Padded(label, kLabel), value);
  };
  metric("detected (MTTD)", ms_or_null(m.detected_after_ms));
  metric("failed over", ms_or_null(m.failed_over_after_ms));
  metric("recovered (MTTR)", ms_or_null(m.recovered_after_ms));
  if (run.mode == "train" || m.acknowledged_after_ms) {
    metric("acknowledged (MTTA)", ms_or_null(m.acknowledged_after_ms));
  }
  metric("availability", m.availability ? Availability(*m.availability) : kNull);
  std::string lost = kNull;
  if (m.data_lost_count) {
    lost = *m.data_lost_count == 0 ? "none" : Plural(*m.data_lost_count, "write", "writes");
    if (*m.data_lost_count > 0 && m.data_lost_span_ms) {
      lost += " over " + HumanMillis(*m.data_lost_span_ms);
    }
  }
  metric("data lost", lost);

  // One name column for all three tables, so they read as one.
  size_t name_w = 16;
  for (const auto& w : outcome.watches) name_w = std::max(name_w, w.name.size());
  for (const auto& o : outcome.objectives) name_w = std::max(name_w, o.name.size());
  for (const auto& f : run.faults) name_w = std::max(name_w, f.name.size());
  name_w = std::min(name_w, kMaxName);

  if (!outcome.watches.empty()) {
    s += "\n  " + paint(kBold, "watches") + "\n";
    for (const auto& w : outcome.watches) {
      // A dry run judges a watch only on passing with no fault (flagged).
      const std::string judged = run.mode != "dry-run" ? status(w.met)
                                 : w.flagged           ? paint(kRed, Padded("FLAGGED", 7))
                                                       : paint(kGreen, Padded("ok", 7));
      fmt::format_to(out, "    {}  {}  {}  passed after {}  within {}\n", judged,
                     Padded(TerminalSafe(w.name, kMaxName), name_w), Padded(w.kind, 9),
                     Padded(ms_or_null(w.passed_after_ms), 10),
                     FormatDuration(Millis(w.within_ms)));
      if (!w.advice.empty()) fmt::format_to(out, "            {}\n", TerminalSafe(w.advice, 1000));
    }
  }

  if (!outcome.objectives.empty()) {
    s += "\n  " + paint(kBold, "objectives") + "\n";
    for (const auto& o : outcome.objectives) {
      std::string target = kNull, actual = kNull;
      if (o.unit == "ms") {
        if (o.target) target = FormatDuration(Millis(*o.target));
        if (o.actual) actual = HumanMillis(*o.actual);
      } else {
        if (o.target) target = fmt::format("{} {}", *o.target, o.unit);
        if (o.actual) actual = fmt::format("{} {}", *o.actual, o.unit);
      }
      fmt::format_to(out, "    {}  {}  actual {}  target {}\n", status(o.met),
                     Padded(TerminalSafe(o.name, kMaxName), name_w), Padded(actual, 12), target);
      if (!o.advice.empty()) fmt::format_to(out, "            {}\n", TerminalSafe(o.advice, 1000));
    }
  }

  // The score's parts: where the points came from and where they were lost.
  if (!outcome.score_parts.empty()) {
    s += "\n  " + paint(kBold, "score") + "\n";
    for (const auto& p : outcome.score_parts) {
      fmt::format_to(out, "    {}  weight {:>2}  value {:>4.0f}%  {:>5.1f} points\n",
                     Padded(p.part, 13), p.weight, 100 * p.value, p.contribution);
    }
  }

  if (!run.faults.empty()) {
    s += "\n  " + paint(kBold, "faults") + "\n";
    for (const auto& f : run.faults) {
      std::string injected = Padded(f.inject_failed    ? "FAILED"
                                    : f.injected_at_ms ? Offset(*f.injected_at_ms)
                                                       : kNull,
                                    9);
      if (f.inject_failed) injected = paint(kRed, injected);
      std::string rollback = f.rollback;
      if (f.rollback == "failed") {
        rollback = paint(kBoldRed, "FAILED");
      } else if (f.rolled_back_at_ms) {
        rollback += " at " + Offset(*f.rolled_back_at_ms);
      }
      fmt::format_to(out, "    {}  {}  injected {}  rollback {}\n",
                     Padded(TerminalSafe(f.name, kMaxName), name_w + 8), Padded(f.action, 16),
                     injected, rollback);
      // Why it failed matters more here than anywhere else in the summary.
      if ((f.inject_failed || f.rollback == "failed") && !f.detail.empty()) {
        fmt::format_to(out, "      {}\n", TerminalSafe(f.detail, 1000));
      }
    }
  }

  if (outcome.verdict != "passed" && !outcome.reasons.empty()) {
    s += "\n  " + paint(kBold, "why it did not pass") + "\n";
    for (const auto& r : outcome.reasons) fmt::format_to(out, "    - {}\n", TerminalSafe(r, 1000));
  }

  if (!run.leftovers.empty()) {
    s += "\n  " +
         paint(kBoldRed,
               "!! LEFTOVERS: rollback did not complete. Left behind, to clean up by hand:") +
         "\n";
    for (const auto& l : run.leftovers) {
      fmt::format_to(out, "    {} {}\n", paint(kBoldRed, "!!"), TerminalSafe(l, 1000));
    }
  }

  if (!report_dir.empty()) {
    const bool slash = report_dir.back() == '/';
    fmt::format_to(out, "\n  report  {}{}report.json\n", TerminalSafe(report_dir, 1000),
                   slash ? "" : "/");
  }
  return s;
}

}  // namespace firedrill
