// report.html, rendered from what real runs wrote (tests/reports/real_runs.h, plus a drill of
// this file's own whose check prints markup), checked twice: on the HTML string (lanes,
// failing segments, escaping, self-containment, size), and in a real browser, Debian's
// headless Chromium, which must show the verdict and every fault from file:// with no
// console message, no request but the file itself, and a screenshot that is not blank.
#include "reports/html_report.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "reports/html_common.h"
#include "runner/base/subprocess.h"
#include "tests/reports/real_runs.h"
#include "tests/testing.h"

namespace firedrill::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kChromium = "/usr/bin/chromium";
// Debian imagemagick's own binary: a machine may have a stand-in `convert` on PATH.
constexpr const char* kImageMagick = "/usr/bin/convert-im6.q16";
const char* const kVerdicts[] = {"passed", "failed", "aborted", "error"};

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != haystack.npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// Whether a page holds a piece, saying which piece (not the whole page) when it does not.
::testing::AssertionResult Holds(const std::string& page, const std::string& piece) {
  if (page.find(piece) != page.npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "a page of " << page.size() << " bytes lacks " << piece;
}

::testing::AssertionResult Lacks(const std::string& page, const std::string& piece) {
  const size_t at = page.find(piece);
  if (at == page.npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the page holds " << page.substr(at, 120);
}

// The <g> of one lane, "" when there is none.
std::string LaneOf(const std::string& html, const std::string& kind, const std::string& name) {
  const std::string key =
      "data-kind=\"" + html::Escape(kind) + "\" data-name=\"" + html::Escape(name) + "\"";
  const size_t at = html.find(key);
  if (at == html.npos) return "";
  return html.substr(at, html.find("</g>", at) - at);
}

std::string SvgOf(const std::string& html) {
  const size_t from = html.find("<svg class=\"timeline\"");
  if (from == html.npos) return "";
  return html.substr(from, html.find("</svg>", from) - from);
}

// The steady-state checks the run sampled in its fault phase: the lanes the SVG must have.
std::set<std::string> SteadyChecks(const json& report) {
  std::set<std::string> names;
  for (const auto& e : report["timeline"]) {
    if (e["type"] == "probe.pass" || e["type"] == "probe.fail") {
      names.insert(e["name"].get<std::string>());
    }
  }
  return names;
}

// A drill of this file's own: the passed drill, whose steady-state check also prints markup,
// so real command output with a <script> reaches the report's details.
RealRun RunMarkupDrill(const std::string& dir) {
  std::string drill = RealRunDrill("passed", dir);
  const std::string check = "probe: {command: {run: \"test -f healthy\"}}";
  const size_t at = drill.find(check);
  if (at != drill.npos) {
    drill.replace(at, check.size(),
                  "probe: {command: {run: \"echo '<script>alert(1)</script> & \\\"quoted\\\"'; "
                  "test -f healthy\"}}");
  }
  RealRun run;
  run.verdict = "passed";
  run.drill = dir + "/markup.yaml";
  run.report_dir = dir + "/report-markup";
  WriteFile(run.drill, drill);
  run.result = RunFiredrill({"run", run.drill, "--report-dir", run.report_dir}, dir);
  if (auto report = ReadJson(run.report_dir + "/report.json")) run.report = *report;
  return run;
}

// The real runs, each run once for every test of this file.
struct Runs {
  Runs() {
    for (const char* v : kVerdicts) by_verdict[v] = SharedRealRun(v);
    markup = RunMarkupDrill(dir.path());
  }
  TempDir dir;
  std::map<std::string, RealRun> by_verdict;
  RealRun markup;
};

const Runs& Shared() {
  static const Runs runs;
  return runs;
}

class HtmlReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [verdict, run] : Shared().by_verdict) {
      ASSERT_TRUE(run.report.is_object()) << verdict << run.result.out << run.result.err;
      ASSERT_EQ(run.report["verdict"], verdict) << run.result.out << run.result.err;
    }
  }
  const json& Report(const std::string& verdict) { return Shared().by_verdict.at(verdict).report; }
};

TEST_F(HtmlReportTest, VerdictAndScoreComeFirst) {
  for (const char* v : kVerdicts) {
    const std::string html = HtmlReport(Report(v));
    std::string upper = v;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const size_t verdict = html.find("id=\"verdict\">" + upper + "<");
    ASSERT_NE(verdict, html.npos) << v;
    EXPECT_TRUE(Holds(html, std::string("class=\"verdict v-") + v + "\"")) << v;
    const size_t score =
        html.find("<b>" + std::to_string(Report(v)["score"].get<int>()) + "</b>/100");
    ASSERT_NE(score, html.npos) << v;
    EXPECT_LT(verdict, html.find("id=\"metrics\"")) << v;
    EXPECT_LT(score, html.find("id=\"metrics\"")) << v;
  }
}

