#pragma once
// The network lab for tests: client ── r1 ── r2 ── server (+ dns on r1), built
// from network namespaces by lab.sh (the one source of truth for the topology; see README.md).

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/process.h"
#include "sys/unique_fd.h"

namespace connscope::lab {

using namespace std::chrono_literals;

enum class Node { client, r1, r2, server, dns };
enum class Family { v4, v6 };
// How a refused packet is answered. v4/v6 map to the matching ICMP/ICMPv6 message:
// port_unreachable (3/3, 1/4), host_unreachable (3/1, v6 addr-unreachable 1/3),
// admin_prohibited (3/13, 1/1), net_unreachable (3/0, v6 no-route 1/0); addr_unreachable is the
// ICMPv6 name of host_unreachable.
enum class RejectKind {
  tcp_reset,
  port_unreachable,
  host_unreachable,
  admin_prohibited,
  net_unreachable,
  addr_unreachable
};

std::string_view to_string(Node node);
std::string_view to_string(Family family);
std::string_view to_string(RejectKind kind);

// Names the lab's dnsmasq serves (start_dnsmasq).
inline constexpr std::string_view kServerName = "server.connscope.test";
inline constexpr std::string_view kDnsZone = "connscope.test";  // unknown names: NXDOMAIN
inline constexpr std::string_view kDnsServfailZone = "servfail.connscope.test";  // SERVFAIL
inline constexpr std::string_view kDnsTimeoutZone = "timeout.connscope.test";    // never answered

// start_nginx_tls answers this path with kNginxLargeBody bytes: a reply of several segments.
inline constexpr std::string_view kNginxLargePath = "/large";
// (nginx takes at most 4 KiB in one configuration parameter.)
inline constexpr std::size_t kNginxLargeBody = 3500;

using sys::UniqueFd;
using test::CmdResult;
using test::Process;
using test::run;

struct CertKey {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// Made with the openssl CLI (lab.sh certs): leaves are for kServerName and the server's lab
// addresses, signed by the lab CA unless noted.
struct LabCerts {
  std::filesystem::path ca;  // the lab CA certificate (PEM)
  CertKey valid;
  CertKey expired;        // 2020-2021
  CertKey not_yet_valid;  // 2040-2041
  CertKey wrong_name;     // other.connscope.test
  CertKey self_signed;    // kServerName, but not signed by the lab CA
  CertKey client;         // client.connscope.test, clientAuth, signed by the lab CA (mutual TLS)
};

struct DnsRecord {
  std::string name;
  std::string address;  // v4 or v6
};

// dnsmasq in the dns namespace plus the upstream that answers SERVFAIL (a thread with a UDP socket
// in the dns namespace: dnsmasq itself never says SERVFAIL for a forwarded zone).
class DnsServer {
 public:
  DnsServer(Process dnsmasq, UniqueFd servfail_socket);
  Process& process() { return dnsmasq_; }

 private:
  Process dnsmasq_;
  UniqueFd socket_;
  std::jthread responder_;  // last: stops (and joins) before the socket closes
};

// One lab topology with a unique prefix (csl<pid>x<n>). Owns its namespaces (removed, with
// everything running in them, on destruction, also when the test fails) and a temporary
// directory for configs and logs. Created and used from the test thread; in_ns() runs callables
// on threads of its own.
class Lab {
 public:
  // Removes stale lab namespaces of dead processes, then builds the topology. Throws on failure.
  static std::unique_ptr<Lab> create(std::string_view test_name);
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  const std::string& prefix() const { return prefix_; }
  std::string ns(Node node) const;
  const std::filesystem::path& dir() const { return dir_; }
  std::chrono::milliseconds build_time() const { return build_time_; }

  // A node's own address: the server's, client's and dns's only one; a router's on the link
  // towards the client (the source of the ICMP errors the client gets from it).
  std::string addr(Node node, Family family) const;
  // A node's address / interface on the link to a neighbour. Throws if they are not linked.
  std::string addr(Node node, Node neighbour, Family family) const;
  std::string iface(Node node, Node neighbour) const;
  std::string client_v4() const { return addr(Node::client, Family::v4); }
  std::string client_v6() const { return addr(Node::client, Family::v6); }
  std::string r1_v4() const { return addr(Node::r1, Family::v4); }
  std::string r1_v6() const { return addr(Node::r1, Family::v6); }
  std::string r2_v4() const { return addr(Node::r2, Family::v4); }
  std::string r2_v6() const { return addr(Node::r2, Family::v6); }
  std::string server_v4() const { return addr(Node::server, Family::v4); }
  std::string server_v6() const { return addr(Node::server, Family::v6); }
  std::string dns_v4() const { return addr(Node::dns, Family::v4); }
  std::string dns_v6() const { return addr(Node::dns, Family::v6); }
  // A v4 address on the dns link that swallows everything sent to it, without any ICMP error.
  std::string silent_v4() const { return silent_v4_; }

  CmdResult exec(Node node, const std::vector<std::string>& argv,
                 std::chrono::milliseconds timeout = 5s) const;
  Process spawn(Node node, const std::vector<std::string>& argv);
  bool wait_for_tcp_listen(Node node, std::uint16_t port, std::chrono::milliseconds timeout) const;

