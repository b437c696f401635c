#include "watch/host_events.h"

#include <gtest/gtest.h>

#include "watch/reasons.h"

namespace connscope::watch {
namespace {

Event event(EventKind kind, std::string reason) {
  Event e;
  e.kind = kind;
  e.reason = std::move(reason);
  return e;
}

TEST(HostEvents, SummaryCountsEachKindAndReasonInTheOrderFirstSeen) {
  const std::vector<Event> events{event(EventKind::drop, "NETFILTER_DROP"), event(EventKind::reset_sent, "NO_SOCKET"),
                                  event(EventKind::drop, "NETFILTER_DROP"), event(EventKind::reset_received, ""),
                                  event(EventKind::drop, "NETFILTER_DROP")};
  EXPECT_EQ(events_summary(events), "drop NETFILTER_DROP ×3; reset_sent NO_SOCKET; reset_received");
  EXPECT_EQ(events_summary({}), "");
}

TEST(HostEvents, LoopbackIsLocalAndADocumentationAddressIsNot) {
  EXPECT_TRUE(is_local_address(Endpoint{AF_INET, "127.0.0.1", 80}));
  EXPECT_TRUE(is_local_address(Endpoint{AF_INET, "127.3.2.1", 80}));
  EXPECT_TRUE(is_local_address(Endpoint{AF_INET6, "::1", 80}));
  EXPECT_FALSE(is_local_address(Endpoint{AF_INET, "192.0.2.1", 80}));
  EXPECT_FALSE(is_local_address(Endpoint{AF_INET6, "2001:db8::1", 80}));
}

TEST(Reasons, ASocketsOwnEndIsTeardownAPathDropIsNot) {
  for (const auto* name : {"SOCKET_CLOSE", "TCP_CLOSE", "QUEUE_PURGE"}) EXPECT_TRUE(is_teardown_drop(name)) << name;
  for (const auto* name : {"NETFILTER_DROP", "NO_SOCKET", "TCP_ZEROWINDOW", "SOCKET_RCVBUFF", ""})
    EXPECT_FALSE(is_teardown_drop(name)) << name;
}

}  // namespace
}  // namespace connscope::watch
