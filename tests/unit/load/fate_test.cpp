// What became of one connection of a storm: the connect stage's decisions, in load's words.
#include "load/fate.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/ip_icmp.h>

#include <cerrno>
#include <set>

namespace connscope::load {
namespace {

probe::QueuedError icmp(std::uint8_t type, std::uint8_t code, int error) {
  probe::QueuedError q;
  q.origin = probe::ErrOrigin::icmp;
  q.type = type;
  q.code = code;
  q.error = error;
  q.offender = "198.18.0.1";
  return q;
}

TEST(LoadFate, ConnectedAtTheFirstSynOrAfterRetransmissions) {
  auto o = classify(0, false, std::nullopt, 0);
  EXPECT_EQ(o.fate, Fate::connected);
  EXPECT_EQ(o.reason, "syn-ack");
  EXPECT_EQ(fate_finding(o), std::nullopt);
  o = classify(0, false, std::nullopt, 2);
  EXPECT_EQ(o.fate, Fate::connected_retried);
  EXPECT_EQ(fate_name(o.fate), "connected_after_retransmits");
  EXPECT_EQ(fate_finding(o), "tcp.slow_handshake");
}

TEST(LoadFate, EveryFailureAsTheDoctorNamesIt) {
  struct Case {
    int error;
    bool timed_out;
    std::optional<probe::QueuedError> queued;
    Fate fate;
    std::string_view reason;
    std::optional<std::string_view> finding;
  };
  const Case cases[] = {
      {ECONNREFUSED, false, std::nullopt, Fate::refused, "conn-refused", "tcp.refused"},
      {0, true, std::nullopt, Fate::timed_out, "no-response", "tcp.filtered"},
      {EADDRNOTAVAIL, false, std::nullopt, Fate::local_ports, "local-port-exhaustion", "tcp.local_port_exhaustion"},
      {ECONNRESET, false, std::nullopt, Fate::reset, "reset-after-handshake", "tcp.reset_after_accept"},
      {ECONNREFUSED, false, icmp(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, ECONNREFUSED), Fate::icmp, "port-unreachable",
       "tcp.rejected_icmp"},
      {EHOSTUNREACH, false, icmp(ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, EHOSTUNREACH), Fate::icmp, "host-unreachable",
       "net.host_unreachable"},
      {EHOSTUNREACH, false, icmp(ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, EHOSTUNREACH), Fate::icmp, "admin-prohibited",
       "net.admin_prohibited"},
      // This host decided, no ICMP: no route, a local firewall (EPERM).
      {ENETUNREACH, false, std::nullopt, Fate::local_error, "no-route", "net.no_route"},
      {EPERM, false, std::nullopt, Fate::local_error, "local-firewall", "net.admin_prohibited"},
  };
  for (const auto& c : cases) {
    const auto o = classify(c.error, c.timed_out, c.queued, 0);
    EXPECT_EQ(o.fate, c.fate) << c.reason;
    EXPECT_EQ(o.reason, c.reason);
    EXPECT_EQ(fate_finding(o), c.finding) << c.reason;
  }
}

TEST(LoadFate, SocketFailures) {
  EXPECT_EQ(classify_socket_error(EMFILE).fate, Fate::local_nofile);
  EXPECT_EQ(classify_socket_error(ENFILE).fate, Fate::local_nofile);
  EXPECT_EQ(classify_socket_error(ENOBUFS).fate, Fate::local_error);
  EXPECT_EQ(fate_name(Fate::local_nofile), "local_nofile");
}

TEST(LoadFate, EveryFateHasItsOwnName) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kFateCount; ++i) names.insert(fate_name(static_cast<Fate>(i)));
  EXPECT_EQ(names.size(), kFateCount);
}

}  // namespace
}  // namespace connscope::load
