// `connscope inspect` in the lab: a SYN flood from the client namespace (hping3, bounded count)
// against `connscope serve` in the server namespace, with syncookies on and off; TIME_WAIT
// toward one destination; a service inside the ephemeral port range seen from both ends; a full
// accept queue and a CLOSE_WAIT leak, both families, with clients in the client namespace and
// inspect in the server's.

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/endpoint.h"
#include "lab/lab.h"
#include "sys/proc_net.h"
#include "sys/unique_fd.h"

namespace connscope::lab {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPort = "8080";
constexpr std::uint16_t kPortNumber = 8080;
constexpr int kTcpListen = 10;     // kernel state numbers, as /proc/net/tcp shows them
constexpr int kTcpCloseWait = 8;
constexpr int kTcpTimeWait = 6;
constexpr int kTcpEstablished = 1;

int af(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }

// "198.18.3.2:8080" or "[2001:db8:3::2]:8080".
std::string host_port(Family f, const std::string& address) {
  return Endpoint{af(f), address, kPortNumber}.to_string();
}

// A nonblocking connect to address:port from the calling thread's namespace; invalid on an
// immediate failure.
UniqueFd start_connect(Family f, const std::string& address, std::uint16_t port = kPortNumber) {
  sockaddr_storage ss{};
  const socklen_t len = Endpoint{af(f), address, port}.to_sockaddr(ss);
  UniqueFd fd(::socket(af(f), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    return UniqueFd();
  }
  return fd;
}

// True once a nonblocking connect has completed without an error.
bool wait_connected(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  int so_error = 0;
  socklen_t len = sizeof so_error;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error == 0;
}

// Calls pred every 10 ms until it holds or the deadline passes.
bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string param_name(Family f) { return std::string(to_string(f)); }

class InspectLab : public LabTest {
 protected:
  // The client's kernel would answer each SYN-ACK to hping3's raw SYNs with a RST and free the
  // half-open slot: r1 drops the SYN-ACKs, so they stay half-open on the server, as in a flood
  // from spoofed addresses.
  void flood_setup(const char* syncookies) {
    lab().sysctl(Node::server, "net.ipv4.tcp_syncookies", syncookies);
    lab().sysctl(Node::server, "net.ipv4.tcp_max_syn_backlog", "128");
    lab().nft(Node::r1,
              "add table inet synack\n"
              "add chain inet synack f { type filter hook forward priority 0; policy accept; }\n"
              "add rule inet synack f tcp flags & (syn | ack) == syn | ack drop\n");
    server_ = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--listen",
                                         lab().server_v4() + ":" + kPort, "--backlog", "64"});
    ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 8080, 3s)) << server_.err();
    // 4,000 SYNs at 1 ms: about 4 s, bounded by count.
    flood_ = lab().spawn(Node::client, {"hping3", "-q", "-S", "-p", kPort, "-i", "u1000", "-c",
                                        "4000", lab().server_v4()});
    std::this_thread::sleep_for(800ms);
  }

  nlohmann::json inspect() {
    auto r = lab().exec(Node::server, {CONNSCOPE_BIN, "--json", "inspect", "--port", kPort,
                                       "--interval", "1s"},
                        10s);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    return nlohmann::json::parse(r.out);
  }

  static const nlohmann::json* finding(const nlohmann::json& j, const std::string& id) {
    for (const auto& f : j.at("findings")) {
      if (f.at("id") == id) return &f;
    }
    return nullptr;
  }

  // The finding `id` whose evidence names kPort.
  static const nlohmann::json* finding_on_port(const nlohmann::json& j, const std::string& id) {
    for (const auto& f : j.at("findings")) {
      if (f.at("id") == id && f.at("evidence").value("port", "") == kPort) return &f;
    }
    return nullptr;
  }

  static const nlohmann::json* listener_on_port(const nlohmann::json& j) {
    for (const auto& l : j.at("listeners")) {
      if (l.at("port") == kPortNumber) return &l;
    }
    return nullptr;
  }

  // `connscope serve ARGS` in the server namespace on its lab address of family f, kPort.
  void serve(Family f, const std::vector<std::string>& args) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "serve", "--listen",
                                  host_port(f, lab().addr(Node::server, f))};
    argv.insert(argv.end(), args.begin(), args.end());
    server_ = lab().spawn(Node::server, argv);
    ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, kPortNumber, 3s)) << server_.err();
  }

  // A TcpExt counter ("ListenOverflows") of a node's namespace, from /proc/thread-self/net/netstat.
  long netstat_counter(Node node, const std::string& name) {
    return lab().in_ns(node, [&] {
      auto text = sys::read_file("/proc/thread-self/net/netstat");
      if (!text) throw std::runtime_error(text.error().message());
      std::istringstream in(*text);
      std::string names, values;
      while (std::getline(in, names) && std::getline(in, values)) {
        std::istringstream n(names), v(values);
        std::string key, value;
        while (n >> key && v >> value) {
          if (key == name) return std::stol(value);
        }
      }
      throw std::runtime_error("no counter " + name + " in /proc/net/netstat");
    });
  }

  // The server namespace's TCP sockets with local port kPort, read from /proc/thread-self/net
  // (that thread's namespace) and counted by pred.
  // TCP sockets of family f in a node's namespace that satisfy pred, from /proc/thread-self/net.
  std::size_t count_sockets(Node node, Family f,
                            const std::function<bool(const sys::ProcNetTcpEntry&)>& pred) {
    return lab().in_ns(node, [&] {
      const char* file =
          f == Family::v4 ? "/proc/thread-self/net/tcp" : "/proc/thread-self/net/tcp6";
      auto text = sys::read_file(file);
      if (!text) throw std::runtime_error(text.error().message());
      auto entries = sys::parse_proc_net_tcp(*text, af(f));
      if (!entries) throw std::runtime_error(entries.error().message());
      std::size_t n = 0;
      for (const auto& e : *entries) n += pred(e) ? 1 : 0;
      return n;
    });
  }

  // The server namespace's sockets on kPort that satisfy pred.
  std::size_t server_sockets(Family f,
                             const std::function<bool(const sys::ProcNetTcpEntry&)>& pred) {
    return count_sockets(Node::server, f, [&](const sys::ProcNetTcpEntry& e) {
      return e.local_port == kPortNumber && pred(e);
    });
  }

  Process server_;
  Process flood_;
};

