#include "runner/base/regex.h"

#include <vector>

#include "runner/base/utf8.h"

namespace firedrill {
namespace {

// The prefix that turns multiline mode on; stripped from what RE2 says back.
constexpr std::string_view kMultiline = "(?m)";

// What a drill author coming from PCRE or JavaScript may have written that RE2 does not
// have, to say so instead of leaving them with RE2's terse "invalid escape sequence".
std::string UnsupportedHint(std::string_view p) {
  for (std::string_view look : {"(?=", "(?!", "(?<=", "(?<!"}) {
    if (p.find(look) != std::string_view::npos) {
      return " (RE2 has no lookahead or lookbehind; match the text itself, or use two probes)";
    }
  }
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] == '\\') {
      if (p[i + 1] >= '1' && p[i + 1] <= '9') {
        return " (RE2 has no backreferences such as \\1)";
      }
      ++i;  // an escaped backslash is not the start of another escape
    }
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<RE2>> CompileRegex(std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);  // the error comes back here, not on stderr
  options.set_max_mem(kRegexMemory);
  std::string text(kMultiline);
  text.append(pattern);
  auto re = std::make_unique<RE2>(text, options);
  if (!re->ok()) {
    std::string arg = re->error_arg();
    if (arg.rfind(kMultiline, 0) == 0) arg.erase(0, kMultiline.size());
    std::string why = re->error();
    // RE2 writes "<what>: <fragment>"; the fragment is shown without the multiline prefix.
    if (size_t colon = why.find(": "); colon != std::string::npos && !arg.empty()) {
      why = why.substr(0, colon) + ": " + arg;
    }
    return Status::Invalid("RE2 cannot compile it: " + why + UnsupportedHint(pattern));
  }
  return re;
}

bool RegexSearch(const RE2& re, std::string_view text, size_t* match_pos, std::string_view* match) {
  re2::StringPiece found;
  // An empty view may carry a null pointer, which RE2 must not see.
  const re2::StringPiece input(text.empty() ? "" : text.data(), text.size());
  if (!re.Match(input, 0, input.size(), RE2::UNANCHORED, &found, 1)) return false;
  if (match_pos) *match_pos = static_cast<size_t>(found.data() - input.data());
  if (match) *match = std::string_view(found.data(), found.size());
  return true;
}

Result<Replaced> RegexReplaceAll(const RE2& re, std::string_view text, std::string_view rewrite) {
  const int groups = re.NumberOfCapturingGroups();
  // The rewrite as pieces: literal text, or a group number (0: the whole match).
  struct Piece {
    std::string literal;
    int group = -1;
  };
  std::vector<Piece> pieces(1);
  for (size_t i = 0; i < rewrite.size(); ++i) {
    const char c = rewrite[i];
    if (c != '$' || i + 1 == rewrite.size()) {
      pieces.back().literal += c;
      continue;
    }
    const char next = rewrite[i + 1];
    if (next == '$') {
      pieces.back().literal += '$';
      ++i;
    } else if (next == '&') {
      pieces.push_back({"", 0});
      pieces.push_back({});
      ++i;
    } else if (next >= '0' && next <= '9') {
      // Two digits when the pattern has that many groups, as ECMAScript reads `$12`.
      int n = next - '0';
      size_t used = 1;
      if (i + 2 < rewrite.size() && rewrite[i + 2] >= '0' && rewrite[i + 2] <= '9' &&
          n * 10 + (rewrite[i + 2] - '0') <= groups) {
        n = n * 10 + (rewrite[i + 2] - '0');
        used = 2;
      }
      if (n == 0 || n > groups) {
        return Status::Invalid("the replacement names group $" + std::to_string(n) +
                               ", and the pattern has " + std::to_string(groups) +
                               (groups == 1 ? " group" : " groups"));
      }
      pieces.push_back({"", n});
      pieces.push_back({});
      i += used;
    } else {
      pieces.back().literal += c;  // a lone '$' stands for itself
    }
  }

  Replaced out;
  std::vector<re2::StringPiece> match(static_cast<size_t>(groups) + 1);
  const re2::StringPiece input(text.empty() ? "" : text.data(), text.size());
  size_t pos = 0;
  size_t copied = 0;  // input before this is in out.text already
  while (pos <= input.size() && re.Match(input, pos, input.size(), RE2::UNANCHORED, match.data(),
                                         static_cast<int>(match.size()))) {
    const size_t start = static_cast<size_t>(match[0].data() - input.data());
    const size_t end = start + match[0].size();
    out.text.append(text.substr(copied, start - copied));
    const size_t at = out.text.size();
    for (const Piece& p : pieces) {
      if (p.group < 0) {
        out.text += p.literal;
      } else {
        out.text.append(match[static_cast<size_t>(p.group)].data(),
                        match[static_cast<size_t>(p.group)].size());
      }
    }
    if (out.matches++ == 0) {
      out.first_before = std::string(match[0].data(), match[0].size());
      out.first_after = out.text.substr(at);
    }
    copied = end;
    if (end > start) {
      pos = end;
    } else {
      // An empty match: the character after it is kept, and the search goes on past it, so
      // that the same position never matches twice (a whole UTF-8 character, never half).
      const size_t step = end < text.size() ? NextUtf8(text, end).length : 1;
      if (end < text.size()) out.text.append(text.substr(end, step));
      copied = end + step;
      pos = end + step;
    }
  }
  if (copied < text.size()) out.text.append(text.substr(copied));
  return out;
}

}  // namespace firedrill
