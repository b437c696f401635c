#include "inspect/aggregate.h"

#include <gtest/gtest.h>

#include <netinet/in.h>

#include <map>

namespace connscope::inspect {
namespace {

SocketRecord sock(int state, const char* local, std::uint16_t lport, const char* remote,
                  std::uint16_t rport, std::uint32_t rq = 0, std::uint32_t wq = 0) {
  SocketRecord s;
  s.family = std::string_view(local).find(':') == std::string_view::npos ? AF_INET : AF_INET6;
  s.protocol = IPPROTO_TCP;
  s.state = state;
  s.local = Endpoint{s.family, local, lport};
  s.remote = Endpoint{s.family, remote, rport};
  s.rqueue = rq;
  s.wqueue = wq;
  return s;
}

// ESTABLISHED sockets by (outgoing, port), for every port row.
std::map<std::pair<bool, int>, std::uint64_t> established_by_row(const Snapshot& snap) {
  std::map<std::pair<bool, int>, std::uint64_t> rows;
  for (const auto& p : snap.ports) rows[{p.outgoing, p.port}] += p.states[tcp_state::kEstablished];
  return rows;
}

TEST(Aggregate, StatesListenersPortsAndPeers) {
  Aggregator agg(nullptr, 2, 2);
  agg.add_listener(sock(tcp_state::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 9, 8));
  agg.add_listener(sock(tcp_state::kListen, "::", 443, "::", 0, 0, 4096));
  for (int i = 0; i < 3; ++i) agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 80, "10.0.0.9", static_cast<std::uint16_t>(40000 + i)));
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 80, "10.0.0.8", 40000));
  agg.add(sock(tcp_state::kNewSynRecv, "10.0.0.1", 80, "198.18.1.2", 1000));
  agg.add(sock(tcp_state::kSynRecv, "10.0.0.1", 80, "198.18.1.2", 1001));
  agg.add(sock(tcp_state::kCloseWait, "2001:db8::1", 443, "2001:db8::9", 5000));
  // Outgoing: ephemeral local ports, grouped by the destination's port.
  for (int i = 0; i < 5; ++i) agg.add(sock(tcp_state::kTimeWait, "10.0.0.1", static_cast<std::uint16_t>(50000 + i), "10.0.0.5", 5432));
  agg.add(sock(tcp_state::kTimeWait, "10.0.0.1", 80, "10.0.0.7", 41000));  // incoming: not a destination
  const Snapshot snap = agg.finish();

  EXPECT_EQ(snap.sockets, 15u);
  EXPECT_EQ(snap.total(tcp_state::kEstablished), 4u);
  EXPECT_EQ(snap.total(tcp_state::kSynRecv), 2u);  // NEW_SYN_RECV folded in
  EXPECT_EQ(snap.total(tcp_state::kListen), 2u);
  EXPECT_EQ(snap.v6[tcp_state::kCloseWait], 1u);
  EXPECT_EQ(snap.total(tcp_state::kTimeWait), 6u);

  ASSERT_EQ(snap.listeners.size(), 2u);
  EXPECT_EQ(snap.listeners[0].accept_queue, 9u);
  EXPECT_EQ(snap.listeners[0].accept_queue_limit, 8u);
  EXPECT_EQ(snap.listeners[0].syn_recv, 2u);
  EXPECT_EQ(snap.listeners[1].syn_recv, 0u);

  ASSERT_EQ(snap.ports.size(), 3u);  // 80 and 443 incoming, 5432 outgoing; busiest first
  EXPECT_EQ(snap.ports[0].port, 80);
  EXPECT_FALSE(snap.ports[0].outgoing);
  EXPECT_EQ(snap.ports[0].states[tcp_state::kEstablished], 4u);
  EXPECT_EQ(snap.ports[0].states[tcp_state::kTimeWait], 1u);
  EXPECT_EQ(snap.ports[1].port, 5432);
  EXPECT_TRUE(snap.ports[1].outgoing);
  EXPECT_EQ(snap.ports[1].states[tcp_state::kTimeWait], 5u);
  EXPECT_EQ(snap.ports[2].port, 443);
  EXPECT_EQ(snap.ports[2].states[tcp_state::kCloseWait], 1u);

  ASSERT_EQ(snap.syn_recv_by_source.size(), 1u);
  EXPECT_EQ(snap.syn_recv_by_source[0].address, "198.18.1.2");
  EXPECT_EQ(snap.syn_recv_by_source[0].count, 2u);
  ASSERT_EQ(snap.established_by_peer.size(), 2u);  // trimmed to top 2
  EXPECT_EQ(snap.established_by_peer[0].address, "10.0.0.9");
  EXPECT_EQ(snap.established_by_peer[0].count, 3u);
  ASSERT_EQ(snap.time_wait_by_destination.size(), 1u);
  EXPECT_EQ(snap.time_wait_by_destination[0].address, "10.0.0.5:5432");
  EXPECT_EQ(snap.time_wait_by_destination[0].count, 5u);
  ASSERT_EQ(snap.close_wait.size(), 1u);
  EXPECT_EQ(snap.close_wait[0].pid, 0);  // no owners asked for
  EXPECT_EQ(snap.close_wait[0].port, 443);
}

