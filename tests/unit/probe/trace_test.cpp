#include "probe/trace_result.h"
#include "recorded_errqueue.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

namespace connscope::probe {
namespace {

using std::chrono::microseconds;

// ---- the error queue, as recvmsg(MSG_ERRQUEUE) fills it for a trace probe ----

// One control buffer holding one IP_RECVERR / IPV6_RECVERR message.
std::vector<std::byte> recorded(int level, int type, std::uint8_t origin, std::uint8_t icmp_type,
                                std::uint8_t icmp_code, int err, std::uint32_t info,
                                const char* offender) {
  return control({{level, type,
                   payload(origin, icmp_type, icmp_code, err, info, level == SOL_IP ? AF_INET : AF_INET6,
                           offender)}});
}

struct QueueCase {
  const char* name;
  std::vector<std::byte> control;
  ErrOrigin origin;
  std::uint8_t type, code;
  std::uint32_t info;
  const char* offender;
  ProbeReply reply;
  bool too_big;
};

TEST(TraceErrorQueue, DecodesRecordedControlMessages) {
  const std::vector<QueueCase> cases{
      {"v4 time exceeded from r1", recorded(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, 11, 0, EHOSTUNREACH, 0, "198.18.1.1"),
       ErrOrigin::icmp, 11, 0, 0, "198.18.1.1", ProbeReply::time_exceeded, false},
      {"v6 time exceeded from r2", recorded(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6, 3, 0, EHOSTUNREACH, 0, "2001:db8:2::2"),
       ErrOrigin::icmp6, 3, 0, 0, "2001:db8:2::2", ProbeReply::time_exceeded, false},
      {"v4 frag needed, next-hop MTU 1280", recorded(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, 3, 4, EMSGSIZE, 1280, "198.18.2.2"),
       ErrOrigin::icmp, 3, 4, 1280, "198.18.2.2", ProbeReply::unreachable, true},
      {"v6 packet too big, MTU 1280", recorded(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6, 2, 0, EMSGSIZE, 1280, "2001:db8:2::2"),
       ErrOrigin::icmp6, 2, 0, 1280, "2001:db8:2::2", ProbeReply::unreachable, true},
      {"v4 port unreachable from the server", recorded(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, 3, 3, ECONNREFUSED, 0, "198.18.3.2"),
       ErrOrigin::icmp, 3, 3, 0, "198.18.3.2", ProbeReply::port_unreachable, false},
      {"v6 port unreachable", recorded(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6, 1, 4, ECONNREFUSED, 0, "2001:db8:3::2"),
       ErrOrigin::icmp6, 1, 4, 0, "2001:db8:3::2", ProbeReply::port_unreachable, false},
      {"v4 admin prohibited", recorded(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, 3, 13, EHOSTUNREACH, 0, "198.18.2.2"),
       ErrOrigin::icmp, 3, 13, 0, "198.18.2.2", ProbeReply::unreachable, false},
      {"v6 admin prohibited", recorded(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6, 1, 1, EACCES, 0, "2001:db8:2::2"),
       ErrOrigin::icmp6, 1, 1, 0, "2001:db8:2::2", ProbeReply::unreachable, false},
  };
  for (const auto& c : cases) {
    auto decoded = decode_error_control(c.control);
    ASSERT_TRUE(decoded.has_value()) << c.name << ": " << decoded.error().message();
    ASSERT_TRUE(decoded->has_value()) << c.name;
    const QueuedError& q = **decoded;
    EXPECT_EQ(q.origin, c.origin) << c.name;
    EXPECT_EQ(q.type, c.type) << c.name;
    EXPECT_EQ(q.code, c.code) << c.name;
    EXPECT_EQ(q.info, c.info) << c.name;
    EXPECT_EQ(q.offender, std::string(c.offender)) << c.name;
    EXPECT_EQ(classify_icmp_reply(q.origin, q.type, q.code), c.reply) << c.name;
    EXPECT_EQ(is_too_big(q.origin, q.type, q.code), c.too_big) << c.name;
  }
}

TEST(TraceErrorQueue, LocalErrorsAreNotIcmpAnswers) {
  EXPECT_EQ(classify_icmp_reply(ErrOrigin::local, 0, 0), ProbeReply::local_error);
  EXPECT_FALSE(is_too_big(ErrOrigin::local, 3, 4));
  // Time exceeded in reassembly (code 1) is still time exceeded.
  EXPECT_EQ(classify_icmp_reply(ErrOrigin::icmp, 11, 1), ProbeReply::time_exceeded);
  EXPECT_EQ(classify_icmp_reply(ErrOrigin::icmp, 12, 0), ProbeReply::unreachable);
}

// ---- hops, loss, verdict ----

const std::string kDst = "198.18.3.2";
const std::string kR1 = "198.18.1.1";
const std::string kR2 = "198.18.2.2";

TraceProbe probe(int ttl, int round, ProbeReply reply, std::optional<std::string> from = std::nullopt,
                 int rtt_us = 100) {
  TraceProbe p;
  p.ttl = ttl;
  p.round = round;
  p.reply = reply;
  p.from = std::move(from);
  if (reply != ProbeReply::timeout && reply != ProbeReply::local_error) p.rtt = microseconds(rtt_us);
  if (reply == ProbeReply::time_exceeded) {
    p.origin = ErrOrigin::icmp;
    p.icmp_type = 11;
  }
  return p;
}

TraceProbe unreachable(int ttl, const std::string& from, std::uint8_t code) {
  TraceProbe p = probe(ttl, 0, ProbeReply::unreachable, from);
  p.origin = ErrOrigin::icmp;
  p.icmp_type = 3;
  p.icmp_code = code;
  return p;
}

// Three rounds to a path of r1, r2 and the destination, with the answers given per hop.
std::vector<TraceProbe> rounds(const std::vector<std::vector<TraceProbe>>& per_round) {
  std::vector<TraceProbe> out;
  for (const auto& r : per_round) out.insert(out.end(), r.begin(), r.end());
  return out;
}

TEST(TraceHopStats, LossAndRtts) {
  const std::vector<TraceProbe> p{probe(1, 0, ProbeReply::time_exceeded, kR1, 100),
                                  probe(1, 1, ProbeReply::timeout),
                                  probe(1, 2, ProbeReply::time_exceeded, kR1, 300)};
  const HopStats s = hop_stats(p);
  EXPECT_EQ(s.sent, 3);
  EXPECT_EQ(s.received, 2);
  EXPECT_NEAR(s.loss_percent, 33.333, 0.01);
  EXPECT_EQ(s.best, microseconds(100));
  EXPECT_EQ(s.worst, microseconds(300));
  EXPECT_EQ(s.avg, microseconds(200));
  EXPECT_EQ(s.last, microseconds(300));
  EXPECT_EQ(s.stdev, microseconds(100));
  EXPECT_EQ(hop_stats({}).loss_percent, 0.0);
}

TEST(TraceAggregate, GroupsByTtlWithResponders) {
  const auto p = rounds({
      {probe(1, 0, ProbeReply::time_exceeded, kR1), probe(2, 0, ProbeReply::time_exceeded, kR2),
       probe(3, 0, ProbeReply::syn_ack, kDst), probe(4, 0, ProbeReply::syn_ack, kDst)},
      {probe(1, 1, ProbeReply::time_exceeded, kR1), probe(2, 1, ProbeReply::time_exceeded, "198.18.9.9"),
       probe(3, 1, ProbeReply::syn_ack, kDst)},
      {probe(1, 2, ProbeReply::time_exceeded, kR1), probe(2, 2, ProbeReply::time_exceeded, "198.18.9.9"),
       probe(3, 2, ProbeReply::timeout)},
  });
  const auto hops = aggregate_hops(p, kDst, 1, 3);  // TTL 4 beyond the destination: left out
  ASSERT_EQ(hops.size(), 3u);
  EXPECT_EQ(hops[0].responders, std::vector<std::string>{kR1});
  // Load balancing: both routers, the one with more answers first.
  EXPECT_EQ(hops[1].responders, (std::vector<std::string>{"198.18.9.9", kR2}));
  EXPECT_FALSE(hops[1].destination);
  EXPECT_TRUE(hops[2].destination);
  EXPECT_EQ(hops[2].stats.sent, 3);
  EXPECT_EQ(hops[2].stats.received, 2);
  EXPECT_EQ(hop_of(hops, kR2), 2);
  EXPECT_EQ(hop_of(hops, kDst), 3);
  EXPECT_EQ(hop_of(hops, "10.0.0.1"), std::nullopt);
}

// Hops given as (sent, received, destination): analyze_loss's decision for each.
struct LossCase {
  const char* name;
  std::vector<std::tuple<int, int, bool>> hops;
  std::vector<HopLoss> want;
};

TEST(TraceLossAnalysis, RateLimitingIsLossThatDoesNotContinue) {
  const std::vector<LossCase> cases{
      {"no loss", {{3, 3, false}, {3, 3, false}, {3, 3, true}}, {HopLoss::none, HopLoss::none, HopLoss::none}},
      {"r1 rate limits, later hops clean",
       {{10, 2, false}, {10, 10, false}, {10, 10, true}},
       {HopLoss::rate_limited, HopLoss::none, HopLoss::none}},
      {"r1 loses more than the destination: the excess is rate limiting",
       {{10, 5, false}, {10, 9, false}, {10, 9, true}},
       {HopLoss::rate_limited, HopLoss::path_loss, HopLoss::path_loss}},
      {"loss from hop 2 continues to the destination",
       {{10, 10, false}, {10, 7, false}, {10, 7, true}},
       {HopLoss::none, HopLoss::path_loss, HopLoss::path_loss}},
      {"a router that never answers, the path goes on",
       {{3, 3, false}, {3, 0, false}, {3, 3, true}},
       {HopLoss::none, HopLoss::silent, HopLoss::none}},
      {"the path stops at hop 2",
       {{3, 3, false}, {3, 0, false}},
       {HopLoss::none, HopLoss::no_answer}},
      {"partial loss on the last hop shown", {{3, 3, false}, {3, 2, false}}, {HopLoss::none, HopLoss::path_loss}},
  };
  for (const auto& c : cases) {
    std::vector<TraceHop> hops;
    int ttl = 1;
    for (const auto& [sent, received, dest] : c.hops) {
      TraceHop h;
      h.ttl = ttl++;
      h.destination = dest;
      h.stats.sent = sent;
      h.stats.received = received;
      h.stats.loss_percent = 100.0 * (sent - received) / sent;
      hops.push_back(h);
    }
    analyze_loss(hops);
    ASSERT_EQ(hops.size(), c.want.size()) << c.name;
    for (std::size_t i = 0; i < hops.size(); ++i) {
      EXPECT_EQ(hop_loss_name(hops[i].loss), hop_loss_name(c.want[i])) << c.name << ", hop " << i + 1;
    }
  }
}

TEST(TraceVerdictTest, ReachedAtTheLowestTtlTheDestinationAnswered) {
  const auto p = rounds({{probe(1, 0, ProbeReply::time_exceeded, kR1), probe(2, 0, ProbeReply::time_exceeded, kR2),
                          probe(3, 0, ProbeReply::rst, kDst), probe(4, 0, ProbeReply::rst, kDst)}});
  const auto v = decide_verdict(p, kDst);
  EXPECT_EQ(v.verdict, TraceVerdict::reached);
  EXPECT_EQ(v.hop, 3);
  EXPECT_EQ(v.answer, ProbeReply::rst);
  EXPECT_EQ(v.reporter, kDst);
  const auto hops = build_hops(p, v, kDst, 1, 30);
  ASSERT_EQ(hops.size(), 3u);
  EXPECT_TRUE(hops.back().destination);
}

TEST(TraceVerdictTest, HandshakeOutranksResetAtTheSameHop) {
  const std::vector<TraceProbe> p{probe(3, 0, ProbeReply::rst, kDst), probe(3, 1, ProbeReply::syn_ack, kDst)};
  EXPECT_EQ(decide_verdict(p, kDst).answer, ProbeReply::syn_ack);
}

TEST(TraceVerdictTest, StoppedAfterTheLastHopThatAnswered) {
  const auto p = rounds({{probe(1, 0, ProbeReply::time_exceeded, kR1), probe(2, 0, ProbeReply::timeout),
                          probe(3, 0, ProbeReply::timeout)},
                         {probe(1, 1, ProbeReply::time_exceeded, kR1), probe(2, 1, ProbeReply::timeout),
                          probe(3, 1, ProbeReply::timeout)}});
  const auto v = decide_verdict(p, kDst);
  EXPECT_EQ(v.verdict, TraceVerdict::stopped);
  EXPECT_EQ(v.hop, 1);
  EXPECT_EQ(v.reporter, kR1);
  const auto hops = build_hops(p, v, kDst, 1, 3);
  ASSERT_EQ(hops.size(), 2u);  // r1, then the first silent hop
  EXPECT_EQ(hops[1].loss, HopLoss::no_answer);
}

TEST(TraceVerdictTest, NothingAnsweredIsStoppedAtHopZero) {
  const std::vector<TraceProbe> p{probe(1, 0, ProbeReply::timeout), probe(2, 0, ProbeReply::timeout)};
  const auto v = decide_verdict(p, kDst);
  EXPECT_EQ(v.verdict, TraceVerdict::stopped);
  EXPECT_EQ(v.hop, 0);
  EXPECT_EQ(build_hops(p, v, kDst, 1, 2).size(), 1u);
}

TEST(TraceVerdictTest, UnreachableNamesTheRejectingRoutersHop) {
  // r2 answers TTL 2 with time exceeded (it checks the TTL before its firewall) and rejects
  // TTL 3 with admin-prohibited: hop 2 reports it.
  const auto p = rounds({{probe(1, 0, ProbeReply::time_exceeded, kR1), probe(2, 0, ProbeReply::time_exceeded, kR2),
                          unreachable(3, kR2, 13), unreachable(4, kR2, 13)}});
  const auto v = decide_verdict(p, kDst);
  EXPECT_EQ(v.verdict, TraceVerdict::unreachable);
  EXPECT_EQ(v.hop, 2);
  EXPECT_EQ(v.reporter, kR2);
  EXPECT_EQ(v.icmp_type, 3);
  EXPECT_EQ(v.icmp_code, 13);
  const auto hops = build_hops(p, v, kDst, 1, 30);
  ASSERT_EQ(hops.size(), 3u);  // down to the probe that got the rejection
  EXPECT_EQ(hops[2].responders, std::vector<std::string>{kR2});
}

TEST(TraceVerdictTest, AnIcmpErrorFromTheDestinationItselfIsReached) {
  const std::vector<TraceProbe> p{probe(1, 0, ProbeReply::time_exceeded, kR1), unreachable(2, kDst, 13)};
  const auto v = decide_verdict(p, kDst);
  EXPECT_EQ(v.verdict, TraceVerdict::reached);
  EXPECT_EQ(v.answer, ProbeReply::unreachable);
}

TEST(TraceVerdictTest, LocalErrorsOnlyAreUnreachableHere) {
  TraceProbe a = probe(1, 0, ProbeReply::local_error);
  a.error = ENETUNREACH;
  const auto v = decide_verdict(std::vector<TraceProbe>{a, a}, kDst);
  EXPECT_EQ(v.verdict, TraceVerdict::unreachable);
  EXPECT_EQ(v.hop, 0);
  EXPECT_EQ(v.error, ENETUNREACH);
  EXPECT_FALSE(v.reporter.has_value());
  // A local failure of one probe does not hide what the others found.
  const std::vector<TraceProbe> mixed{a, probe(1, 1, ProbeReply::time_exceeded, kR1)};
  EXPECT_EQ(decide_verdict(mixed, kDst).verdict, TraceVerdict::stopped);
}

TEST(TraceVerdictTest, LastRespondingHopForTheDoctor) {
  TraceResult r;
  const auto p = rounds({{probe(1, 0, ProbeReply::time_exceeded, kR1), probe(2, 0, ProbeReply::time_exceeded, kR2),
                          probe(3, 0, ProbeReply::timeout)}});
  r.info = decide_verdict(p, kDst);
  r.hops = build_hops(p, r.info, kDst, 1, 30);
  EXPECT_EQ(r.last_responding_hop(), 2);
  EXPECT_EQ(r.last_responder(), kR2);
}

// ---- path MTU arithmetic ----

TEST(TraceMtu, PayloadForAPacketSize) {
  EXPECT_EQ(udp_payload_for(AF_INET, 1500), 1472u);
  EXPECT_EQ(udp_payload_for(AF_INET6, 1280), 1232u);
  EXPECT_EQ(udp_payload_for(AF_INET, 20), 0u);
}

TEST(TraceMtu, NextSizeAfterTooBig) {
  struct Case {
    int family, size;
    std::uint32_t reported;
    int want;
  };
  const std::vector<Case> cases{
      {AF_INET, 1500, 1280, 1280},  // the router's word
      {AF_INET, 1500, 0, 1492},     // no MTU reported: the next plateau
      {AF_INET, 1500, 1600, 1492},  // nonsense (not smaller)
      {AF_INET, 1492, 0, 1006},
      {AF_INET, 100, 20, 68},       // below IPv4's minimum
      {AF_INET6, 1500, 1400, 1400},
      {AF_INET6, 1500, 0, 1492},
      {AF_INET6, 1492, 0, 1280},    // never below IPv6's minimum
      {AF_INET6, 1500, 600, 1492},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(next_mtu(c.family, c.size, c.reported), c.want) << c.family << " " << c.size << " " << c.reported;
  }
}

TEST(TraceNames, AreStable) {
  EXPECT_EQ(trace_mode_name(TraceMode::udp), "udp");
  EXPECT_EQ(probe_reply_name(ProbeReply::syn_ack), "syn_ack");
  EXPECT_EQ(probe_reply_name(ProbeReply::port_unreachable), "port_unreachable");
  EXPECT_EQ(hop_loss_name(HopLoss::rate_limited), "rate_limited");
  EXPECT_EQ(trace_verdict_name(TraceVerdict::stopped), "stopped");
  EXPECT_EQ(mtu_outcome_name(MtuOutcome::unconfirmed), "unconfirmed");
}

}  // namespace
}  // namespace connscope::probe
