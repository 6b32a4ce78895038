#include "injectors/support/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace firedrill {
namespace {

// Below kLinear µs every microsecond has its own bucket; above, each bucket is 0.1 % wider
// than the last, up to about 40 minutes (longer samples share the last bucket).
constexpr uint64_t kLinear = 100;
constexpr double kGrowth = 1.001;
constexpr size_t kLogBuckets = 17000;  // 100 µs * 1.001^17000 ≈ 2.4e9 µs

size_t BucketOf(uint64_t us) {
  if (us < kLinear) return static_cast<size_t>(us);
  double k = std::log(static_cast<double>(us) / kLinear) / std::log(kGrowth);
  return kLinear + std::min(static_cast<size_t>(k), kLogBuckets - 1);
}

double Middle(size_t bucket) {
  if (bucket < kLinear) return static_cast<double>(bucket);
  return kLinear * std::pow(kGrowth, static_cast<double>(bucket - kLinear) + 0.5);
}

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kLinear + kLogBuckets, 0) {}

void LatencyHistogram::Record(uint64_t micros) {
  ++buckets_[BucketOf(micros)];
  ++count_;
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

double LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return Middle(i);
  }
  return Middle(buckets_.size() - 1);
}

}  // namespace firedrill
