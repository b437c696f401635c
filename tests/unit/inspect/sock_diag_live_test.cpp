#include "inspect/sock_diag.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "sys/netlink.h"
#include "sys/unique_fd.h"

// Live dumps on loopback: the kernel really answers as the fixtures say.

namespace connscope::inspect {
namespace {

using namespace std::chrono_literals;
using sys::UniqueFd;

std::uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).port;
}

UniqueFd listen_on_loopback(int family, int backlog) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid());
  sockaddr_storage ss{};
  const Endpoint ep{family, family == AF_INET6 ? "::1" : "127.0.0.1", 0};
  const socklen_t len = ep.to_sockaddr(ss);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  EXPECT_EQ(::listen(fd.get(), backlog), 0);
  return fd;
}

UniqueFd connect_to(int family, std::uint16_t port) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  const Endpoint ep{family, family == AF_INET6 ? "::1" : "127.0.0.1", port};
  const socklen_t len = ep.to_sockaddr(ss);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  return fd;
}

// A listener, a client connected to it and the accepted server side, on loopback.
struct Pair {
  UniqueFd listener, client, server;
  std::uint16_t port = 0;   // the listener's
  std::uint16_t cport = 0;  // the client's
};
Pair connected_pair(int family) {
  Pair p;
  p.listener = listen_on_loopback(family, 8);
  p.port = local_port(p.listener.get());
  p.client = connect_to(family, p.port);
  p.server = UniqueFd(::accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(p.server.valid());
  p.cport = local_port(p.client.get());
  return p;
}

std::vector<SocketRecord> dump(sys::DumpSource& source, const sys::InetDiagRequest& req) {
  std::vector<SocketRecord> out;
  auto stats = source.dump(req, [&](std::span<const std::byte> m) -> Result<void> {
    auto rec = parse_sock_diag_message(m, req.protocol);
    if (!rec) return std::unexpected(rec.error());
    out.push_back(*rec);
    return {};
  });
  EXPECT_TRUE(stats.has_value()) << stats.error().message();
  return out;
}

std::optional<SocketRecord> find(const std::vector<SocketRecord>& recs, std::uint16_t local,
                                 std::uint16_t remote) {
  for (const auto& r : recs) {
    if (r.local.port == local && r.remote.port == remote) return r;
  }
  return std::nullopt;
}

std::uint64_t inode_of(int fd) {
  struct stat st {};
  fstat(fd, &st);
  return st.st_ino;
}

TEST(SockDiagLive, ListenerBacklogEightWithNineQueued) {
  auto sock = sys::SockDiagSocket::open();
  ASSERT_TRUE(sock.has_value()) << sock.error().message();
  auto l = listen_on_loopback(AF_INET, 8);
  const auto port = local_port(l.get());
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 9; ++i) clients.push_back(connect_to(AF_INET, port));

  sys::InetDiagRequest req;
  req.states = sys::tcp_state_bit(tcp_state::kListen);
  std::optional<SocketRecord> rec;
  // connect() returns on the SYN-ACK; the server queues the child when the ACK arrives.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto recs = dump(*sock, req);
    for (const auto& r : recs) EXPECT_EQ(r.state, tcp_state::kListen);
    rec = find(recs, port, 0);
    if (rec && rec->rqueue == 9) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->rqueue, 9u);  // one more than the backlog: the queue is full
  EXPECT_EQ(rec->wqueue, 8u);
  EXPECT_EQ(rec->inode, inode_of(l.get()));
  EXPECT_EQ(rec->uid, static_cast<std::uint32_t>(geteuid()));
  EXPECT_FALSE(rec->tcp_info.has_value());

  // The same with a kernel-side filter: only this listener comes back.
  req.bytecode = bytecode_local_port(port);
  const auto filtered = dump(*sock, req);
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered[0].local.port, port);
  EXPECT_EQ(filtered[0].rqueue, 9u);
}

