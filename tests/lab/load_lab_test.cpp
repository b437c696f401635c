// `connscope load` in the lab, from the client namespace to `serve` on the server: a router that
// drops the first SYN of every connection makes every connection one SYN retransmission; a SYN
// rate limit on the server spreads them over first SYNs, resends and timeouts, each counted; a
// client with 20 local ports runs out of them (TIME_WAIT keeps each for a minute) and says so.

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

using nlohmann::json;

constexpr std::uint16_t kPort = 8080;

std::uint64_t fate_count(const json& j, const std::string& fate) {
  std::uint64_t n = 0;
  for (const auto& f : j.at("fates")) n += f.at("fate") == fate ? f.at("count").get<std::uint64_t>() : 0;
  return n;
}

class LoadLab : public LabTest {
 protected:
  Process echo() {
    auto p = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--mode", "echo", "--listen", "0.0.0.0:8080"});
    if (!lab().wait_for_tcp_listen(Node::server, kPort, 5s)) throw std::runtime_error("serve did not listen: " + p.err());
    return p;
  }
  json storm(const std::vector<std::string>& args, int want_exit) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = lab().exec(Node::client, argv, 30s);
    EXPECT_EQ(r.exit_code, want_exit) << r.err << r.out;
    return json::parse(r.out);
  }
};

TEST_F(LoadLab, EveryFirstSynDroppedIsOneRetransmissionEach) {
  auto server = echo();
  lab().drop_first_syn(Node::r2, kPort);
  const auto j = storm({"load", lab().server_v4() + ":8080", "--rate", "40", "--duration", "1s"}, 1);
  EXPECT_EQ(j.at("finished"), 40);
  EXPECT_EQ(fate_count(j, "connected_after_retransmits"), 40u) << j.dump();
  EXPECT_EQ(j.at("syn_retransmits"), json({{"1", 40}}));
  for (const auto& f : j.at("fates")) EXPECT_EQ(f.at("finding"), "tcp.slow_handshake");
  // The kernel resends an unanswered SYN after 1 s: that is every connection's latency.
  const auto& c = j.at("latency_ms").at("connect");
  EXPECT_GE(c.at("p50").get<double>(), 990.0);
  EXPECT_LT(c.at("max").get<double>(), 1500.0);
}

TEST_F(LoadLab, ASynRateLimitIsCountedAsResendsAndTimeouts) {
  auto server = echo();
  // 10 new connections a second get through (burst 5); the other SYNs are dropped.
  lab().nft(Node::server,
            "add table inet synlimit\n"
            "add chain inet synlimit in { type filter hook input priority 0; policy accept; }\n"
            "add rule inet synlimit in tcp dport 8080 tcp flags & (syn | ack) == syn limit rate over 10/second burst 5 packets drop\n");
  const auto j = storm({"--timeout", "2500ms", "load", lab().server_v4() + ":8080", "--rate", "100", "--duration", "1s"}, 1);
  EXPECT_EQ(j.at("finished"), 100);
  const auto first = fate_count(j, "connected");
  const auto resent = fate_count(j, "connected_after_retransmits");
  const auto timed_out = fate_count(j, "timed_out");
  EXPECT_EQ(first + resent + timed_out, 100u) << j.dump();  // nothing else happened
  EXPECT_LE(first, 25u) << j.dump();                        // 10/s, burst 5, over about 1 s
  EXPECT_GE(resent, 1u) << j.dump();                        // the 1 s resend let some through
  EXPECT_GE(timed_out, 40u) << j.dump();                    // most never got a slot within 2.5 s
  // Within the 2.5 s timeout: one resend at 1 s, and a second at 2 s on a kernel whose first SYN
  // timeouts are linear (Linux 6.x: net.ipv4.tcp_syn_linear_timeouts), at 3 s (too late) before.
  std::uint64_t by_count = 0;
  for (const auto& [k, v] : j.at("syn_retransmits").items()) {
    EXPECT_TRUE(k == "1" || k == "2") << j.dump();
    by_count += v.get<std::uint64_t>();
  }
  EXPECT_EQ(by_count, resent);
}

TEST_F(LoadLab, AClientWithTwentyPortsRunsOutOfThem) {
  auto server = echo();
  lab().sysctl(Node::client, "net.ipv4.ip_local_port_range", "40000 40019");
  // The client closes first (FIN): each port stays in TIME_WAIT on the client for a minute.
  const auto j = storm({"load", lab().server_v4() + ":8080", "--rate", "100", "--duration", "500ms"}, 1);
  EXPECT_EQ(j.at("finished"), 50);
  EXPECT_EQ(fate_count(j, "connected"), 20u) << j.dump();
  EXPECT_EQ(fate_count(j, "local_ports"), 30u) << j.dump();
  for (const auto& f : j.at("fates")) {
    if (f.at("fate") == "local_ports") {
      EXPECT_EQ(f.at("reason"), "local-port-exhaustion");
      EXPECT_EQ(f.at("finding"), "tcp.local_port_exhaustion");
    }
  }
}

// The same client closing with RST: no TIME_WAIT on its side, so 20 ports carry all 50.
TEST_F(LoadLab, AClientThatResetsKeepsItsPorts) {
  auto server = echo();
  lab().sysctl(Node::client, "net.ipv4.ip_local_port_range", "40000 40019");
  const auto j = storm({"load", lab().server_v4() + ":8080", "--rate", "100", "--duration", "500ms", "--close", "rst"}, 0);
  EXPECT_EQ(fate_count(j, "connected"), 50u) << j.dump();
}

}  // namespace
}  // namespace connscope::lab