TEST_F(InspectLab, SynFloodWithSyncookiesIsNamedWithItsSource) {
  flood_setup("1");
  const auto j = inspect();
  EXPECT_GT(j.at("counters").at("SyncookiesSent").at("per_second").get<double>(), 0.0) << j.dump();
  const auto* f = finding(j, "listen.syn_flood");
  ASSERT_NE(f, nullptr) << j.at("findings").dump();
  EXPECT_EQ(f->at("evidence").at("top_source"), lab().client_v4());
  EXPECT_EQ(finding(j, "listen.syn_queue_overflow"), nullptr) << "cookies keep SYNs from being dropped";
  ASSERT_FALSE(j.at("top_peers").at("syn_recv").empty());
  EXPECT_EQ(j.at("top_peers").at("syn_recv")[0].at("address"), lab().client_v4());
}

TEST_F(InspectLab, SynFloodWithoutSyncookiesOverflowsTheSynQueue) {
  flood_setup("0");
  const auto j = inspect();
  EXPECT_GT(j.at("counters").at("TCPReqQFullDrop").at("per_second").get<double>(), 0.0) << j.dump();
  const auto* f = finding(j, "listen.syn_queue_overflow");
  ASSERT_NE(f, nullptr) << j.at("findings").dump();
  EXPECT_EQ(f->at("severity"), "critical");
  EXPECT_EQ(f->at("evidence").at("tcp_syncookies"), "0");
  const auto* flood = finding(j, "listen.syn_flood");
  ASSERT_NE(flood, nullptr);
  EXPECT_EQ(flood->at("evidence").at("top_source"), lab().client_v4());
}

