// nftables as the network faults use it. Each fault gets a table of its own
// (`inet firedrill_<pid>_<n>`), created whole by one `nft -f -` batch (atomic: all rules or
// none) and deleted whole on rollback, so no rule of anyone else is ever edited and the
// machine's ruleset afterwards is exactly what it was before.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "runner/base/status.h"
#include "runner/journal/journal.h"

namespace firedrill {

// "" when nft can run here with the rights it needs, else why not ("nft not found: ...",
// "needs CAP_NET_ADMIN ...").
std::string NftUnsupported();

// A table name no other fault of any run uses: firedrill_<pid>_<n>.
std::string NewNftTableName();

// Names `ip netns` accepts and a shell needs no quoting for: [A-Za-z0-9_.-], not "." or
// "..", at most 64 characters.
bool ValidNetnsName(std::string_view name);
// Does `ip netns` know the namespace (/run/netns/NAME)?
bool NetnsExists(const std::string& name);

// Loads `script` with `nft -f -`, inside network namespace `netns` when it is not empty.
// The error carries nft's own first line ("Error: Could not process rule: ...").
Status RunNft(const std::string& script, const std::string& netns);

// The journal args of the `nft.table` undo kind: {"family", "table", "netns" (or null)}.
nlohmann::json NftTableArgs(const std::string& table, const std::string& netns);

extern const UndoKind kUndoNftTable;

}  // namespace firedrill