TEST(SockDiagLive, EstablishedPairWithTcpInfo) {
  auto sock = sys::SockDiagSocket::open();
  ASSERT_TRUE(sock.has_value()) << sock.error().message();
  for (int family : {AF_INET, AF_INET6}) {
    auto [l, client, server, port, cport] = connected_pair(family);
    ASSERT_TRUE(server.valid());
    ASSERT_EQ(::send(client.get(), "hello", 5, 0), 5);

    sys::InetDiagRequest req;
    req.family = family;
    req.states = sys::tcp_state_bit(tcp_state::kEstablished);
    req.tcp_info = true;
    req.bytecode = bytecode_local_port(cport);
    std::optional<SocketRecord> c;
    for (int attempt = 0; attempt < 100; ++attempt) {
      c = find(dump(*sock, req), cport, port);
      if (c && c->tcp_info && c->tcp_info->bytes_acked.value_or(0) == 6) break;
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(c.has_value()) << family;
    EXPECT_EQ(c->state_name(), "ESTABLISHED");
    EXPECT_EQ(c->inode, inode_of(client.get()));
    ASSERT_TRUE(c->tcp_info.has_value());
    EXPECT_GT(c->tcp_info->rtt_us.value_or(0), 0u);
    EXPECT_EQ(c->tcp_info->bytes_acked, 6u);  // "hello" and the SYN

    req.bytecode = bytecode_local_port(port);
    const auto s = find(dump(*sock, req), port, cport);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->rqueue, 5u);
    EXPECT_EQ(s->inode, inode_of(server.get()));
    ASSERT_TRUE(s->tcp_info.has_value());
    EXPECT_GT(s->tcp_info->rtt_us.value_or(0), 0u);
    EXPECT_EQ(s->tcp_info->bytes_received, 5u);
  }
}

TEST(SockDiagLive, UnspecifiedFamilyDumpsBothFamiliesInOneRequest) {
  auto sock = sys::SockDiagSocket::open();
  ASSERT_TRUE(sock.has_value()) << sock.error().message();
  auto l4 = listen_on_loopback(AF_INET, 3);
  auto l6 = listen_on_loopback(AF_INET6, 5);
  sys::InetDiagRequest req;
  req.family = AF_UNSPEC;
  req.states = sys::tcp_state_bit(tcp_state::kListen);
  const auto recs = dump(*sock, req);
  const auto r4 = find(recs, local_port(l4.get()), 0);
  const auto r6 = find(recs, local_port(l6.get()), 0);
  ASSERT_TRUE(r4.has_value());
  ASSERT_TRUE(r6.has_value());
  EXPECT_EQ(r4->family, AF_INET);
  EXPECT_EQ(r4->local.address, "127.0.0.1");
  EXPECT_EQ(r4->wqueue, 3u);
  EXPECT_EQ(r6->family, AF_INET6);
  EXPECT_EQ(r6->local.address, "::1");
  EXPECT_EQ(r6->wqueue, 5u);
  EXPECT_EQ(r6->inode, inode_of(l6.get()));

  // With a kernel-side filter too; UDP has no such request.
  req.bytecode = bytecode_local_port(local_port(l6.get()));
  const auto only6 = dump(*sock, req);
  ASSERT_EQ(only6.size(), 1u);
  EXPECT_EQ(only6[0].family, AF_INET6);
  sys::InetDiagRequest udp;
  udp.family = AF_UNSPEC;
  udp.protocol = IPPROTO_UDP;
  auto bad = sock->dump(udp, [](std::span<const std::byte>) -> Result<void> { return {}; });
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().op, "sock_diag dump udp");
}

