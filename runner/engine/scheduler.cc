#include "runner/engine/scheduler.h"

#include <algorithm>
#include <cassert>

namespace firedrill {

Scheduler::~Scheduler() { assert(pending_ == 0 && "Scheduler destroyed before Stop()"); }

size_t Scheduler::Add(Millis interval, int64_t first_ms, Body body) {
  auto e = std::make_unique<Entry>();
  e->interval = std::max<int64_t>(1, interval.count());
  e->first = first_ms;
  e->body = std::move(body);
  e->timer = std::make_unique<RunTimer>(loop_->io());
  std::lock_guard<std::mutex> l(mu_);
  entries_.push_back(std::move(e));
  const size_t i = entries_.size() - 1;
  Arm(i);
  return i;
}

void Scheduler::Arm(size_t i) {
  Entry& e = *entries_[i];
  e.timer->expires_at(RunClock::FromMs(e.first + e.next_slot * e.interval));
  ++pending_;
  e.timer->async_wait([this, i](const boost::system::error_code&) { OnTimer(i); });
}

void Scheduler::OnTimer(size_t i) {
  int64_t planned = 0;
  const Body* body = nullptr;
  {
    std::lock_guard<std::mutex> l(mu_);
    --pending_;
    Entry& e = *entries_[i];
    if (stopped_ || e.done) return;
    const int64_t now = loop_->NowMs();
    // The latest slot already due. Every slot before it whose successor is due too can no
    // longer start on time: each is a miss, and sampling goes on from the latest.
    const int64_t due = std::max(e.next_slot, (now - e.first) / e.interval);
    e.missed += due - e.next_slot;
    e.next_slot = due;
    planned = e.first + e.next_slot * e.interval;
    ++e.next_slot;
    if (e.in_flight) {
      // The previous sample still runs (a probe slower than its interval): this slot
      // cannot start, and stacking samples would only hide how slow the probe is.
      ++e.missed;
      Arm(i);
      return;
    }
    e.in_flight = true;
    ++pending_;
    ++e.samples;
    e.lateness.push_back(static_cast<int32_t>(std::min<int64_t>(now - planned, INT32_MAX)));
    Arm(i);
    body = &e.body;  // never changed after Add, and entries are never removed
  }
  (*body)(planned, [this, i](bool keep) { OnFinished(i, keep); });
}

void Scheduler::OnFinished(size_t i, bool keep) {
  std::lock_guard<std::mutex> l(mu_);
  Entry& e = *entries_[i];
  e.in_flight = false;
  --pending_;
  if (!keep && !e.done) {
    e.done = true;
    e.timer->cancel();  // its wait completes as aborted and is counted off then
  }
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    for (auto& e : entries_) e->timer->cancel();
  }
  loop_->Drive(Millis(1), [this] {
    std::lock_guard<std::mutex> l(mu_);
    return pending_ == 0;
  });
}

ScheduleStats Scheduler::Stats(size_t i) const {
  std::lock_guard<std::mutex> l(mu_);
  const Entry& e = *entries_[i];
  ScheduleStats s{.samples = e.samples, .missed = e.missed};
  if (e.lateness.empty()) return s;
  std::vector<int32_t> v = e.lateness;
  std::sort(v.begin(), v.end());
  // Nearest rank: the smallest value at or above which p % of the samples lie.
  auto rank = [&](int p) {
    size_t k = (v.size() * static_cast<size_t>(p) + 99) / 100;
    return static_cast<int64_t>(v[std::max<size_t>(k, 1) - 1]);
  };
  s.late_p50_ms = rank(50);
  s.late_p99_ms = rank(99);
  s.late_max_ms = v.back();
  return s;
}

}  // namespace firedrill
