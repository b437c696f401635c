// `trace` in the lab, from the client namespace, IPv4 and IPv6: the path client → r1 → r2 →
// server in every mode (TCP to a listening port, UDP, ICMP through a raw socket and through a
// ping socket); a drop at r2's ingress (stops after r1: hop 2 is where it dies) and in r2's
// forward chain (r2 still answers time exceeded: the TTL check comes before the forward hook);
// r2 rejecting with ICMP (unreachable reported by hop 2); an ICMP rate limit on r1 with no
// loss beyond (rate limiting, not loss); the r2–server link at 1280 bytes (path MTU 1280 at
// hop 2); and the CLI's exit status and JSON for a reached and a stopped trace.

#include "probe/trace.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

namespace asio = boost::asio;
using probe::HopLoss;
using probe::ProbeReply;
using probe::TraceMode;
using probe::TraceResult;
using probe::TraceVerdict;
using std::chrono::milliseconds;

int af(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }

std::string param_name(const ::testing::TestParamInfo<Family>& p) {
  return std::string(to_string(p.param));
}

class TraceLab : public LabTest, public ::testing::WithParamInterface<Family> {
 protected:
  Family fam() const { return GetParam(); }

  // A TCP listener in the server namespace on an ephemeral port.
  std::uint16_t listen_on_server() {
    auto [fd, port] = lab().in_ns(Node::server, [&] {
      UniqueFd s(::socket(af(fam()), SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!s) throw std::runtime_error("socket");
      sockaddr_storage ss{};
      socklen_t len = 0;
      if (fam() == Family::v4) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        std::memcpy(&ss, &sin, sizeof sin);
        len = sizeof sin;
      } else {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        std::memcpy(&ss, &sin6, sizeof sin6);
        len = sizeof sin6;
      }
      if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(s.get(), 64) != 0) {
        throw std::runtime_error("bind/listen");
      }
      sockaddr_storage bound{};
      socklen_t blen = sizeof bound;
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
      std::uint16_t bound_port = 0;
      if (fam() == Family::v4) {
        sockaddr_in sin{};
        std::memcpy(&sin, &bound, sizeof sin);
        bound_port = ntohs(sin.sin_port);
      } else {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, &bound, sizeof sin6);
        bound_port = ntohs(sin6.sin6_port);
      }
      return std::pair{std::move(s), bound_port};
    });
    listener_ = std::move(fd);
    return port;
  }

  probe::TraceOptions options(TraceMode mode, std::uint16_t port) {
    probe::TraceOptions o;
    o.destination = Endpoint{af(fam()), lab().server_v4(), port};
    if (fam() == Family::v6) o.destination.address = lab().server_v6();
    o.mode = mode;
    o.max_hops = 8;
    // Generous for a busy machine: the lab answers in well under a millisecond.
    o.probe_timeout = milliseconds(1500);
    return o;
  }

  TraceResult run_trace(probe::TraceOptions o) {
    return lab().in_ns(Node::client, [&] {
      asio::io_context io;
      std::optional<TraceResult> result;
      std::exception_ptr error;
      asio::co_spawn(io, probe::trace(io.get_executor(), std::move(o)), [&](std::exception_ptr e, TraceResult r) {
        error = e;
        result = std::move(r);
      });
      io.run();
      if (error) std::rethrow_exception(error);
      return std::move(*result);
    });
  }

  // Hops 1 and 2 are r1 and r2 (their client-facing addresses) answering time exceeded to
  // every probe.
  void expect_routers(const TraceResult& r) {
    ASSERT_GE(r.hops.size(), 2u);
    const std::string routers[] = {lab().addr(Node::r1, fam()), lab().addr(Node::r2, fam())};
    for (std::size_t i = 0; i < 2; ++i) {
      const auto& h = r.hops[i];
      EXPECT_EQ(h.ttl, static_cast<int>(i + 1));
      EXPECT_EQ(h.responders, std::vector<std::string>{routers[i]}) << "hop " << h.ttl;
      EXPECT_EQ(h.stats.received, h.stats.sent) << "hop " << h.ttl;
      EXPECT_EQ(h.loss, HopLoss::none);
      EXPECT_FALSE(h.destination);
      for (const auto& p : h.probes) {
        EXPECT_EQ(p.reply, ProbeReply::time_exceeded) << "hop " << h.ttl;
        EXPECT_EQ(p.origin, fam() == Family::v4 ? probe::ErrOrigin::icmp : probe::ErrOrigin::icmp6);
        EXPECT_TRUE(p.rtt.has_value());
      }
    }
  }

  // The destination answered at hop 3 with `answer`, every probe of that hop.
  void expect_reached(const TraceResult& r, ProbeReply answer) {
    ASSERT_EQ(r.verdict, TraceVerdict::reached) << (r.error ? r.error->message() : "");
    EXPECT_EQ(r.info.hop, 3);
    EXPECT_EQ(r.info.answer, answer);
    EXPECT_EQ(r.info.reporter, lab().addr(Node::server, fam()));
    ASSERT_EQ(r.hops.size(), 3u);
    expect_routers(r);
    const auto& last = r.hops[2];
    EXPECT_TRUE(last.destination);
    EXPECT_EQ(last.responders, std::vector<std::string>{lab().addr(Node::server, fam())});
    EXPECT_EQ(last.stats.sent, 3);
    EXPECT_EQ(last.stats.received, 3);
    for (const auto& p : last.probes) EXPECT_EQ(p.reply, answer);
  }

  UniqueFd listener_;
};

