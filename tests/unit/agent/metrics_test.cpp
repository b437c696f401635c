// The agent's samples as metric families: names, labels, values, and a page the renderer accepts.
#include "agent/metrics.h"

#include <gtest/gtest.h>

#include "prom_support.h"
#include <sys/socket.h>

#include <string>

namespace connscope::agent {
namespace {

using prom_support::find_family;

TEST(Metrics, CounterNamesInSnakeCase) {
  const std::pair<const char*, const char*> rows[] = {
      {"TcpExt.ListenOverflows", "tcp_ext_listen_overflows"},
      {"Tcp.RetransSegs", "tcp_retrans_segs"},
      {"TcpExt.TCPSynRetrans", "tcp_ext_tcpsyn_retrans"},
      {"Ip6.InReceives", "ip6_in_receives"},
      {"TcpExt.TW", "tcp_ext_tw"},
  };
  for (const auto& [in, want] : rows) EXPECT_EQ(snake_case_counter(in), want) << in;
}


TEST(Metrics, FamiliesFromBothTiersRender) {
  FastSample fast;
  sys::SocketSummary sum;
  sum.v4.tcp_inuse = 12;
  sum.v4.tcp_tw = 40;
  sum.v4.tcp_orphan = 1;
  fast.sockstat = sum;
  fast.counters = {{"Tcp.CurrEstab", 8}, {"Tcp.RtoMin", 200}, {"TcpExt.ListenOverflows", 5}, {"Tcp.MaxConn", -1},
                   {"Ip.Forwarding", 1}};
  inspect::ListenerRow l;
  l.local = Endpoint{AF_INET, "127.0.0.1", 8080};
  l.accept_queue = 3;
  l.accept_queue_limit = 128;
  fast.listeners = {l, l};  // a SO_REUSEPORT pair: one row
  fast.cpu = std::chrono::microseconds(900);

  FullSample full;
  full.collected.snapshot.v4[1] = 8;  // ESTABLISHED
  full.collected.snapshot.v4[3] = 3;  // SYN_RECV (request sockets included, as the Aggregator counts)
  rules::Finding f;
  f.id = "tcp.accept_queue_full";
  f.severity = rules::Severity::critical;
  full.findings = {f, f};

  const auto fs = metric_families(&fast, &full);
  const auto* states = find_family(fs, "connscope_tcp_sockets");
  ASSERT_NE(states, nullptr);
  EXPECT_EQ(states->samples.size(), 22u);  // 11 states x 2 families
  for (const auto& s : states->samples) {
    if (s.labels[0].value == "ipv4" && s.labels[1].value == "SYN_RECV") {
      EXPECT_EQ(s.value, 3);
    }
    if (s.labels[0].value == "ipv4" && s.labels[1].value == "ESTABLISHED") {
      EXPECT_EQ(s.value, 8);
    }
  }
  const auto* findings = find_family(fs, "connscope_findings");
  ASSERT_NE(findings, nullptr);
  ASSERT_EQ(findings->samples.size(), 1u);
  EXPECT_EQ(findings->samples[0].value, 2);
  const auto* qlen = find_family(fs, "connscope_listen_queue_length");
  ASSERT_NE(qlen, nullptr);
  ASSERT_EQ(qlen->samples.size(), 1u);
  EXPECT_EQ(qlen->samples[0].labels[0].value, "127.0.0.1:8080");
  EXPECT_EQ(qlen->samples[0].value, 3);
  ASSERT_NE(find_family(fs, "connscope_kernel_tcp_ext_listen_overflows_total"), nullptr);
  EXPECT_EQ(find_family(fs, "connscope_kernel_tcp_max_conn_total"), nullptr);  // -1: not a counter
  EXPECT_EQ(find_family(fs, "connscope_kernel_tcp_rto_min_total"), nullptr);   // a setting, not a counter
  EXPECT_EQ(find_family(fs, "connscope_kernel_ip_forwarding_total"), nullptr);  // not TCP
  EXPECT_EQ(find_family(fs, "connscope_tcp_established_or_close_wait")->samples[0].value, 8);

  auto page = prom::render(fs);
  ASSERT_TRUE(page.has_value()) << page.error().message();
  EXPECT_NE(page->find("connscope_tcp_time_wait 40\n"), std::string::npos) << *page;
  const std::string cpu_line = "connscope_sample_cpu_seconds{tier=\"fast\"} ";
  const auto at = page->find(cpu_line);
  ASSERT_NE(at, std::string::npos) << *page;
  EXPECT_DOUBLE_EQ(std::stod(page->substr(at + cpu_line.size())), 0.0009);

  // Before the first samples: nothing, and still a valid (empty) page.
  EXPECT_TRUE(metric_families(nullptr, nullptr).empty());
}

}  // namespace
}  // namespace connscope::agent
