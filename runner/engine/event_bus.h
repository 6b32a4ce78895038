// The engine's events on their way out: the timeline publishes each event here under its
// own lock, which costs a queue push, and one thread of the bus hands them to the
// listeners (the live terminal view, any later one) outside every engine lock. A stdout
// that nobody reads then blocks only that thread: no probe, fault or timer waits for it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "runner/engine/timeline.h"

namespace firedrill {

class EventBus {
 public:
  using Listener = std::function<void(const Event&)>;

  // Starts the delivering thread. If it cannot be created (the thread limit), events are
  // delivered on the publishing thread instead, as before there was a bus: slower for a
  // blocked listener, but nothing is lost.
  explicit EventBus(std::vector<Listener> listeners);
  // Close()s.
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Queues `e` for every listener, in order. Never blocks on a listener.
  void Publish(const Event& e);
  // Delivers what is queued, then stops the thread. Waits for the listeners, however long
  // they take: what was published is always delivered. Publishing after Close delivers on
  // the calling thread.
  void Close();

  bool threaded() const { return thread_.joinable(); }

 private:
  void Loop();
  void Deliver(const Event& e);

  std::vector<Listener> listeners_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  bool closing_ = false;
  std::mutex deliver_mu_;  // one delivery at a time, so listeners see the publish order
  std::thread thread_;
};

}  // namespace firedrill