TEST_P(TraceLab, TcpToAListeningPortListsR1ThenR2ThenTheServer) {
  const auto port = listen_on_server();
  const auto r = run_trace(options(TraceMode::tcp, port));
  expect_reached(r, ProbeReply::syn_ack);
  EXPECT_EQ(r.rounds, 3);
  // Once the server answered at hop 3, no probe went higher in later rounds; TTLs above 3 may
  // only come from the first round, before its answer arrived.
  EXPECT_EQ(r.last_responding_hop(), 3);
}

TEST_P(TraceLab, TcpToAClosedPortIsReachedWithReset) {
  const auto r = run_trace(options(TraceMode::tcp, 9));  // nothing listens on the discard port
  expect_reached(r, ProbeReply::rst);
}

TEST_P(TraceLab, UdpIsReachedWithPortUnreachable) {
  const auto r = run_trace(options(TraceMode::udp, 0));
  EXPECT_EQ(r.destination.port, probe::kTraceUdpPort);
  expect_reached(r, ProbeReply::port_unreachable);
}

TEST_P(TraceLab, IcmpThroughARawSocket) {
  const auto r = run_trace(options(TraceMode::icmp, 0));
  EXPECT_EQ(r.icmp_method, probe::ReachMethod::raw_socket);  // root, and no ping group
  expect_reached(r, ProbeReply::echo_reply);
}

TEST_P(TraceLab, IcmpThroughAPingSocket) {
  lab().sysctl(Node::client, "net.ipv4.ping_group_range", "0 2147483647");
  const auto r = run_trace(options(TraceMode::icmp, 0));
  EXPECT_EQ(r.icmp_method, probe::ReachMethod::ping_socket);
  expect_reached(r, ProbeReply::echo_reply);
}

// r2 drops the SYNs as they arrive, before routing: r2 never sends time exceeded either, so
// the trace stops after r1 and hop 2 (r2) is the first silent one.
TEST_P(TraceLab, DropAtR2IngressStopsAfterR1) {
  const auto port = listen_on_server();
  lab().nft(Node::r2, "table inet tracetest {\n chain pre {\n  type filter hook prerouting priority -300\n"
                      "  tcp dport " + std::to_string(port) + " drop\n }\n}\n");
  auto o = options(TraceMode::tcp, port);
  o.probe_timeout = milliseconds(1000);
  const auto r = run_trace(o);
  ASSERT_EQ(r.verdict, TraceVerdict::stopped);
  EXPECT_EQ(r.info.hop, 1);
  EXPECT_EQ(r.info.reporter, lab().addr(Node::r1, fam()));
  EXPECT_EQ(r.last_responding_hop(), 1);
  ASSERT_EQ(r.hops.size(), 2u);  // r1, then the first silent hop
  EXPECT_EQ(r.hops[0].responders, std::vector<std::string>{lab().addr(Node::r1, fam())});
  EXPECT_EQ(r.hops[1].ttl, 2);
  EXPECT_TRUE(r.hops[1].responders.empty());
  EXPECT_EQ(r.hops[1].stats.received, 0);
  EXPECT_EQ(r.hops[1].loss, HopLoss::no_answer);
  for (const auto& p : r.hops[1].probes) EXPECT_EQ(p.reply, ProbeReply::timeout);
  // Every probe waited its timeout at most; the whole run is bounded by the schedule.
  EXPECT_LT(r.duration, std::chrono::seconds(10));
}

