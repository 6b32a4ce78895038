// command: runs a shell command and checks its exit code and output.
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <string_view>

#include "runner/base/async_shell.h"
#include "runner/base/regex.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

// `text` as one number when, blanks and line ends around it aside, that is all it is.
std::optional<double> NumberIn(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

bool HasText(const std::string& s) { return s.find_first_not_of(" \t\r\n") != std::string::npos; }

class CommandProbe final : public Probe {
 public:
  // REQUIRES: ctx.expander is set and ctx outlives the probe.
  CommandProbe(const Params& p, const RunContext& ctx)
      : run_(p.String("run")), timeout_(p.Duration("timeout")), ctx_(ctx) {
    const Params& e = p.Object("expect");
    exit_code_ = e.Int("exit_code");
    if (e.Has("stdout_matches")) stdout_re_.emplace(e.String("stdout_matches"));
    if (e.Has("stderr_matches")) stderr_re_.emplace(e.String("stderr_matches"));
  }

  ProbeOutcome Sample(const SampleVars& vars) override {
    auto script = ctx_.expander->Expand(run_, vars.seq);
    if (!script.ok()) return {false, script.status().message()};
    return Judge(RunShell(Command(*script), ctx_.cancel), vars);
  }

  // The same command with the same outcome, waited for by the loop rather than a thread.
  void SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done) override {
    auto script = ctx_.expander->Expand(run_, vars.seq);
    if (!script.ok()) return done({false, script.status().message()});
    RunShellAsync(
        loop, Command(*script), ctx_.cancel,
        [this, vars, done = std::move(done)](Result<ShellResult> r) { done(Judge(r, vars)); });
  }

 private:
  ShellCommand Command(std::string script) const {
    return {.script = std::move(script), .cwd = ctx_.workdir, .timeout = timeout_};
  }

  // The outcome of one run of the command, however it was waited for, with the number
  // its output is (a lag, a count) whether it passed or not.
  ProbeOutcome Judge(const Result<ShellResult>& r, const SampleVars& vars) {
    ProbeOutcome out = JudgeRun(r, vars);
    if (r.ok() && !r->timed_out && !r->cancelled && r->term_signal == 0)
      out.value = NumberIn(r->out);
    return out;
  }

  ProbeOutcome JudgeRun(const Result<ShellResult>& r, const SampleVars& vars) {
    if (!r.ok()) return {false, r.status().message()};
    // Describe() reports the elapsed time, a little over the limit; the limit reads better.
    if (r->timed_out) return {false, "timed out after " + FormatDuration(timeout_)};
    if (r->cancelled) return {false, "cancelled"};
    const std::string want = std::to_string(exit_code_);
    if (r->term_signal != 0) return {false, r->Describe() + " (expected exit " + want + ")"};
    if (r->exit_code != exit_code_) {
      std::string detail = "exit " + std::to_string(r->exit_code) + " (expected " + want + ")";
      // Tools like redis-cli report errors on stdout; say something either way.
      const std::string& why = HasText(r->err) ? r->err : r->out;
      if (HasText(why)) detail += ": " + OneLine(why);
      return {false, detail};
    }
    if (stdout_re_) {
      if (auto miss = Mismatch(*stdout_re_, "stdout", r->out, vars)) return *miss;
    }
    if (stderr_re_) {
      if (auto miss = Mismatch(*stderr_re_, "stderr", r->err, vars)) return *miss;
    }
    std::string detail = "exit " + std::to_string(r->exit_code);
    if (HasText(r->out)) detail += ", stdout " + Quoted(r->out);
    return {true, detail};
  }

  // The failing outcome when `text` does not match, nullopt when it does.
  std::optional<ProbeOutcome> Mismatch(Pattern& pattern, const char* stream,
                                       const std::string& text, const SampleVars& vars) {
    auto re = pattern.Compile(*ctx_.expander, vars.seq);
    if (!re.ok()) return ProbeOutcome{false, re.status().message()};
    if (RegexSearch(**re, text)) return std::nullopt;
    return ProbeOutcome{
        false, std::string(stream) + " " + Quoted(text) + " does not match " + pattern.Shown()};
  }

  std::string run_;
  Millis timeout_;
  int64_t exit_code_ = 0;
  std::optional<Pattern> stdout_re_;
  std::optional<Pattern> stderr_re_;
  const RunContext& ctx_;
};

constexpr FieldSpec kExpectFields[] = {
    {.name = "exit_code",
     .type = FieldType::kInt,
     .doc = "expected exit code",
     .default_value = "0",
     .min = 0,
     .max = 255},
    {.name = "stdout_matches",
     .type = FieldType::kRegex,
     .doc = "regex searched for in standard output"},
    {.name = "stderr_matches",
     .type = FieldType::kRegex,
     .doc = "regex searched for in standard error"},
};

constexpr FieldSpec kFields[] = {
    {.name = "run",
     .type = FieldType::kString,
     .doc = "command for /bin/sh -c, run in the workdir",
     .required = true},
    {.name = "timeout",
     .type = FieldType::kDuration,
     .doc = "killed (whole process group) after",
     .default_value = "5s",
     .min = 1,
     .max = 3600000},
    {.name = "host", .type = FieldType::kString, .doc = "run on this host from `hosts:` (ssh)"},
    {.name = "expect",
     .type = FieldType::kObject,
     .doc = "what passing means",
     .fields = kExpectFields},
};

// REQUIRES: ctx.expander is set and ctx outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  return std::unique_ptr<Probe>(new CommandProbe(p, ctx));
}

}  // namespace

extern const ProbeKind kCommandProbe = {
    .name = "command",
    .doc = "run a shell command; pass on the expected exit code and output",
    .fields = kFields,
    .example =
        R"({command: {run: "redis-cli -p 6379 PING", expect: {exit_code: 0, stdout_matches: "PONG"}}})",
    .check = nullptr,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