TEST(Aggregate, KeepsOnlyTheTopQueues) {
  Aggregator agg(nullptr, 3);
  const std::uint32_t rqs[] = {5, 900, 0, 70, 12, 3000, 1};
  std::uint16_t port = 1000;
  for (auto rq : rqs) agg.add(sock(tcp_state::kEstablished, "10.0.0.1", port++, "10.0.0.2", 80, rq, rq / 2));
  const Snapshot snap = agg.finish();
  ASSERT_EQ(snap.top_recv_q.size(), 3u);
  EXPECT_EQ(snap.top_recv_q[0].socket.rqueue, 3000u);
  EXPECT_EQ(snap.top_recv_q[1].socket.rqueue, 900u);
  EXPECT_EQ(snap.top_recv_q[2].socket.rqueue, 70u);
  ASSERT_EQ(snap.top_send_q.size(), 3u);
  EXPECT_EQ(snap.top_send_q[0].socket.wqueue, 1500u);
}

TEST(Aggregate, IncomingOrOutgoingWithoutAListener) {
  Aggregator agg(nullptr, 10, 5, {32768, 60999});
  // A service that stopped listening: its TIME_WAIT sockets still belong to port 8443.
  agg.add(sock(tcp_state::kTimeWait, "10.0.0.1", 8443, "10.0.0.9", 45000));
  // This host's client connection to a database.
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 51000, "10.0.0.5", 5432));
  // Both ports ephemeral, no listener at either end: this end's port was the kernel's pick, for
  // a service elsewhere on a high port, whichever port is lower.
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 40000, "10.0.0.5", 50051));
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 55000, "10.0.0.5", 50051));
  // Neither port ephemeral, no listener: the lower port is the service.
  agg.add(sock(tcp_state::kTimeWait, "10.0.0.1", 80, "10.0.0.9", 8080));
  const Snapshot snap = agg.finish();
  const std::map<std::pair<bool, int>, std::uint64_t> want{
      {{false, 8443}, 0}, {{true, 5432}, 1}, {{true, 50051}, 2}, {{false, 80}, 0}};
  EXPECT_EQ(established_by_row(snap), want);
  EXPECT_TRUE(snap.time_wait_by_destination.empty());  // 8443 and 80 were incoming
}

// Both ends of each connection on this host, the service on 41000, inside ip_local_port_range,
// and clients' ports on either side of it: one incoming row and one outgoing row, whatever the
// ports (the port-range rule alone made each client port below 41000 a service of its own).
TEST(Aggregate, LoopbackServiceInsideTheEphemeralRange) {
  Aggregator agg(nullptr, 10, 5, {32768, 60999});
  agg.add_listener(sock(tcp_state::kListen, "127.0.0.1", 41000, "0.0.0.0", 0, 0, 4096));
  const std::uint16_t clients[] = {32768, 33000, 40999, 41001, 60999};
  for (auto port : clients) {
    agg.add(sock(tcp_state::kEstablished, "127.0.0.1", 41000, "127.0.0.1", port));  // accepted
    agg.add(sock(tcp_state::kEstablished, "127.0.0.1", port, "127.0.0.1", 41000));  // connected
  }
  agg.add(sock(tcp_state::kTimeWait, "127.0.0.1", 34000, "127.0.0.1", 41000));  // the client closed first
  agg.add(sock(tcp_state::kNewSynRecv, "127.0.0.1", 41000, "127.0.0.1", 35000));
  agg.add(sock(tcp_state::kSynSent, "127.0.0.1", 35000, "127.0.0.1", 41000));
  const Snapshot snap = agg.finish();
  ASSERT_EQ(snap.ports.size(), 2u);
  std::map<bool, StateCounts> by_direction;
  for (const auto& p : snap.ports) {
    EXPECT_EQ(p.port, 41000);
    by_direction[p.outgoing] = p.states;
  }
  EXPECT_EQ(by_direction[false][tcp_state::kEstablished], 5u);
  EXPECT_EQ(by_direction[false][tcp_state::kSynRecv], 1u);
  EXPECT_EQ(by_direction[true][tcp_state::kEstablished], 5u);
  EXPECT_EQ(by_direction[true][tcp_state::kTimeWait], 1u);
  EXPECT_EQ(by_direction[true][tcp_state::kSynSent], 1u);
  ASSERT_EQ(snap.time_wait_by_destination.size(), 1u);
  EXPECT_EQ(snap.time_wait_by_destination[0].address, "127.0.0.1:41000");
  ASSERT_EQ(snap.listeners.size(), 1u);
  EXPECT_EQ(snap.listeners[0].syn_recv, 1u);
}

