#include "reports/train_view.h"

#include <fmt/format.h>

#include "reports/ansi.h"
#include "reports/terminal.h"
#include "runner/base/values.h"

namespace firedrill {

TrainView::TrainView(FILE* out, bool live, bool colour, const Scenario& s)
    : out_(out), live_(live), colour_(colour), hints_total_(s.recovery.hints.size()) {}

std::string TrainView::FormatEvent(const Event& raw) {
  // What a system wrote (a log line in a page) must not drive the trainee's terminal.
  const Event e{raw.t_ms, raw.type, TerminalSafe(raw.name, 200), TerminalSafe(raw.detail, 2000)};
  const std::string at = fmt::format("[{:>7}] ", HumanMillis(e.t_ms));
  if (e.type == "prepared") return at + "your system: " + e.detail;
  if (e.type == "service.ready") return at + "service " + e.name + " is up";
  if (e.type == "phase" && e.name == "steady_state") {
    return at + "the system is starting; wait for the page";
  }
  if (e.type == "training") return at + "on call: " + e.detail;
  if (e.type == "page") {
    return at + "PAGE  " + e.name + (e.detail.empty() ? "" : ": " + e.detail);
  }
  if (e.type == "hint") return at + "HINT " + e.name + "  " + e.detail;
  if (e.type == "trainee.acknowledged") return at + "acknowledged " + e.detail;
  if (e.type == "trainee.note") return at + "note: " + e.detail;
  if (e.type == "trainee.declared") return at + "declared fixed: " + e.name + " (" + e.detail + ")";
  if (e.type == "trainee.ignored") return at + e.name + ": " + e.detail;
  if (e.type == "trainee.runbook") return at + "runbook opened";
  if (e.type == "recovered") return at + "RECOVERED  " + e.detail;
  if (e.type == "abort") return at + "stopped: " + e.detail;
  if (e.type == "error") return at + "error: " + e.detail;
  if (e.type == "phase" && e.name == "rollback") return at + "rolling back what is left";
  return "";
}

std::string TrainView::StatusText(int64_t now_ms) const {
  std::string s = fmt::format("+{}", HumanMillis(std::max(now_ms, last_ms_)));
  s += paged_ ? " | paged" : " | waiting for the page";
  if (paged_) s += acknowledged_ ? " | acknowledged" : " | not acknowledged";
  s += fmt::format(" | hints {}/{} | notes {}", hints_, hints_total_, notes_);
  if (declarations_false_ > 0) s += fmt::format(" | false declarations {}", declarations_false_);
  if (typing_on_) return s + " | note (Enter ends): " + typing_;
  return s + " | keys: a ack, r runbook, h hint, n note, d fixed?, q give up";
}

void TrainView::EraseLocked() {
  if (live_) std::fputs("\r\x1b[K", out_);
}

void TrainView::DrawLocked(int64_t now_ms) {
  if (!live_ || finished_) return;
  std::string line = StatusText(now_ms);
  if (colour_) line = std::string(ansi::kDim) + line + ansi::kReset;
  std::fputs(("\r\x1b[K" + line).c_str(), out_);
  std::fflush(out_);
}

void TrainView::OnEvent(const Event& e) {
  std::lock_guard<std::mutex> l(mu_);
  last_ms_ = std::max(last_ms_, e.t_ms);
  if (e.type == "page") paged_ = true;
  if (e.type == "trainee.acknowledged") acknowledged_ = true;
  if (e.type == "hint") ++hints_;
  if (e.type == "trainee.note") ++notes_;
  if (e.type == "trainee.declared" && e.name == "not fixed") ++declarations_false_;
  std::string line = FormatEvent(e);
  if (line.empty() || finished_) return;
  if (colour_) {
    const char* style = e.type == "page"        ? ansi::kBoldRed
                        : e.type == "hint"      ? ansi::kBoldYellow
                        : e.type == "recovered" ? ansi::kBoldGreen
                                                : "";
    if (*style) line = style + line + ansi::kReset;
  }
  EraseLocked();
  if (e.type == "page") {
    // The bell, and a banner nobody can miss.
    const std::string bar(60, '=');
    std::fprintf(out_, "\a%s\n%s\n%s\n", bar.c_str(), line.c_str(), bar.c_str());
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  DrawLocked(last_ms_);
}

void TrainView::Print(const std::string& text) {
  std::lock_guard<std::mutex> l(mu_);
  if (finished_) return;
  EraseLocked();
  std::fputs(text.c_str(), out_);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', out_);
  DrawLocked(last_ms_);
}

void TrainView::SetTyping(const std::string& text, bool typing) {
  std::lock_guard<std::mutex> l(mu_);
  typing_ = text;
  typing_on_ = typing;
  DrawLocked(last_ms_);
}

void TrainView::Tick(int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  DrawLocked(now_ms);
}

void TrainView::Finish() {
  std::lock_guard<std::mutex> l(mu_);
  if (finished_) return;
  EraseLocked();
  std::fflush(out_);
  finished_ = true;
}

}  // namespace firedrill
