// The loader's "traffic stays local" check (runner/loader/locality.h): every URL and
// host:port a drill writes must name loopback or a host under `hosts:`, judged on the host
// libcurl's URL API (or getaddrinfo, for an address) will actually use. Most cases call
// Locality directly; a few go through LoadScenarioText to pin where the error is reported.
// Nothing here resolves a name or opens a socket.
#include "runner/loader/locality.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runner/base/curl.h"
#include "runner/loader/loader.h"

namespace firedrill {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The phrases the messages use; each refusal must say why, not just refuse.
constexpr char kUserinfo[] = "user name or password";
constexpr char kNotLocal[] = "neither loopback nor a host named under `hosts:`";
constexpr char kLiteral[] = "written literally";
constexpr char kScheme[] = "must be http:// or https://";
constexpr char kNotCurlUrl[] = "is not a URL libcurl can use";
constexpr char kPort[] = "port must be 1..65535";
constexpr char kHostPort[] = "must be host:port";

struct Refused {
  const char* text;
  const char* phrase;  // the message must contain it
};

// The host libcurl will connect to for `url`, as ParseDrillUrl + UrlPart report it; a
// marker when ParseDrillUrl refuses the URL. Lets a case assert what libcurl made of a
// tricky URL, so the verdict is checked against the host that is really used.
std::string CurlHost(const std::string& url) {
  auto parsed = ParseDrillUrl(url);
  if (!parsed.ok()) return "<refused: " + parsed.status().message() + ">";
  return UrlPart(parsed->get(), CURLUPART_HOST);
}

void ExpectAcceptedUrls(const Locality& locality, const std::vector<const char*>& urls) {
  for (const char* url : urls) {
    SCOPED_TRACE(url);
    EXPECT_EQ(locality.CheckUrl(url), "");
  }
}

void ExpectRefusedUrls(const Locality& locality, const std::vector<Refused>& cases) {
  for (const Refused& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string why = locality.CheckUrl(c.text);
    EXPECT_THAT(why, Not(IsEmpty()));
    EXPECT_THAT(why, HasSubstr(c.phrase));
  }
}

// ---------------------------------------------------------------------------------------
// URLs.

TEST(LocalityTest, AcceptsLoopbackUrls) {
  ExpectAcceptedUrls(Locality(), {
                                     "http://127.0.0.1/",
                                     "http://127.0.0.1:8080/x?y#z",
                                     "https://127.9.8.7:443/",  // all of 127.0.0.0/8
                                     "http://[::1]:80/",
                                     "http://localhost:9090",
                                     "http://LOCALHOST/",  // host names are case-insensitive
                                     // Connects to 127.0.0.1 (net.h judges it as IPv4).
                                     "http://[::ffff:127.0.0.1]/",
                                 });
}

// libcurl 7.88 normalises every IPv4 spelling inet_aton knows to dotted decimal before it
// connects, so these are judged (and accepted) as 127.0.0.1. The host is asserted too:
// if a libcurl upgrade stopped normalising one, the check must then judge the raw text.
TEST(LocalityTest, AcceptsNumericLoopbackFormsLibcurlNormalises) {
  for (const char* url : {"http://127.1/", "http://2130706433/", "http://0x7f000001/",
                          "http://0x7f.0.0.1/", "http://017700000001/"}) {
    SCOPED_TRACE(url);
    EXPECT_EQ(CurlHost(url), "127.0.0.1");
    EXPECT_EQ(Locality().CheckUrl(url), "");
  }
}

TEST(LocalityTest, AcceptsPortReferences) {
  // Locality sees the text unexpanded: ${port:NAME} stands for a port and the path may
  // hold any reference (${env:X} need not be set; the loader and the run check that).
  ExpectAcceptedUrls(Locality(), {
                                     "http://127.0.0.1:${port:api}/health",
                                     "http://127.0.0.1:${port:a}/${env:X}",
                                     "http://[::1]:${port:api}/",
                                     "http://localhost:${port:api}/?q=${env:X}",
                                 });
}

TEST(LocalityTest, AcceptsANamedHostOnlyOnceAdded) {
  Locality locality;
  EXPECT_THAT(locality.CheckUrl("http://10.0.0.2:8080/"), HasSubstr(kNotLocal));

  locality.AddHostAddress("10.0.0.2");
  ExpectAcceptedUrls(locality, {
                                   "http://10.0.0.2:8080/",
                                   "http://10.0.0.2/",
                                   "http://10.0.0.2:${port:web}/health",
                                   // Other spellings of the same address, as libcurl
                                   // normalises them, are still that host.
                                   "http://167772162/",
                                   "http://[::ffff:10.0.0.2]/",
                               });
  // A named host allows that address, not its neighbours.
  ExpectRefusedUrls(locality, {{"http://10.0.0.3/", kNotLocal}, {"http://10.0.0.1/", kNotLocal}});
}

TEST(LocalityTest, AcceptsANamedHostWrittenAsIpv6OrName) {
  Locality locality;
  locality.AddHostAddress("[2001:db8::7]");  // as an ssh destination may bracket it
  locality.AddHostAddress("db1.internal");
  ExpectAcceptedUrls(locality, {"http://[2001:db8::7]:80/", "http://db1.internal:8080/"});
  ExpectRefusedUrls(locality,
                    {{"http://[2001:db8::8]/", kNotLocal}, {"http://db2.internal/", kNotLocal}});
}

// The hole the check exists for: a parser that reads `127.0.0.1` as the host of
// `http://127.0.0.1:80@10.0.0.1:80/` while libcurl connects to 10.0.0.1. Userinfo is
// refused outright, whoever it names and whatever the host is.
TEST(LocalityTest, RefusesUserinfoInEveryForm) {
  ExpectRefusedUrls(Locality(), {
                                    {"http://127.0.0.1:80@10.0.0.1:80/", kUserinfo},
                                    {"http://127.0.0.1@other/", kUserinfo},
                                    {"http://user@127.0.0.1/", kUserinfo},
                                    {"http://user:pw@127.0.0.1/", kUserinfo},
                                    {"http://:@127.0.0.1/", kUserinfo},
                                    {"http://@127.0.0.1/", kUserinfo},
                                    {"http://127.0.0.1%40x@10.0.0.1/", kUserinfo},
                                    {"http://127.0.0.1:${port:a}@10.0.0.1/", kUserinfo},
                                    {"http://${env:U}@127.0.0.1/", kUserinfo},
                                });
}

TEST(LocalityTest, RefusesNonLocalHosts) {
  ExpectRefusedUrls(Locality(), {
                                    {"http://8.8.8.8/", kNotLocal},
                                    {"http://10.0.0.1/", kNotLocal},
                                    {"http://[::ffff:10.0.0.1]/", kNotLocal},
                                    {"http://[2001:db8::1]/", kNotLocal},
                                    // The wildcard addresses are not loopback: on some
                                    // systems they connect to this host, but the policy
                                    // is loopback, named, nothing else.
                                    {"http://0.0.0.0/", kNotLocal},
                                    {"http://[::]/", kNotLocal},
                                    // IPv4-compatible (not mapped) ::127.0.0.1 is not ::1.
                                    {"http://[::127.0.0.1]/", kNotLocal},
                                    // Names are never resolved to judge them: only
                                    // `localhost` itself is local.
                                    {"http://example.com/", kNotLocal},
                                    {"http://localhost.example.com/", kNotLocal},
                                    {"http://127.0.0.1.nip.io/", kNotLocal},
                                });
}

// libcurl normalises these to 10.0.0.1; the message shows that address next to the text,
// so the author sees what the number means.
TEST(LocalityTest, RefusesNumericFormsOfNonLocalAddresses) {
  for (const char* url : {"http://0x0a000001/", "http://167772161/", "http://10.1/"}) {
    SCOPED_TRACE(url);
    EXPECT_EQ(CurlHost(url), "10.0.0.1");
    const std::string why = Locality().CheckUrl(url);
    EXPECT_THAT(why, HasSubstr("'10.0.0.1' is " + std::string(kNotLocal)));
  }
}

TEST(LocalityTest, RefusesAReferenceAsTheHost) {
  // ${port:x} as the host must not be judged as the number it stands in for during the
  // parse (http://1/ is 0.0.0.1): it is refused for what it is, a reference.
  ExpectRefusedUrls(Locality(), {
                                    {"http://${env:HOST}/", kLiteral},
                                    {"http://${port:x}/", kLiteral},
                                    {"http://${port:x}:8080/", kLiteral},
                                    {"http://127.0.0.${port:x}/", kLiteral},
                                    {"http://127.0.0.1${port:x}/", kLiteral},
                                    {"http://${workdir}/", kLiteral},
                                });
  EXPECT_THAT(Locality().CheckUrl("http://${port:x}/"), Not(HasSubstr("0.0.0.1")));
}

TEST(LocalityTest, RefusesAPortPositionReferenceThatIsNotAPort) {
  // libcurl cannot parse a port that is not a number, so it never gets to the host.
  ExpectRefusedUrls(Locality(), {
                                    {"http://127.0.0.1:${env:P}/", kNotCurlUrl},
                                    {"http://127.0.0.1:${workdir}/", kNotCurlUrl},
                                });
  EXPECT_THAT(Locality().CheckUrl("http://127.0.0.1:${env:P}/"), HasSubstr("Port number"));
}

TEST(LocalityTest, RefusesOtherSchemes) {
  ExpectRefusedUrls(Locality(),
                    {
                        {"ftp://127.0.0.1/", kScheme},
                        {"file:///etc/passwd", kScheme},
                        {"gopher://127.0.0.1/", kScheme},
                        // Not built into this libcurl, so refused before the scheme is looked at.
                        {"ws://127.0.0.1/", kNotCurlUrl},
                    });
  EXPECT_THAT(Locality().CheckUrl("ftp://127.0.0.1/"), HasSubstr("not ftp://"));
}

TEST(LocalityTest, RefusesAUrlWithoutScheme) {
  // Without CURLU_GUESS_SCHEME libcurl takes `127.0.0.1:` for an unknown scheme.
  const std::string why = Locality().CheckUrl("127.0.0.1:80/x");
  EXPECT_THAT(why, HasSubstr(kNotCurlUrl));
  EXPECT_THAT(why, HasSubstr("http:// or https://"));
  EXPECT_THAT(Locality().CheckUrl("//127.0.0.1/"), Not(IsEmpty()));
  EXPECT_THAT(Locality().CheckUrl(""), Not(IsEmpty()));
}

// Characters that end the authority for one parser and not for another. Each case pins the
// host libcurl parses and checks that the verdict is the right one for that host.
TEST(LocalityTest, JudgesTheHostLibcurlParsesOutOfTrickyUrls) {
  struct Case {
    const char* url;
    const char* curl_host;  // what ParseDrillUrl + UrlPart(CURLUPART_HOST) give
    const char* phrase;     // "" for accepted
  };
  const Case cases[] = {
      // WHATWG parsers turn '\' into '/', making 127.0.0.1 the host; libcurl keeps it in
      // the authority, where '@' makes it userinfo. Refused either way.
      {"http://127.0.0.1\\@10.0.0.1/", "<refused: has a user name", kUserinfo},
      {"http://127.0.0.1 @10.0.0.1/", "<refused: has a user name", kUserinfo},
      {"http://127.0.0.1\t@10.0.0.1/", "<refused: has a user name", kUserinfo},
      // '#' and '?' end the authority: 10.0.0.1 is the host, '@127.0.0.1' is not.
      {"http://10.0.0.1#@127.0.0.1/", "10.0.0.1", kNotLocal},
      {"http://10.0.0.1?@127.0.0.1/", "10.0.0.1", kNotLocal},
      {"http://10.0.0.1/@127.0.0.1/", "10.0.0.1", kNotLocal},
      {"http://127.0.0.1#@10.0.0.1/", "127.0.0.1", ""},
      {"http://127.0.0.1?@10.0.0.1/", "127.0.0.1", ""},
      // Percent-encoded hosts are decoded before they are judged.
      {"http://%31%32%37.0.0.1/", "127.0.0.1", ""},
      {"http://%6c%6fcalhost/", "localhost", ""},
      {"http://%31%30.0.0.1/", "10.0.0.1", kNotLocal},
      // libcurl keeps a trailing dot, which makes it a name (resolved, never judged as
      // an address): refused although it would reach loopback. Strict, not a hole.
      {"http://127.0.0.1./", "127.0.0.1.", kNotLocal},
      // A zone id is not part of the host libcurl reports.
      {"http://[::1%25lo]/", "[::1]", ""},
      // One slash after the scheme is accepted by libcurl 7.88 (a URL "fix-up").
      {"http:/127.0.0.1/", "127.0.0.1", ""},
      {"http:/10.0.0.1/", "10.0.0.1", kNotLocal},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    EXPECT_THAT(CurlHost(c.url), ::testing::StartsWith(c.curl_host));
    const std::string why = Locality().CheckUrl(c.url);
    if (*c.phrase == '\0') {
      EXPECT_EQ(why, "");
    } else {
      EXPECT_THAT(why, HasSubstr(c.phrase));
    }
  }
}

// A port reference inside the host, in any shape: judged with `1` for the reference,
// `[::${port:a}]` would read as [::1] and `${port:a}27.0.0.1` as 127.0.0.1, while the picked
// port makes them [::1234] or a name like 4123427.0.0.1 at run time. The host is parsed
// with two different stand-ins, and one that changes with them holds a reference.
TEST(LocalityTest, RefusesAPortReferenceInsideTheHostWhateverThePort) {
  ExpectRefusedUrls(Locality(), {
                                    {"http://[::${port:a}]/", kLiteral},
                                    {"http://[::${port:a}]:${port:b}/", kLiteral},
                                    {"http://${port:a}27.0.0.1:${port:b}/", kLiteral},
                                    {"http://${port:a}:${port:b}/", kLiteral},
                                });
}

// ---------------------------------------------------------------------------------------
// host:port addresses (tcp probes, webhook listeners): split by SplitHostPort, the host
// judged with getaddrinfo's numeric parser, which is what connects.

TEST(LocalityTest, AcceptsLocalAddresses) {
  Locality locality;
  locality.AddHostAddress("10.0.0.2");
  for (const char* address : {"127.0.0.1:6379", "127.255.255.254:1", "[::1]:80",
                              "localhost:${port:redis}", "LocalHost:65535",
                              "127.1:80",  // getaddrinfo reads it as 127.0.0.1
                              "0x7f000001:80", "[::ffff:127.0.0.1]:80", "10.0.0.2:6379",
                              "[::ffff:10.0.0.2]:6379", "127.0.0.1:${port:a}"}) {
    SCOPED_TRACE(address);
    EXPECT_EQ(locality.CheckAddress(address), "");
  }
}

TEST(LocalityTest, RefusesNonLocalOrMalformedAddresses) {
  Locality locality;
  locality.AddHostAddress("10.0.0.2");
  const Refused cases[] = {
      {"10.1.2.3:6379", kNotLocal},
      {"10.0.0.3:6379", kNotLocal},
      {"0.0.0.0:80", kNotLocal},
      {"[::]:80", kNotLocal},
      {"[2001:db8::1]:80", kNotLocal},
      {"example.com:80", kNotLocal},
      {"167772161:80", kNotLocal},  // 10.0.0.1
      {"${env:H}:80", kLiteral},
      {"${port:a}:80", kLiteral},
      {"[${env:H}]:80", kLiteral},
      {"127.0.0.1:0", kPort},
      {"127.0.0.1:65536", kPort},
      {"127.0.0.1:http", kPort},
      {"127.0.0.1:-1", kPort},
      {"127.0.0.1:${env:P}", kPort},
      {"127.0.0.1:", kPort},
      {"127.0.0.1", kHostPort},
      {":80", kHostPort},
      {"[::1]", kHostPort},
      {"", kHostPort},
  };
  for (const Refused& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string why = locality.CheckAddress(c.text);
    EXPECT_THAT(why, Not(IsEmpty()));
    EXPECT_THAT(why, HasSubstr(c.phrase));
  }
  // A numeric host is shown with the address it stands for.
  EXPECT_THAT(locality.CheckAddress("167772161:80"), HasSubstr("'167772161' (10.0.0.1) is"));
}

// ---------------------------------------------------------------------------------------
// Through the loader: each field of kind URL or address is checked, and the error points
// at the value as written.

struct LoaderCase {
  const char* name;
  const char* yaml;
  int line;
  int column;
  const char* value;    // what stands at line:column, without its quote
  const char* message;  // the whole message after "file:line:column: error: "
};

constexpr char kSteady[] = R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
)";

