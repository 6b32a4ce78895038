#include "injectors/support/nft.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "injectors/support/tools.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"

namespace firedrill {
namespace {

constexpr int kCapNetAdmin = 12;  // linux/capability.h
constexpr const char* kHeredocEnd = "FIREDRILL_NFT_END";

bool HasCapNetAdmin() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    uint64_t caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (caps >> kCapNetAdmin) & 1;
  }
  return geteuid() == 0;
}

struct NftRun {
  bool ok = false;
  std::string error;  // "exit 1: Error: ..." when !ok
};

// Runs `nft ARGS` (in `netns` when set) with `input` on stdin, through /bin/sh so that the
// timeout and process-group handling of RunShell apply. Every word put in the shell line
// is validated first (table and namespace names), so nothing needs quoting.
Result<NftRun> Nft(const std::string& args, const std::string& netns, const std::string& input) {
  std::string nft = FindTool("nft");
  if (nft.empty()) return Status::Unsupported("nft not found: apt-get install nftables");
  std::string line = "exec ";
  if (!netns.empty()) {
    std::string ip = FindTool("ip");
    if (ip.empty()) return Status::Unsupported("ip not found: apt-get install iproute2");
    line += ip + " netns exec " + netns + " ";
  }
  line += nft + " " + args;
  if (!input.empty()) {
    fmt::format_to(std::back_inserter(line), " <<'{}'\n{}{}{}\n", kHeredocEnd, input,
                   input.back() == '\n' ? "" : "\n", kHeredocEnd);
  }
  auto r = RunShell({.script = line, .cwd = "/", .timeout = Millis(10000)});
  if (!r.ok()) return r.status().Annotate("running nft");
  NftRun out;
  out.ok = r->exit_code == 0;
  if (!out.ok) {
    // nft prints "/dev/stdin:3:5-40: Error: ..." and then the offending line; the first
    // line says it all.
    std::string err = OneLine(r->err, 200);
    out.error = r->Describe() + (err.empty() ? "" : ": " + err);
  }
  return out;
}

bool ValidTableName(const std::string& t) {
  if (t.rfind("firedrill_", 0) != 0 || t.size() > 64) return false;
  for (char c : t) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::string Where(const std::string& netns) {
  return netns.empty() ? "" : " in network namespace " + netns;
}

// Idempotent by construction: a table that is not there (never made, already deleted, or
// gone with its namespace) is the state rollback wants.
Result<std::string> UndoTable(const nlohmann::json& a, const UndoContext&) {
  std::string family = a.value("family", "");
  std::string table = a.value("table", "");
  std::string netns;
  if (a.contains("netns") && a["netns"].is_string()) netns = a["netns"].get<std::string>();
  // A journal is a file on disk: never let it name someone else's table or smuggle words
  // into a shell line.
  if (family != "inet" && family != "ip" && family != "ip6") {
    return Status::Invalid("nft.table: bad family in journal: " + family);
  }
  if (!ValidTableName(table)) return Status::Invalid("nft.table: bad table in journal: " + table);
  if (!netns.empty() && !ValidNetnsName(netns)) {
    return Status::Invalid("nft.table: bad netns in journal: " + netns);
  }
  const std::string what = "nft table " + family + " " + table + Where(netns);
  if (!netns.empty() && !NetnsExists(netns)) {
    return "network namespace " + netns + " is gone, and " + what + " with it";
  }
  auto listed = Nft("list table " + family + " " + table, netns, "");
  if (!listed.ok()) return listed.status();
  if (!listed->ok) return what + " was not there";
  auto deleted = Nft("-f -", netns, "delete table " + family + " " + table + "\n");
  if (!deleted.ok()) return deleted.status();
  if (!deleted->ok) return Status::Failed("deleting " + what + ": nft " + deleted->error);
  return "deleted " + what;
}

}  // namespace

std::string NftUnsupported() {
  if (FindTool("nft").empty()) return "nft not found: apt-get install nftables";
  if (!HasCapNetAdmin()) return "needs CAP_NET_ADMIN to change nftables (run as root)";
  return "";
}

std::string NewNftTableName() {
  static std::atomic<int> next{1};
  return "firedrill_" + std::to_string(getpid()) + "_" + std::to_string(next++);
}

bool ValidNetnsName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return name[0] != '-';
}

bool NetnsExists(const std::string& name) {
  std::error_code ec;
  return ValidNetnsName(name) && std::filesystem::exists("/run/netns/" + name, ec);
}

Status RunNft(const std::string& script, const std::string& netns) {
  if (!netns.empty() && !ValidNetnsName(netns)) {
    return Status::Invalid("bad network namespace name: " + netns);
  }
  auto r = Nft("-f -", netns, script);
  if (!r.ok()) return r.status();
  if (!r->ok) return Status::Failed("nft" + Where(netns) + ": " + r->error);
  return Status::Ok();
}

nlohmann::json NftTableArgs(const std::string& table, const std::string& netns) {
  return {{"family", "inet"},
          {"table", table},
          {"netns", netns.empty() ? nlohmann::json(nullptr) : nlohmann::json(netns)}};
}

extern const UndoKind kUndoNftTable = {
    .name = "nft.table",
    .doc = "delete firedrill's own nftables table (a missing table or namespace is fine)",
    .undo = UndoTable,
};

}  // namespace firedrill
