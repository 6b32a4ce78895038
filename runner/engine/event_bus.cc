#include "runner/engine/event_bus.h"

#include <system_error>
#include <utility>

namespace firedrill {

EventBus::EventBus(std::vector<Listener> listeners) : listeners_(std::move(listeners)) {
  if (listeners_.empty()) return;
  try {
    thread_ = std::thread([this] { Loop(); });
  } catch (const std::system_error&) {
    // Delivered on the publishing thread (threaded() says which).
  }
}

EventBus::~EventBus() { Close(); }

void EventBus::Publish(const Event& e) {
  if (listeners_.empty()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (thread_.joinable() && !closing_) {
      queue_.push_back(e);
      cv_.notify_one();
      return;
    }
  }
  Deliver(e);
}

void EventBus::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void EventBus::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing, and everything delivered
    Event e = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    Deliver(e);
    l.lock();
  }
}

void EventBus::Deliver(const Event& e) {
  std::lock_guard<std::mutex> l(deliver_mu_);
  for (const auto& listener : listeners_) listener(e);
}

}  // namespace firedrill
