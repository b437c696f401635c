#include "rules/server_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace connscope::rules {
namespace {

// A quiet, healthy host: one listener with room, a few CLOSE_WAIT, some TIME_WAIT.
ServerEvidence healthy() {
  ServerEvidence e;
  e.interval_s = 1;
  e.rates = {{"ListenOverflows", 0}, {"RetransSegs", 3}, {"OutSegs", 5000}, {"OutRsts", 2}};
  ListenerEvidence l;
  l.address = "0.0.0.0:80";
  l.port = 80;
  l.accept_queue = 3;
  l.accept_queue_limit = 511;
  l.pid = 1234;
  l.command = "nginx";
  l.open_fds = 100;
  l.nofile_soft = 1024;
  e.listeners.push_back(l);
  e.close_wait.push_back({1234, "nginx", 80, 3, 3});  // 3 persisting
  e.time_wait_by_destination.push_back({"10.0.0.5:5432", 1000});
  e.syn_recv_total = 2;
  e.orphans = 10;
  e.max_orphans = 65536;
  e.local_port_count = 28232;
  e.max_syn_backlog = 2048;
  e.syncookies = true;
  return e;
}


std::vector<std::string> ids(const std::vector<Finding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.id);
  return out;
}

const Finding* find(const std::vector<Finding>& fs, const std::string& id) {
  auto it = std::find_if(fs.begin(), fs.end(), [&](const Finding& f) { return f.id == id; });
  return it == fs.end() ? nullptr : &*it;
}

// The pointer points into `fs`: a temporary would leave it dangling.
const Finding* find(std::vector<Finding>&& fs, const std::string& id) = delete;

bool fires(const ServerEvidence& e, const std::string& id) {
  const auto fs = evaluate_server(e);
  return find(fs, id) != nullptr;
}

TEST(ServerRules, HealthyHostRaisesNothing) {
  EXPECT_TRUE(evaluate_server(healthy()).empty()) << ::testing::PrintToString(ids(evaluate_server(healthy())));
}

TEST(ServerRules, AcceptQueueFullAndOverflowingIsCritical) {
  auto e = healthy();
  e.listeners[0].accept_queue = 9;
  e.listeners[0].accept_queue_limit = 8;
  e.listeners[0].queue_full_at_first_sample = true;
  e.rates["ListenOverflows"] = 41;
  const auto fs = evaluate_server(e);
  const auto* f = find(fs, "listen.accept_queue_full");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::critical);
  EXPECT_EQ(f->evidence.at("accept_queue"), "9");
  EXPECT_EQ(f->evidence.at("accept_queue_limit"), "8");
  EXPECT_EQ(f->evidence.at("pid"), "1234");
  EXPECT_EQ(f->evidence.at("port"), "80");
  EXPECT_EQ(f->summary, "0.0.0.0:80: accept queue 9/8 (nginx, pid 1234); 41 connections/s dropped");
  EXPECT_NE(f->fix.find("ss -ltn 'sport = :80'"), std::string::npos);
  EXPECT_NE(f->fix.find("net.core.somaxconn"), std::string::npos);
}

TEST(ServerRules, OneStrayOverflowIsNotAnAlarm) {
  auto e = healthy();
  // Full now but not at the first sample, and overflowing below the sustained rate.
  e.listeners[0].accept_queue = 512;
  e.listeners[0].accept_queue_limit = 511;
  e.listeners[0].queue_full_at_first_sample = false;
  e.rates["ListenOverflows"] = 0.5;
  const auto fs = evaluate_server(e);
  const auto* f = find(fs, "listen.accept_queue_full");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::warning);  // near the limit, said as such
  EXPECT_NE(f->summary.find("near its limit"), std::string::npos);
}

TEST(ServerRules, SynQueueOverflowWithoutCookies) {
  auto e = healthy();
  e.rates["TCPReqQFullDrop"] = 120;
  e.syncookies = false;
  e.syn_recv_total = 1800;
  e.syn_recv_by_source = {{"198.18.1.2", 1750}, {"198.18.1.3", 50}};
  const auto fs = evaluate_server(e);
  const auto* overflow = find(fs, "listen.syn_queue_overflow");
  ASSERT_NE(overflow, nullptr);
  EXPECT_EQ(overflow->evidence.at("tcp_syncookies"), "0");
  EXPECT_NE(overflow->fix.find("net.ipv4.tcp_syncookies=1"), std::string::npos);
  const auto* flood = find(fs, "listen.syn_flood");
  ASSERT_NE(flood, nullptr);
  EXPECT_EQ(flood->severity, Severity::critical);
  EXPECT_EQ(flood->evidence.at("top_source"), "198.18.1.2");
  // The right sysctl for SYN-ACK retries, never tcp_syn_retries as the fix.
  EXPECT_NE(flood->fix.find("tcp_synack_retries"), std::string::npos);
  EXPECT_EQ(flood->fix.find("tcp_syn_retries"), std::string::npos);
}

