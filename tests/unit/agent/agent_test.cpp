// The agent's small decisions: which binds need the token, and how long the full tier waits.
#include "agent/agent.h"

#include <gtest/gtest.h>

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;

TEST(AgentDecisions, LoopbackBindsAreTheOnesWithoutAToken) {
  EXPECT_TRUE(is_loopback(Endpoint{AF_INET, "127.0.0.1", 9600}));
  EXPECT_TRUE(is_loopback(Endpoint{AF_INET, "127.3.2.1", 9600}));
  EXPECT_TRUE(is_loopback(Endpoint{AF_INET6, "::1", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET, "0.0.0.0", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET, "10.0.0.1", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET6, "::", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET6, "::ffff:127.0.0.1", 9600}));
}

TEST(AgentDecisions, TheFullTierStretchesItsIntervalToStayWithinItsCpuBudget) {
  // Cheap dumps keep the interval; a dump of 270 ms at 1.25 % waits 21.6 s; no budget, no stretch.
  EXPECT_EQ(full_wait(10s, 50ms, 0.0125), 10s);
  EXPECT_EQ(full_wait(10s, 125ms, 0.0125), 10s);
  EXPECT_EQ(full_wait(10s, 270ms, 0.0125), 21600ms);
  EXPECT_EQ(full_wait(10s, 270ms, 0.0), 10s);
  EXPECT_EQ(full_wait(1s, 0ms, 0.0125), 1s);
}

}  // namespace
}  // namespace connscope::agent
