#include "runner/engine/event_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

namespace firedrill {
namespace {

Event E(int i) { return Event{i, "probe.pass", "check-" + std::to_string(i), ""}; }

TEST(EventBusTest, EveryEventReachesEveryListenerInOrderByClose) {
  std::vector<int> a, b;
  EventBus bus({[&](const Event& e) { a.push_back(static_cast<int>(e.t_ms)); },
                [&](const Event& e) { b.push_back(static_cast<int>(e.t_ms)); }});
  ASSERT_TRUE(bus.threaded());
  for (int i = 0; i < 1000; ++i) bus.Publish(E(i));
  bus.Close();
  ASSERT_EQ(a.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(a[i], i);
  EXPECT_EQ(a, b);
}

// The point of the bus: a listener that blocks (a stdout nobody reads) holds up only the
// bus's own thread. Publishing 1000 events while it is blocked returns; had Publish waited
// for the listener, the future below would not be ready and the test would say so.
TEST(EventBusTest, ABlockedListenerNeverBlocksThePublisher) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> delivered{0};
  EventBus bus({[&](const Event&) {
    released.wait();
    ++delivered;
  }});
  auto publishing = std::async(std::launch::async, [&] {
    for (int i = 0; i < 1000; ++i) bus.Publish(E(i));
  });
  const bool returned = publishing.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  EXPECT_TRUE(returned) << "Publish waited for a blocked listener";
  EXPECT_LE(delivered.load(), 1);
  release.set_value();
  publishing.wait();
  bus.Close();
  EXPECT_EQ(delivered.load(), 1000);
}

TEST(EventBusTest, AfterCloseEventsAreDeliveredOnThePublishingThread) {
  std::vector<std::string> seen;
  EventBus bus({[&](const Event& e) { seen.push_back(e.name); }});
  bus.Publish(E(1));
  bus.Close();
  bus.Publish(E(2));
  EXPECT_EQ(seen, (std::vector<std::string>{"check-1", "check-2"}));
}

TEST(EventBusTest, NoListenersNoThread) {
  EventBus bus({});
  EXPECT_FALSE(bus.threaded());
  bus.Publish(E(1));
  bus.Close();
}

}  // namespace
}  // namespace firedrill