TEST_F(HtmlReportTest, ALaneForEveryFaultWatchAndSteadyCheck) {
  for (const char* v : kVerdicts) {
    const json& r = Report(v);
    const std::string html = HtmlReport(r);
    ASSERT_FALSE(r["faults"].empty()) << v;
    for (const auto& f : r["faults"]) {
      EXPECT_NE(LaneOf(html, "fault", f["name"].get<std::string>()), "")
          << v << " fault " << f["name"];
    }
    ASSERT_FALSE(r["watches"].empty()) << v;
    for (const auto& w : r["watches"]) {
      EXPECT_NE(LaneOf(html, "watch", w["name"].get<std::string>()), "")
          << v << " watch " << w["name"];
    }
    // The error run never got to its fault phase, so no check was sampled there.
    const std::set<std::string> checks = SteadyChecks(r);
    EXPECT_EQ(checks.empty(), std::string(v) == "error") << v;
    for (const auto& c : checks) EXPECT_NE(LaneOf(html, "probe", c), "") << v << " check " << c;
  }
}

TEST_F(HtmlReportTest, TheFailedRunDrawsItsCheckRedWhileFailing) {
  const json& r = Report("failed");
  // Where the real run's check failed and passed again, as its timeline says.
  std::optional<int64_t> fail, pass;
  std::string check;
  for (const auto& e : r["timeline"]) {
    if (!fail && e["type"] == "probe.fail") {
      fail = e["t_ms"].get<int64_t>();
      check = e["name"].get<std::string>();
    } else if (fail && !pass && e["type"] == "probe.pass" && e["name"] == check) {
      pass = e["t_ms"].get<int64_t>();
    }
  }
  ASSERT_TRUE(fail && pass) << r["timeline"].dump(1);
  const std::string lane = LaneOf(HtmlReport(r), "probe", check);
  EXPECT_EQ(Count(lane, "class=\"bar-fail\""), 1u) << lane;
  EXPECT_THAT(lane, HasSubstr(fmt::format("failing from {} to {}", html::Offset(*fail),
                                          html::Offset(*pass))));
  // The missed watch is marked as missed, where the run said it was.
  const std::string watch =
      LaneOf(HtmlReport(r), "watch", r["watches"][0]["name"].get<std::string>());
  EXPECT_THAT(watch, HasSubstr("m-bad"));
  EXPECT_THAT(watch, HasSubstr("missed at "));
}

TEST_F(HtmlReportTest, MarkersForWhatHappened) {
  const std::string passed = HtmlReport(Report("passed"));
  EXPECT_TRUE(Holds(passed, "class=\"mark m-fault\""));     // injected
  EXPECT_TRUE(Holds(passed, "class=\"mark m-good\""));      // the watch met
  EXPECT_TRUE(Holds(passed, "class=\"mark m-response\""));  // remediation
  EXPECT_TRUE(Holds(passed, ">detected +"));
  EXPECT_TRUE(Holds(passed, ">recovered +"));
  EXPECT_TRUE(Holds(HtmlReport(Report("aborted")), ">aborted</text>"));
  EXPECT_TRUE(Holds(HtmlReport(Report("error")), ">error</text>"));
}

TEST_F(HtmlReportTest, EveryEventIsInTheTable) {
  for (const char* v : kVerdicts) {
    const json& r = Report(v);
    const std::string html = HtmlReport(r);
    const std::string table = html.substr(html.find("id=\"events\""));
    EXPECT_EQ(Count(table, "<tr class=\"t-"), r["timeline"].size()) << v;
    for (const auto& e : r["timeline"]) {
      EXPECT_TRUE(Holds(table, ">" + html::Escape(e["type"].get<std::string>()) + "<"));
      EXPECT_TRUE(Holds(table, html::Escape(e["detail"].get<std::string>())));
    }
  }
}

TEST_F(HtmlReportTest, MetricsStandAgainstTheirObjectives) {
  const std::string html = HtmlReport(Report("failed"));
  const std::string metrics = html.substr(html.find("id=\"metrics\""));
  EXPECT_TRUE(Holds(metrics, "recovery.within ≤ 1.5s"));
  EXPECT_TRUE(Holds(metrics, "health-gone ≤ 1s"));  // MTTD's objective: the detection watch
  EXPECT_TRUE(Holds(metrics, "<span class=\"bad\">missed</span>"));
  EXPECT_TRUE(Holds(metrics, "Availability"));
}

