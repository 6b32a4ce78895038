#include "runner/engine/scheduler.h"

#include <algorithm>
#include <cassert>
#include <climits>

namespace firedrill {

Scheduler::~Scheduler() { assert(pending_ == 0 && "Scheduler destroyed before Stop()"); }

size_t Scheduler::Add(Millis interval, int64_t first_ms, Body body) {
  auto e = std::make_unique<Entry>();
  e->interval = std::max<int64_t>(1, interval.count());
  e->first = first_ms;
  e->body = std::move(body);
  Entry* entry = e.get();
  size_t i = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    i = entries_.size();
    e->lane = &loop_->Lane(i);
    e->timer = std::make_unique<RunTimer>(e->lane->io());
    entries_.push_back(std::move(e));
  }
  std::lock_guard<std::mutex> l(entry->mu);
  Arm(*entry);
  return i;
}

void Scheduler::Arm(Entry& e) {
  e.timer->expires_at(RunClock::FromMs(e.first + e.next_slot * e.interval));
  ++pending_;
  e.timer->async_wait([this, &e](const boost::system::error_code&) { OnTimer(e); });
}

void Scheduler::OnTimer(Entry& e) {
  int64_t planned = 0;
  bool start = false;
  {
    std::lock_guard<std::mutex> l(e.mu);
    if (!stopped_ && !e.done) {
      const int64_t now = loop_->NowMs();
      // The latest slot already due. Every slot before it whose successor is due too can
      // no longer start on time: each is a miss, and sampling goes on from the latest.
      const int64_t due = std::max(e.next_slot, (now - e.first) / e.interval);
      e.missed += due - e.next_slot;
      e.next_slot = due;
      planned = e.first + e.next_slot * e.interval;
      ++e.next_slot;
      if (e.in_flight) {
        // The previous sample still runs (a probe slower than its interval): this slot
        // cannot start, and stacking samples would only hide how slow the probe is.
        ++e.missed;
      } else {
        start = true;
        e.in_flight = true;
        ++pending_;
        ++e.samples;
        ++e.lateness[static_cast<int32_t>(std::min<int64_t>(now - planned, INT32_MAX))];
      }
      Arm(e);
    }
  }
  // This wait is over. Counted off outside the lock: at 0, Stop may return and the entry
  // go; a sample just started keeps the count above 0 until it has finished.
  --pending_;
  if (!start) return;
  // The body is never changed after Add, and entries are never removed before Stop.
  e.body(planned, *e.lane, [this, &e](bool keep) { OnFinished(e, keep); });
}

void Scheduler::OnFinished(Entry& e, bool keep) {
  {
    std::lock_guard<std::mutex> l(e.mu);
    e.in_flight = false;
    if (!keep && !e.done) {
      e.done = true;
      e.timer->cancel();  // its wait completes as aborted and is counted off then
    }
  }
  --pending_;  // outside the lock, as in OnTimer
}

void Scheduler::Stop() {
  stopped_ = true;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& e : entries_) {
      std::lock_guard<std::mutex> el(e->mu);
      e->timer->cancel();
    }
  }
  loop_->Drive(Millis(1), [this] { return pending_.load() == 0; });
}

ScheduleStats Scheduler::Stats(size_t i) const {
  std::lock_guard<std::mutex> l(mu_);
  const Entry& e = *entries_[i];
  std::lock_guard<std::mutex> el(e.mu);
  ScheduleStats s{.samples = e.samples, .missed = e.missed};
  if (e.lateness.empty()) return s;
  int64_t total = 0;
  for (const auto& [ms, n] : e.lateness) total += n;
  // Nearest rank: the smallest value at or above which p % of the samples lie.
  auto rank = [&](int64_t p) {
    const int64_t k = std::max<int64_t>((total * p + 99) / 100, 1);
    int64_t seen = 0;
    for (const auto& [ms, n] : e.lateness) {
      seen += n;
      if (seen >= k) return static_cast<int64_t>(ms);
    }
    return static_cast<int64_t>(e.lateness.rbegin()->first);
  };
  s.late_p50_ms = rank(50);
  s.late_p99_ms = rank(99);
  s.late_max_ms = e.lateness.rbegin()->first;
  return s;
}

}  // namespace firedrill
