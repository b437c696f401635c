// `connscope inspect` in the lab: a SYN flood from the client namespace (hping3, bounded count)
// against `connscope serve` in the server namespace, with syncookies on and off.

#include <gtest/gtest.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

constexpr const char* kPort = "8080";

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
  // The last close may still be in FIN_WAIT2 until the server's FIN arrives.
  std::this_thread::sleep_for(300ms);
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

}  // namespace
}  // namespace connscope::lab