const LoaderCase kLoaderCases[] = {
    {"HttpProbe", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {http: {url: "http://127.0.0.1:80@10.0.0.1:80/"}}
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     5, 25, "http://127.0.0.1:80@10.0.0.1:80/",
     "steady_state 'ok'.probe.http.url: 'http://127.0.0.1:80@10.0.0.1:80/' has a user name or "
     "password before the host (user@host); a drill's URL names its host alone (a drill URL is "
     "http:// or https://, host as written, only the port may be ${port:NAME})"},

    {"PrometheusProbe", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      prometheus:
        alert: Down
        url: "http://0x0a000001:9090"
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     8, 14, "http://0x0a000001:9090",
     "steady_state 'ok'.probe.prometheus.url: '10.0.0.1' is neither loopback nor a host named "
     "under `hosts:`; a drill sends traffic only to loopback (127.0.0.0/8, ::1, localhost) and "
     "the hosts it names under `hosts:`"},

    {"HttpLoadFault", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
faults:
  - name: spike
    action: http.load
    with: {url: "http://${port:front}/", rate: 10}
    duration: 10s
)",
     9, 17, "http://${port:front}/",
     "fault 'spike'.with.url: the host must be written literally (loopback or a host under "
     "`hosts:`), not as a ${...} reference"},

    {"TcpProbe", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe:
      tcp:
        address: "[::]:6379"
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     7, 18, "[::]:6379",
     "steady_state 'ok'.probe.tcp.address: '::' is neither loopback nor a host named under "
     "`hosts:`; a drill sends traffic only to loopback (127.0.0.0/8, ::1, localhost) and the "
     "hosts it names under `hosts:`"},

    {"WebhookListen", R"(apiVersion: firedrill/v1
name: t
steady_state:
  - name: ok
    probe: {command: {run: "true"}}
watches:
  - name: paged
    kind: detection
    probe: {webhook: {listen: "10.1.2.3:${port:page}", alert: Down}}
    within: 30s
faults:
  - name: f
    action: command
    with: {run: "true"}
)",
     9, 31, "10.1.2.3:${port:page}",
     "watch 'paged'.probe.webhook.listen: '10.1.2.3' is neither loopback nor a host named under "
     "`hosts:`; a drill sends traffic only to loopback (127.0.0.0/8, ::1, localhost) and the "
     "hosts it names under `hosts:`"},
};

