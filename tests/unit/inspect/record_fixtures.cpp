// Records the sock_diag fixtures in tests/fixtures/sock_diag/ (run by hand, as root; not a test):
//   build-diag/tests/unit/inspect/sock_diag_record_fixtures tests/fixtures/sock_diag
// It moves itself into a fresh network namespace, so the dumps hold exactly the sockets made
// here, on fixed ports, and the tests can assert every field. See README in the fixture folder.

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sys/netlink.h"
#include "sys/unique_fd.h"

namespace {

using connscope::sys::UniqueFd;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "record_fixtures: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

sockaddr_storage addr(int family, const char* host, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    inet_pton(AF_INET, host, &sin->sin_addr);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, host, &sin6->sin6_addr);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

UniqueFd tcp_socket(int family, const char* host, uint16_t port) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) die("socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = 0;
  auto ss = addr(family, host, port, len);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) die("bind " + std::to_string(port));
  return fd;
}

UniqueFd listener(int family, const char* host, uint16_t port, int backlog) {
  auto fd = tcp_socket(family, host, port);
  if (::listen(fd.get(), backlog) < 0) die("listen");
  return fd;
}

UniqueFd client(int family, const char* host, uint16_t local_port, uint16_t server_port,
                bool nonblocking = false) {
  auto fd = tcp_socket(family, host, local_port);
  if (nonblocking) fcntl(fd.get(), F_SETFL, O_NONBLOCK);
  socklen_t len = 0;
  auto ss = addr(family, host, server_port, len);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
    die("connect " + std::to_string(server_port));
  }
  return fd;
}

UniqueFd accept_one(const UniqueFd& l) {
  UniqueFd fd(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) die("accept");
  return fd;
}

void lo_up() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd.get(), SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(fd.get(), SIOCSIFFLAGS, &ifr) < 0) die("SIOCSIFFLAGS");
}

void record(const std::string& path, connscope::sys::InetDiagRequest req) {
  auto sock = connscope::sys::SockDiagSocket::open();
  if (!sock) die(sock.error().message());
  auto rec = connscope::sys::DumpRecorder::create(path);
  if (!rec) die(rec.error().message());
  sock->set_recorder(&*rec);
  auto stats = sock->dump(req, [](std::span<const std::byte>) -> connscope::Result<void> { return {}; });
  if (!stats) die(stats.error().message());
  std::printf("%s: %zu messages in %zu datagrams\n", path.c_str(), stats->messages,
              stats->datagrams);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  if (unshare(CLONE_NEWNET) < 0) die("unshare(CLONE_NEWNET) (needs root)");
  lo_up();
  // Request socket: the server never sees the client's ACK, so its half-open connection stays
  // a request socket (SYN_RECV) while the client believes it is ESTABLISHED.
  if (std::system("nft -f - <<'NFT'\n"
                  "table inet fixture {\n"
                  "  chain in { type filter hook input priority 0; policy accept;\n"
                  "    tcp dport 8084 tcp flags & (syn | ack) == ack drop\n"
                  "  }\n"
                  "}\n"
                  "NFT\n") != 0) {
    die("nft");
  }

  using namespace std::chrono_literals;
  std::vector<UniqueFd> keep;

  // A full accept queue: backlog 2, three connections never accepted (rq 3 > wq 2).
  keep.push_back(listener(AF_INET, "127.0.0.1", 8080, 2));
  for (uint16_t p = 40001; p <= 40003; ++p) keep.push_back(client(AF_INET, "127.0.0.1", p, 8080));

  // An ESTABLISHED pair; the client socket belongs to uid 65534 and has sent 100 bytes the
  // server has not read.
  auto l81 = listener(AF_INET, "127.0.0.1", 8081, 16);
  if (seteuid(65534) < 0) die("seteuid");
  auto c81 = client(AF_INET, "127.0.0.1", 40010, 8081);
  if (seteuid(0) < 0) die("seteuid back");
  auto s81 = accept_one(l81);
  const std::string hundred(100, 'x');
  if (::send(c81.get(), hundred.data(), hundred.size(), 0) != 100) die("send");

  // CLOSE_WAIT on the server; the client closed its fd, leaving an orphan in FIN_WAIT2.
  auto l82 = listener(AF_INET, "127.0.0.1", 8082, 16);
  auto c82 = client(AF_INET, "127.0.0.1", 40020, 8082);
  auto s82 = accept_one(l82);
  c82.reset();

  // TIME_WAIT on the client, which closes first.
  auto l83 = listener(AF_INET, "127.0.0.1", 8083, 16);
  auto c83 = client(AF_INET, "127.0.0.1", 40030, 8083);
  auto s83 = accept_one(l83);
  c83.reset();
  std::this_thread::sleep_for(50ms);
  s83.reset();

  // The request socket (see the nft rule above).
  auto l84 = listener(AF_INET, "127.0.0.1", 8084, 16);
  auto c84 = client(AF_INET, "127.0.0.1", 40050, 8084, true);

  // IPv6: a listener and an ESTABLISHED pair.
  auto l90 = listener(AF_INET6, "::1", 8090, 16);
  auto c90 = client(AF_INET6, "::1", 40040, 8090);
  auto s90 = accept_one(l90);

  // UDP: one bound socket.
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  {
    socklen_t len = 0;
    auto ss = addr(AF_INET, "127.0.0.1", 5353, len);
    if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) die("bind udp");
  }

  std::this_thread::sleep_for(200ms);

  connscope::sys::InetDiagRequest req;
  req.tcp_info = true;
  record(out + "/tcp4_all_info.nldump", req);
  req.family = AF_INET6;
  record(out + "/tcp6_all_info.nldump", req);
  connscope::sys::InetDiagRequest listen_only;
  listen_only.states = connscope::sys::tcp_state_bit(10);
  record(out + "/tcp4_listen.nldump", listen_only);
  connscope::sys::InetDiagRequest udp_req;
  udp_req.protocol = IPPROTO_UDP;
  record(out + "/udp4.nldump", udp_req);
  return 0;
}