TEST(SockDiagLive, ExactLookupGivesOneSocketWithTcpInfoAndEnoentOnceItIsGone) {
  auto sock = sys::SockDiagSocket::open();
  ASSERT_TRUE(sock.has_value()) << sock.error().message();
  for (int family : {AF_INET, AF_INET6}) {
    auto [l, client, server, port, cport] = connected_pair(family);
    ASSERT_TRUE(server.valid());
    sys::InetDiagRequest req;
    req.family = family;
    req.states = sys::tcp_state_bit(tcp_state::kEstablished);
    req.bytecode = bytecode_local_port(cport);
    const auto listed = find(dump(*sock, req), cport, port);
    ASSERT_TRUE(listed.has_value());
    EXPECT_FALSE(listed->tcp_info.has_value());

    sys::InetDiagSocketId id;
    id.local_port = cport;
    id.remote_port = port;
    ASSERT_EQ(inet_pton(family, listed->local.address.c_str(), id.local), 1);
    ASSERT_EQ(inet_pton(family, listed->remote.address.c_str(), id.remote), 1);
    id.cookie = listed->cookie;
    sys::InetDiagRequest get;
    get.family = family;
    get.tcp_info = true;
    get.exact = id;
    const auto one = dump(*sock, get);
    ASSERT_EQ(one.size(), 1u) << family;
    EXPECT_EQ(one[0].cookie, listed->cookie);
    EXPECT_EQ(one[0].local.port, cport);
    ASSERT_TRUE(one[0].tcp_info.has_value());
    EXPECT_GT(one[0].tcp_info->rtt_us.value_or(0), 0u);

    // A cookie that does not match is not this socket; after close() the reset socket is gone.
    get.exact->cookie = listed->cookie + 1;
    auto wrong = sock->dump(get, [](std::span<const std::byte>) -> Result<void> { return {}; });
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().code, ENOENT);
    get.exact->cookie = listed->cookie;
    linger lg{1, 0};  // close with RST: no FIN_WAIT/TIME_WAIT left behind
    ASSERT_EQ(setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    client.reset();
    auto gone = sock->dump(get, [](std::span<const std::byte>) -> Result<void> { return {}; });
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, ENOENT);
    EXPECT_EQ(gone.error().op, family == AF_INET ? "sock_diag get tcp4" : "sock_diag get tcp6");
    // The socket stays usable after an error reply. (Only this connection is gone: another
    // socket may share the client's ephemeral port with another destination.)
    const auto after = dump(*sock, req);
    EXPECT_FALSE(find(after, cport, port).has_value()) << after.size();
  }
}

TEST(SockDiagLive, RecordedDumpReplaysTheSameSockets) {
  auto l = listen_on_loopback(AF_INET, 4);
  const auto port = local_port(l.get());
  char tmpl[] = "/tmp/connscope-record-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const auto path = dir + "/listen.nldump";
  std::vector<SocketRecord> live;
  {
    auto sock = sys::SockDiagSocket::open();
    ASSERT_TRUE(sock.has_value());
    auto rec = sys::DumpRecorder::create(path);
    ASSERT_TRUE(rec.has_value()) << rec.error().message();
    sock->set_recorder(&*rec);
    sys::InetDiagRequest req;
    req.states = sys::tcp_state_bit(tcp_state::kListen);
    live = dump(*sock, req);
  }
  auto replay = sys::DumpReplay::open(path);
  ASSERT_TRUE(replay.has_value()) << replay.error().message();
  const auto replayed = dump(*replay, {});
  ASSERT_EQ(replayed.size(), live.size());
  EXPECT_TRUE(find(replayed, port, 0).has_value());
  for (std::size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(replayed[i].local, live[i].local);
    EXPECT_EQ(replayed[i].cookie, live[i].cookie);
  }
  std::filesystem::remove_all(dir);
}

TEST(SockDiagLive, AbandonedDumpDoesNotBreakTheNextOne) {
  auto sock = sys::SockDiagSocket::open(8192);  // small: the dump spans several datagrams
  ASSERT_TRUE(sock.has_value());
  std::vector<UniqueFd> listeners;
  for (int i = 0; i < 200; ++i) listeners.push_back(listen_on_loopback(AF_INET, 1));
  sys::InetDiagRequest req;
  req.states = sys::tcp_state_bit(tcp_state::kListen);
  auto stopped = sock->dump(req, [](std::span<const std::byte>) -> Result<void> {
    return fail("sink", "stop here");
  });
  ASSERT_FALSE(stopped.has_value());
  EXPECT_EQ(stopped.error().op, "sink");
  const auto recs = dump(*sock, req);
  EXPECT_GE(recs.size(), 200u);
  for (const auto& l : listeners) EXPECT_TRUE(find(recs, local_port(l.get()), 0).has_value());
}

