#include "inspect/sock_diag.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sys/netlink.h"

namespace connscope::inspect {
namespace {

using Bytes = std::vector<std::byte>;

// Every socket message of the first dump in a recorded fixture, as raw bytes.
std::vector<Bytes> messages(const std::string& name) {
  std::vector<Bytes> out;
  auto replay = sys::DumpReplay::open(std::string(CONNSCOPE_FIXTURES) + "/sock_diag/" + name);
  EXPECT_TRUE(replay.has_value()) << replay.error().message();
  if (!replay) return out;
  auto stats = replay->dump({}, [&](std::span<const std::byte> m) -> Result<void> {
    out.emplace_back(m.begin(), m.end());
    return {};
  });
  EXPECT_TRUE(stats.has_value()) << stats.error().message();
  return out;
}

std::vector<SocketRecord> records(const std::string& name, int protocol = IPPROTO_TCP) {
  std::vector<SocketRecord> out;
  for (const auto& m : messages(name)) {
    auto rec = parse_sock_diag_message(m, protocol);
    EXPECT_TRUE(rec.has_value()) << rec.error().message();
    if (rec) out.push_back(*rec);
  }
  return out;
}

const SocketRecord* find(const std::vector<SocketRecord>& recs, std::uint16_t local_port,
                         std::uint16_t remote_port) {
  for (const auto& r : recs) {
    if (r.local.port == local_port && r.remote.port == remote_port) return &r;
  }
  return nullptr;
}

// The fixture sockets (see tests/unit/inspect/record_fixtures.cpp): 8080 a listener with a full
// accept queue (clients 40001-40003), 8081/40010 an ESTABLISHED pair, 8082/40020 CLOSE_WAIT
// with an orphaned FIN_WAIT2, 40030->8083 TIME_WAIT, 40050->8084 a request socket, [::1]:8090
// with client 40040, UDP 127.0.0.1:5353.

TEST(SockDiagFixture, ListenerWithFullAcceptQueue) {
  const auto recs = records("tcp4_all_info.nldump");
  ASSERT_EQ(recs.size(), 18u);
  const auto* l = find(recs, 8080, 0);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->family, AF_INET);
  EXPECT_EQ(l->protocol, IPPROTO_TCP);
  EXPECT_EQ(l->state, tcp_state::kListen);
  EXPECT_EQ(l->state_name(), "LISTEN");
  EXPECT_EQ(l->kind, SocketKind::full);
  EXPECT_EQ(l->local, (Endpoint{AF_INET, "127.0.0.1", 8080}));
  EXPECT_EQ(l->remote, (Endpoint{AF_INET, "0.0.0.0", 0}));
  EXPECT_EQ(l->rqueue, 3u);  // waiting for accept()
  EXPECT_EQ(l->wqueue, 2u);  // the backlog: overflowing, as rqueue > wqueue
  EXPECT_EQ(l->uid, 0u);
  EXPECT_TRUE(l->inode.has_value());
  EXPECT_NE(l->cookie, 0u);
  ASSERT_TRUE(l->tcp_info.has_value());
  EXPECT_EQ(l->tcp_info->rtt_us, 0u);
  const auto* other = find(recs, 8081, 0);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->rqueue, 0u);
  EXPECT_EQ(other->wqueue, 16u);
}

TEST(SockDiagFixture, QueuedConnectionsHaveAnOwnerButNoInode) {
  const auto recs = records("tcp4_all_info.nldump");
  for (std::uint16_t client = 40001; client <= 40003; ++client) {
    const auto* child = find(recs, 8080, client);
    ASSERT_NE(child, nullptr) << client;
    EXPECT_EQ(child->state_name(), "ESTABLISHED");
    EXPECT_EQ(child->kind, SocketKind::full);
    EXPECT_EQ(child->uid, 0u);
    EXPECT_FALSE(child->inode.has_value());  // not accepted: no file yet
    EXPECT_TRUE(child->tcp_info.has_value());
    const auto* peer = find(recs, client, 8080);
    ASSERT_NE(peer, nullptr);
    EXPECT_TRUE(peer->inode.has_value());
  }
}

