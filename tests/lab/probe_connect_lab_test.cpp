// The connect stage in the lab, from the client namespace to the server, IPv4 and IPv6: a
// listening `connscope serve` (connected, timed, socket reusable), a closed port (reset), ICMP
// rejects from the server, r2 and r1 (each with its sender), no local route, a drop (filtered at
// the deadline, never later), the first SYN dropped (slow handshake, one retransmission), no
// free local port, a bad source address, TCP_MAXSEG, and connect_all's order.

#include "probe/tcp_connect.h"

#include <gtest/gtest.h>

#include <linux/errqueue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

namespace asio = boost::asio;
using probe::ConnectFailure;
using probe::ConnectOptions;
using probe::ConnectOutcome;
using probe::ConnectReport;
using probe::ErrOrigin;
using probe::StageStatus;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kPort = 8080;        // connscope serve listens here
constexpr std::uint16_t kClosedPort = 8081;  // nothing listens here

int af(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }

std::string param_name(const ::testing::TestParamInfo<Family>& p) {
  return std::string(to_string(p.param));
}

ConnectOptions with_timeout(std::chrono::milliseconds timeout) {
  ConnectOptions o;
  o.timeout = timeout;
  return o;
}

class ConnectLab : public LabTest, public ::testing::WithParamInterface<Family> {
 protected:
  Family fam() const { return GetParam(); }
  std::string server() { return lab().addr(Node::server, fam()); }
  Endpoint server_at(std::uint16_t port) { return Endpoint{af(fam()), server(), port}; }

  // `connscope serve` (echo) on the server's address of this family.
  void serve() {
    server_ = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--listen",
                                         server_at(kPort).to_string()});
    ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, kPort, 3s)) << server_.err();
  }

  // Runs the coroutine to completion on io_ from a thread in the client namespace, so its
  // sockets are the client's. io_ outlives what it returns (sockets bound to it).
  template <class T>
  T run_in_client(asio::awaitable<T> op) {
    return lab().in_ns(Node::client, [&] {
      std::optional<T> result;
      std::exception_ptr error;
      asio::co_spawn(io_, std::move(op), [&](std::exception_ptr e, T value) {
        error = e;
        result = std::move(value);
      });
      io_.restart();
      io_.run();
      if (error) std::rethrow_exception(error);
      return std::move(*result);
    });
  }

  ConnectOutcome connect(Endpoint remote, ConnectOptions options = with_timeout(3s)) {
    return run_in_client(probe::connect_one(io_.get_executor(), std::move(remote), options));
  }

  ConnectReport connect_all(std::vector<Endpoint> remotes, ConnectOptions options) {
    return run_in_client(probe::connect_all(io_.get_executor(), std::move(remotes), options));
  }

  // A failed attempt's common evidence: the ICMP error queued with its sender.
  void expect_icmp(const ConnectOutcome& o, int type_v4, int code_v4, int type_v6, int code_v6,
                   Node sender) {
    ASSERT_TRUE(o.attempt.queued.has_value()) << "no ICMP error in the error queue";
    const auto& q = *o.attempt.queued;
    const bool v4 = fam() == Family::v4;
    EXPECT_EQ(q.origin, v4 ? ErrOrigin::icmp : ErrOrigin::icmp6);
    EXPECT_EQ(q.type, v4 ? type_v4 : type_v6);
    EXPECT_EQ(q.code, v4 ? code_v4 : code_v6);
    EXPECT_EQ(q.error, o.attempt.error);
    EXPECT_EQ(q.offender, std::optional<std::string>(lab().addr(sender, fam())));
  }

  // A verdict that came back from the network: one SYN, no retransmission, well before the
  // deadline, no socket.
  static void expect_prompt_failure(const ConnectOutcome& o) {
    EXPECT_FALSE(o.socket.has_value());
    EXPECT_FALSE(o.attempt.timed_out);
    EXPECT_EQ(o.attempt.failed_op, "connect");
    EXPECT_EQ(o.attempt.syn_retransmits, std::optional<std::uint32_t>(0));
    EXPECT_EQ(o.attempt.syns_sent(), 1u);
    EXPECT_LT(o.attempt.elapsed, std::chrono::milliseconds(500));
    RecordProperty("elapsed_us", static_cast<int>(o.attempt.elapsed.count()));
  }

  asio::io_context io_;  // before anything holding its sockets
  Process server_;
};

