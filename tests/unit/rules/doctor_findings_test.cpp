// From a doctor report (built here, as the stages would leave it) to its findings: which id,
// at which stage, with which evidence.
#include "rules/doctor_findings.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

namespace connscope::rules {
namespace {

using namespace probe;

// A report whose connect stage reached 198.18.3.2:8080 and whose talk stage got nothing back.
DoctorReport silent_reply() {
  DoctorReport r;
  r.options.target.host = "198.18.3.2";
  r.options.port = 8080;
  ConnectAttempt a;
  a.remote = Endpoint{AF_INET, "198.18.3.2", 8080};
  a.failure = ConnectFailure::none;
  a.syn_retransmits = 0;
  r.connect.push_back(a);
  TalkResult t;
  t.protocol = AppProtocol::banner;
  t.outcome = TalkOutcome::no_response;
  t.end = ReadEnd::deadline;
  t.out_of_order_at_deadline = 2;
  r.talk = t;
  return r;
}

MtuRetry retry(StageId stalled, bool confirmed) {
  MtuRetry m;
  m.stalled = stalled;
  m.out_of_order = 2;
  m.mss = 536;
  m.connect.failure = ConnectFailure::none;
  m.talk = confirmed ? TalkOutcome::ok : TalkOutcome::no_response;
  m.confirmed = confirmed;
  return m;
}

TEST(DoctorFindings, SilentServerIsNoResponse) {
  const auto fs = doctor_findings(silent_reply(), Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].stage, StageId::talk);
  EXPECT_EQ(fs[0].finding.id, "app.no_response");
  EXPECT_EQ(fs[0].finding.evidence.at("endpoint"), "198.18.3.2:8080");
}

TEST(DoctorFindings, ConfirmedMtuBlackHoleReplacesNoResponse) {
  auto r = silent_reply();
  r.mtu_retry = retry(StageId::talk, true);
  const auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].stage, StageId::talk);
  EXPECT_EQ(fs[0].finding.id, "path.mtu_blackhole");
  EXPECT_EQ(fs[0].finding.evidence.at("mss"), "536");
  EXPECT_EQ(fs[0].finding.evidence.at("out_of_order"), "2");
  EXPECT_EQ(fs[0].finding.evidence.at("stalled"), "reply");
  EXPECT_EQ(fs[0].finding.summary,
            "full-size packets from 198.18.3.2:8080 are lost: the reply stalled while smaller segments "
            "after them arrived (2 out of order), and got through with MSS 536");
}

TEST(DoctorFindings, UnconfirmedRetryKeepsTheOriginalFinding) {
  auto r = silent_reply();
  r.mtu_retry = retry(StageId::talk, false);
  const auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].finding.id, "app.no_response");
}

TEST(DoctorFindings, TlsHandshakeStallIsReportedAtSecure) {
  auto r = silent_reply();
  r.talk.reset();
  TlsResult tls;
  tls.outcome = TlsOutcome::timeout;
  tls.out_of_order_at_deadline = 3;
  r.tls = std::move(tls);
  r.mtu_retry = retry(StageId::secure, true);
  r.mtu_retry->tls = TlsOutcome::ok;
  r.mtu_retry->talk.reset();
  const auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].stage, StageId::secure);
  EXPECT_EQ(fs[0].finding.id, "path.mtu_blackhole");
  EXPECT_EQ(fs[0].finding.evidence.at("stalled"), "tls_handshake");
}

TEST(DoctorFindings, RefusedConnectNamesTheEndpointOnce) {
  DoctorReport r;
  r.options.target.host = "server.example";
  r.options.port = 443;
  for (const char* addr : {"198.18.3.2", "198.18.3.3"}) {
    ConnectAttempt a;
    a.remote = Endpoint{AF_INET, addr, 443};
    a.failure = ConnectFailure::refused;
    a.syn_retransmits = 0;
    r.connect.push_back(a);
  }
  const auto fs = doctor_findings(r, Lang::en);
  // Two addresses refused, each by its own host: two stories (one per sender).
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].finding.id, "tcp.refused");
  EXPECT_EQ(fs[0].finding.summary,
            "198.18.3.2:443 refused (RST from the host): nothing listens on port 443");
  EXPECT_EQ(fs[1].finding.evidence.at("endpoint"), "198.18.3.3:443");
}

TEST(DoctorFindings, ASilentPortOnAPathThatRateLimitsIcmpSaysARejectCanLookLikeADrop) {
  DoctorReport r;
  r.options.target.host = "198.18.3.2";
  r.options.port = 443;
  ConnectAttempt a;
  a.remote = Endpoint{AF_INET, "198.18.3.2", 443};
  a.failure = ConnectFailure::filtered;
  a.timed_out = true;
  a.syn_retransmits = 1;
  r.connect.push_back(a);
  TraceResult t;
  t.destination = a.remote;
  t.verdict = TraceVerdict::stopped;
  TraceHop h1;
  h1.ttl = 1;
  h1.loss = HopLoss::rate_limited;
  TraceHop h2;
  h2.ttl = 2;
  h2.loss = HopLoss::no_answer;
  t.hops = {h1, h2};
  r.trace = t;
  auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].finding.id, "tcp.filtered");
  EXPECT_NE(fs[0].finding.cause.find("Hop 1 answered only some probes of the trace: ICMP errors on this path are "
                                     "rate-limited, and a reject whose ICMP error such a limit swallows looks "
                                     "exactly like a drop."),
            std::string::npos)
      << fs[0].finding.cause;
  // Without that sign, the cause says nothing of it.
  r.trace->hops.front().loss = HopLoss::none;
  fs = doctor_findings(r, Lang::en);
  EXPECT_EQ(fs[0].finding.cause.find("rate-limited"), std::string::npos);
}

TEST(DoctorFindings, AnIcmpErrorMetOnlyByTheTraceSaysSo) {
  DoctorReport r;
  r.options.target.host = "198.18.3.2";
  r.options.port = 443;
  ConnectAttempt a;
  a.remote = Endpoint{AF_INET, "198.18.3.2", 443};
  a.failure = ConnectFailure::rejected_icmp;
  a.queued = QueuedError{ErrOrigin::icmp, 3, 3, 111, 0, "198.18.3.2"};
  a.icmp_from_trace = true;
  r.connect.push_back(a);
  const auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].finding.id, "tcp.rejected_icmp");
  EXPECT_NE(fs[0].finding.summary.find("port unreachable"), std::string::npos) << fs[0].finding.summary;
  EXPECT_NE(fs[0].finding.summary.find("not our SYN: the sender rate-limits its ICMP errors"), std::string::npos)
      << fs[0].finding.summary;
}

}  // namespace
}  // namespace connscope::rules
