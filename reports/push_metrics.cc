#include "reports/push_metrics.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <utility>

#include "probes/http_client.h"
#include "reports/report_reader.h"
#include "runner/base/curl.h"
#include "runner/base/net.h"

namespace firedrill {
namespace {

using nlohmann::json;

using report_json::Number;

// "2026-11-22T00:03:23.466Z" as Unix seconds; nullopt when it is not that shape.
std::optional<double> UnixSeconds(const std::string& utc) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(utc.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + millis / 1000.0;
}

void Gauge(std::string& out, const char* name, const char* help, std::optional<double> value) {
  if (!value) return;
  // %.17g keeps every double exactly; Prometheus reads it back bit for bit.
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help,
                 name, name, fmt::format("{:.17g}", *value));
}

}  // namespace

std::string PushgatewayBody(const json& report) {
  const json& m = report.contains("metrics") ? report["metrics"] : json::object();
  auto seconds = [&](const char* key) -> std::optional<double> {
    auto ms = Number(m, key);
    return ms ? std::optional<double>(*ms / 1000.0) : std::nullopt;
  };
  std::optional<double> lost;
  if (m.is_object() && m.contains("data_lost") && m["data_lost"].is_object()) {
    lost = Number(m["data_lost"], "count");
  }
  std::optional<double> started;
  if (report.contains("started_at") && report["started_at"].is_string()) {
    started = UnixSeconds(report["started_at"].get<std::string>());
  }
  const bool passed = report.value("verdict", std::string()) == "passed";

  std::string out;
  Gauge(out, "firedrill_detected_seconds", "First fault to the first detection watch passing.",
        seconds("detected_after_ms"));
  Gauge(out, "firedrill_failed_over_seconds", "First fault to every failover watch passing.",
        seconds("failed_over_after_ms"));
  Gauge(out, "firedrill_recovered_seconds", "First fault to the steady state holding again (MTTR).",
        seconds("recovered_after_ms"));
  Gauge(out, "firedrill_availability_ratio",
        "Share of steady-state samples that passed while faults were active.",
        Number(m, "availability"));
  Gauge(out, "firedrill_data_lost_writes", "Acknowledged writes missing after rollback.", lost);
  Gauge(out, "firedrill_score", "The run's score, 0 to 100.", Number(report, "score"));
  Gauge(out, "firedrill_passed", "1 when the run passed, else 0.", passed ? 1.0 : 0.0);
  Gauge(out, "firedrill_last_run_timestamp_seconds", "When the run started, Unix time.", started);
  return out;
}

Status PushMetrics(const std::string& url, const json& report) {
  const std::string name = report.value("name", std::string());
  if (name.empty()) return Status::Invalid("the report has no drill name");
  Result<CurlUrl> parsed_or = ParseDrillUrl(url);
  if (!parsed_or.ok()) return parsed_or.status();
  CurlUrl parsed = std::move(parsed_or).value();
  // The operator named this host: it may be connected to, at the addresses it has now.
  NetworkPolicy policy;
  std::string host = UrlPart(parsed.get(), CURLUPART_HOST);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  FD_RETURN_IF_ERROR(policy.AllowHost(host));

  std::string path = UrlPart(parsed.get(), CURLUPART_PATH);
  while (!path.empty() && path.back() == '/') path.pop_back();
  // Drill names are lower-case letters, digits and '-' (the loader says so): safe in a path.
  path += "/metrics/job/firedrill/drill/" + name;
  if (curl_url_set(parsed.get(), CURLUPART_PATH, path.c_str(), 0) != CURLUE_OK ||
      curl_url_set(parsed.get(), CURLUPART_QUERY, nullptr, 0) != CURLUE_OK ||
      curl_url_set(parsed.get(), CURLUPART_FRAGMENT, nullptr, 0) != CURLUE_OK) {
    return Status::Invalid("cannot build the push URL from " + url);
  }
  const std::string target = UrlPart(parsed.get(), CURLUPART_URL);

  HttpRequestSpec spec;
  spec.method = "PUT";
  spec.url = target;
  spec.headers = {{"Content-Type", "text/plain; version=0.0.4"}};
  spec.body = PushgatewayBody(report);
  spec.timeout = Millis(10000);
  spec.max_body_bytes = 4096;
  spec.policy = &policy;
  Result<HttpResponse> response_or = HttpRequest(spec, nullptr);
  if (!response_or.ok()) {
    return Status::Failed("push to " + target + ": " + response_or.status().message());
  }
  const HttpResponse& response = *response_or;
  if (response.status != 200 && response.status != 202) {
    std::string body = response.body.substr(0, 200);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    return Status::Failed(fmt::format("{} answered HTTP {}{}", target, response.status,
                                      body.empty() ? "" : ": " + body));
  }
  return Status::Ok();
}

}  // namespace firedrill