TEST_F(HtmlReportTest, ScorePartsWhenTheReportHasThem) {
  for (const char* v : kVerdicts) {
    const json& r = Report(v);
    const std::string html = HtmlReport(r);
    if (r.contains("score_parts") && !r["score_parts"].empty()) {
      EXPECT_TRUE(Holds(html, "id=\"score\"")) << v;
      for (const auto& p : r["score_parts"]) {
        EXPECT_TRUE(Holds(html, "<td>" + html::Escape(p["part"].get<std::string>()) + "</td>"));
      }
    } else {
      EXPECT_TRUE(Lacks(html, "id=\"score\"")) << v;
    }
  }
}

TEST_F(HtmlReportTest, CommandOutputIsEscaped) {
  const RealRun& run = Shared().markup;
  ASSERT_TRUE(run.report.is_object()) << run.result.out << run.result.err;
  // The real output reached the report as it was printed...
  ASSERT_THAT(run.report["timeline"].dump(), HasSubstr("<script>alert(1)</script>"));
  const std::string html = HtmlReport(run.report);
  // ...and the page holds it as text only: the renderer writes no <script> of its own.
  EXPECT_TRUE(Lacks(html, "<script"));
  EXPECT_TRUE(Holds(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; "));
  EXPECT_TRUE(Holds(html, "&quot;"));
}

TEST(HtmlEscapeTest, ControlCharactersAndBrokenUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(html::Escape("a\x01"
                         "b\x7f\xff<\t\n"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD&lt;\t\n");
  EXPECT_EQ(html::Escape("'\"&>"), "&#39;&quot;&amp;&gt;");
  EXPECT_EQ(html::Escape("é ✓"), "é ✓");
}

TEST_F(HtmlReportTest, SelfContained) {
  for (const char* v : kVerdicts) {
    const std::string html = HtmlReport(Report(v));
    for (const char* loads : {"src=", "<link", "<script", "<img", "<iframe", "<object", "url(",
                              "@import", "href=\"http", "http://", "https://"}) {
      const size_t at = html.find(loads);
      EXPECT_EQ(at, html.npos) << v << ": " << html.substr(at == html.npos ? 0 : at, 120);
    }
    EXPECT_TRUE(Holds(html, "default-src 'none'")) << v;
  }
}

TEST_F(HtmlReportTest, ReportFromAnotherVersionStillRenders) {
  // A real report with keys gone and of other types, as an older or hand-edited report.json
  // may have them: `firedrill report DIR` must still render it.
  json r = Report("failed");
  r.erase("metrics");
  r.erase("objectives");
  r["faults"] = "not an array";
  r["watches"][0]["within_ms"] = "1s";
  r["timeline"].push_back({{"t_ms", "late"}, {"type", 7}});
  std::string html;
  ASSERT_NO_THROW(html = HtmlReport(r));
  EXPECT_TRUE(Holds(html, "id=\"verdict\">FAILED<"));
  EXPECT_TRUE(Holds(html, "</html>"));
}

TEST_F(HtmlReportTest, WrittenWholeAndReadableByOthers) {
  TempDir dir;
  const std::string path = dir / "report.html";
  ASSERT_TRUE(WriteHtmlReport(path, Report("failed")).ok());
  EXPECT_EQ(ReadFile(path), HtmlReport(Report("failed")));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

// A 10-minute drill with more than 500 events, made by extending the real passed run's
// timeline (a real run that long would cost the suite ten minutes): its check flaps every
// 1.2s, remediation runs every minute. The picture must stay bounded and readable; the table
// keeps every event.
json TenMinuteDrill(const json& passed) {
  json r = passed;
  json timeline = json::array();
  int64_t fault_at = 0;
  for (const auto& e : passed["timeline"]) {
    if (e["type"] == "phase" && e["name"] == "rollback") break;
    if (e["type"] == "fault.injected") fault_at = e["t_ms"];
    if (e["type"] != "probe.pass" && e["type"] != "probe.fail") timeline.push_back(e);
  }
  constexpr int64_t kEnd = 600000;
  bool failing = false;
  for (int64_t t = fault_at + 600; t < kEnd; t += 1200) {
    failing = !failing;
    timeline.push_back({{"t_ms", t},
                        {"type", failing ? "probe.fail" : "probe.pass"},
                        {"name", "health-file"},
                        {"detail", failing ? "exit 1 (expected 0)" : "exit 0"}});
    if ((t - fault_at) % 60000 < 1200) {
      timeline.push_back(
          {{"t_ms", t}, {"type", "remediation.run"}, {"name", ""}, {"detail", "touch healthy"}});
    }
  }
  for (const char* phase : {"rollback", "verify", "teardown", "done"}) {
    timeline.push_back({{"t_ms", kEnd}, {"type", "phase"}, {"name", phase}, {"detail", ""}});
  }
  r["timeline"] = timeline;
  return r;
}

TEST_F(HtmlReportTest, TenMinutesAndFiveHundredEventsStayReadable) {
  const json r = TenMinuteDrill(Report("passed"));
  ASSERT_GE(r["timeline"].size(), 500u);
  const std::string html = HtmlReport(r);
  const std::string svg = SvgOf(html);
  ASSERT_NE(svg, "");
  size_t elements = 0;
  for (const char* tag : {"<rect", "<path", "<circle", "<line", "<text"}) {
    elements += Count(svg, tag);
  }
  EXPECT_LT(elements, 150u) << "the SVG grows with the events";
  EXPECT_LT(Count(svg, "<text"), 50u) << "labels for every event";
  // 1.2s flaps at this scale are two units wide: drawn as one stretch, marked as flapping.
  EXPECT_EQ(Count(LaneOf(html, "probe", "health-file"), "class=\"bar-fail"), 1u);
  EXPECT_THAT(LaneOf(html, "probe", "health-file"), HasSubstr("class=\"bar-fail bar-flap\""));
  EXPECT_THAT(LaneOf(html, "response", "response"), HasSubstr("class=\"mark m-response\""));
  EXPECT_TRUE(Holds(svg, ">5m</text>"));  // a tick a minute, in minutes
  EXPECT_EQ(Count(html, "<tr class=\"t-"), r["timeline"].size());
}

// ---- in a real browser ----

struct Browser {
  int exit_code = -1;
  std::string dom;
  std::string log;  // Chromium's stderr, where --enable-logging=stderr puts console messages
  json net_log;
  std::string screenshot;
};

// Opens `page` in headless Chromium once: the DOM after load, the log, the net log and a
// screenshot, each to a file in `dir`.
Browser OpenInChromium(const std::string& page, const std::string& dir) {
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --user-data-dir=" + Quote(dir + "/profile") +
      " --no-first-run --disable-extensions --disable-background-networking"
      " --disable-component-update --disable-sync"
      " --disable-features=NetworkTimeServiceQuerying --enable-logging=stderr --v=0"
      " --log-net-log=" +
      Quote(dir + "/net.json") + " --screenshot=" + Quote(dir + "/shot.png") +
      " --window-size=1280,2000 --dump-dom ";
  const std::string script = std::string("timeout -k 5 60 ") + kChromium + flags +
                             Quote("file://" + page) + " >" + Quote(dir + "/dom.html") + " 2>" +
                             Quote(dir + "/stderr.log");
  Browser b;
  auto r =
      RunShell({.script = script, .cwd = dir, .timeout = Millis(90000), .capture_limit = 4096});
  if (!r.ok()) return b;
  b.exit_code = r->timed_out ? -2 : r->exit_code;
  b.dom = ReadFile(dir + "/dom.html");
  b.log = ReadFile(dir + "/stderr.log");
  if (auto net = ReadJson(dir + "/net.json")) b.net_log = *net;
  b.screenshot = dir + "/shot.png";
  return b;
}

// Console messages (errors, warnings, uncaught exceptions, refused loads): with
// --enable-logging=stderr Chromium logs each as `INFO:CONSOLE:LINE] "text", source: URL`.
std::vector<std::string> ConsoleLines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != line.npos) lines.push_back(line);
  }
  return lines;
}

// "https://host:port" of a URL: how a net log's host-resolution events name it.
std::string OriginOf(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == url.npos) return url;
  return url.substr(0, url.find('/', scheme + 3));
}

// The URLs that the net log shows requested for the page, other than `page` itself.
// Chromium's own services (the component updater, the account check) make requests of their
// own whatever page is open; the net log tells them apart: no document initiated them
// (initiator "not an origin") and they are not in a file:// page's network partition. They
// go to `browser_own`; every other URL, origin or host the net log names counts as the
// page's. (file:// loads do not go through the network stack, so the page's own file does
// not appear at all.)
std::vector<std::string> PageRequests(const json& net_log, const std::string& page,
                                      std::set<std::string>* browser_own) {
  int start_job = -1;
  for (const auto& [name, id] : net_log["constants"]["logEventTypes"].items()) {
    if (name == "URL_REQUEST_START_JOB") start_job = id;
  }
  std::set<std::string> own_names;  // their URLs, origins and hosts
  for (const auto& e : net_log["events"]) {
    if (e["type"] != start_job || !e.contains("params")) continue;
    const json& p = e["params"];
    const bool by_browser = p.value("initiator", "") == "not an origin" &&
                            p.value("network_isolation_key", "").find("file:") == std::string::npos;
    if (!by_browser) continue;
    const std::string url = p.value("url", "");
    const std::string origin = OriginOf(url);
    browser_own->insert(url);
    own_names.insert({url, origin, origin.substr(origin.find("://") + 3)});
  }
  std::set<std::string> requested;
  for (const auto& e : net_log["events"]) {
    if (!e.contains("params") || !e["params"].is_object()) continue;
    for (const char* key : {"url", "original_url", "host"}) {
      const auto it = e["params"].find(key);
      if (it == e["params"].end() || !it->is_string()) continue;
      const std::string name = *it;
      if (name != page && own_names.count(name) == 0 && own_names.count(OriginOf(name)) == 0) {
        requested.insert(name);
      }
    }
  }
  return {requested.begin(), requested.end()};
}

// How many colours the screenshot has, by imagemagick.
int Colours(const std::string& png) {
  auto r = RunShell({.script = std::string(kImageMagick) + " " + Quote(png) + " -format %k info:",
                     .cwd = "/",
                     .timeout = Millis(30000),
                     .capture_limit = 4096});
  if (!r.ok() || r->exit_code != 0) return -1;
  int n = -1;
  std::from_chars(r->out.data(), r->out.data() + r->out.size(), n);
  return n;
}

class HtmlChromiumTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (access(kChromium, X_OK) != 0 || access(kImageMagick, X_OK) != 0) {
      GTEST_FAIL() << "needs Debian's chromium and imagemagick (scripts/install-deps)";
    }
  }
};