// A dual-stack listener on :: accepts IPv4 clients as IPv4-mapped IPv6 sockets; the clients'
// own sockets are plain IPv4 (or IPv6 to ::1).
TEST(Aggregate, WildcardAndMappedListeners) {
  Aggregator agg(nullptr, 10, 5, {32768, 60999});
  agg.add_listener(sock(tcp_state::kListen, "::", 41000, "::", 0));
  agg.add_listener(sock(tcp_state::kListen, "0.0.0.0", 45000, "0.0.0.0", 0));
  agg.add(sock(tcp_state::kEstablished, "::ffff:127.0.0.1", 41000, "::ffff:127.0.0.1", 35000));
  agg.add(sock(tcp_state::kEstablished, "127.0.0.1", 35000, "127.0.0.1", 41000));
  agg.add(sock(tcp_state::kEstablished, "::1", 41000, "::1", 36000));
  agg.add(sock(tcp_state::kEstablished, "::1", 36000, "::1", 41000));
  // To this host's own non-loopback address, through a 0.0.0.0 listener.
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 45000, "10.0.0.1", 37000));
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 37000, "10.0.0.1", 45000));
  // Another host's 45000: no listener here at either end, both ports ephemeral: outgoing.
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 38000, "10.0.0.5", 45000));
  // A 0.0.0.0 listener accepts no IPv6 connection: an IPv6 socket on its port is judged by the
  // port range (both ephemeral, no listener of its own: this end is the client).
  agg.add(sock(tcp_state::kEstablished, "2001:db8::1", 45000, "2001:db8::9", 39000));
  const std::map<std::pair<bool, int>, std::uint64_t> want{
      {{false, 41000}, 2}, {{true, 41000}, 2}, {{false, 45000}, 1}, {{true, 45000}, 2},
      {{true, 39000}, 1}};
  EXPECT_EQ(established_by_row(agg.finish()), want);
}

// A listener's port on another address is not that listener's; a listener this view does not
// show (another process's, under --pid) still tells directions.
TEST(Aggregate, ListenerAddressAndHiddenListeners) {
  Aggregator agg(nullptr, 10, 5, {32768, 60999});
  agg.add_listener(sock(tcp_state::kListen, "127.0.0.1", 80, "0.0.0.0", 0));
  agg.know_listener(sock(tcp_state::kListen, "127.0.0.1", 41000, "0.0.0.0", 0));
  agg.add(sock(tcp_state::kEstablished, "127.0.0.1", 40000, "127.0.0.1", 41000));
  // Bound to port 80 on another address, connected out to a service on 8080 elsewhere: the
  // 127.0.0.1:80 listener did not accept it; neither port is ephemeral, the lower is the service.
  agg.add(sock(tcp_state::kEstablished, "10.0.0.1", 80, "10.0.0.9", 8080));
  // Both ends listen (a connection from one local service's port to another's): a tie, which
  // the port range breaks (neither ephemeral: the lower port, 80, is the service).
  agg.add_listener(sock(tcp_state::kListen, "127.0.0.1", 8080, "0.0.0.0", 0));
  agg.add(sock(tcp_state::kEstablished, "127.0.0.1", 8080, "127.0.0.1", 80));
  agg.add(sock(tcp_state::kNewSynRecv, "10.0.0.1", 80, "10.0.0.9", 50000));  // no listener's
  const Snapshot snap = agg.finish();
  const std::map<std::pair<bool, int>, std::uint64_t> want{
      {{true, 41000}, 1}, {{false, 80}, 1}, {{true, 80}, 1}, {{false, 8080}, 0}};
  EXPECT_EQ(established_by_row(snap), want);
  ASSERT_EQ(snap.listeners.size(), 2u);  // the hidden one is not shown
  EXPECT_EQ(snap.listeners[0].syn_recv, 0u);
  EXPECT_EQ(snap.sockets, 6u);
}

TEST(Aggregate, FinInRecvQIsNotData) {
  Aggregator agg(nullptr);
  agg.add(sock(tcp_state::kCloseWait, "10.0.0.1", 80, "10.0.0.9", 45000, 1, 0));
  agg.add(sock(tcp_state::kCloseWait, "10.0.0.1", 80, "10.0.0.9", 45001, 500, 0));
  const Snapshot snap = agg.finish();
  ASSERT_EQ(snap.top_recv_q.size(), 1u);
  EXPECT_EQ(snap.top_recv_q[0].socket.rqueue, 500u);
}

}  // namespace
}  // namespace connscope::inspect