  // Runs f on a fresh thread that has joined the node's network namespace (setns affects only
  // the calling thread) and returns its result; exceptions propagate. Sockets f opens stay in
  // that namespace and may be used from any thread afterwards.
  template <class F>
  std::invoke_result_t<std::decay_t<F>&> in_ns(Node node, F&& f) const {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    std::packaged_task<R()> task([&, fn = std::forward<F>(f)]() mutable -> R {
      enter_netns(node);
      return fn();
    });
    auto result = task.get_future();
    std::thread(std::ref(task)).join();
    return result.get();
  }

  // Faults (throw std::runtime_error on failure). `where` a router: its forward chain; otherwise
  // the input chain of that host. port 0: every TCP/UDP port.
  void reject(Node where, Family family, std::uint16_t port, RejectKind kind);
  void drop(Node where, Family family, std::uint16_t port);
  void drop_frag_needed(Node router);  // PMTU black hole: ICMP frag-needed / ICMPv6 too-big
  // A router drops the first SYN of every connection to `port` (by source port) and lets its
  // retransmission through: exactly one resent SYN per handshake, where random loss would make
  // the count a matter of luck.
  void drop_first_syn(Node router, std::uint16_t port);
  void clear_faults(Node node);
  void nft(Node node, std::string_view ruleset);
  // tc netem on iface's egress, e.g. "loss 30%", "delay 50ms", "rate 1mbit".
  // Without sch_netem, "loss N%" and "rate R" are emulated (nft, tbf); other specs throw.
  void netem(Node node, std::string_view iface, std::string_view spec);
  void netem_clear(Node node, std::string_view iface);
  bool has_netem() const;
  // Random loss of what leaves iface, with nft where the other end receives it (works without
  // sch_netem); a token-bucket rate limit with tbf.
  void loss(Node node, std::string_view iface, int percent);
  void rate(Node node, std::string_view iface, std::string_view rate);
  void set_mtu(Node node, std::string_view iface, int mtu);
  void set_link_mtu(Node a, Node b, int mtu);  // both ends of the a–b link
  void sysctl(Node node, std::string_view key, std::string_view value);
  std::string sysctl(Node node, std::string_view key) const;

  // Real servers. Each waits until it listens and throws (with its log) if it does not.
  const LabCerts& certs();  // made once per Lab
  // Serves "connscope lab\n" on every path but kNginxLargePath. `cert` may hold a chain (leaf
  // first), sent as it is.
  Process start_nginx_tls(const std::filesystem::path& cert, const std::filesystem::path& key,
                          std::uint16_t port = 443);
  // Always: kServerName → server v4/v6, unknown names under kDnsZone → NXDOMAIN,
  // kDnsServfailZone → SERVFAIL, kDnsTimeoutZone → no answer; plus `records`.
  DnsServer start_dnsmasq(const std::vector<DnsRecord>& records = {});

 private:
  struct Link {
    Node a, b;
    std::string iface_a, iface_b;
    std::string v4_a, v6_a, v4_b, v6_b;
  };
  Lab(std::string prefix, std::filesystem::path dir);
  void enter_netns(Node node) const;
  UniqueFd open_netns(Node node) const;
  const Link& link(Node a, Node b) const;
  void script(const std::vector<std::string>& args) const;  // lab.sh ARGS..., throws on failure
  std::filesystem::path new_dir(std::string_view name);

  std::string prefix_;
  std::filesystem::path dir_;
  std::vector<Link> links_;
  std::string silent_v4_;
  std::optional<LabCerts> certs_;
  std::chrono::milliseconds build_time_{};
  unsigned next_id_ = 0;
  bool up_ = false;
};

// Why the lab cannot run here (not root, no `ip netns`), or nullopt when it can.
std::optional<std::string> unavailable_reason();
bool in_ci();  // CI=true: a lab test that cannot run fails instead of skipping

}  // namespace connscope::lab

// Skips the test (with the reason) when the lab cannot run, or fails it under CI=true.
#define CONNSCOPE_LAB_OR_SKIP()                                                                    \
  do {                                                                                             \
    if (auto connscope_lab_why = ::connscope::lab::unavailable_reason()) {                         \
      if (::connscope::lab::in_ci()) FAIL() << "lab unavailable under CI: " << *connscope_lab_why; \
      GTEST_SKIP() << "lab unavailable: " << *connscope_lab_why;                                   \
    }                                                                                              \
  } while (false)

// The same for a feature a test needs beyond the lab itself (e.g. sch_netem in the kernel).
#define CONNSCOPE_LAB_REQUIRE(cond, why)                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      if (::connscope::lab::in_ci()) FAIL() << "lab feature missing under CI: " << (why); \
      GTEST_SKIP() << (why);                                                              \
    }                                                                                     \
  } while (false)

namespace connscope::lab {

// A fixture: a fresh Lab per test, skipped (or failed under CI) when the lab cannot run.
class LabTest : public ::testing::Test {
 protected:
  void SetUp() override;
  Lab& lab() { return *lab_; }
  std::unique_ptr<Lab> lab_;
};

}  // namespace connscope::lab