std::string AllErrors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.ToString() + "\n";
  return out;
}

// A table, not TEST_P, so that every case is named LocalityLoaderTest.* for the filter.
TEST(LocalityLoaderTest, ReportsAtTheValue) {
  for (const LoaderCase& c : kLoaderCases) {
    SCOPED_TRACE(c.name);
    // The expected position must be where the value starts (at its opening quote), so a
    // typo in the table cannot pass as the loader's answer.
    const std::string yaml = c.yaml;
    size_t start = 0;
    for (int i = 1; i < c.line; ++i) start = yaml.find('\n', start) + 1;
    const std::string line_text = yaml.substr(start, yaml.find('\n', start) - start);
    EXPECT_EQ(line_text.substr(c.column - 1, 1 + std::string(c.value).size()),
              "\"" + std::string(c.value))
        << line_text;

    const LoadResult r = LoadScenarioText(yaml, "drill.yaml");
    EXPECT_FALSE(r.ok());
    ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
    EXPECT_EQ(r.errors[0].ToString(), "drill.yaml:" + std::to_string(c.line) + ":" +
                                          std::to_string(c.column) + ": error: " + c.message);
  }
}

// The same fields accept local values, and a host named under `hosts:` (by the address of
// its ssh destination) is local for URLs and addresses alike.
TEST(LocalityLoaderTest, AcceptsLocalAndNamedHosts) {
  const std::string yaml = std::string(kSteady) + R"(  - name: api
    probe: {http: {url: "http://127.0.0.1:${port:api}/health"}}
  - name: metrics
    probe: {prometheus: {url: "http://[::1]:9090", alert: Down}}
  - name: remote
    probe: {http: {url: "http://10.0.0.2:8080/"}}
  - name: remote-redis
    probe: {tcp: {address: "10.0.0.2:6379"}}
hosts:
  - name: db1
    ssh: {destination: drill@10.0.0.2}
watches:
  - name: paged
    kind: detection
    probe: {webhook: {listen: "127.0.0.1:${port:page}", alert: Down}}
    within: 30s
faults:
  - name: spike
    action: http.load
    with: {url: "http://localhost:${port:api}/", rate: 10}
    duration: 10s
)";
  const LoadResult r = LoadScenarioText(yaml, "drill.yaml");
  EXPECT_TRUE(r.ok()) << AllErrors(r);
}

}  // namespace
}  // namespace firedrill