// The overlapped dump (a reader thread receives while this one parses; inspect's large dump):
// the same sockets as the serial one, through more datagrams than it has slots, also when the
// sink stops early and when recording. Under ThreadSanitizer (make test-tsan) this is the
// in-process check of its hand-over between the two threads.
TEST(SockDiagLive, OverlappedDumpGivesWhatTheSerialOneGives) {
  auto sock = sys::SockDiagSocket::open(4096);  // small: many more datagrams than the 8 slots
  ASSERT_TRUE(sock.has_value());
  std::vector<UniqueFd> listeners;
  for (int i = 0; i < 300; ++i) listeners.push_back(listen_on_loopback(AF_INET, 1));
  sys::InetDiagRequest req;
  req.states = sys::tcp_state_bit(tcp_state::kListen);
  req.tcp_info = true;  // bigger messages, more datagrams
  auto ports = [](const std::vector<SocketRecord>& recs) {
    std::set<std::uint16_t> out;
    for (const auto& r : recs) out.insert(r.local.port);
    return out;
  };
  const auto serial = ports(dump(*sock, req));
  req.overlap = true;
  std::vector<SocketRecord> overlapped;
  auto stats = sock->dump(req, [&](std::span<const std::byte> m) -> Result<void> {
    auto rec = parse_sock_diag_message(m, req.protocol);
    if (!rec) return std::unexpected(rec.error());
    overlapped.push_back(*rec);
    return {};
  });
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_GT(stats->datagrams, 16u);
  EXPECT_EQ(stats->messages, overlapped.size());
  for (const auto& l : listeners) {
    const auto port = local_port(l.get());
    EXPECT_TRUE(serial.contains(port)) << port;
    EXPECT_TRUE(ports(overlapped).contains(port)) << port;
  }

  // A sink that stops at the fifth socket: its error, and the reader drains the rest of the
  // dump, so the next overlapped dump on the same socket is whole.
  int seen = 0;
  auto stopped = sock->dump(req, [&](std::span<const std::byte>) -> Result<void> {
    if (++seen == 5) return fail("sink", "stop here");
    return {};
  });
  ASSERT_FALSE(stopped.has_value());
  EXPECT_EQ(stopped.error().op, "sink");
  EXPECT_EQ(seen, 5);
  const auto again = ports(dump(*sock, req));
  for (const auto& l : listeners) EXPECT_TRUE(again.contains(local_port(l.get())));

  // Recorded (on this thread, in the order received): the replay gives the same sockets.
  char tmpl[] = "/tmp/connscope-overlap-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const auto path = dir + "/overlapped.nldump";
  std::vector<SocketRecord> live;
  {
    auto rec = sys::DumpRecorder::create(path);
    ASSERT_TRUE(rec.has_value()) << rec.error().message();
    sock->set_recorder(&*rec);
    live = dump(*sock, req);
    sock->set_recorder(nullptr);
  }
  auto replay = sys::DumpReplay::open(path);
  ASSERT_TRUE(replay.has_value()) << replay.error().message();
  const auto replayed = dump(*replay, {});
  ASSERT_EQ(replayed.size(), live.size());
  for (std::size_t i = 0; i < live.size(); ++i) EXPECT_EQ(replayed[i].cookie, live[i].cookie) << i;
  std::filesystem::remove_all(dir);
}

TEST(SockDiagLive, InvalidBytecodeIsAnErrorNamingTheDump) {
  auto sock = sys::SockDiagSocket::open();
  ASSERT_TRUE(sock.has_value());
  sys::InetDiagRequest req;
  req.family = AF_INET6;
  req.bytecode = std::vector<std::byte>(4, std::byte{0xFF});  // an op jumping nowhere
  auto r = sock->dump(req, [](std::span<const std::byte>) -> Result<void> { return {}; });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().op, "sock_diag dump tcp6");
  EXPECT_EQ(r.error().code, EINVAL);
  // The socket still works.
  req.bytecode.clear();
  EXPECT_TRUE(sock->dump(req, [](std::span<const std::byte>) -> Result<void> { return {}; }));
}

TEST(SockDiagLive, UdpDump) {
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  const socklen_t len = Endpoint{AF_INET, "127.0.0.1", 0}.to_sockaddr(ss);
  ASSERT_EQ(::bind(udp.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  auto sock = sys::SockDiagSocket::open();
  ASSERT_TRUE(sock.has_value());
  sys::InetDiagRequest req;
  req.protocol = IPPROTO_UDP;
  const auto rec = find(dump(*sock, req), local_port(udp.get()), 0);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->protocol, IPPROTO_UDP);
  EXPECT_EQ(rec->inode, inode_of(udp.get()));
}

}  // namespace
}  // namespace connscope::inspect