TEST_F(InspectLab, TimeWaitTowardOneDestinationAgainstThePortRange) {
  // 100 ephemeral ports on the client; 60 short connections it closes first leave 60 TIME_WAIT.
  lab().sysctl(Node::client, "net.ipv4.ip_local_port_range", "40000 40099");
  server_ = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--listen",
                                       lab().server_v4() + ":" + kPort, "--mode", "echo"});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 8080, 3s)) << server_.err();
  for (int i = 0; i < 60; ++i) {
    auto r = lab().exec(Node::client, {"nc", "-z", "-w", "2", lab().server_v4(), kPort});
    ASSERT_TRUE(r.ok()) << r.err;
  }
  // The last closes may still be in FIN_WAIT2 until the server's FIN arrives (later on a busy
  // machine): wait for all 60 TIME_WAIT in the client namespace rather than for a fixed time.
  const auto client_time_wait = [&] {
    return count_sockets(Node::client, Family::v4, [](const sys::ProcNetTcpEntry& e) {
      return e.remote_port == kPortNumber && e.state == kTcpTimeWait;
    });
  };
  const auto settled_by = std::chrono::steady_clock::now() + 5s;
  while (client_time_wait() < 60 && std::chrono::steady_clock::now() < settled_by) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(client_time_wait(), 60u);
  auto r = lab().exec(Node::client, {CONNSCOPE_BIN, "--json", "inspect", "--interval", "0"}, 10s);
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto* f = finding(j, "tcp.time_wait_pressure");
  ASSERT_NE(f, nullptr) << j.at("findings").dump();
  EXPECT_EQ(f->at("severity"), "critical");  // 60% of the range
  EXPECT_EQ(f->at("evidence").at("destination"), lab().server_v4() + ":" + kPort);
  EXPECT_EQ(f->at("evidence").at("time_wait"), "60");
  EXPECT_EQ(f->at("evidence").at("local_ports"), "100");
}

// A service on 41000, inside ip_local_port_range, and clients on another host whose ports
// come from 40900-41099, so some lie below the service's port and some above: from the server
// namespace every connection is incoming on 41000 (its listener), from the client namespace
// every one is outgoing to 41000 (no listener there, both ports ephemeral: the client's was the
// kernel's pick). The port range alone made each client port below 41000 a service of its own.
TEST_F(InspectLab, ServiceInsideTheEphemeralRangeFromBothEnds) {
  constexpr int kClients = 40;
  constexpr std::uint16_t kService = 41000;
  lab().sysctl(Node::client, "net.ipv4.ip_local_port_range", "40900 41099");
  server_ = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--listen",
                                       lab().server_v4() + ":" + std::to_string(kService), "--mode", "echo"});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, kService, 3s)) << server_.err();
  std::vector<UniqueFd> clients;
  int below = 0;
  int above = 0;
  lab().in_ns(Node::client, [&] {
    for (int i = 0; i < kClients; ++i) {
      UniqueFd fd = start_connect(Family::v4, lab().server_v4(), kService);
      if (!fd || !wait_connected(fd.get(), 2s)) continue;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
      const auto port = endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).port;
      ++(port < kService ? below : above);
      clients.push_back(std::move(fd));
    }
    return 0;
  });
  ASSERT_EQ(clients.size(), static_cast<std::size_t>(kClients));
  ASSERT_GT(below, 0);  // the case that went wrong: a client port below the service's
  ASSERT_GT(above, 0);
  // The clients' last ACKs may still be on their way: wait for every server-side socket.
  const auto established_on_server = [&] {
    return count_sockets(Node::server, Family::v4, [](const sys::ProcNetTcpEntry& e) {
      return e.local_port == kService && e.state == kTcpEstablished;
    });
  };
  ASSERT_TRUE(poll_until(3s, [&] { return established_on_server() == kClients; })) << established_on_server();

  auto rows = [&](Node node) {
    auto r = lab().exec(node, {CONNSCOPE_BIN, "--json", "inspect", "--interval", "0", "--no-owners"}, 10s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return nlohmann::json::parse(r.out).at("ports");
  };
  const auto server_rows = rows(Node::server);
  ASSERT_EQ(server_rows.size(), 1u) << server_rows.dump();
  EXPECT_EQ(server_rows[0].at("port"), kService);
  EXPECT_EQ(server_rows[0].at("direction"), "incoming");
  EXPECT_EQ(server_rows[0].at("states").at("ESTABLISHED"), kClients);
  const auto client_rows = rows(Node::client);
  ASSERT_EQ(client_rows.size(), 1u) << client_rows.dump();
  EXPECT_EQ(client_rows[0].at("port"), kService);
  EXPECT_EQ(client_rows[0].at("direction"), "outgoing");
  EXPECT_EQ(client_rows[0].at("states").at("ESTABLISHED"), kClients);
}

