#include "watch/listener_drops.h"

#include <gtest/gtest.h>

namespace connscope::watch {
namespace {

inspect::SocketRecord listener(std::uint64_t cookie, std::uint16_t port, std::optional<std::uint32_t> drops) {
  inspect::SocketRecord r;
  r.state = inspect::tcp_state::kListen;
  r.cookie = cookie;
  r.local = Endpoint{AF_INET, "0.0.0.0", port};
  r.rqueue = 9;
  r.wqueue = 8;
  r.inode = 1000 + cookie;
  r.drops = drops;
  return r;
}

TEST(ListenerDrops, ARiseIsAnOverflowOfThatListenerWithItsCount) {
  ListenerSample a, b;
  a.listeners = {listener(1, 8080, 3), listener(2, 9090, 0)};
  a.listen_overflows = 10;
  b.listeners = {listener(1, 8080, 10), listener(2, 9090, 0)};
  b.listen_overflows = 17;
  const auto events = listener_drop_events(a, b);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kind, EventKind::accept_overflow);
  EXPECT_EQ(events[0].source->port, 8080);
  EXPECT_EQ(events[0].count, 7U);
  EXPECT_EQ(events[0].backlog, 9U);
  EXPECT_EQ(events[0].max_backlog, 8U);
  EXPECT_EQ(events[0].inode, 1001U);
}

TEST(ListenerDrops, OnlyTheSynQueueCounterRoseMeansSynQueueDrops) {
  ListenerSample a, b;
  a.listeners = {listener(1, 80, 0)};
  b.listeners = {listener(1, 80, 4)};
  b.syn_queue_drops = 4;
  const auto events = listener_drop_events(a, b);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kind, EventKind::syn_queue_drop);
}

TEST(ListenerDrops, NoBaselineNoRiseNoDropCountNoEvent) {
  ListenerSample a, b;
  a.listeners = {listener(1, 80, 5), listener(3, 82, std::nullopt)};
  b.listeners = {listener(1, 80, 5), listener(2, 81, 50), listener(3, 82, std::nullopt)};
  EXPECT_TRUE(listener_drop_events(a, b).empty());
}

}  // namespace
}  // namespace connscope::watch
