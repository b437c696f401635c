// Self-tests of the lab: each one asserts that a topology property or fault has its effect.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int domain(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }
int ip_level(Family f) { return f == Family::v4 ? SOL_IP : SOL_IPV6; }

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&ss); }
};

SockAddr sockaddr_of(Family f, const std::string& ip, std::uint16_t port) {
  SockAddr a;
  if (f == Family::v4) {
    auto* s = reinterpret_cast<sockaddr_in*>(&a.ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &s->sin_addr), 1) << ip;
    a.len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a.ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &s->sin6_addr), 1) << ip;
    a.len = sizeof(sockaddr_in6);
  }
  return a;
}

std::string ip_of(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::uint16_t local_port(int fd) {
  SockAddr a;
  a.len = sizeof a.ss;
  getsockname(fd, a.get(), &a.len);
  return ntohs(a.ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&a.ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_port);
}

bool wait_fd(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

struct Bound {
  UniqueFd fd;
  std::uint16_t port = 0;
};

// Call inside in_ns: a socket bound to ip, port 0.
Bound bind_socket(Family f, int type, const std::string& ip) {
  UniqueFd fd(socket(domain(f), type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  auto a = sockaddr_of(f, ip, 0);
  EXPECT_EQ(bind(fd.get(), a.get(), a.len), 0) << strerror(errno);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(listen(fd.get(), 16), 0);
  }
  std::uint16_t port = local_port(fd.get());
  return {std::move(fd), port};
}

struct Connect {
  UniqueFd fd;
  bool answered = false;  // false: nothing came back before the deadline
  int error = 0;          // SO_ERROR once answered
};

// Call inside in_ns: a nonblocking connect with IP_RECVERR, so ICMP errors are queued too.
Connect connect_tcp(Family f, const std::string& ip, std::uint16_t port,
                    std::chrono::milliseconds timeout) {
  Connect c;
  c.fd = UniqueFd(socket(domain(f), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int one = 1;
  setsockopt(c.fd.get(), ip_level(f), f == Family::v4 ? IP_RECVERR : IPV6_RECVERR, &one,
             sizeof one);
  auto a = sockaddr_of(f, ip, port);
  if (connect(c.fd.get(), a.get(), a.len) == 0) {
    c.answered = true;
    return c;
  }
  if (errno != EINPROGRESS) {
    c.answered = true;
    c.error = errno;
    return c;
  }
  if (!wait_fd(c.fd.get(), POLLOUT, timeout)) return c;
  c.answered = true;
  socklen_t len = sizeof c.error;
  getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &c.error, &len);
  return c;
}

struct QueuedError {
  int error = 0;
  int origin = 0;
  int type = 0;
  int code = 0;
  std::uint32_t info = 0;
  std::string offender;
};

// One recvmsg with room for a datagram and its control messages (walk them with CMSG_*).
struct ControlMessage {
  char data[2048];
  char control[512];
  iovec iov{};
  msghdr msg{};
  bool receive(int fd, int flags) {
    iov = {data, sizeof data};
    msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    return recvmsg(fd, &msg, flags) >= 0;
  }
};

std::optional<QueuedError> read_errqueue(int fd) {
  ControlMessage m;
  if (!m.receive(fd, MSG_ERRQUEUE | MSG_DONTWAIT)) return std::nullopt;
  msghdr& msg = m.msg;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
        (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
      const auto* ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
      return QueuedError{
          static_cast<int>(ee->ee_errno), ee->ee_origin, ee->ee_type, ee->ee_code, ee->ee_info,
          ip_of(SO_EE_OFFENDER(ee))};
    }
  }
  return std::nullopt;
}

// Call inside in_ns: the TTL / hop limit a datagram arrived with, or -1.
int received_ttl(Family f, int fd, std::chrono::milliseconds timeout) {
  if (!wait_fd(fd, POLLIN, timeout)) return -1;
  ControlMessage m;
  if (!m.receive(fd, 0)) return -1;
  msghdr& msg = m.msg;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == ip_level(f) &&
        c->cmsg_type == (f == Family::v4 ? IP_TTL : IPV6_HOPLIMIT)) {
      int ttl = 0;
      std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      return ttl;
    }
  }
  return -1;
}

// Sends one datagram client → server and returns the TTL it arrived with.
int hops_ttl(Lab& lab, Family f) {
  std::string server = lab.addr(Node::server, f);
  Bound rx = lab.in_ns(Node::server, [&] {
    Bound b = bind_socket(f, SOCK_DGRAM, server);
    int one = 1;
    setsockopt(b.fd.get(), ip_level(f), f == Family::v4 ? IP_RECVTTL : IPV6_RECVHOPLIMIT, &one,
               sizeof one);
    return b;
  });
  lab.in_ns(Node::client, [&] {
    UniqueFd tx(socket(domain(f), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    auto a = sockaddr_of(f, server, rx.port);
    EXPECT_EQ(sendto(tx.get(), "x", 1, 0, a.get(), a.len), 1) << strerror(errno);
  });
  return received_ttl(f, rx.fd.get(), 1s);
}

std::vector<std::string> netns_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator("/run/netns")) names.push_back(e.path().filename());
  return names;
}

bool has_namespace_with_prefix(const std::string& prefix) {
  for (const auto& n : netns_names()) {
    if (n.starts_with(prefix + "-")) return true;
  }
  return false;
}

std::string param_name(Family f) { return std::string(to_string(f)); }

// --- topology --------------------------------------------------------------------------------

class LabPath : public LabTest, public ::testing::WithParamInterface<Family> {};

TEST_P(LabPath, ClientConnectsToServerThroughR1AndR2) {
  const Family f = GetParam();
  const std::string server = lab().addr(Node::server, f);
  Bound listener = lab().in_ns(Node::server, [&] { return bind_socket(f, SOCK_STREAM, server); });
  Connect c = lab().in_ns(Node::client, [&] { return connect_tcp(f, server, listener.port, 1s); });
  ASSERT_TRUE(c.answered);
  ASSERT_EQ(c.error, 0) << strerror(c.error);

  ASSERT_TRUE(wait_fd(listener.fd.get(), POLLIN, 1s));
  SockAddr peer;
  peer.len = sizeof peer.ss;
  UniqueFd accepted(accept4(listener.fd.get(), peer.get(), &peer.len, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  EXPECT_EQ(ip_of(peer.get()), lab().addr(Node::client, f));

  CmdResult route = lab().exec(Node::client, {"ip", "route", "get", server});
  ASSERT_TRUE(route.ok()) << route.err;
  EXPECT_NE(route.out.find("via " + lab().addr(Node::r1, f)), std::string::npos) << route.out;
  // Two routers forwarded it: the default TTL / hop limit of 64, less 2.
  EXPECT_EQ(hops_ttl(lab(), f), 62);
}

TEST_P(LabPath, DnsServerReachableFromClientAndServer) {
  const Family f = GetParam();
  for (Node from : {Node::client, Node::server}) {
    CmdResult ping = lab().exec(from, {"ping", "-c1", "-W1", lab().addr(Node::dns, f)});
    EXPECT_TRUE(ping.ok()) << to_string(from) << ": " << ping.out << ping.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, LabPath, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return param_name(p.param); });

// --- lifecycle -------------------------------------------------------------------------------

class LabLifecycle : public ::testing::Test {
 protected:
  void SetUp() override { CONNSCOPE_LAB_OR_SKIP(); }
};

TEST_F(LabLifecycle, BuildsFastTouchesNoRootNamespaceAndLeavesNothing) {
  const CmdResult root_before = run({"ip", "-o", "link", "show"});
  ASSERT_TRUE(root_before.ok());
  std::string prefix;
  fs::path dir;
  {
    auto lab = Lab::create("lifecycle");
    prefix = lab->prefix();
    dir = lab->dir();
    EXPECT_LT(lab->build_time(), std::chrono::milliseconds(5000));
    RecordProperty("build_ms", static_cast<int>(lab->build_time().count()));
    std::cout << "lab built (v4 + v6) in " << lab->build_time().count() << " ms\n";
    EXPECT_TRUE(prefix.starts_with("csl" + std::to_string(getpid()) + "x")) << prefix;
    for (Node n : {Node::client, Node::r1, Node::r2, Node::server, Node::dns}) {
      EXPECT_TRUE(fs::exists("/run/netns/" + lab->ns(n))) << lab->ns(n);
    }
    EXPECT_EQ(run({"ip", "-o", "link", "show"}).out, root_before.out);
    EXPECT_EQ(run({"ip", "route", "show", "198.18.0.0/15"}).out, "");
    EXPECT_EQ(run({"ip", "-6", "route", "show", "2001:db8::/32"}).out, "");
    EXPECT_TRUE(fs::is_directory(dir));
  }
  EXPECT_FALSE(has_namespace_with_prefix(prefix));
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(LabLifecycle, TeardownAfterAFailureKillsItsProcesses) {
  std::string prefix;
  Process sleeper;
  try {
    auto lab = Lab::create("teardown");
    prefix = lab->prefix();
    sleeper = lab->spawn(Node::server, {"sleep", "30"});
    ASSERT_TRUE(sleeper.running());
    throw std::runtime_error("a failing test");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(has_namespace_with_prefix(prefix));
  EXPECT_EQ(sleeper.wait(2s), std::optional<int>(128 + SIGKILL));
}

TEST_F(LabLifecycle, TwoLabsAtOnceAreIndependent) {
  auto a = Lab::create("parallel-a");
  auto b = Lab::create("parallel-b");
  EXPECT_NE(a->prefix(), b->prefix());
  a->nft(Node::r1,
         "add table inet t\n"
         "add chain inet t f { type filter hook forward priority 0; }\n"
         "add rule inet t f meta nfproto ipv4 drop");
  EXPECT_FALSE(a->exec(Node::client, {"ping", "-c1", "-W1", a->server_v4()}).ok());
  EXPECT_TRUE(b->exec(Node::client, {"ping", "-c1", "-W1", b->server_v4()}).ok());
  EXPECT_TRUE(a->exec(Node::client, {"ping", "-c1", "-W1", a->server_v6()}).ok());
}

TEST_F(LabLifecycle, RemovesStaleNamespacesOfDeadCreatorsOnly) {
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  const std::string stale = "csl" + std::to_string(dead) + "x999999";
  const std::string alive = "csl" + std::to_string(getppid()) + "x999999";  // our parent lives
  ASSERT_TRUE(run({"ip", "netns", "add", stale + "-client"}).ok());
  ASSERT_TRUE(run({"ip", "netns", "add", alive + "-client"}).ok());

  auto lab = Lab::create("stale");
  EXPECT_FALSE(has_namespace_with_prefix(stale));
  EXPECT_TRUE(has_namespace_with_prefix(alive));
  run({"ip", "netns", "del", alive + "-client"});
  run({"ip", "netns", "del", stale + "-client"});
}

// --- exec, spawn -----------------------------------------------------------------------------

using LabExec = LabTest;

TEST_F(LabExec, CapturesOutputAndStatusWithoutAShell) {
  CmdResult r = lab().exec(Node::client, {"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  r = lab().exec(Node::client, {"echo", "$(id); rm -rf x"});
  EXPECT_EQ(r.out, "$(id); rm -rf x\n");
  r = lab().exec(Node::client, {"ip", "-o", "addr", "show", "dev", "eth0"});
  EXPECT_NE(r.out.find(lab().client_v4()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(lab().client_v6()), std::string::npos) << r.out;
}

TEST_F(LabExec, TimeoutKillsTheCommand) {
  auto start = Clock::now();
  CmdResult r = lab().exec(Node::client, {"sleep", "10"}, 200ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(LabExec, SpawnCapturesOutputWaitsForListenAndStops) {
  Process echo =
      lab().spawn(Node::server, {"sh", "-c", "echo hello; echo oops >&2; exec sleep 30"});
  Process nc = lab().spawn(Node::server, {"nc", "-l", "-k", lab().server_v4(), "7001"});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 7001, 2s)) << nc.err();
  EXPECT_FALSE(lab().wait_for_tcp_listen(Node::client, 7001, 100ms));
  EXPECT_TRUE(echo.running());
  EXPECT_EQ(echo.stop(), 128 + SIGTERM);
  EXPECT_FALSE(echo.running());
  EXPECT_EQ(echo.out(), "hello\n");
  EXPECT_EQ(echo.err(), "oops\n");
  EXPECT_EQ(nc.stop(), 128 + SIGTERM);
}

TEST_F(LabExec, InNsRunsInTheNamespaceAndPropagatesExceptions) {
  auto read_addrs = [] {
    std::ifstream in("/proc/thread-self/net/if_inet6");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_NE(lab().in_ns(Node::dns, read_addrs).find("20010db8000400000000000000000002"),
            std::string::npos);
  EXPECT_THROW(lab().in_ns(Node::client, [] { throw std::logic_error("x"); }), std::logic_error);
}

// --- reject and drop -------------------------------------------------------------------------

struct RejectCase {
  Family family;
  RejectKind kind;
  Node where;
  int expected_errno;
  int icmp_type;  // -1: no ICMP (a TCP reset)
  int icmp_code;
};

class LabReject : public LabTest, public ::testing::WithParamInterface<RejectCase> {};

TEST_P(LabReject, ConnectFailsWithTheExpectedErrorAndIcmp) {
  const RejectCase& rc = GetParam();
  const Family f = rc.family;
  const std::string server = lab().addr(Node::server, f);
  Bound listener = lab().in_ns(Node::server, [&] { return bind_socket(f, SOCK_STREAM, server); });
  Connect before =
      lab().in_ns(Node::client, [&] { return connect_tcp(f, server, listener.port, 1s); });
  ASSERT_TRUE(before.answered && before.error == 0) << "reachable before the fault";

  lab().reject(rc.where, f, listener.port, rc.kind);
  Connect c = lab().in_ns(Node::client, [&] { return connect_tcp(f, server, listener.port, 1s); });
  ASSERT_TRUE(c.answered);
  EXPECT_EQ(c.error, rc.expected_errno) << strerror(c.error);

  auto queued = read_errqueue(c.fd.get());
  if (rc.icmp_type < 0) {
    EXPECT_FALSE(queued.has_value());
    return;
  }
  ASSERT_TRUE(queued.has_value()) << "no ICMP error in the socket's error queue";
  EXPECT_EQ(queued->origin, f == Family::v4 ? SO_EE_ORIGIN_ICMP : SO_EE_ORIGIN_ICMP6);
  EXPECT_EQ(queued->type, rc.icmp_type);
  EXPECT_EQ(queued->code, rc.icmp_code);
  EXPECT_EQ(queued->error, rc.expected_errno);
  EXPECT_EQ(queued->offender, lab().addr(rc.where, f));
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, LabReject,
    ::testing::Values(
        RejectCase{Family::v4, RejectKind::tcp_reset, Node::server, ECONNREFUSED, -1, 0},
        RejectCase{Family::v4, RejectKind::tcp_reset, Node::r2, ECONNREFUSED, -1, 0},
        RejectCase{Family::v4, RejectKind::port_unreachable, Node::server, ECONNREFUSED, 3, 3},
        RejectCase{Family::v4, RejectKind::port_unreachable, Node::r2, ECONNREFUSED, 3, 3},
        RejectCase{Family::v4, RejectKind::host_unreachable, Node::r2, EHOSTUNREACH, 3, 1},
        RejectCase{Family::v4, RejectKind::admin_prohibited, Node::r2, EHOSTUNREACH, 3, 13},
        RejectCase{Family::v4, RejectKind::net_unreachable, Node::r1, ENETUNREACH, 3, 0},
        RejectCase{Family::v6, RejectKind::tcp_reset, Node::server, ECONNREFUSED, -1, 0},
        RejectCase{Family::v6, RejectKind::port_unreachable, Node::server, ECONNREFUSED, 1, 4},
        RejectCase{Family::v6, RejectKind::port_unreachable, Node::r2, ECONNREFUSED, 1, 4},
        RejectCase{Family::v6, RejectKind::addr_unreachable, Node::r2, EHOSTUNREACH, 1, 3},
        RejectCase{Family::v6, RejectKind::host_unreachable, Node::server, EHOSTUNREACH, 1, 3},
        RejectCase{Family::v6, RejectKind::admin_prohibited, Node::r2, EACCES, 1, 1},
        RejectCase{Family::v6, RejectKind::net_unreachable, Node::r1, ENETUNREACH, 1, 0}),
    [](const auto& p) {
      std::string name = std::string(to_string(p.param.family)) + "_" +
                         std::string(to_string(p.param.kind)) + "_at_" +
                         std::string(to_string(p.param.where));
      for (char& ch : name) ch = ch == '-' ? '_' : ch;
      return name;
    });

struct DropCase {
  Family family;
  Node where;
};

class LabDrop : public LabTest, public ::testing::WithParamInterface<DropCase> {};

TEST_P(LabDrop, ConnectGetsNoAnswer) {
  const Family f = GetParam().family;
  const std::string server = lab().addr(Node::server, f);
  Bound listener = lab().in_ns(Node::server, [&] { return bind_socket(f, SOCK_STREAM, server); });
  lab().drop(GetParam().where, f, listener.port);
  auto start = Clock::now();
  Connect c = lab().in_ns(Node::client, [&] { return connect_tcp(f, server, listener.port, 1s); });
  EXPECT_FALSE(c.answered) << "answered with " << strerror(c.error);
  EXPECT_GE(Clock::now() - start, 1s);
  EXPECT_FALSE(read_errqueue(c.fd.get()).has_value());
  // Only that port: another one still answers (refused by the server's kernel).
  Connect other = lab().in_ns(Node::client, [&] {
    return connect_tcp(f, server, static_cast<std::uint16_t>(listener.port ^ 1), 1s);
  });
  EXPECT_TRUE(other.answered);
  EXPECT_EQ(other.error, ECONNREFUSED);
}

INSTANTIATE_TEST_SUITE_P(Where, LabDrop,
                         ::testing::Values(DropCase{Family::v4, Node::r2},
                                           DropCase{Family::v6, Node::r1},
                                           DropCase{Family::v4, Node::server},
                                           DropCase{Family::v6, Node::server}),
                         [](const auto& p) {
                           return std::string(to_string(p.param.family)) + "_at_" +
                                  std::string(to_string(p.param.where));
                         });

// --- loss, rate ------------------------------------------------------------------------------

// A TCP connection client → server with a reader thread that drains the server side.
class Stream {
 public:
  Stream(Lab& lab, Family f) {
    const std::string server = lab.addr(Node::server, f);
    listener_ = lab.in_ns(Node::server, [&] { return bind_socket(f, SOCK_STREAM, server); });
    Connect c = lab.in_ns(Node::client, [&] { return connect_tcp(f, server, listener_.port, 3s); });
    EXPECT_TRUE(c.answered && c.error == 0) << "connect: " << strerror(c.error);
    client_ = std::move(c.fd);
    reader_ = std::jthread([this](std::stop_token stop) { drain(stop); });
  }

  // Sends bytes, then waits until the server has them all; false at the deadline.
  bool send(std::size_t bytes, Clock::time_point deadline) {
    const std::string chunk(16384, 'x');
    const std::size_t target = received_ + bytes;
    while (bytes > 0 && Clock::now() < deadline) {
      if (!wait_fd(client_.get(), POLLOUT, 50ms)) continue;
      ssize_t n = ::send(client_.get(), chunk.data(), std::min(bytes, chunk.size()), MSG_NOSIGNAL);
      if (n > 0) bytes -= static_cast<std::size_t>(n);
    }
    while (received_ < target && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return received_ >= target;
  }

  std::uint32_t retransmits() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    getsockopt(client_.get(), IPPROTO_TCP, TCP_INFO, &info, &len);
    return info.tcpi_total_retrans;
  }

 private:
  void drain(const std::stop_token& stop) {
    UniqueFd conn;
    char buf[65536];
    while (!stop.stop_requested()) {
      if (!conn) {
        if (wait_fd(listener_.fd.get(), POLLIN, 50ms))
          conn = UniqueFd(accept4(listener_.fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        continue;
      }
      if (!wait_fd(conn.get(), POLLIN, 50ms)) continue;
      ssize_t n = recv(conn.get(), buf, sizeof buf, 0);
      if (n > 0) received_ += static_cast<std::size_t>(n);
      if (n == 0) return;
    }
  }

  Bound listener_;
  UniqueFd client_;
  std::atomic<std::size_t> received_{0};
  std::jthread reader_;  // last: joined before the sockets close
};

using LabImpair = LabTest;

TEST_F(LabImpair, NftLossCausesRetransmissions) {
  Stream s(lab(), Family::v4);
  ASSERT_TRUE(s.send(64 * 1024, Clock::now() + 2s));
  // A baseline, not zero: a loaded machine can delay an ACK into a tail-loss probe.
  const std::uint32_t before = s.retransmits();
  lab().loss(Node::r1, lab().iface(Node::r1, Node::r2), 50);
  auto deadline = Clock::now() + 4s;
  while (s.retransmits() == before && Clock::now() < deadline) {
    s.send(16 * 1024, Clock::now() + 200ms);
  }
  EXPECT_GT(s.retransmits(), before);
}

TEST_F(LabImpair, NetemLossCausesRetransmissions) {
  // Without sch_netem, lab.sh emulates "loss N%" with nft: the effect is the same.
  Stream s(lab(), Family::v6);
  ASSERT_TRUE(s.send(64 * 1024, Clock::now() + 2s));
  const std::uint32_t before = s.retransmits();
  lab().netem(Node::client, lab().iface(Node::client, Node::r1), "loss 50%");
  auto deadline = Clock::now() + 4s;
  while (s.retransmits() == before && Clock::now() < deadline) {
    s.send(16 * 1024, Clock::now() + 200ms);
  }
  EXPECT_GT(s.retransmits(), before);
  lab().netem_clear(Node::client, lab().iface(Node::client, Node::r1));
  EXPECT_TRUE(s.send(64 * 1024, Clock::now() + 3s)) << "the stream recovers once loss is cleared";
}

// Delay needs sch_netem, which some kernels (this project's CI machines among them) are built
// without; there the primitive must refuse clearly rather than silently do nothing.
TEST_F(LabImpair, NetemDelayAddsLatencyOrRefusesClearly) {
  const auto iface = lab().iface(Node::r2, Node::server);
  if (!lab().has_netem()) {
    try {
      lab().netem(Node::r2, iface, "delay 100ms");
      FAIL() << "netem delay without sch_netem must throw";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("no sch_netem in this kernel"), std::string::npos)
          << e.what();
    }
    return;
  }
  lab().netem(Node::r2, iface, "delay 100ms");
  auto start = Clock::now();
  EXPECT_TRUE(lab().exec(Node::client, {"ping", "-c1", "-W2", lab().server_v4()}).ok());
  EXPECT_GE(Clock::now() - start, 100ms);
}

TEST_F(LabImpair, RateLimitSlowsATransfer) {
  Stream s(lab(), Family::v4);
  lab().rate(Node::r2, lab().iface(Node::r2, Node::server), "8mbit");
  auto start = Clock::now();
  ASSERT_TRUE(s.send(512 * 1024, Clock::now() + 5s));
  // 512 KiB at 8 Mbit/s takes about 0.5 s; unlimited, a few milliseconds.
  EXPECT_GE(Clock::now() - start, 300ms);
}

// --- MTU -------------------------------------------------------------------------------------

struct PmtuProbe {
  std::optional<QueuedError> error;
  int path_mtu = 0;
  int second_send_errno = 0;
};

// Call inside in_ns(client): a DF datagram of `size` bytes to the server, then what came back.
PmtuProbe probe_pmtu(Family f, const std::string& server, int size,
                     std::chrono::milliseconds wait) {
  PmtuProbe p;
  UniqueFd fd(socket(domain(f), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int one = 1;
  int df = f == Family::v4 ? IP_PMTUDISC_DO : IPV6_PMTUDISC_DO;
  setsockopt(fd.get(), ip_level(f), f == Family::v4 ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER, &df,
             sizeof df);
  setsockopt(fd.get(), ip_level(f), f == Family::v4 ? IP_RECVERR : IPV6_RECVERR, &one, sizeof one);
  auto a = sockaddr_of(f, server, 9);
  EXPECT_EQ(connect(fd.get(), a.get(), a.len), 0);
  std::string payload(static_cast<std::size_t>(size), 'p');
  EXPECT_EQ(send(fd.get(), payload.data(), payload.size(), 0), size) << strerror(errno);
  if (wait_fd(fd.get(), POLLERR, wait)) p.error = read_errqueue(fd.get());
  socklen_t len = sizeof p.path_mtu;
  getsockopt(fd.get(), ip_level(f), f == Family::v4 ? IP_MTU : IPV6_MTU, &p.path_mtu, &len);
  if (send(fd.get(), payload.data(), payload.size(), 0) < 0) p.second_send_errno = errno;
  return p;
}

class LabMtu : public LabTest, public ::testing::WithParamInterface<Family> {};

TEST_P(LabMtu, SenderLearnsThePathMtuFromTheRouter) {
  const Family f = GetParam();
  const std::string server = lab().addr(Node::server, f);
  lab().set_link_mtu(Node::r2, Node::server, 1280);
  PmtuProbe p = lab().in_ns(Node::client, [&] { return probe_pmtu(f, server, 1400, 1s); });
  ASSERT_TRUE(p.error.has_value()) << "no frag-needed / packet-too-big";
  EXPECT_EQ(p.error->error, EMSGSIZE);
  EXPECT_EQ(p.error->info, 1280u);
  EXPECT_EQ(p.error->offender, lab().addr(Node::r2, f));
  EXPECT_EQ(p.path_mtu, 1280);
  EXPECT_EQ(p.second_send_errno, EMSGSIZE);
  // A DF ping of 1400 bytes cannot pass either; ping reports the MTU it was told.
  std::vector<std::string> ping{
      "ping", f == Family::v4 ? "-4" : "-6", "-M", "do", "-s", "1400", "-c1", "-W1", server};
  CmdResult r = lab().exec(Node::client, ping);
  EXPECT_FALSE(r.ok());
  EXPECT_NE((r.out + r.err).find("1280"), std::string::npos) << r.out << r.err;
}

TEST_P(LabMtu, DroppedFragNeededLeavesABlackHole) {
  const Family f = GetParam();
  const std::string server = lab().addr(Node::server, f);
  lab().set_link_mtu(Node::r2, Node::server, 1280);
  lab().drop_frag_needed(Node::r2);
  PmtuProbe p = lab().in_ns(Node::client, [&] { return probe_pmtu(f, server, 1400, 500ms); });
  EXPECT_FALSE(p.error.has_value()) << "error from " << p.error->offender;
  EXPECT_EQ(p.path_mtu, 1500);
  EXPECT_EQ(p.second_send_errno, 0);
  // Small packets still pass: a black hole only for big ones.
  EXPECT_TRUE(lab().exec(Node::client, {"ping", "-c1", "-W1", "-s", "1000", server}).ok());
}

INSTANTIATE_TEST_SUITE_P(Families, LabMtu, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return param_name(p.param); });

// --- sysctl ----------------------------------------------------------------------------------

using LabSysctl = LabTest;

TEST_F(LabSysctl, AppliesOnlyInItsNamespace) {
  auto read_root = [] {
    std::ifstream in("/proc/sys/net/ipv4/ip_default_ttl");
    std::string v;
    in >> v;
    return v;
  };
  const std::string root_before = read_root();
  ASSERT_EQ(lab().sysctl(Node::client, "net.ipv4.ip_default_ttl"), "64");
  lab().sysctl(Node::client, "net.ipv4.ip_default_ttl", "33");
  EXPECT_EQ(lab().sysctl(Node::client, "net.ipv4.ip_default_ttl"), "33");
  EXPECT_EQ(lab().sysctl(Node::server, "net.ipv4.ip_default_ttl"), "64");
  EXPECT_EQ(read_root(), root_before);
  EXPECT_EQ(hops_ttl(lab(), Family::v4), 31) << "33 from the client, less two routers";
  EXPECT_EQ(hops_ttl(lab(), Family::v6), 62) << "v6 hop limit is a different setting";
}

// --- nginx with TLS --------------------------------------------------------------------------

struct TlsCase {
  const char* name;
  CertKey LabCerts::*cert;
  const char* expected;  // in openssl s_client's verify output
};

class LabTls : public LabTest, public ::testing::WithParamInterface<TlsCase> {};

TEST_P(LabTls, NginxServesTheCertificateAndOpensslJudgesIt) {
  const TlsCase& tc = GetParam();
  const LabCerts& certs = lab().certs();
  const CertKey& ck = certs.*(tc.cert);
  Process nginx = lab().start_nginx_tls(ck.cert, ck.key, 443);
  for (Family f : {Family::v4, Family::v6}) {
    std::string host = lab().addr(Node::server, f);
    if (f == Family::v6) host = "[" + host + "]";
    CmdResult r = lab().exec(Node::client,
                             {"openssl", "s_client", "-connect", host + ":443", "-servername",
                              std::string(kServerName), "-CAfile", certs.ca.string(),
                              "-verify_return_error", "-verify_hostname", std::string(kServerName)},
                             5s);
    const std::string all = r.out + r.err;
    EXPECT_NE(all.find(tc.expected), std::string::npos) << to_string(f) << ":\n" << all;
    EXPECT_EQ(r.ok(), std::string(tc.name) == "valid") << all;
  }
  if (std::string(tc.name) == "valid") {
    CmdResult curl = lab().exec(
        Node::client, {"curl", "-sS", "--max-time", "3", "--cacert", certs.ca.string(), "--resolve",
                       std::string(kServerName) + ":443:" + lab().server_v4(),
                       "https://" + std::string(kServerName) + "/"});
    EXPECT_EQ(curl.out, "connscope lab\n") << curl.err;
  }
  EXPECT_TRUE(nginx.running()) << nginx.err();
}

INSTANTIATE_TEST_SUITE_P(
    Certs, LabTls,
    ::testing::Values(TlsCase{"valid", &LabCerts::valid, "Verify return code: 0 (ok)"},
                      TlsCase{"expired", &LabCerts::expired, "certificate has expired"},
                      TlsCase{"not_yet_valid", &LabCerts::not_yet_valid,
                              "certificate is not yet valid"},
                      TlsCase{"wrong_name", &LabCerts::wrong_name, "hostname mismatch"},
                      TlsCase{"self_signed", &LabCerts::self_signed, "self-signed certificate"}),
    [](const auto& p) { return std::string(p.param.name); });

// --- dnsmasq ---------------------------------------------------------------------------------

class LabDns : public LabTest {
 protected:
  CmdResult dig(const std::string& server, const std::string& name, const std::string& type) {
    return lab().exec(Node::client, {"dig", "+time=1", "+tries=1", "@" + server, name, type}, 5s);
  }
};

TEST_F(LabDns, AnswersRecordsOverV4AndV6) {
  DnsServer dns = lab().start_dnsmasq({{"www.connscope.test", "198.18.3.80"}});
  CmdResult r = dig(lab().dns_v4(), "www.connscope.test", "A");
  EXPECT_NE(r.out.find("status: NOERROR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("198.18.3.80"), std::string::npos) << r.out;
  r = dig(lab().dns_v6(), std::string(kServerName), "AAAA");
  EXPECT_NE(r.out.find("status: NOERROR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(lab().server_v6()), std::string::npos) << r.out;
}

TEST_F(LabDns, UnknownNameIsNxdomain) {
  DnsServer dns = lab().start_dnsmasq();
  CmdResult r = dig(lab().dns_v4(), "nope." + std::string(kDnsZone), "A");
  EXPECT_NE(r.out.find("status: NXDOMAIN"), std::string::npos) << r.out;
}

TEST_F(LabDns, ServfailZoneIsServfail) {
  DnsServer dns = lab().start_dnsmasq();
  CmdResult r = dig(lab().dns_v4(), "x." + std::string(kDnsServfailZone), "A");
  EXPECT_NE(r.out.find("status: SERVFAIL"), std::string::npos) << r.out << r.err;
}

TEST_F(LabDns, TimeoutZoneTimesOut) {
  DnsServer dns = lab().start_dnsmasq();
  auto start = Clock::now();
  CmdResult r = dig(lab().dns_v4(), "x." + std::string(kDnsTimeoutZone), "A");
  EXPECT_NE(r.out.find("timed out"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("status:"), std::string::npos) << r.out;
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_TRUE(dns.process().running()) << dns.process().err();
}

}  // namespace
}  // namespace connscope::lab
