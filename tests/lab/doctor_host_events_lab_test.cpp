// The doctor against an address of its own host attaches the kernel's drop and reset tracers
// (BPF) to its own connections: what the kernel did with its packets is evidence. Run in the
// lab's server namespace against the server's own address, for both families.

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "doctor_fixture.h"

namespace connscope::lab {
namespace {

class DoctorHostEvents : public DoctorLab {
 protected:
  // `connscope --json doctor TARGET` run on the server itself.
  DoctorRun doctor_here(const std::string& target, const std::string& timeout) {
    return doctor_on(Node::server, {target}, timeout);
  }

  // The local ports of the doctor's connect attempts.
  static std::set<std::uint16_t> doctor_ports(const DoctorRun& r) {
    std::set<std::uint16_t> ports;
    for (const auto& a : stage(r, "connect").at("evidence").at("attempts")) {
      if (!a.contains("local") || a.at("local").is_null()) continue;
      const auto local = parse_endpoint(a.at("local").get<std::string>(), "local");
      if (local) ports.insert(local->port);
    }
    return ports;
  }

  // Every host event must belong to the doctor's own connections to the target.
  void expect_own_connections(const DoctorRun& r, std::uint16_t port) {
    const auto ports = doctor_ports(r);
    ASSERT_FALSE(ports.empty()) << r.out.dump(2);
    for (const auto& e : r.out.at("host_events").at("events")) {
      EXPECT_EQ(e.at("destination").at("address"), server_addr()) << e.dump();
      EXPECT_EQ(e.at("destination").at("port"), port) << e.dump();
      EXPECT_TRUE(ports.contains(e.at("source").at("port").get<std::uint16_t>())) << e.dump();
    }
  }

  static int count(const DoctorRun& r, const std::string& kind, const std::string& reason) {
    int n = 0;
    for (const auto& e : r.out.at("host_events").at("events")) {
      if (e.at("kind") == kind && e.value("reason", json()).is_string() && e.at("reason") == reason) ++n;
    }
    return n;
  }
};

TEST_P(DoctorHostEvents, ClosedPortShowsTheResetThisHostSent) {
  const auto r = doctor_here(server_target(8081), "1s");
  expect_verdict(r, "fail", "connect", "tcp.refused");
  ASSERT_TRUE(r.out.contains("host_events")) << r.out.dump(2);
  EXPECT_TRUE(r.out.at("host_events").at("off").is_null()) << r.out.dump(2);
  expect_own_connections(r, 8081);
  EXPECT_EQ(count(r, "drop", "NO_SOCKET"), 1) << r.out.dump(2);
  EXPECT_EQ(count(r, "reset_sent", "NO_SOCKET"), 1) << r.out.dump(2);
  const json* f = finding(r, "tcp.refused");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->at("evidence").at("host_kernel_events"), "reset_sent NO_SOCKET; drop NO_SOCKET; reset_received") << f->dump(2);
}

TEST_P(DoctorHostEvents, FirewallDropOnThisHostIsTheEvidenceOfTheSilence) {
  serve("echo");
  lab().drop(Node::server, fam(), kPort);
  const auto r = doctor_here(server_target(), "2s");
  expect_verdict(r, "fail", "connect", "tcp.filtered");
  expect_own_connections(r, kPort);
  // Every SYN the doctor sent was dropped by the rule, and the kernel said so each time.
  int syns = 0;
  for (const auto& a : stage(r, "connect").at("evidence").at("attempts")) syns += a.at("syns_sent").get<int>();
  ASSERT_GT(syns, 1);
  EXPECT_EQ(count(r, "drop", "NETFILTER_DROP"), syns) << r.out.dump(2);
  const json* f = finding(r, "tcp.filtered");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->at("evidence").at("host_kernel_events"), "drop NETFILTER_DROP ×" + std::to_string(syns))
      << f->dump(2);
}

TEST_P(DoctorHostEvents, AHealthyConnectionHasNoHostEvents) {
  serve("http");
  const auto r = doctor_here(server_target(), "1s");
  EXPECT_EQ(r.out.at("verdict").at("status"), "ok") << r.out.dump(2);
  ASSERT_TRUE(r.out.contains("host_events")) << r.out.dump(2);
  EXPECT_TRUE(r.out.at("host_events").at("events").empty()) << r.out.dump(2);
}

// --follow: a redirect to another port of this host, where nothing listens. The last run, the
// one that decides, has tracers of its own on its own port.
TEST_P(DoctorHostEvents, AFollowedRedirectIsTracedAtItsOwnPort) {
  serve("http", {"--http-status", "302", "--http-location", "http://" + server_target(8086) + "/"});
  const auto followed = doctor_on(Node::server, {"http://" + server_target() + "/", "--follow"}, "1s");
  expect_verdict(followed, "fail", "connect", "tcp.refused");
  ASSERT_TRUE(followed.out.contains("host_events")) << followed.out.dump(2);
  expect_own_connections(followed, 8086);
  EXPECT_EQ(count(followed, "reset_sent", "NO_SOCKET"), 1) << followed.out.dump(2);
  const json* f = finding(followed, "tcp.refused");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->at("evidence").at("host_kernel_events"), "reset_sent NO_SOCKET; drop NO_SOCKET; reset_received")
      << f->dump(2);
}

TEST_P(DoctorHostEvents, AnotherHostGetsNoTracer) {
  const auto r = doctor(std::vector<std::string>{server_target(8081)});
  expect_verdict(r, "fail", "connect", "tcp.refused");
  EXPECT_FALSE(r.out.contains("host_events")) << r.out.dump(2);
}

// A name with two addresses of this host: a rule drops only IPv6, nothing listens on IPv4. Each
// address's finding carries the kernel's events of that address.
using DoctorHostEventsByName = DoctorHostEvents;
TEST_P(DoctorHostEventsByName, EachAddressFindingCarriesItsOwnEvents) {
  lab().nft(Node::server,
            "add table ip6 v6drop\n"
            "add chain ip6 v6drop in { type filter hook input priority 0; policy accept; }\n"
            "add rule ip6 v6drop in tcp dport 8083 drop\n");
  const auto r = doctor_on(Node::server, {"localhost:8083"}, "2s");
  ASSERT_TRUE(r.out.contains("findings")) << r.err;
  const json* refused = finding(r, "tcp.refused");
  const json* filtered = finding(r, "tcp.filtered");
  ASSERT_NE(refused, nullptr) << r.out.dump(2);
  ASSERT_NE(filtered, nullptr) << r.out.dump(2);
  EXPECT_EQ(refused->at("evidence").at("address"), "127.0.0.1");
  EXPECT_EQ(refused->at("evidence").at("host_kernel_events"), "reset_sent NO_SOCKET; drop NO_SOCKET; reset_received")
      << refused->dump(2);
  EXPECT_EQ(filtered->at("evidence").at("address"), "::1");
  int syns = 0;
  for (const auto& a : stage(r, "connect").at("evidence").at("attempts"))
    if (a.at("remote") == "[::1]:8083") syns = a.at("syns_sent").get<int>();
  ASSERT_GT(syns, 1) << r.out.dump(2);
  EXPECT_EQ(filtered->at("evidence").at("host_kernel_events"), "drop NETFILTER_DROP ×" + std::to_string(syns))
      << filtered->dump(2);
}
INSTANTIATE_TEST_SUITE_P(Localhost, DoctorHostEventsByName, ::testing::Values(Family::v4),
                         [](const auto& p) { return std::string(to_string(p.param)); });

INSTANTIATE_TEST_SUITE_P(Families, DoctorHostEvents, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace connscope::lab
