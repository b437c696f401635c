#include "probe/doctor_result.h"

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
      {TalkOutcome::http_no_final, StageStatus::fail},
      {TalkOutcome::silent, StageStatus::warn},
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

// A trace to 198.18.3.2:443 whose probes met `reply` from `from` at hop 3.
TraceResult trace_answered(ProbeReply reply, ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                           const std::string& from) {
  TraceResult t;
  t.destination = Endpoint{AF_INET, "198.18.3.2", 443};
  for (int ttl = 1; ttl <= 3; ++ttl) {
    TraceHop h;
    h.ttl = ttl;
    TraceProbe p;
    p.ttl = ttl;
    p.reply = ttl < 3 ? ProbeReply::time_exceeded : reply;
    p.origin = ErrOrigin::icmp;
    p.icmp_type = ttl < 3 ? 11 : type;
    p.icmp_code = ttl < 3 ? 0 : code;
    p.from = ttl < 3 ? "198.18." + std::to_string(ttl) + ".1" : from;
    if (ttl == 3) p.origin = origin;
    h.probes.push_back(p);
    t.hops.push_back(h);
  }
  return t;
}

TEST(DoctorTrace, ASilentSynWhoseTraceMetAnIcmpRejectIsClassifiedByIt) {
  ConnectAttempt silent;
  silent.remote = Endpoint{AF_INET, "198.18.3.2", 443};
  silent.failure = ConnectFailure::filtered;
  silent.timed_out = true;
  ConnectAttempt other = silent;
  other.remote = Endpoint{AF_INET, "198.18.3.9", 443};
  std::vector<ConnectAttempt> attempts{silent, other};
  classify_by_trace(attempts, trace_answered(ProbeReply::port_unreachable, ErrOrigin::icmp, 3, 3, "198.18.3.2"));
  EXPECT_EQ(attempts[0].failure, ConnectFailure::rejected_icmp);
  EXPECT_TRUE(attempts[0].icmp_from_trace);
  ASSERT_TRUE(attempts[0].queued.has_value());
  EXPECT_EQ(attempts[0].queued->offender, "198.18.3.2");
  EXPECT_EQ(attempts[0].queued->code, 3);
  // Only the traced address is judged by its trace.
  EXPECT_EQ(attempts[1].failure, ConnectFailure::filtered);
  EXPECT_FALSE(attempts[1].icmp_from_trace);

  std::vector<ConnectAttempt> prohibited{silent};
  classify_by_trace(prohibited, trace_answered(ProbeReply::unreachable, ErrOrigin::icmp, 3, 13, "198.18.2.2"));
  EXPECT_EQ(prohibited[0].failure, ConnectFailure::admin_prohibited);
  std::vector<ConnectAttempt> v6{silent};
  v6[0].remote = Endpoint{AF_INET6, "2001:db8:3::2", 443};
  auto t6 = trace_answered(ProbeReply::unreachable, ErrOrigin::icmp6, 1, 1, "2001:db8:2::2");
  t6.destination = v6[0].remote;
  classify_by_trace(v6, t6);
  EXPECT_EQ(v6[0].failure, ConnectFailure::admin_prohibited);
}

TEST(DoctorTrace, RoutersTimeExceededAndTheDestinationsAnswersLeaveTheSilenceAlone) {
  ConnectAttempt silent;
  silent.remote = Endpoint{AF_INET, "198.18.3.2", 443};
  silent.failure = ConnectFailure::filtered;
  for (ProbeReply reply : {ProbeReply::timeout, ProbeReply::rst, ProbeReply::syn_ack}) {
    std::vector<ConnectAttempt> attempts{silent};
    classify_by_trace(attempts, trace_answered(reply, ErrOrigin::none, 0, 0, "198.18.3.2"));
    EXPECT_EQ(attempts[0].failure, ConnectFailure::filtered) << probe_reply_name(reply);
  }
  // A frag-needed does not end a handshake: not a reject.
  std::vector<ConnectAttempt> attempts{silent};
  classify_by_trace(attempts, trace_answered(ProbeReply::unreachable, ErrOrigin::icmp, 3, 4, "198.18.2.2"));
  EXPECT_EQ(attempts[0].failure, ConnectFailure::filtered);
  // A connect that ended otherwise keeps its own classification.
  ConnectAttempt refused = silent;
  refused.failure = ConnectFailure::refused;
  std::vector<ConnectAttempt> r{refused};
  classify_by_trace(r, trace_answered(ProbeReply::port_unreachable, ErrOrigin::icmp, 3, 3, "198.18.3.2"));
  EXPECT_EQ(r[0].failure, ConnectFailure::refused);
}

TEST(DoctorRedirects, LoopAndTooManyFailTheTalkStageOthersLeaveIt) {
  for (RedirectStop stop : {RedirectStop::none, RedirectStop::loop, RedirectStop::too_many, RedirectStop::unfollowable}) {
    DoctorReport r;
    for (StageId id : {StageId::resolve, StageId::route, StageId::reach, StageId::connect, StageId::secure,
                       StageId::talk, StageId::close}) {
      r.stages.push_back({id, id == StageId::secure ? StageStatus::skipped : StageStatus::ok, {}});
    }
    r.close = CloseResult{};
    RedirectChain c;
    c.stop = stop;
    apply_redirects(r, c);
    const bool fails = stop == RedirectStop::loop || stop == RedirectStop::too_many;
    EXPECT_EQ(r.verdict(), fails ? StageStatus::fail : StageStatus::ok) << redirect_stop_name(stop);
    EXPECT_EQ(r.row(StageId::close).status, fails ? StageStatus::skipped : StageStatus::ok);
    EXPECT_EQ(r.close.has_value(), !fails);
    ASSERT_TRUE(r.redirects.has_value());
  }
}

TEST(DoctorClose, ABodyStillTricklingAtTheEndOfTheWaitIsAnIncompleteReply) {
  TalkResult t;
  t.http = HttpReply{};
  t.http->status = 200;
  t.http->content_length = 1'000'000'000;
  t.bytes_received = 60;
  CloseResult c;
  c.how = PeerClose::none;
  c.bytes_discarded = 100;  // 100 bytes in the whole wait
  EXPECT_TRUE(body_trickles(t, c));
  c.limit_reached = true;  // a download at a usable rate fills the discard limit
  EXPECT_FALSE(body_trickles(t, c));
  c.limit_reached = false;
  c.how = PeerClose::fin;  // it finished (or gave up) in time
  EXPECT_FALSE(body_trickles(t, c));
  c.how = PeerClose::none;
  c.bytes_discarded = 0;  // nothing more came: a keep-alive server waiting, not a drip
  EXPECT_FALSE(body_trickles(t, c));
  c.bytes_discarded = 100;
  t.http->content_length = 150;  // all of it came
  EXPECT_FALSE(body_trickles(t, c));
  t.http->content_length.reset();
  EXPECT_FALSE(body_trickles(t, c));
}

}  // namespace
}  // namespace connscope::probe
