#include "probe/doctor.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <optional>
#include <tuple>

namespace connscope::probe {
namespace {

using std::chrono::microseconds;

TEST(DoctorStats, TimeSummaryMedianAndMean) {
  const auto t = summarize_times({microseconds(30), microseconds(10), microseconds(20), microseconds(100)});
  EXPECT_EQ(t.min, microseconds(10));
  EXPECT_EQ(t.median, microseconds(30));  // the upper middle of an even count
  EXPECT_EQ(t.max, microseconds(100));
  EXPECT_EQ(t.mean, microseconds(40));
  const auto none = summarize_times({});
  EXPECT_EQ(none.max, microseconds(0));
  HandshakeStats st;
  st.syns_sent = 8;
  st.syn_retransmits = 2;
  EXPECT_DOUBLE_EQ(st.syn_loss_percent(), 25.0);
  EXPECT_DOUBLE_EQ(HandshakeStats{}.syn_loss_percent(), 0.0);
}

TEST(DoctorStatus, ReachNeverSaysHostDownWhenTcpGetsThrough) {
  ReachResult r;
  const std::tuple<ReachOutcome, bool, StageStatus> rows[] = {
      {ReachOutcome::replied, false, StageStatus::ok},
      {ReachOutcome::partial_loss, true, StageStatus::warn},
      {ReachOutcome::no_reply, true, StageStatus::ok},
      {ReachOutcome::no_reply, false, StageStatus::warn},
      {ReachOutcome::prohibited, true, StageStatus::ok},
      {ReachOutcome::unreachable, false, StageStatus::warn},
      {ReachOutcome::unavailable, false, StageStatus::skipped},
      {ReachOutcome::error, true, StageStatus::skipped},
  };
  for (const auto& [outcome, connected, want] : rows) {
    r.outcome = outcome;
    EXPECT_EQ(reach_status(r, connected), want) << reach_outcome_name(outcome) << " " << connected;
  }
}

TEST(DoctorStatus, TalkOutcomes) {
  TalkResult t;
  const std::pair<TalkOutcome, StageStatus> rows[] = {
      {TalkOutcome::ok, StageStatus::ok},
      {TalkOutcome::slow_first_byte, StageStatus::warn},
      {TalkOutcome::http_4xx, StageStatus::warn},
      {TalkOutcome::unexpected_reply, StageStatus::warn},
      {TalkOutcome::http_5xx, StageStatus::fail},
      {TalkOutcome::no_response, StageStatus::fail},
      {TalkOutcome::reset_by_peer, StageStatus::fail},
  };
  for (const auto& [outcome, want] : rows) {
    t.outcome = outcome;
    EXPECT_EQ(talk_status(t), want) << outcome_name(outcome);
  }
}

TEST(DoctorVerdict, FirstFailThenFirstWarn) {
  DoctorReport r;
  for (StageId id : {StageId::resolve, StageId::route, StageId::reach, StageId::connect, StageId::secure,
                     StageId::talk, StageId::close}) {
    r.stages.push_back({id, StageStatus::ok, {}});
  }
  EXPECT_FALSE(r.verdict_stage().has_value());
  EXPECT_EQ(r.verdict(), StageStatus::ok);
  r.stages[2].status = StageStatus::warn;
  r.stages[5].status = StageStatus::fail;
  EXPECT_EQ(r.verdict_stage(), StageId::talk);
  EXPECT_EQ(r.verdict(), StageStatus::fail);
  r.stages[5].status = StageStatus::skipped;
  EXPECT_EQ(r.verdict_stage(), StageId::reach);
  EXPECT_EQ(r.verdict(), StageStatus::warn);
}

TEST(DoctorMtuRetry, OnlyAStallWithSegmentsPastAGap) {
  EXPECT_EQ(small_mss(AF_INET), 536);
  EXPECT_EQ(small_mss(AF_INET6), 1220);

  TalkResult talk;
  const std::tuple<TalkOutcome, std::optional<std::uint32_t>, bool> rows[] = {
      {TalkOutcome::no_response, 2, true},
      {TalkOutcome::timeout, 1, true},
      {TalkOutcome::no_response, 0, false},             // a silent server: nothing came at all
      {TalkOutcome::no_response, std::nullopt, false},  // a kernel without the counter
      {TalkOutcome::ok, 3, false},
      {TalkOutcome::reset_by_peer, 3, false},
  };
  for (const auto& [outcome, ooo, want] : rows) {
    talk.outcome = outcome;
    talk.out_of_order_at_deadline = ooo;
    EXPECT_EQ(mtu_retry_wanted(talk), want) << outcome_name(outcome) << " " << ooo.value_or(99);
  }

  TlsResult tls;
  tls.outcome = TlsOutcome::timeout;
  tls.out_of_order_at_deadline = 1;
  EXPECT_TRUE(mtu_retry_wanted(tls));
  tls.out_of_order_at_deadline = 0;
  EXPECT_FALSE(mtu_retry_wanted(tls));
  tls.outcome = TlsOutcome::not_tls;
  tls.out_of_order_at_deadline = 4;
  EXPECT_FALSE(mtu_retry_wanted(tls));
}

}  // namespace
}  // namespace connscope::probe