// The same two scenarios over IPv4 and IPv6: serve on the server's lab address of the family,
// clients in the client namespace, inspect in the server namespace.
class InspectLabFamily : public InspectLab, public ::testing::WithParamInterface<Family> {};

TEST_P(InspectLabFamily, FullAcceptQueueIsNamedWithItsProcess) {
  const Family f = GetParam();
  const std::string server = lab().addr(Node::server, f);
  ASSERT_NO_FATAL_FAILURE(serve(f, {"--mode", "never-accept", "--backlog", "8"}));
  auto queued = [&] {
    return server_sockets(f, [](const auto& e) {
             return e.state == kTcpListen && e.rx_queue == 9;
           }) == 1;
  };
  // From the client namespace: 9 connections, one after the other, fill the accept queue
  // (backlog + 1); only then 41 more at once, so every one of their SYNs meets a full queue and
  // is dropped (one ListenOverflows each; none half-open). Their kernel retransmits them about
  // once a second (linear SYN timeouts since Linux 6.5; 1 s, 3 s, 7 s... before).
  std::vector<UniqueFd> clients = lab().in_ns(Node::client, [&] {
    std::vector<UniqueFd> fds;
    for (int i = 0; i < 9; ++i) {
      fds.push_back(start_connect(f, server));
      if (!fds.back() || !wait_connected(fds.back().get(), 2s)) fds.back() = UniqueFd();
    }
    return fds;
  });
  for (const auto& fd : clients) ASSERT_TRUE(fd) << "one of the first 9 connects failed";
  ASSERT_TRUE(poll_until(3s, queued)) << "the accept queue did not fill";
  ASSERT_EQ(netstat_counter(Node::server, "ListenOverflows"), 0);
  auto late = lab().in_ns(Node::client, [&] {
    std::vector<UniqueFd> fds;
    for (int i = 0; i < 41; ++i) fds.push_back(start_connect(f, server));
    return fds;
  });
  const auto sent = Clock::now();
  for (const auto& fd : late) ASSERT_TRUE(fd) << "connect failed at once";
  ASSERT_TRUE(
      poll_until(1s, [&] { return netstat_counter(Node::server, "ListenOverflows") >= 41; }));
  ASSERT_EQ(netstat_counter(Node::server, "ListenOverflows"), 41);
  // inspect's two counter samples, 1 s apart, start ~0.4 s after those SYNs: the first
  // retransmission wave (~1 s) falls between them, with ~0.5 s of margin on either side.
  std::this_thread::sleep_until(sent + 400ms);
  const auto j = inspect();

  const auto* l = listener_on_port(j);
  ASSERT_NE(l, nullptr) << j.dump();
  EXPECT_EQ(l->at("address"), server);
  EXPECT_EQ(l->at("family"), f == Family::v4 ? "ipv4" : "ipv6");
  EXPECT_EQ(l->at("accept_queue"), 9);
  EXPECT_EQ(l->at("accept_queue_limit"), 8);
  EXPECT_EQ(l->at("pid"), server_.pid());
  EXPECT_EQ(l->at("command"), "connscope");
  EXPECT_EQ(l->at("syn_recv"), 0);
  // The server namespace holds only the server side: the listener and the 9 queued sockets.
  EXPECT_EQ(j.at("states").at("LISTEN"), 1);
  EXPECT_EQ(j.at("states").at("ESTABLISHED"), 9);
  EXPECT_EQ(j.at("states").at("SYN_RECV"), 0);
  EXPECT_EQ(j.at("sockets"), 10);

  // Between the samples the 41 retried: overflows come in whole waves of 41.
  const auto& overflows = j.at("counters").at("ListenOverflows");
  ASSERT_EQ(overflows.at("status"), "ok") << overflows.dump();
  const double per_second = overflows.at("per_second").get<double>();
  EXPECT_GT(per_second, 0.0) << overflows.dump();
  const long in_interval = std::lround(per_second * j.at("interval_s").get<double>());
  EXPECT_EQ(in_interval % 41, 0) << overflows.dump();
  EXPECT_GE(overflows.at("total").get<long>(), 41 + in_interval) << overflows.dump();

  const auto* finding = finding_on_port(j, "listen.accept_queue_full");
  ASSERT_NE(finding, nullptr) << j.at("findings").dump();
  EXPECT_EQ(finding->at("severity"), "critical");
  const auto& ev = finding->at("evidence");
  EXPECT_EQ(ev.at("address"), host_port(f, server));
  EXPECT_EQ(ev.at("pid"), std::to_string(server_.pid()));
  EXPECT_EQ(ev.at("command"), "connscope");
  EXPECT_EQ(ev.at("accept_queue"), "9");
  EXPECT_EQ(ev.at("accept_queue_limit"), "8");
  EXPECT_GT(std::stod(ev.at("listen_overflows_per_s").get<std::string>()), 0.0) << ev.dump();
}