TEST_P(ConnectLab, ConnectsToAListeningServerAndTheSocketWorks) {
  serve();
  ConnectOutcome o = connect(server_at(kPort));
  const auto& a = o.attempt;
  ASSERT_EQ(a.failure, ConnectFailure::none) << probe::connect_failure_name(a.failure) << " "
                                             << a.failed_op << " " << a.error;
  EXPECT_TRUE(a.connected());
  EXPECT_EQ(a.error, 0);
  EXPECT_EQ(a.failed_op, "");
  EXPECT_FALSE(a.timed_out);
  EXPECT_EQ(a.queued, std::nullopt);
  EXPECT_EQ(a.syn_retransmits, std::optional<std::uint32_t>(0));
  EXPECT_EQ(a.syns_sent(), 1u);
  EXPECT_EQ(a.remote, server_at(kPort));
  ASSERT_TRUE(a.local.has_value());
  EXPECT_EQ(a.local->address, lab().addr(Node::client, fam()));
  EXPECT_NE(a.local->port, 0);
  EXPECT_GT(a.elapsed.count(), 0);
  EXPECT_LT(a.elapsed, std::chrono::milliseconds(500));
  RecordProperty("elapsed_us", static_cast<int>(a.elapsed.count()));
  ASSERT_TRUE(a.rtt.has_value());
  EXPECT_GT(a.rtt->count(), 0);
  // Default MSS over 1500-byte links, less the 12 bytes of timestamps.
  EXPECT_EQ(a.snd_mss, std::optional<std::uint32_t>(fam() == Family::v4 ? 1448u : 1428u));
  EXPECT_EQ(probe::connect_status(std::span(&a, 1)), StageStatus::ok);
  EXPECT_EQ(probe::finding_id(a.failure), std::nullopt);
  EXPECT_EQ(a.syn_retransmits.value_or(0), 0u) << "no tcp.slow_handshake";

  // The socket is handed on connected and in blocking mode: the echo server answers on it.
  ASSERT_TRUE(o.socket.has_value());
  auto& sock = *o.socket;
  EXPECT_EQ(sock.remote_endpoint().port(), kPort);
  EXPECT_EQ(sock.remote_endpoint().address().to_string(), server());
  EXPECT_FALSE(sock.non_blocking());
  timeval tv{2, 0};
  ASSERT_EQ(setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  asio::write(sock, asio::buffer(std::string_view("ping")));
  std::array<char, 4> back{};
  asio::read(sock, asio::buffer(back));
  EXPECT_EQ(std::string_view(back.data(), back.size()), "ping");
  // IP_RECVERR was turned off for the stages that reuse the socket.
  int recverr = -1;
  socklen_t len = sizeof recverr;
  ASSERT_EQ(getsockopt(sock.native_handle(), fam() == Family::v4 ? SOL_IP : SOL_IPV6,
                       fam() == Family::v4 ? IP_RECVERR : IPV6_RECVERR, &recverr, &len),
            0);
  EXPECT_EQ(recverr, 0);
}

TEST_P(ConnectLab, ClosedPortIsRefusedByAReset) {
  ConnectOutcome o = connect(server_at(kClosedPort));
  EXPECT_EQ(o.attempt.failure, ConnectFailure::refused);
  EXPECT_EQ(o.attempt.error, ECONNREFUSED);
  EXPECT_EQ(o.attempt.queued, std::nullopt) << "a reset queues no ICMP";
  expect_prompt_failure(o);
  EXPECT_TRUE(o.attempt.local.has_value());
}

TEST_P(ConnectLab, PortUnreachableFromTheServerIsRejectedIcmp) {
  serve();
  lab().reject(Node::server, fam(), kPort, RejectKind::port_unreachable);
  ConnectOutcome o = connect(server_at(kPort));
  EXPECT_EQ(o.attempt.failure, ConnectFailure::rejected_icmp);
  EXPECT_EQ(o.attempt.error, ECONNREFUSED);
  expect_icmp(o, 3, 3, 1, 4, Node::server);
  expect_prompt_failure(o);
}

TEST_P(ConnectLab, AdminProhibitedAtR2NamesR2) {
  lab().reject(Node::r2, fam(), kPort, RejectKind::admin_prohibited);
  ConnectOutcome o = connect(server_at(kPort));
  EXPECT_EQ(o.attempt.failure, ConnectFailure::admin_prohibited);
  EXPECT_EQ(o.attempt.error, fam() == Family::v4 ? EHOSTUNREACH : EACCES);
  expect_icmp(o, 3, 13, 1, 1, Node::r2);
  expect_prompt_failure(o);
}

TEST_P(ConnectLab, HostUnreachableAtR1NamesR1) {
  lab().reject(Node::r1, fam(), kPort, RejectKind::host_unreachable);
  ConnectOutcome o = connect(server_at(kPort));
  EXPECT_EQ(o.attempt.failure, ConnectFailure::host_unreachable);
  EXPECT_EQ(o.attempt.error, EHOSTUNREACH);
  expect_icmp(o, 3, 1, 1, 3, Node::r1);  // ICMPv6 says "address unreachable"
  expect_prompt_failure(o);
}

TEST_P(ConnectLab, NetUnreachableAtR1IsHostUnreachableNotNoRoute) {
  lab().reject(Node::r1, fam(), kPort, RejectKind::net_unreachable);
  ConnectOutcome o = connect(server_at(kPort));
  EXPECT_EQ(o.attempt.failure, ConnectFailure::host_unreachable);
  EXPECT_EQ(o.attempt.error, ENETUNREACH);
  expect_icmp(o, 3, 0, 1, 0, Node::r1);  // ICMPv6 says "no route to destination"
  expect_prompt_failure(o);
}

TEST_P(ConnectLab, NoLocalRouteIsNoRoute) {
  // The client routes only the lab's ranges: for these (TEST-NET-1, the IPv6 discard prefix)
  // connect() fails before anything is sent.
  const Endpoint nowhere{af(fam()), fam() == Family::v4 ? "192.0.2.1" : "100::1", kPort};
  ConnectOutcome o = connect(nowhere);
  EXPECT_EQ(o.attempt.failure, ConnectFailure::no_route);
  EXPECT_EQ(o.attempt.error, ENETUNREACH);
  EXPECT_EQ(o.attempt.failed_op, "connect");
  EXPECT_EQ(o.attempt.queued, std::nullopt);
  EXPECT_EQ(o.attempt.syns_sent(), 0u);
  EXPECT_FALSE(o.socket.has_value());
}

TEST_P(ConnectLab, DroppedIsFilteredAtTheDeadlineNotTheKernels) {
  serve();
  lab().drop(Node::server, fam(), kPort);
  // 1.5 s: the kernel resends the SYN at 1 s (then 1 s apart, net.ipv4.tcp_syn_linear_timeouts),
  // so exactly one retransmission falls inside, far from either edge.
  constexpr auto kTimeout = std::chrono::milliseconds(1500);
  const auto start = Clock::now();
  ConnectOutcome o = connect(server_at(kPort), with_timeout(kTimeout));
  const auto wall = Clock::now() - start;
  const auto& a = o.attempt;
  EXPECT_EQ(a.failure, ConnectFailure::filtered);
  EXPECT_TRUE(a.timed_out);
  EXPECT_EQ(a.error, 0);
  EXPECT_EQ(a.failed_op, "");
  EXPECT_EQ(a.queued, std::nullopt);
  EXPECT_EQ(a.syn_retransmits, std::optional<std::uint32_t>(1));
  EXPECT_EQ(a.syns_sent(), 2u);
  EXPECT_TRUE(a.local.has_value());
  EXPECT_FALSE(o.socket.has_value());
  EXPECT_GE(a.elapsed, kTimeout);
  EXPECT_LE(a.elapsed, kTimeout * 11 / 10);
  EXPECT_LE(wall, kTimeout * 11 / 10 + 200ms) << "setup and teardown of the attempt included";
  RecordProperty("elapsed_us", static_cast<int>(a.elapsed.count()));
  EXPECT_EQ(probe::finding_id(a.failure), std::optional<std::string_view>("tcp.filtered"));
}

TEST_P(ConnectLab, FirstSynLostIsASlowHandshakeWithOneRetransmission) {
  serve();
  lab().drop_first_syn(Node::r1, 8080);
  ConnectOutcome o = connect(server_at(kPort));
  const auto& a = o.attempt;
  ASSERT_EQ(a.failure, ConnectFailure::none) << probe::connect_failure_name(a.failure);
  EXPECT_TRUE(o.socket.has_value());
  EXPECT_EQ(a.syn_retransmits, std::optional<std::uint32_t>(1));
  EXPECT_EQ(a.syns_sent(), 2u);
  EXPECT_GE(a.elapsed, 1s) << "the retransmission timer's first expiry";
  EXPECT_LT(a.elapsed, 1500ms);
  RecordProperty("elapsed_us", static_cast<int>(a.elapsed.count()));
  EXPECT_EQ(probe::connect_status(std::span(&a, 1)), StageStatus::warn);
  // The doctor's tcp.slow_handshake: connected, after retransmitted SYNs.
  EXPECT_TRUE(a.connected());
  EXPECT_GT(a.syn_retransmits.value_or(0), 0u);
}

TEST_P(ConnectLab, NoFreeLocalPortIsLocalPortExhaustion) {
  serve();
  // One ephemeral port: the first connection to server:8080 takes it, the second cannot.
  lab().sysctl(Node::client, "net.ipv4.ip_local_port_range", "40000 40000");
  ConnectOutcome first = connect(server_at(kPort));
  ASSERT_EQ(first.attempt.failure, ConnectFailure::none);
  ASSERT_TRUE(first.attempt.local.has_value());
  EXPECT_EQ(first.attempt.local->port, 40000);
  ConnectOutcome second = connect(server_at(kPort));
  const auto& a = second.attempt;
  EXPECT_EQ(a.failure, ConnectFailure::local_port_exhaustion);
  EXPECT_EQ(a.error, EADDRNOTAVAIL);
  EXPECT_EQ(a.failed_op, "connect");
  EXPECT_EQ(a.syn_retransmits, std::nullopt) << "no SYN left";
  EXPECT_EQ(a.syns_sent(), 0u);
  EXPECT_EQ(a.local, std::nullopt);
  EXPECT_EQ(a.queued, std::nullopt);
  EXPECT_FALSE(second.socket.has_value());
  EXPECT_LT(a.elapsed, 100ms);
}

TEST_P(ConnectLab, SourceAddressAndMaxSeg) {
  serve();
  ConnectOptions opts = with_timeout(3s);
  opts.source = lab().addr(Node::client, fam());
  opts.maxseg = 536;
  ConnectOutcome o = connect(server_at(kPort), opts);
  const auto& a = o.attempt;
  ASSERT_EQ(a.failure, ConnectFailure::none) << a.failed_op << " " << a.error;
  ASSERT_TRUE(a.local.has_value());
  EXPECT_EQ(a.local->address, lab().addr(Node::client, fam()));
  // Our own clamp of 536, less the 12 bytes of timestamps.
  EXPECT_EQ(a.snd_mss, std::optional<std::uint32_t>(524));

  // An address this host does not have: the bind fails, and is not a port shortage.
  opts.source = server();
  ConnectOutcome bad = connect(server_at(kPort), opts);
  EXPECT_EQ(bad.attempt.failure, ConnectFailure::other);
  EXPECT_EQ(bad.attempt.error, EADDRNOTAVAIL);
  EXPECT_EQ(bad.attempt.failed_op, "bind " + server());
  EXPECT_EQ(bad.attempt.syns_sent(), 0u);
  // Not an address of the target's family at all.
  opts.source = fam() == Family::v4 ? lab().client_v6() : lab().client_v4();
  ConnectOutcome wrong = connect(server_at(kPort), opts);
  EXPECT_EQ(wrong.attempt.failure, ConnectFailure::other);
  EXPECT_EQ(wrong.attempt.error, EINVAL);
  EXPECT_EQ(wrong.attempt.failed_op, "bind " + *opts.source);
}

TEST_P(ConnectLab, ConnectAllTriesEveryAddressAtOnceAndUsesTheFirstThatConnected) {
  serve();
  const Endpoint closed = server_at(kClosedPort);
  const Endpoint open = server_at(kPort);
  constexpr std::uint16_t kDroppedPort = 8099;
  const Endpoint never = server_at(kDroppedPort);
  lab().drop(Node::server, fam(), kDroppedPort);
  const auto t0 = Clock::now();
  ConnectReport r = connect_all({closed, never, open}, with_timeout(1s));
  const auto took = Clock::now() - t0;
  // All three, each with its own result; the one that connected last, the rest in order.
  ASSERT_EQ(r.attempts.size(), 3u);
  EXPECT_EQ(r.attempts[0].remote, closed);
  EXPECT_EQ(r.attempts[0].failure, ConnectFailure::refused);
  EXPECT_EQ(r.attempts[1].remote, never);
  EXPECT_EQ(r.attempts[1].failure, ConnectFailure::filtered);
  EXPECT_EQ(r.attempts[2].remote, open);
  EXPECT_EQ(r.attempts[2].failure, ConnectFailure::none);
  ASSERT_TRUE(r.connected());
  EXPECT_EQ(r.socket->remote_endpoint().port(), kPort);
  EXPECT_EQ(probe::connect_status(r.attempts), StageStatus::warn);
  // At once: the silent address's timeout is the whole wait, not added to the others'.
  EXPECT_LT(took, 1500ms);
  EXPECT_EQ(probe::finding_id(r.attempts[0].failure), std::optional<std::string_view>("tcp.refused"));
  EXPECT_EQ(r.attempts[2].syn_retransmits.value_or(0), 0u) << "no tcp.slow_handshake";

  // Nothing connects: every address is tried and reported, in order.
  lab().clear_faults(Node::server);
  lab().reject(Node::r2, fam(), kPort, RejectKind::admin_prohibited);
  ConnectReport none = connect_all({closed, open}, with_timeout(2s));
  ASSERT_EQ(none.attempts.size(), 2u);
  EXPECT_EQ(none.attempts[0].failure, ConnectFailure::refused);
  EXPECT_EQ(none.attempts[1].failure, ConnectFailure::admin_prohibited);
  EXPECT_FALSE(none.connected());
  EXPECT_EQ(probe::connect_status(none.attempts), StageStatus::fail);
}

INSTANTIATE_TEST_SUITE_P(Families, ConnectLab, ::testing::Values(Family::v4, Family::v6),
                         param_name);

}  // namespace
}  // namespace connscope::lab