TEST(ServerRules, SynFloodAbsorbedByCookiesIsStillReported) {
  auto e = healthy();
  e.rates["SyncookiesSent"] = 900;
  e.syn_recv_total = 1200;
  e.syn_recv_by_source = {{"198.18.1.2", 1200}};
  const auto fs = evaluate_server(e);
  EXPECT_EQ(find(fs, "listen.syn_queue_overflow"), nullptr);
  const auto* flood = find(fs, "listen.syn_flood");
  ASSERT_NE(flood, nullptr);
  EXPECT_EQ(flood->severity, Severity::critical);
  EXPECT_EQ(flood->summary, "1200 half-open connections (SYN_RECV), 1200 of them from 198.18.1.2; 900 syncookies/s sent");
}

TEST(ServerRules, CloseWaitLeakNamesTheProcessAndMustPersist) {
  auto e = healthy();
  e.close_wait = {{4321, "app", 8080, 40, 38}};
  const auto fs = evaluate_server(e);
  const auto* f = find(fs, "tcp.close_wait_leak");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence.at("pid"), "4321");
  EXPECT_EQ(f->evidence.at("command"), "app");
  EXPECT_EQ(f->evidence.at("still_close_wait"), "38");
  EXPECT_EQ(f->summary, "40 sockets in CLOSE_WAIT owned by app (pid 4321) on port 8080");
  // Drained between the samples (only 3 of the 40 still there): an application catching up.
  e.close_wait = {{4321, "app", 8080, 40, 3}};
  EXPECT_FALSE(fires(e, "tcp.close_wait_leak"));
  // Below the minimum.
  e.close_wait = {{4321, "app", 8080, 15, 15}};
  EXPECT_FALSE(fires(e, "tcp.close_wait_leak"));
  // One sample (--interval 0): the count alone decides, without persistence evidence.
  e.close_wait = {{4321, "app", 8080, 40, std::nullopt}};
  e.interval_s = 0;
  const auto one = evaluate_server(e);
  const auto* g = find(one, "tcp.close_wait_leak");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->evidence.count("still_close_wait"), 0u);
}

TEST(ServerRules, TimeWaitPressureAgainstThePortRange) {
  auto e = healthy();
  e.time_wait_by_destination = {{"10.0.0.5:5432", 15000}, {"10.0.0.6:6379", 6000}, {"10.0.0.7:80", 100}};
  const auto fs = evaluate_server(e);
  std::vector<const Finding*> tw;
  for (const auto& f : fs) {
    if (f.id == "tcp.time_wait_pressure") tw.push_back(&f);
  }
  ASSERT_EQ(tw.size(), 2u);
  EXPECT_EQ(tw[0]->severity, Severity::critical);  // 53% of 28232
  EXPECT_EQ(tw[0]->evidence.at("destination"), "10.0.0.5:5432");
  EXPECT_EQ(tw[1]->severity, Severity::warning);  // 21%
  // TIME_WAIT is a fixed 60 s; tw_reuse is for outgoing connections only.
  EXPECT_NE(tw[0]->cause.find("60 s"), std::string::npos);
  EXPECT_NE(tw[0]->fix.find("outgoing"), std::string::npos);
}

TEST(ServerRules, OrphansRetransmitsResetsAndNofile) {
  auto e = healthy();
  e.orphans = 40000;
  e.rates["RetransSegs"] = 300;
  e.rates["OutSegs"] = 5000;
  e.rates["OutRsts"] = 250;
  e.listeners[0].open_fds = 1000;
  const auto fs = evaluate_server(e);
  EXPECT_NE(find(fs, "tcp.orphans"), nullptr);
  EXPECT_NE(find(fs, "tcp.retransmits_high"), nullptr);
  EXPECT_NE(find(fs, "tcp.resets_high"), nullptr);
  const auto* nofile = find(fs, "limits.nofile_low");
  ASSERT_NE(nofile, nullptr);
  EXPECT_EQ(nofile->severity, Severity::critical);  // 98%
  EXPECT_EQ(nofile->summary, "nginx (pid 1234) has 1000 of 1024 file descriptors open (98%)");
}

TEST(ServerRules, RetransmitsOnAnIdleHostAreIgnored) {
  auto e = healthy();
  e.rates["RetransSegs"] = 5;  // 50% of a trickle is not a problem worth an alarm
  e.rates["OutSegs"] = 10;
  EXPECT_FALSE(fires(e, "tcp.retransmits_high"));
}

TEST(ServerRules, CriticalFirstThenById) {
  auto e = healthy();
  e.rates["OutRsts"] = 250;  // warning
  e.listeners[0].accept_queue = 9;
  e.listeners[0].accept_queue_limit = 8;
  e.listeners[0].queue_full_at_first_sample = true;  // critical
  const auto fs = evaluate_server(e);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].id, "listen.accept_queue_full");
  EXPECT_EQ(fs[1].id, "tcp.resets_high");
}

}  // namespace
}  // namespace connscope::rules
