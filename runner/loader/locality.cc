#include "runner/loader/locality.h"

#include <algorithm>
#include <cctype>

#include "runner/base/curl.h"
#include "runner/base/net.h"
#include "runner/base/text.h"
#include "runner/drill/expand.h"

namespace firedrill {
namespace {

// Stand-ins for ${...} references while a URL is parsed: a port reference as a valid
// port, any other as letters (which libcurl accepts in a host, a path or a user name).
// Each URL is parsed twice, with two different stand-ins: a host that differs between the
// two holds a reference, wherever in it and whatever it parses as.
struct StandIns {
  std::string_view port;
  std::string_view other;
};
constexpr StandIns kFirst{"1", "fdrefzz"};
constexpr StandIns kSecond{"2", "fdrefyy"};

// `text` with every reference replaced by its stand-in. Returns nullopt when a reference is
// malformed (the loader reports those where it checks references).
std::optional<std::string> WithoutRefs(std::string_view text, const StandIns& as) {
  std::string out;
  size_t last = 0;
  auto err = ScanReferences(text, [&](const Reference& r) {
    out.append(text.substr(last, r.offset - last));
    out.append(r.kind == Reference::Kind::kPort ? as.port : as.other);
    last = text.find('}', r.offset) + 1;
  });
  if (err) return std::nullopt;
  out.append(text.substr(last));
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The numeric form getaddrinfo gives, for comparing addresses written differently.
std::string Normalised(const std::string& host) {
  auto found = NumericAddresses(host);
  if (found.empty()) return "";
  const std::string text = AddressText(reinterpret_cast<const sockaddr*>(&found[0]));
  // AddressText appends ":port"; the host alone is wanted.
  std::string h = text.substr(0, text.rfind(':'));
  if (!h.empty() && h.front() == '[') h = h.substr(1, h.size() - 2);
  return h;
}

const char* const kLiteral =
    "the host must be written literally (loopback or a host under `hosts:`), not as a ${...} "
    "reference";
const char* const kWhere =
    "; a drill sends traffic only to loopback (127.0.0.0/8, ::1, localhost) "
    "and the hosts it names under `hosts:`";

}  // namespace

void Locality::AddHostAddress(const std::string& address) {
  std::string a = address;
  if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  addresses_.insert(a);
  if (std::string n = Normalised(a); !n.empty()) addresses_.insert(n);
}

std::string Locality::CheckHost(const std::string& host) const {
  if (host.empty()) return "the host is empty";
  if (host.find("${") != std::string::npos) return kLiteral;
  if (Lower(host) == "localhost") return "";
  if (addresses_.count(host)) return "";
  auto numeric = NumericAddresses(host);
  if (!numeric.empty()) {
    if (addresses_.count(Normalised(host))) return "";
    const bool all_loopback =
        std::all_of(numeric.begin(), numeric.end(), [](const sockaddr_storage& ss) {
          return IsLoopbackAddress(reinterpret_cast<const sockaddr*>(&ss));
        });
    if (all_loopback) return "";
    const std::string n = Normalised(host);
    return "'" + host + "'" + (n != host ? " (" + n + ")" : "") +
           " is neither loopback nor a host named under `hosts:`" + kWhere;
  }
  return "'" + OneLine(host, 60) + "' is neither loopback nor a host named under `hosts:`" + kWhere;
}

std::string Locality::CheckUrl(std::string_view text) const {
  // Parsed as libcurl will parse it, with stand-ins for the references, twice.
  auto first = WithoutRefs(text, kFirst);
  auto second = WithoutRefs(text, kSecond);
  if (!first || !second) return "";  // reported where references are checked
  auto url = ParseDrillUrl(*first);
  auto other = ParseDrillUrl(*second);
  if (!url.ok() || !other.ok()) {
    return "'" + OneLine(text, 60) + "' " + (url.ok() ? other : url).status().message() +
           " (a drill URL is http:// or https://, host as written, only the port may be "
           "${port:NAME})";
  }
  std::string host = UrlPart(url->get(), CURLUPART_HOST);
  if (host != UrlPart(other->get(), CURLUPART_HOST)) {
    return kLiteral;
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return CheckHost(host);
}

std::string Locality::CheckAddress(std::string_view text) const {
  auto hp = SplitHostPort(text);
  if (!hp) return "must be host:port, got '" + OneLine(text, 60) + "'";
  const std::string& port = hp->port;
  const bool port_ref =
      port.rfind("${port:", 0) == 0 && port.back() == '}' && port.find('}') == port.size() - 1;
  if (!port_ref && !PortNumber(port)) {
    return "port must be 1..65535 or ${port:NAME}, got '" + OneLine(port, 40) + "'";
  }
  return CheckHost(hp->host);
}

}  // namespace firedrill
