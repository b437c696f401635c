// `connscope serve` inside the lab: reached through two routers in both families, its queue
// filling from a remote client, and TCP Fast Open, which needs per-namespace sysctls.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/endpoint.h"
#include "lab/lab.h"
#include "sys/proc_net.h"
#include "sys/unique_fd.h"

namespace connscope::lab {
namespace {

using sys::UniqueFd;
constexpr std::uint16_t kPort = 8080;

// "198.18.3.2:8080" or "[2001:db8:3::2]:8080".
std::string host_port(const std::string& address) {
  return Endpoint{address.find(':') == std::string::npos ? AF_INET : AF_INET6, address, kPort}
      .to_string();
}

class ServeLab : public LabTest {
 protected:
  // Starts serve in the server namespace on both of its addresses and waits for it.
  Process serve(const std::vector<std::string>& args) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "--json", "-v", "serve",
                                  "--listen", host_port(lab().server_v4()),
                                  "--listen", host_port(lab().server_v6())};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p = lab().spawn(Node::server, argv);
    if (!lab().wait_for_tcp_listen(Node::server, kPort, 3s)) {
      ADD_FAILURE() << "serve did not listen: " << p.err();
    }
    return p;
  }

  // A socket connected from the client namespace (blocking, with a deadline).
  UniqueFd connect_from_client(const std::string& address, int extra_opt = 0) {
    return lab().in_ns(Node::client, [&]() -> UniqueFd {
      const auto ep = parse_endpoint(host_port(address), "test");
      sockaddr_storage ss{};
      const socklen_t len = ep->to_sockaddr(ss);
      UniqueFd fd(::socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      const int one = 1;
      if (extra_opt != 0) ::setsockopt(fd.get(), IPPROTO_TCP, extra_opt, &one, sizeof one);
      timeval tv{3, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return UniqueFd();
      return fd;
    });
  }

  std::vector<sys::ProcNetTcpEntry> server_sockets(int family, int state) {
    auto r = lab().exec(Node::server, {"cat", family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6"});
    EXPECT_TRUE(r.ok()) << r.err;
    auto entries = sys::parse_proc_net_tcp(r.out, family);
    EXPECT_TRUE(entries.has_value());
    std::vector<sys::ProcNetTcpEntry> out;
    for (auto& e : entries.value_or(std::vector<sys::ProcNetTcpEntry>{})) {
      if (e.local_port == kPort && e.state == state) out.push_back(e);
    }
    return out;
  }

  // A counter from the server namespace's /proc/net/netstat ("TcpExt: ... NAME ...").
  long netstat_counter(Node node, const std::string& name) {
    auto r = lab().exec(node, {"cat", "/proc/net/netstat"});
    std::istringstream in(r.out);
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
      std::istringstream n(names), v(values);
      std::string key, value;
      while (n >> key && v >> value) {
        if (key == name) return std::stol(value);
      }
    }
    ADD_FAILURE() << "no counter " << name;
    return -1;
  }
};

std::string read_line(int fd) {
  std::string line;
  char ch = 0;
  while (line.size() < 512 && ::recv(fd, &ch, 1, 0) == 1) {
    line += ch;
    if (ch == '\n') break;
  }
  return line;
}

TEST_F(ServeLab, ReachedThroughBothRoutersInBothFamilies) {
  Process p = serve({"--mode", "banner=LAB-GREETING"});
  for (const auto& address : {lab().server_v4(), lab().server_v6()}) {
    UniqueFd fd = connect_from_client(address);
    ASSERT_TRUE(fd) << address << ": " << std::strerror(errno);
    EXPECT_EQ(read_line(fd.get()), "LAB-GREETING\r\n") << address;
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(p.stop(), 0);
  // The server saw the client's own addresses: routed, not translated.
  std::vector<std::string> peers;
  std::istringstream out(p.out());
  for (std::string line; std::getline(out, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["event"] == "accept") peers.push_back(j["peer"]);
  }
  ASSERT_EQ(peers.size(), 2u) << p.out();
  EXPECT_EQ(parse_endpoint(peers[0], "peer").value().address, lab().client_v4());
  EXPECT_EQ(parse_endpoint(peers[1], "peer").value().address, lab().client_v6());
}

TEST_F(ServeLab, NeverAcceptQueueFillsFromARemoteClient) {
  Process p = serve({"--mode", "never-accept", "--backlog", "4"});
  std::vector<UniqueFd> clients = lab().in_ns(Node::client, [&] {
    std::vector<UniqueFd> fds;
    const auto ep = parse_endpoint(host_port(lab().server_v6()), "test");
    for (int i = 0; i < 20; ++i) {
      sockaddr_storage ss{};
      const socklen_t len = ep->to_sockaddr(ss);
      UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
      fds.push_back(std::move(fd));
    }
    return fds;
  });
  std::vector<sys::ProcNetTcpEntry> listen;
  for (int i = 0; i < 100; ++i) {
    listen = server_sockets(AF_INET6, 10);
    if (!listen.empty() && listen[0].rx_queue >= 5) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(listen.size(), 1u);
  EXPECT_EQ(listen[0].rx_queue, 5u);  // backlog + 1
  EXPECT_GT(netstat_counter(Node::server, "ListenOverflows"), 0);
}

TEST_F(ServeLab, TcpFastOpenAcceptsDataInTheSyn) {
  // Server support (bit 2) and client support (bit 1) are per-namespace settings.
  lab().sysctl(Node::server, "net.ipv4.tcp_fastopen", "3");
  lab().sysctl(Node::client, "net.ipv4.tcp_fastopen", "3");
  Process p = serve({"--mode", "echo", "--fastopen", "16"});
  const long before = netstat_counter(Node::server, "TCPFastOpenPassive");
  // The first connection fetches the cookie; the second carries data in its SYN.
  for (int i = 0; i < 2; ++i) {
    UniqueFd fd = connect_from_client(lab().server_v4(), TCP_FASTOPEN_CONNECT);
    ASSERT_TRUE(fd) << std::strerror(errno);
    ASSERT_EQ(::send(fd.get(), "tfo\n", 4, 0), 4);
    EXPECT_EQ(read_line(fd.get()), "tfo\n");
  }
  EXPECT_EQ(netstat_counter(Node::server, "TCPFastOpenPassive") - before, 1);
}

TEST_F(ServeLab, WithoutFastopenTheSynDataIsNotAccepted) {
  lab().sysctl(Node::server, "net.ipv4.tcp_fastopen", "1");  // client only: serve must opt in
  lab().sysctl(Node::client, "net.ipv4.tcp_fastopen", "3");
  Process p = serve({"--mode", "echo"});
  for (int i = 0; i < 2; ++i) {
    UniqueFd fd = connect_from_client(lab().server_v4(), TCP_FASTOPEN_CONNECT);
    ASSERT_TRUE(fd);
    ASSERT_EQ(::send(fd.get(), "x\n", 2, 0), 2);
    EXPECT_EQ(read_line(fd.get()), "x\n");
  }
  EXPECT_EQ(netstat_counter(Node::server, "TCPFastOpenPassive"), 0);
}

}  // namespace
}  // namespace connscope::lab