// The lab's drop() on a router is its forward chain: the kernel checks the TTL before the
// forward hook, so r2 still answers the TTL-2 probes; what it forwards dies there.
TEST_P(TraceLab, DropInR2ForwardChainStopsAfterR2) {
  const auto port = listen_on_server();
  lab().drop(Node::r2, fam(), port);
  auto o = options(TraceMode::tcp, port);
  o.probe_timeout = milliseconds(1000);
  const auto r = run_trace(o);
  ASSERT_EQ(r.verdict, TraceVerdict::stopped);
  EXPECT_EQ(r.info.hop, 2);
  EXPECT_EQ(r.info.reporter, lab().addr(Node::r2, fam()));
  ASSERT_EQ(r.hops.size(), 3u);
  expect_routers(r);
  EXPECT_TRUE(r.hops[2].responders.empty());
  EXPECT_EQ(r.hops[2].loss, HopLoss::no_answer);
}

TEST_P(TraceLab, RejectAtR2IsUnreachableReportedByHop2) {
  const auto port = listen_on_server();
  lab().reject(Node::r2, fam(), port, RejectKind::admin_prohibited);
  const auto r = run_trace(options(TraceMode::tcp, port));
  ASSERT_EQ(r.verdict, TraceVerdict::unreachable);
  EXPECT_EQ(r.info.hop, 2);
  EXPECT_EQ(r.info.reporter, lab().addr(Node::r2, fam()));
  EXPECT_EQ(r.info.answer, ProbeReply::unreachable);
  if (fam() == Family::v4) {
    EXPECT_EQ(r.info.icmp_type, 3);
    EXPECT_EQ(r.info.icmp_code, 13);
  } else {
    EXPECT_EQ(r.info.icmp_type, 1);
    EXPECT_EQ(r.info.icmp_code, 1);
  }
  // Hop 3's probes were rejected by r2: shown, with r2 as the responder.
  ASSERT_EQ(r.hops.size(), 3u);
  EXPECT_EQ(r.hops[2].responders, std::vector<std::string>{lab().addr(Node::r2, fam())});
}

// r1 sends at most one time exceeded per second (nft on its output); r2 and the server answer
// every probe: hop 1's loss is rate limiting, not path loss.
TEST_P(TraceLab, IcmpRateLimitOnR1IsNotLoss) {
  const auto port = listen_on_server();
  lab().nft(Node::r1, "table inet ratelimit {\n chain out {\n  type filter hook output priority 0\n"
                      "  icmp type time-exceeded limit rate over 1/second burst 1 packets drop\n"
                      "  icmpv6 type time-exceeded limit rate over 1/second burst 1 packets drop\n }\n}\n");
  auto o = options(TraceMode::tcp, port);
  o.probes = 1;
  o.cycles = 10;
  o.interval = milliseconds(100);
  o.probe_timeout = milliseconds(1000);
  const auto r = run_trace(o);
  ASSERT_EQ(r.verdict, TraceVerdict::reached);
  EXPECT_EQ(r.info.hop, 3);
  ASSERT_EQ(r.hops.size(), 3u);
  EXPECT_EQ(r.hops[0].stats.sent, 10);
  // 10 rounds within about 1.2 s: r1 may answer at most about 3 (the first, then one a second).
  EXPECT_GE(r.hops[0].stats.loss_percent, 50.0);
  EXPECT_GT(r.hops[0].stats.received, 0);
  EXPECT_EQ(r.hops[0].loss, HopLoss::rate_limited);
  EXPECT_EQ(r.hops[1].stats.loss_percent, 0.0);
  EXPECT_EQ(r.hops[1].loss, HopLoss::none);
  EXPECT_EQ(r.hops[2].stats.loss_percent, 0.0);
  EXPECT_EQ(r.hops[2].stats.sent, 10);
}