TEST(SockDiagFixture, EstablishedPairWithTcpInfo) {
  const auto recs = records("tcp4_all_info.nldump");
  const auto* client = find(recs, 40010, 8081);
  const auto* server = find(recs, 8081, 40010);
  ASSERT_NE(client, nullptr);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(client->state, tcp_state::kEstablished);
  EXPECT_EQ(client->remote, (Endpoint{AF_INET, "127.0.0.1", 8081}));
  EXPECT_EQ(client->uid, 65534u);  // created under seteuid(65534)
  EXPECT_EQ(server->uid, 0u);
  EXPECT_TRUE(client->inode.has_value());
  EXPECT_NE(client->inode, server->inode);
  EXPECT_EQ(server->rqueue, 100u);  // sent, never read
  EXPECT_EQ(client->wqueue, 0u);    // and acknowledged
  ASSERT_TRUE(client->tcp_info.has_value());
  ASSERT_TRUE(server->tcp_info.has_value());
  const auto& ci = *client->tcp_info;
  EXPECT_GT(ci.rtt_us.value_or(0), 0u);
  EXPECT_TRUE(ci.rttvar_us.has_value());
  EXPECT_EQ(ci.retransmits, 0u);
  EXPECT_EQ(ci.total_retrans, 0u);
  EXPECT_EQ(ci.unacked, 0u);
  EXPECT_EQ(ci.lost, 0u);
  EXPECT_GE(ci.snd_cwnd.value_or(0), 10u);
  EXPECT_EQ(ci.bytes_acked, 101u);  // 100 bytes + the SYN
  EXPECT_EQ(server->tcp_info->bytes_received, 100u);
}

TEST(SockDiagFixture, CloseWaitAndOrphanedFinWait2) {
  const auto recs = records("tcp4_all_info.nldump");
  const auto* server = find(recs, 8082, 40020);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->state_name(), "CLOSE_WAIT");
  EXPECT_EQ(server->kind, SocketKind::full);
  EXPECT_EQ(server->rqueue, 1u);  // the FIN counts as one unread byte
  EXPECT_TRUE(server->inode.has_value());
  EXPECT_TRUE(server->uid.has_value());
  EXPECT_TRUE(server->tcp_info.has_value());
  // The client closed its fd: the kernel keeps a timewait minisocket in FIN_WAIT2.
  const auto* client = find(recs, 40020, 8082);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state_name(), "FIN_WAIT2");
  EXPECT_EQ(client->kind, SocketKind::time_wait);
  EXPECT_EQ(client->timer, 3);
  EXPECT_FALSE(client->uid.has_value());
  EXPECT_FALSE(client->inode.has_value());
  EXPECT_FALSE(client->tcp_info.has_value());
}

TEST(SockDiagFixture, TimeWaitHasNoOwnerInodeOrTcpInfo) {
  const auto recs = records("tcp4_all_info.nldump");
  const auto* tw = find(recs, 40030, 8083);
  ASSERT_NE(tw, nullptr);
  EXPECT_EQ(tw->state, tcp_state::kTimeWait);
  EXPECT_EQ(tw->state_name(), "TIME_WAIT");
  EXPECT_EQ(tw->kind, SocketKind::time_wait);
  EXPECT_EQ(tw->local, (Endpoint{AF_INET, "127.0.0.1", 40030}));
  EXPECT_EQ(tw->remote, (Endpoint{AF_INET, "127.0.0.1", 8083}));
  EXPECT_FALSE(tw->uid.has_value());
  EXPECT_FALSE(tw->inode.has_value());
  EXPECT_FALSE(tw->tcp_info.has_value());
  EXPECT_GT(tw->timer_expires_ms, 0u);
  EXPECT_LE(tw->timer_expires_ms, 60000u);  // Linux TIME_WAIT: a fixed 60 s
  // The server's side closed second and is gone.
  EXPECT_EQ(find(recs, 8083, 40030), nullptr);
}

TEST(SockDiagFixture, RequestSocketIsSynRecvWithoutOwner) {
  const auto recs = records("tcp4_all_info.nldump");
  const auto* req = find(recs, 8084, 40050);
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(req->state, tcp_state::kSynRecv);
  EXPECT_EQ(req->state_name(), "SYN_RECV");
  EXPECT_EQ(req->kind, SocketKind::request);
  EXPECT_FALSE(req->uid.has_value());
  EXPECT_FALSE(req->inode.has_value());
  EXPECT_FALSE(req->tcp_info.has_value());
  EXPECT_EQ(req->timer, 1);  // the SYN-ACK retransmit timer
  // The client's ACK was dropped, so the client alone thinks it is connected.
  const auto* client = find(recs, 40050, 8084);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state_name(), "ESTABLISHED");
  const auto* listener = find(recs, 8084, 0);
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(listener->rqueue, 0u);  // half-open connections are not in the accept queue
}