TEST_P(InspectLabFamily, CloseWaitLeakNamesTheProcess) {
  constexpr int kClients = 20;
  const Family f = GetParam();
  const std::string server = lab().addr(Node::server, f);
  ASSERT_NO_FATAL_FAILURE(serve(f, {"--mode", "no-close"}));
  const int connected = lab().in_ns(Node::client, [&] {
    int n = 0;
    for (int i = 0; i < kClients; ++i) {
      UniqueFd fd = start_connect(f, server);
      if (fd && wait_connected(fd.get(), 2s)) ++n;
    }  // each closed at once: a FIN to a server that never closes
    return n;
  });
  ASSERT_EQ(connected, kClients);
  // Every FIN has arrived and serve has accepted every socket (an inode: it has an owner).
  ASSERT_TRUE(poll_until(3s, [&] {
    return server_sockets(f, [](const auto& e) {
             return e.state == kTcpCloseWait && e.inode != 0;
           }) == static_cast<std::size_t>(kClients);
  })) << "the server side did not reach CLOSE_WAIT";
  const auto j = inspect();

  EXPECT_EQ(j.at("states").at("CLOSE_WAIT"), kClients);
  const char* family = f == Family::v4 ? "ipv4" : "ipv6";
  EXPECT_EQ(j.at("states_by_family").at(family).at("CLOSE_WAIT"), kClients);
  const auto* finding = finding_on_port(j, "tcp.close_wait_leak");
  ASSERT_NE(finding, nullptr) << j.at("findings").dump();
  EXPECT_EQ(finding->at("severity"), "warning");
  const auto& ev = finding->at("evidence");
  EXPECT_EQ(ev.at("pid"), std::to_string(server_.pid()));
  EXPECT_EQ(ev.at("command"), "connscope");
  EXPECT_EQ(ev.at("close_wait"), std::to_string(kClients));
  // The same sockets were still in CLOSE_WAIT at the second sample, a second later.
  EXPECT_EQ(ev.at("still_close_wait"), std::to_string(kClients));
  int rows = 0;
  for (const auto& p : j.at("processes")) {
    if (p.at("pid") != server_.pid()) continue;
    ++rows;
    EXPECT_EQ(p.at("command"), "connscope");
    EXPECT_EQ(p.at("states").at("CLOSE_WAIT"), kClients);
    EXPECT_EQ(p.at("states").at("LISTEN"), 1);  // its listener counts too
  }
  EXPECT_EQ(rows, 1) << j.at("processes").dump();
}

INSTANTIATE_TEST_SUITE_P(Families, InspectLabFamily, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return param_name(p.param); });

}  // namespace
}  // namespace connscope::lab
