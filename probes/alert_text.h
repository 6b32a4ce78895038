// How an alert reads in a probe's detail, for the prometheus and webhook probes alike:
// its labels but the alertname, and its summary, cut short. A trainee's page shows this
// (docs/training.md): the alert as the on-call engineer would see it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace firedrill {

// ` {instance="127.0.0.1:9121", job="redis"}` without the alertname, cut short; "" when
// there is nothing but the alertname.
std::string BriefLabels(const nlohmann::json& labels);

// `: SUMMARY` from the alert's annotations.summary (else annotations.description), on one
// line and cut short; "" when it has neither.
std::string BriefSummary(const nlohmann::json& alert);

}  // namespace firedrill