TEST(SockDiagFixture, Ipv6) {
  const auto recs = records("tcp6_all_info.nldump");
  ASSERT_EQ(recs.size(), 3u);
  const auto* l = find(recs, 8090, 0);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->family, AF_INET6);
  EXPECT_EQ(l->local, (Endpoint{AF_INET6, "::1", 8090}));
  EXPECT_EQ(l->remote, (Endpoint{AF_INET6, "::", 0}));
  EXPECT_EQ(l->state_name(), "LISTEN");
  EXPECT_EQ(l->wqueue, 16u);
  const auto* c = find(recs, 40040, 8090);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->remote.to_string(), "[::1]:8090");
  EXPECT_EQ(c->state_name(), "ESTABLISHED");
  EXPECT_TRUE(c->inode.has_value());
  ASSERT_TRUE(c->tcp_info.has_value());
  EXPECT_GT(c->tcp_info->rtt_us.value_or(0), 0u);
}

TEST(SockDiagFixture, ListenOnlyDumpWithoutTcpInfo) {
  const auto recs = records("tcp4_listen.nldump");
  ASSERT_EQ(recs.size(), 5u);
  for (const auto& r : recs) {
    EXPECT_EQ(r.state, tcp_state::kListen);
    EXPECT_FALSE(r.tcp_info.has_value());
    EXPECT_TRUE(r.inode.has_value());
  }
  const auto* l = find(recs, 8080, 0);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->rqueue, 3u);
  EXPECT_EQ(l->wqueue, 2u);
}

TEST(SockDiagFixture, Udp) {
  const auto recs = records("udp4.nldump", IPPROTO_UDP);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].protocol, IPPROTO_UDP);
  EXPECT_EQ(recs[0].local, (Endpoint{AF_INET, "127.0.0.1", 5353}));
  EXPECT_EQ(recs[0].state_name(), "CLOSE");  // unconnected
  EXPECT_TRUE(recs[0].inode.has_value());
}

TEST(SockDiag, StateNames) {
  EXPECT_EQ(tcp_state_name(1), "ESTABLISHED");
  EXPECT_EQ(tcp_state_name(2), "SYN_SENT");
  EXPECT_EQ(tcp_state_name(3), "SYN_RECV");
  EXPECT_EQ(tcp_state_name(4), "FIN_WAIT1");
  EXPECT_EQ(tcp_state_name(5), "FIN_WAIT2");
  EXPECT_EQ(tcp_state_name(6), "TIME_WAIT");
  EXPECT_EQ(tcp_state_name(7), "CLOSE");
  EXPECT_EQ(tcp_state_name(8), "CLOSE_WAIT");
  EXPECT_EQ(tcp_state_name(9), "LAST_ACK");
  EXPECT_EQ(tcp_state_name(10), "LISTEN");
  EXPECT_EQ(tcp_state_name(11), "CLOSING");
  EXPECT_EQ(tcp_state_name(12), "SYN_RECV");
  EXPECT_EQ(tcp_state_name(0), "UNKNOWN");
  EXPECT_EQ(tcp_state_name(13), "UNKNOWN");
  EXPECT_EQ(tcp_state_name(-1), "UNKNOWN");
}

// ---- hand-made variants of recorded messages ----

// The message with its INET_DIAG_INFO attribute cut to `len` bytes (an older kernel's shorter
// struct tcp_info); the attribute is moved to the end, the others are kept.
Bytes with_tcp_info_len(const Bytes& msg, std::size_t len) {
  const std::size_t attrs_at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(inet_diag_msg));
  Bytes out(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(attrs_at));
  Bytes info;
  std::size_t off = attrs_at;
  while (off + sizeof(nlattr) <= msg.size()) {
    nlattr a{};
    std::memcpy(&a, msg.data() + off, sizeof a);
    const std::size_t step = NLA_ALIGN(a.nla_len);
    if (a.nla_type == INET_DIAG_INFO) {
      info.assign(msg.begin() + static_cast<std::ptrdiff_t>(off + sizeof a),
                  msg.begin() + static_cast<std::ptrdiff_t>(off + a.nla_len));
    } else {
      out.insert(out.end(), msg.begin() + static_cast<std::ptrdiff_t>(off),
                 msg.begin() + static_cast<std::ptrdiff_t>(std::min(off + step, msg.size())));
    }
    off += step;
  }
  EXPECT_GE(info.size(), len);
  nlattr a{static_cast<__u16>(sizeof(nlattr) + len), INET_DIAG_INFO};
  const auto* ab = reinterpret_cast<const std::byte*>(&a);
  out.insert(out.end(), ab, ab + sizeof a);
  out.insert(out.end(), info.begin(), info.begin() + static_cast<std::ptrdiff_t>(len));
  out.resize(NLMSG_ALIGN(out.size()));
  const auto total = static_cast<__u32>(out.size());
  std::memcpy(out.data(), &total, sizeof total);
  return out;
}

