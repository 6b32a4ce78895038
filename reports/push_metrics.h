// A run's figures pushed to a Prometheus Pushgateway, so that dashboards and alerts can
// follow MTTD, MTTR and the score of every scheduled drill. One group per drill
// (job="firedrill", drill="NAME"), never per run: Pushgateway groups never expire, and a
// group per run would grow without end. Each push replaces the drill's group (PUT), so a
// figure this run did not produce (no detection) is not left standing from the last one.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "runner/base/status.h"

namespace firedrill {

// The push body, Prometheus text exposition format 0.0.4: firedrill_detected_seconds,
// firedrill_failed_over_seconds, firedrill_recovered_seconds, firedrill_availability_ratio,
// firedrill_data_lost_writes (each only when the report has it), firedrill_score,
// firedrill_passed and firedrill_last_run_timestamp_seconds.
std::string PushgatewayBody(const nlohmann::json& report);

// PUTs the body to URL/metrics/job/firedrill/drill/NAME. `url` is the operator's
// (`--push-metrics`): libcurl parses it, and the connection may go only to loopback or to
// the addresses its host resolves to now (the same connect-time policy as every other
// transfer). kFailed says why it did not land (refused, timed out, HTTP status and body).
Status PushMetrics(const std::string& url, const nlohmann::json& report);

}  // namespace firedrill
