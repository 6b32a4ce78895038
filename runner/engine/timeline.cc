#include "runner/engine/timeline.h"

#include <algorithm>

namespace firedrill {

int64_t Timeline::Add(std::string type, std::string name, std::string detail) {
  std::lock_guard<std::mutex> l(mu_);
  if (redactor_) {
    name = redactor_->Apply(std::move(name));
    detail = redactor_->Apply(std::move(detail));
  }
  // Stamped under the lock, so the stored order is the time order.
  int64_t t = Now();
  events_.push_back(Event{t, std::move(type), std::move(name), std::move(detail)});
  if (sink_) sink_(events_.back());
  return t;
}

void Timeline::AddAt(int64_t t_ms, std::string type, std::string name, std::string detail) {
  std::lock_guard<std::mutex> l(mu_);
  if (redactor_) {
    name = redactor_->Apply(std::move(name));
    detail = redactor_->Apply(std::move(detail));
  }
  Event e{t_ms, std::move(type), std::move(name), std::move(detail)};
  auto pos = std::upper_bound(events_.begin(), events_.end(), t_ms,
                              [](int64_t t, const Event& ev) { return t < ev.t_ms; });
  pos = events_.insert(pos, std::move(e));
  if (sink_) sink_(*pos);
}

std::vector<Event> Timeline::Events() const {
  std::lock_guard<std::mutex> l(mu_);
  return events_;
}

void Timeline::SetSink(Sink sink) {
  std::lock_guard<std::mutex> l(mu_);
  sink_ = std::move(sink);
}

void Timeline::SetRedactor(const Redactor* r) {
  std::lock_guard<std::mutex> l(mu_);
  redactor_ = r;
}

}  // namespace firedrill