Bytes established_client_message() {
  for (const auto& m : messages("tcp4_all_info.nldump")) {
    auto r = parse_sock_diag_message(m, IPPROTO_TCP);
    if (r && r->local.port == 40010) return m;
  }
  ADD_FAILURE() << "no 40010 socket in the fixture";
  return {};
}

TEST(SockDiagHandMade, TcpInfoOfAnOlderKernel) {
  const auto msg = established_client_message();
  ASSERT_FALSE(msg.empty());
  // Linux 2.6-4.0: struct tcp_info ends with tcpi_total_retrans (104 bytes).
  auto rec = parse_sock_diag_message(with_tcp_info_len(msg, 104), IPPROTO_TCP);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  ASSERT_TRUE(rec->tcp_info.has_value());
  EXPECT_GT(rec->tcp_info->rtt_us.value_or(0), 0u);
  EXPECT_EQ(rec->tcp_info->total_retrans, 0u);
  EXPECT_FALSE(rec->tcp_info->bytes_acked.has_value());
  EXPECT_FALSE(rec->tcp_info->bytes_received.has_value());
  EXPECT_EQ(rec->uid, 65534u);  // the other fields survive the move
}

TEST(SockDiagHandMade, TcpInfoCutInsideAField) {
  const auto msg = established_client_message();
  ASSERT_FALSE(msg.empty());
  // tcpi_rtt is bytes 68-71 and tcpi_rttvar 72-75: 74 bytes hold the first, half the second.
  auto rec = parse_sock_diag_message(with_tcp_info_len(msg, 74), IPPROTO_TCP);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  ASSERT_TRUE(rec->tcp_info.has_value());
  EXPECT_TRUE(rec->tcp_info->rtt_us.has_value());
  EXPECT_FALSE(rec->tcp_info->rttvar_us.has_value());
  EXPECT_FALSE(rec->tcp_info->snd_cwnd.has_value());
  EXPECT_TRUE(rec->tcp_info->lost.has_value());

  rec = parse_sock_diag_message(with_tcp_info_len(msg, 3), IPPROTO_TCP);
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE(rec->tcp_info.has_value());
  EXPECT_EQ(rec->tcp_info->retransmits, 0u);  // byte 2
  EXPECT_FALSE(rec->tcp_info->unacked.has_value());

  rec = parse_sock_diag_message(with_tcp_info_len(msg, 0), IPPROTO_TCP);
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE(rec->tcp_info.has_value());
  EXPECT_FALSE(rec->tcp_info->retransmits.has_value());
  EXPECT_FALSE(rec->tcp_info->rtt_us.has_value());
}

TEST(SockDiagHandMade, EveryTruncationIsAnErrorNotACrash) {
  for (const auto& name : {"tcp4_all_info.nldump", "tcp6_all_info.nldump"}) {
    for (const auto& msg : messages(name)) {
      ASSERT_TRUE(parse_sock_diag_message(msg, IPPROTO_TCP).has_value());
      for (std::size_t len = 0; len < msg.size(); ++len) {
        // Cut, header unchanged: the header claims more than there is.
        Bytes cut(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_FALSE(parse_sock_diag_message(cut, IPPROTO_TCP).has_value()) << len;
        // Cut with a consistent header: fine only where an attribute ends.
        if (len >= sizeof(nlmsghdr)) {
          const auto l32 = static_cast<__u32>(len);
          std::memcpy(cut.data(), &l32, sizeof l32);
          auto rec = parse_sock_diag_message(cut, IPPROTO_TCP);
          if (len < NLMSG_HDRLEN + sizeof(inet_diag_msg)) {
            EXPECT_FALSE(rec.has_value()) << len;
          }
        }
      }
    }
  }
}

TEST(SockDiagHandMade, AttributeLengthPastTheEnd) {
  auto msg = established_client_message();
  ASSERT_FALSE(msg.empty());
  const std::size_t attrs_at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(inet_diag_msg));
  nlattr a{};
  std::memcpy(&a, msg.data() + attrs_at, sizeof a);
  a.nla_len = static_cast<__u16>(msg.size());  // longer than what is left
  std::memcpy(msg.data() + attrs_at, &a, sizeof a);
  auto rec = parse_sock_diag_message(msg, IPPROTO_TCP);
  ASSERT_FALSE(rec.has_value());
  EXPECT_NE(rec.error().detail.find("attribute"), std::string::npos) << rec.error().message();

  a.nla_len = 2;  // shorter than its own header
  std::memcpy(msg.data() + attrs_at, &a, sizeof a);
  EXPECT_FALSE(parse_sock_diag_message(msg, IPPROTO_TCP).has_value());
}

