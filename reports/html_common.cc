#include "reports/html_common.h"

#include <fmt/format.h>

#include "runner/base/utf8.h"
#include "runner/base/values.h"

namespace firedrill::html {

namespace {

using nlohmann::json;

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Code points an HTML parser reports as errors in text (and a browser may show as boxes).
bool Forbidden(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

const char* EntityOf(char c) {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return "&quot;";
    case '\'':
      return "&#39;";
    default:
      return nullptr;
  }
}

}  // namespace

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    const Utf8Step step = NextUtf8(text, i);
    if (!step.valid || Forbidden(step.code_point)) {
      out += kReplacement;
    } else if (const char* entity = step.length == 1 ? EntityOf(text[i]) : nullptr) {
      out += entity;
    } else {
      out.append(text.substr(i, step.length));
    }
    i += step.length;
  }
  return out;
}

std::string Shorten(std::string_view text, size_t max) {
  const std::string_view head = Utf8Prefix(text, max);
  if (head.size() == text.size()) return std::string(text);
  return std::string(head) + "…";
}

std::string Offset(int64_t t_ms) {
  if (t_ms < 0) return "-" + HumanMillis(-t_ms);
  return "+" + HumanMillis(t_ms);
}

std::string Percent(double ratio) {
  std::string s = fmt::format("{:.1f}%", ratio * 100);
  if (ratio < 1.0 && s == "100.0%") s = "99.9%";
  if (ratio > 0.0 && s == "0.0%") s = "0.1%";
  return s;
}

Tone ToneOf(std::string_view type) {
  const bool bad = EndsWith(type, ".fail") || EndsWith(type, ".failed") ||
                   EndsWith(type, ".missed") || EndsWith(type, ".error") ||
                   EndsWith(type, "_failed") || type == "error" || StartsWith(type, "abort");
  if (StartsWith(type, "fault.")) return bad ? Tone::kBad : Tone::kFault;
  if (bad) return Tone::kBad;
  if (type == "phase" || StartsWith(type, "phase.")) return Tone::kPhase;
  if (type == "hint" || StartsWith(type, "hint.")) return Tone::kHint;
  if (StartsWith(type, "remediation.")) return Tone::kResponse;
  if (EndsWith(type, ".pass") || EndsWith(type, ".passed") || EndsWith(type, ".met") ||
      EndsWith(type, ".held") || type == "recovered") {
    return Tone::kGood;
  }
  return Tone::kOther;
}

const char* ToneClass(Tone tone) {
  switch (tone) {
    case Tone::kPhase:
      return "t-phase";
    case Tone::kFault:
      return "t-fault";
    case Tone::kGood:
      return "t-good";
    case Tone::kBad:
      return "t-bad";
    case Tone::kHint:
      return "t-hint";
    case Tone::kResponse:
      return "t-response";
    case Tone::kOther:
      return "t-other";
  }
  return "t-other";
}

const char* VerdictClass(std::string_view verdict) {
  if (verdict == "passed") return "v-passed";
  if (verdict == "failed") return "v-failed";
  if (verdict == "aborted") return "v-aborted";
  return "v-error";
}

}  // namespace firedrill::html
