#include "probe/tcp_connect_result.h"

#include <gtest/gtest.h>

#include <vector>

namespace connscope::probe {
namespace {

ConnectAttempt attempt(ConnectFailure failure, std::optional<std::uint32_t> retransmits) {
  ConnectAttempt a;
  a.remote = Endpoint{AF_INET, "198.18.3.2", 443};
  a.failure = failure;
  a.syn_retransmits = retransmits;
  return a;
}

TEST(ConnectAttempt, SynsSentCountsTheFirstOneOnlyWhenItLeft) {
  EXPECT_EQ(attempt(ConnectFailure::none, 0).syns_sent(), 1u);
  EXPECT_EQ(attempt(ConnectFailure::filtered, 2).syns_sent(), 3u);
  EXPECT_EQ(attempt(ConnectFailure::local_port_exhaustion, std::nullopt).syns_sent(), 0u);
  EXPECT_TRUE(attempt(ConnectFailure::none, 0).connected());
  EXPECT_FALSE(attempt(ConnectFailure::refused, 0).connected());
  // A default attempt has not connected: nothing may pass for success by omission.
  EXPECT_FALSE(ConnectAttempt{}.connected());
}

TEST(ConnectStatus, OkWarnFail) {
  using V = std::vector<ConnectAttempt>;
  EXPECT_EQ(connect_status(V{}), StageStatus::fail);
  EXPECT_EQ(connect_status(V{attempt(ConnectFailure::none, 0)}), StageStatus::ok);
  EXPECT_EQ(connect_status(V{attempt(ConnectFailure::none, 1)}), StageStatus::warn);
  EXPECT_EQ(connect_status(V{attempt(ConnectFailure::filtered, 1),
                             attempt(ConnectFailure::none, 0)}),
            StageStatus::warn);
  EXPECT_EQ(connect_status(V{attempt(ConnectFailure::refused, 0)}), StageStatus::fail);
  EXPECT_EQ(connect_status(V{attempt(ConnectFailure::refused, 0),
                             attempt(ConnectFailure::filtered, 1)}),
            StageStatus::fail);
}

// The ids the doctor's connect findings (rules/doctor_findings.cpp) start from.
TEST(ConnectFindingIds, EachFailureItsOwn) {
  EXPECT_EQ(finding_id(ConnectFailure::none), std::nullopt);
  EXPECT_EQ(finding_id(ConnectFailure::filtered), std::optional<std::string_view>("tcp.filtered"));
  EXPECT_EQ(finding_id(ConnectFailure::rejected_icmp),
            std::optional<std::string_view>("tcp.rejected_icmp"));
  // `other` has no finding of its own: the doctor reports its errno.
  EXPECT_EQ(finding_id(ConnectFailure::other), std::nullopt);
  EXPECT_EQ(kSlowHandshakeFinding, std::string_view("tcp.slow_handshake"));
}

}  // namespace
}  // namespace connscope::probe