TEST_P(HtmlChromiumTest, RendersFromFileWithNothingElseLoaded) {
  const RealRun& run = Shared().by_verdict.at(GetParam());
  ASSERT_TRUE(run.report.is_object()) << run.result.out << run.result.err;
  TempDir dir;
  const std::string page = dir / "report.html";
  WriteFile(page, HtmlReport(run.report));

  const Browser b = OpenInChromium(page, dir.path());
  ASSERT_EQ(b.exit_code, 0) << b.log;

  std::string upper = GetParam();
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(Holds(b.dom, "id=\"verdict\">" + upper + "</span>"));
  for (const auto& f : run.report["faults"]) {
    EXPECT_TRUE(Holds(b.dom, html::Escape(f["name"].get<std::string>())));
  }

  EXPECT_THAT(ConsoleLines(b.log), ::testing::IsEmpty());

  ASSERT_TRUE(b.net_log.contains("events")) << "no net log";
  std::set<std::string> browser_own;
  EXPECT_THAT(PageRequests(b.net_log, "file://" + page, &browser_own), ::testing::IsEmpty());

  EXPECT_GT(Colours(b.screenshot), 16) << "the screenshot is blank";
}

INSTANTIATE_TEST_SUITE_P(Html, HtmlChromiumTest,
                         ::testing::Values("passed", "failed", "aborted", "error"));

// The control: the same checks do see a request, a console error and a blank page when a page
// has them, so their passing above means something.
TEST(HtmlChromiumControlTest, TheChecksCatchARequestAConsoleErrorAndABlankPage) {
  if (access(kChromium, X_OK) != 0) GTEST_FAIL() << "needs Debian's chromium";
  TempDir dir;
  ClosedPort port;
  const std::string page = dir / "control.html";
  WriteFile(page, fmt::format("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>c</title>"
                              "</head><body><img hidden src=\"http://127.0.0.1:{}/x.png\" alt=\"\">"
                              "<script>console.error(\"control\")</script></body></html>",
                              port.port()));
  const Browser b = OpenInChromium(page, dir.path());
  ASSERT_EQ(b.exit_code, 0) << b.log;
  EXPECT_THAT(::testing::PrintToString(ConsoleLines(b.log)), HasSubstr("control"));
  std::set<std::string> browser_own;
  EXPECT_THAT(::testing::PrintToString(PageRequests(b.net_log, "file://" + page, &browser_own)),
              HasSubstr(fmt::format("127.0.0.1:{}", port.port())));
  EXPECT_LE(Colours(b.screenshot), 2) << "a white page";
}

}  // namespace
}  // namespace firedrill::testing