TEST(SockDiagHandMade, WrongTypeOrFamily) {
  auto msg = established_client_message();
  ASSERT_FALSE(msg.empty());
  auto bad_type = msg;
  const __u16 type = NLMSG_DONE;
  std::memcpy(bad_type.data() + offsetof(nlmsghdr, nlmsg_type), &type, sizeof type);
  EXPECT_FALSE(parse_sock_diag_message(bad_type, IPPROTO_TCP).has_value());
  auto bad_family = msg;
  bad_family[NLMSG_HDRLEN] = std::byte{AF_UNIX};
  auto rec = parse_sock_diag_message(bad_family, IPPROTO_TCP);
  ASSERT_FALSE(rec.has_value());
  EXPECT_NE(rec.error().detail.find("family"), std::string::npos);
}

TEST(SockDiagHandMade, Ipv4AddressesEveryDigitCount) {
  const auto msg = established_client_message();
  ASSERT_FALSE(msg.empty());
  const std::size_t id_at = NLMSG_HDRLEN + offsetof(inet_diag_msg, id);
  const std::pair<const char*, const char*> cases[] = {
      {"0.0.0.0", "255.255.255.255"}, {"10.9.99.100", "1.20.200.3"}, {"198.18.0.1", "127.0.0.1"}};
  for (const auto& [src, dst] : cases) {
    auto m = msg;
    in_addr a{}, b{};
    ASSERT_EQ(inet_pton(AF_INET, src, &a), 1);
    ASSERT_EQ(inet_pton(AF_INET, dst, &b), 1);
    std::memcpy(m.data() + id_at + offsetof(inet_diag_sockid, idiag_src), &a, sizeof a);
    std::memcpy(m.data() + id_at + offsetof(inet_diag_sockid, idiag_dst), &b, sizeof b);
    auto rec = parse_sock_diag_message(m, IPPROTO_TCP);
    ASSERT_TRUE(rec.has_value()) << rec.error().message();
    EXPECT_EQ(rec->local.address, src);
    EXPECT_EQ(rec->remote.address, dst);
  }
}

TEST(SockDiagHandMade, ReplyToTheBothFamiliesRequestParses) {
  auto msg = established_client_message();
  ASSERT_FALSE(msg.empty());
  const __u16 type = TCPDIAG_GETSOCK;  // replies carry the request's type
  std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_type), &type, sizeof type);
  auto rec = parse_sock_diag_message(msg, IPPROTO_TCP);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_EQ(rec->local.port, 40010);
}

TEST(SockDiagHandMade, GarbageNeverCrashes) {
  std::mt19937 rng(20240601);  // fixed: the test is deterministic
  const auto base = established_client_message();
  ASSERT_FALSE(base.empty());
  for (int round = 0; round < 5000; ++round) {
    Bytes msg = base;
    if (round % 2 == 0) {
      // Flip a few bytes of a real message, header included.
      for (int i = 0; i < 4; ++i) msg[rng() % msg.size()] = static_cast<std::byte>(rng());
    } else {
      msg.resize(rng() % 512);
      for (auto& b : msg) b = static_cast<std::byte>(rng());
      if (msg.size() >= sizeof(nlmsghdr) && round % 4 == 1) {
        const auto len = static_cast<__u32>(msg.size());
        const __u16 type = SOCK_DIAG_BY_FAMILY;
        std::memcpy(msg.data(), &len, sizeof len);
        std::memcpy(msg.data() + 4, &type, sizeof type);
      }
    }
    auto rec = parse_sock_diag_message(msg, IPPROTO_TCP);
    if (rec) {
      EXPECT_LE(rec->local.address.size(), 45u);
    }
  }
}

TEST(SockDiag, LocalPortBytecode) {
  const auto bc = bytecode_local_port(8080);
  ASSERT_EQ(bc.size(), 4 * sizeof(inet_diag_bc_op));
  inet_diag_bc_op ops[4];
  std::memcpy(ops, bc.data(), sizeof ops);
  EXPECT_EQ(ops[0].code, INET_DIAG_BC_S_GE);
  EXPECT_EQ(ops[0].yes, 8);
  EXPECT_EQ(ops[0].no, 20);
  EXPECT_EQ(ops[1].no, 8080);
  EXPECT_EQ(ops[2].code, INET_DIAG_BC_S_LE);
  EXPECT_EQ(ops[2].no, 12);
  EXPECT_EQ(ops[3].no, 8080);
}

}  // namespace
}  // namespace connscope::inspect