TEST_P(TraceLab, LowerMtuOnR2ServerIsThePathMtuAtHop2) {
  const auto port = listen_on_server();
  lab().set_link_mtu(Node::r2, Node::server, 1280);
  auto o = options(TraceMode::tcp, port);
  o.path_mtu = true;
  const auto r = run_trace(o);
  expect_reached(r, ProbeReply::syn_ack);
  ASSERT_TRUE(r.path_mtu.has_value());
  const auto& m = *r.path_mtu;
  EXPECT_EQ(m.outcome, probe::MtuOutcome::confirmed) << (m.error ? m.error->message() : "");
  EXPECT_EQ(m.mtu, 1280);
  EXPECT_EQ(m.local_mtu, 1500);
  EXPECT_EQ(m.hop, 2);
  EXPECT_EQ(m.reporter, lab().addr(Node::r2, fam()));
  ASSERT_EQ(m.steps.size(), 2u);
  EXPECT_EQ(m.steps[0].size, 1500);
  EXPECT_EQ(m.steps[0].next_hop_mtu, 1280u);
  EXPECT_EQ(m.steps[1].size, 1280);
  EXPECT_EQ(m.steps[1].reply, ProbeReply::port_unreachable);
  EXPECT_EQ(m.steps[1].from, lab().addr(Node::server, fam()));
}

TEST_P(TraceLab, WholePathAtTheInterfaceMtu) {
  auto o = options(TraceMode::udp, 0);
  o.path_mtu = true;
  const auto r = run_trace(o);
  ASSERT_TRUE(r.path_mtu.has_value());
  EXPECT_EQ(r.path_mtu->outcome, probe::MtuOutcome::confirmed);
  EXPECT_EQ(r.path_mtu->mtu, 1500);
  EXPECT_FALSE(r.path_mtu->reporter.has_value());
}

// The binary: exit 0 and the verdict line when reached, exit 1 and JSON naming the first silent
// hop when stopped.
TEST_P(TraceLab, CliExitStatusAndJson) {
  const auto port = listen_on_server();
  const std::string server = lab().addr(Node::server, fam());
  const std::string target = fam() == Family::v4 ? server + ":" + std::to_string(port)
                                                 : "[" + server + "]:" + std::to_string(port);
  const auto ok = lab().exec(Node::client, {CONNSCOPE_BIN, "--timeout", "1500ms", "trace", target}, 20s);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("reached " + server + " at hop 3: port " + std::to_string(port) + " is open (SYN-ACK)"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find(lab().addr(Node::r1, fam())), std::string::npos) << ok.out;

  lab().nft(Node::r2, "table inet tracetest {\n chain pre {\n  type filter hook prerouting priority -300\n"
                      "  tcp dport " + std::to_string(port) + " drop\n }\n}\n");
  const auto stopped = lab().exec(Node::client, {CONNSCOPE_BIN, "--json", "--timeout", "1s", "trace", "-m", "6", target}, 20s);
  ASSERT_EQ(stopped.exit_code, 1) << stopped.out << stopped.err;
  const auto j = nlohmann::json::parse(stopped.out);
  EXPECT_EQ(j.at("verdict").at("result"), "stopped");
  EXPECT_EQ(j.at("verdict").at("hop"), 1);
  EXPECT_EQ(j.at("verdict").at("first_silent_hop"), 2);
  EXPECT_EQ(j.at("verdict").at("reporter"), lab().addr(Node::r1, fam()));
  ASSERT_EQ(j.at("hops").size(), 2u);
  EXPECT_EQ(j.at("hops").at(1).at("loss"), "no_answer");
}

INSTANTIATE_TEST_SUITE_P(Families, TraceLab, ::testing::Values(Family::v4, Family::v6), param_name);

}  // namespace
}  // namespace connscope::lab
