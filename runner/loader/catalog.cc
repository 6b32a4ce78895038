#include "runner/loader/catalog.h"

#include <fmt/format.h>

#include <span>

#include "injectors/fault_registry.h"
#include "probes/probe_registry.h"
#include "runner/base/values.h"
#include "runner/drill/fault.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

std::string Num(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)))
    return std::to_string(static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string Bounds(const FieldSpec& f) {
  if (f.min == 0 && f.max == 0) return "";
  auto show = [&](double v) -> std::string {
    switch (f.type) {
      case FieldType::kDuration:
        return FormatDuration(Millis(static_cast<int64_t>(v)));
      case FieldType::kSize:
      case FieldType::kSizeOrPercent:
        return FormatBytes(static_cast<uint64_t>(v));
      case FieldType::kPercent:
        return Num(v) + "%";
      default:
        return Num(v);
    }
  };
  if (f.max == 0) return ">= " + show(f.min);
  return show(f.min) + ".." + show(f.max);
}

std::string TypeOf(const FieldSpec& f) {
  if (f.type == FieldType::kEnum) {
    std::string s;
    for (const char* c : f.choices) s += (s.empty() ? "" : "|") + std::string(c);
    return s;
  }
  return FieldTypeName(f.type);
}

std::string Use(const FieldSpec& f) {
  if (f.required) return "required";
  if (f.default_value) return std::string("default ") + f.default_value;
  return "optional";
}

void FieldsText(std::string& out, std::span<const FieldSpec> fields, const std::string& prefix) {
  for (const auto& f : fields) {
    std::string name = prefix + f.name;
    std::string b = Bounds(f);
    out += fmt::format("      {:<22} {:<18} {:<18} {}{}\n", name, TypeOf(f), Use(f), f.doc,
                       b.empty() ? "" : " (" + b + ")");
    if (f.type == FieldType::kObject) FieldsText(out, f.fields, name + ".");
  }
}

void FieldsMarkdown(std::string& out, std::span<const FieldSpec> fields,
                    const std::string& prefix) {
  for (const auto& f : fields) {
    std::string name = prefix + f.name;
    std::string b = Bounds(f);
    out += fmt::format("| `{}` | {} | {} | {}{} |\n", name, TypeOf(f), Use(f), f.doc,
                       b.empty() ? "" : " (" + b + ")");
    if (f.type == FieldType::kObject) FieldsMarkdown(out, f.fields, name + ".");
  }
}

const char* UseWord(::firedrill::Use u) {
  switch (u) {
    case ::firedrill::Use::kForbidden:
      return "no";
    case ::firedrill::Use::kOptional:
      return "optional";
    case ::firedrill::Use::kRequired:
      return "required";
  }
  return "?";
}

// The terminal says whether a kind runs on this machine ("supported here", "not built
// yet", "not supported here: why"); the Markdown reference (docs/drill-format.md) says only whether
// it is built, so it reads the same on every machine.
template <typename Kind>
std::string Support(const Kind& k, bool on_this_machine) {
  if (!k.make) return "not built yet";
  if (!on_this_machine) return "built";
  std::string why = WhyNotRunnable(k);
  return why.empty() ? "supported here" : "not supported here: " + why;
}

}  // namespace

std::string FaultCatalogText() {
  std::string out;
  for (const FaultAction* a : FaultActions()) {
    out += fmt::format("{}  [{}]\n  {}\n  target: {}, duration: {}{}\n", a->name, Support(*a, true),
                       a->doc, UseWord(a->target), UseWord(a->duration),
                       a->setup ? ", also a setup: step" : "");
    if (!a->fields.empty()) {
      out += "    with:\n";
      FieldsText(out, a->fields, "");
    }
    out += fmt::format("  example: {}\n\n", a->example);
  }
  return out;
}

std::string FaultCatalogMarkdown() {
  std::string out;
  for (const FaultAction* a : FaultActions()) {
    out += fmt::format("#### `{}`\n{} — target: {}, duration: {}{}; {}.\n\n", a->name, a->doc,
                       UseWord(a->target), UseWord(a->duration),
                       a->setup ? ", also a [`setup:`](#setup) step" : "", Support(*a, false));
    if (!a->fields.empty()) {
      out += "| with | type | use | meaning |\n|---|---|---|---|\n";
      FieldsMarkdown(out, a->fields, "");
      out += "\n";
    }
    out += fmt::format("```yaml\n- {}\n```\n\n", a->example);
  }
  return out;
}

std::string ProbeCatalogText() {
  std::string out;
  for (const ProbeKind* k : ProbeKinds()) {
    out += fmt::format("{}  [{}]\n  {}\n", k->name, Support(*k, true), k->doc);
    FieldsText(out, k->fields, "");
    out += fmt::format("  example: {}\n\n", k->example);
  }
  return out;
}

std::string ProbeCatalogMarkdown() {
  std::string out;
  for (const ProbeKind* k : ProbeKinds()) {
    out +=
        fmt::format("#### `{}`\n{}; {}.\n\n| field | type | use | meaning |\n|---|---|---|---|\n",
                    k->name, k->doc, Support(*k, false));
    FieldsMarkdown(out, k->fields, "");
    out += fmt::format("\n```yaml\nprobe: {}\n```\n\n", k->example);
  }
  return out;
}

}  // namespace firedrill
