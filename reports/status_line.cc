#include "reports/status_line.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "reports/ansi.h"
#include "runner/base/utf8.h"

namespace firedrill {

namespace {

using ansi::kBold;
using ansi::kDim;
using ansi::kGreen;
using ansi::kRed;
using ansi::kReset;
using ansi::kYellow;

// Names reach a terminal that obeys control characters: valid UTF-8, controls (C0, DEL,
// C1) shown as '?'.
std::string Safe(std::string_view s) {
  const std::string valid = ValidUtf8(s);
  std::string out;
  out.reserve(valid.size());
  for (size_t i = 0; i < valid.size(); ++i) {
    const auto c = static_cast<unsigned char>(valid[i]);
    if (c < 0x20 || c == 0x7F) {
      out.push_back('?');
    } else if (c == 0xC2 && i + 1 < valid.size() &&
               static_cast<unsigned char>(valid[i + 1]) < 0xA0) {
      out.push_back('?');
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// Tenths under a minute ("0.7s", "12.3s"), then whole seconds ("2m05s"): the line is
// redrawn a few times a second, so finer would only flicker.
std::string Span(int64_t ms) {
  ms = std::max<int64_t>(ms, 0);
  if (ms < 60000) return fmt::format("{}.{}s", ms / 1000, ms % 1000 / 100);
  const int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60);
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += NextUtf8(s, i).length) ++n;
  return n;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

struct Segment {
  std::string text;
  const char* style;  // nullptr: unstyled
};

}  // namespace

StatusLine::StatusLine(const Scenario& scenario)
    : recovery_within_ms_(scenario.recovery.within.count()) {
  for (const auto& f : scenario.faults) {
    FaultInfo fi;
    fi.name = Safe(f.name);
    fi.at_ms = f.at.count();
    if (f.duration && f.duration->count() > 0) fi.duration_ms = f.duration->count();
    faults_.push_back(std::move(fi));
  }
  // The engine's order: by `at`, stable for equal times.
  std::stable_sort(faults_.begin(), faults_.end(),
                   [](const FaultInfo& a, const FaultInfo& b) { return a.at_ms < b.at_ms; });
  for (const auto& w : scenario.watches) {
    watches_.push_back(WatchInfo{Safe(w.name), w.within.count()});
  }
  for (const auto& c : scenario.steady_state) checks_.push_back(Safe(c.name));
}

void StatusLine::OnEvent(const Event& e) {
  started_ = true;
  last_ms_ = std::max(last_ms_, e.t_ms);
  const std::string name = Safe(e.name);
  auto fault = [&]() -> FaultInfo* {
    // The first not yet settled with that name: names are unique in a valid drill, but
    // this must not trust it.
    for (auto& f : faults_) {
      if (f.name == name && !f.done) return &f;
    }
    return nullptr;
  };
  auto watch = [&]() -> WatchInfo* {
    for (auto& w : watches_) {
      if (w.name == name && w.state == WatchInfo::State::kPending) return &w;
    }
    return nullptr;
  };

  if (e.type == "phase") {
    phase_ = name;
    in_faults_ = name == "faults";
    if (in_faults_) {
      faults_start_ms_ = e.t_ms;
    } else if (faults_start_ms_) {
      // Checks are sampled only during the fault phase: a failure left from it would be
      // stale, not "now".
      failing_.clear();
    }
  } else if (e.type == "fault.injected") {
    if (FaultInfo* f = fault(); f != nullptr && !f->injected_ms) {
      f->injected_ms = e.t_ms;
      if (!first_fault_ms_) first_fault_ms_ = e.t_ms;
      if (!f->duration_ms) f->done = true;
    }
  } else if (e.type == "fault.failed" || e.type == "fault.rolled_back" ||
             e.type == "fault.rollback_failed") {
    if (FaultInfo* f = fault()) f->done = true;
  } else if (e.type == "probe.fail" || e.type == "probe.pass") {
    if (std::find(checks_.begin(), checks_.end(), name) != checks_.end()) {
      if (e.type == "probe.fail") {
        failing_.insert(name);
      } else {
        failing_.erase(name);
      }
    }
  } else if (e.type == "watch.met" || e.type == "watch.missed") {
    if (WatchInfo* w = watch()) {
      w->state = e.type == "watch.met" ? WatchInfo::State::kMet : WatchInfo::State::kMissed;
    }
  } else if (e.type == "recovered") {
    recovered_ = true;
  }
}

std::optional<int64_t> StatusLine::FaultPhaseBound() const {
  if (!first_fault_ms_ || !faults_start_ms_) return std::nullopt;
  std::optional<int64_t> bound;
  auto later = [&](int64_t t) { bound = bound ? std::max(*bound, t) : t; };
  for (const auto& f : faults_) {
    if (f.injected_ms && f.duration_ms && !f.done) later(*f.injected_ms + *f.duration_ms);
  }
  for (const auto& w : watches_) {
    if (w.state == WatchInfo::State::kPending) later(*first_fault_ms_ + w.within_ms);
  }
  if (!recovered_) later(*first_fault_ms_ + recovery_within_ms_);
  return bound;
}

std::string StatusLine::Render(int64_t now_ms, size_t width, bool colour) const {
  now_ms = std::max(now_ms, last_ms_);
  std::vector<Segment> parts;
  parts.push_back({"phase " + (phase_.empty() ? std::string("-") : phase_), kBold});
  parts.push_back({"+" + Span(now_ms), kDim});

  if (in_faults_ && faults_start_ms_) {
    const FaultInfo* next = nullptr;
    for (const auto& f : faults_) {
      if (!f.injected_ms && !f.done) {
        next = &f;
        break;
      }
    }
    if (next != nullptr) {
      parts.push_back(
          {"next: " + next->name + " in " + Span(*faults_start_ms_ + next->at_ms - now_ms),
           kYellow});
    } else if (auto bound = FaultPhaseBound()) {
      parts.push_back({"fault phase: " + Span(*bound - now_ms) + " left at most", nullptr});
    }
  }
  if (recovered_) parts.push_back({"recovered", kGreen});

  std::vector<std::string> failing;  // drill order, not alphabetical
  for (const auto& c : checks_) {
    if (failing_.count(c) != 0 && std::find(failing.begin(), failing.end(), c) == failing.end()) {
      failing.push_back(c);
    }
  }
  if (!failing.empty()) parts.push_back({"failing: " + Join(failing), kRed});

  std::vector<std::string> missed, waiting;
  for (const auto& w : watches_) {
    if (w.state == WatchInfo::State::kMissed) missed.push_back(w.name);
    // A watch waits for a response to the first fault: before it, nothing is awaited.
    if (w.state == WatchInfo::State::kPending && first_fault_ms_ && in_faults_) {
      waiting.push_back(w.name);
    }
  }
  if (!missed.empty()) parts.push_back({"missed: " + Join(missed), kRed});
  if (!waiting.empty()) parts.push_back({"waiting: " + Join(waiting), nullptr});

  constexpr std::string_view kSep = " | ";
  size_t total = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    total += CodePoints(parts[i].text) + (i > 0 ? kSep.size() : 0);
  }
  // Past the width a terminal wraps, and the next redraw would clear only the last row.
  const bool cut = width > 0 && total > width;
  constexpr std::string_view kMore = "...";
  size_t budget = !cut ? total : width > kMore.size() ? width - kMore.size() : width;

  std::string out;
  auto emit = [&](std::string_view text, const char* style) {
    if (budget == 0 || text.empty()) return;
    const std::string_view piece = Utf8Prefix(text, budget);
    budget -= CodePoints(piece);
    if (colour && style != nullptr) {
      out += style;
      out += piece;
      out += kReset;
    } else {
      out += piece;
    }
  };
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) emit(kSep, nullptr);
    emit(parts[i].text, parts[i].style);
  }
  if (cut && width > kMore.size()) out += kMore;
  return out;
}

}  // namespace firedrill
