#include "rules/event_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace connscope::rules {
namespace {

ListenerOverflows web_overflows(std::uint64_t syns, std::uint64_t acks) {
  ListenerOverflows l;
  l.listener = "0.0.0.0:80";
  l.port = 80;
  l.accept_overflows = syns + acks;
  l.backlog = 129;
  l.max_backlog = 128;
  l.peers = {{"198.51.100.20", 30}, {"198.51.100.21", 8}, {"198.51.100.22", 2}, {"198.51.100.23", 1}};
  return l;
}

PortDrops ssh_drops(std::uint64_t n) {
  return PortDrops{22, n, {{"203.0.113.5", n - 1}, {"203.0.113.6", 1}}};
}

const Finding* find(const std::vector<Finding>& fs, std::string_view id) {
  const auto it = std::find_if(fs.begin(), fs.end(), [&](const Finding& f) { return f.id == id; });
  return it == fs.end() ? nullptr : &*it;
}
const Finding* find(std::vector<Finding>&& fs, std::string_view id) = delete;

TEST(EventRules, AFullAcceptQueueIsNamedPerListenerWithItsProcess) {
  EventEvidence e;
  e.window_s = 2;
  e.overflows.push_back(web_overflows(30, 11));
  e.owners[80] = {4321, "nginx"};
  const auto fs = evaluate_events(e);
  ASSERT_EQ(fs.size(), 1u);
  const auto& f = fs[0];
  EXPECT_EQ(f.id, "listen.accept_queue_full");
  EXPECT_EQ(f.severity, Severity::critical);
  EXPECT_EQ(f.summary, "0.0.0.0:80: accept queue 129/128 (nginx, pid 4321); 20.5 connections/s dropped");
  EXPECT_EQ(f.evidence.at("listener"), "0.0.0.0:80");
  EXPECT_EQ(f.evidence.at("address"), "0.0.0.0:80");
  EXPECT_EQ(f.evidence.at("port"), "80");
  EXPECT_EQ(f.evidence.at("drops_per_second"), "20.5");
  EXPECT_EQ(f.evidence.at("accept_overflows"), "41");
  EXPECT_EQ(f.evidence.at("accept_queue"), "129");
  EXPECT_EQ(f.evidence.at("accept_queue_limit"), "128");
  EXPECT_EQ(f.evidence.at("peers"), "198.51.100.20 (30), 198.51.100.21 (8), 198.51.100.22 (2)");
  EXPECT_EQ(f.evidence.at("pid"), "4321");
  EXPECT_EQ(f.evidence.at("command"), "nginx");
  // The server rule's texts, with this listener in them.
  EXPECT_EQ(f.cause, tr(Lang::en, Msg::f_accept_queue_full_cause));
  EXPECT_NE(f.fix.find("keeps nginx (pid 4321) from accepting"), std::string::npos) << f.fix;
  EXPECT_NE(f.fix.find("'sport = :80'"), std::string::npos) << f.fix;
}

TEST(EventRules, AnOwnerlessListenerSaysSo) {
  EventEvidence e;
  e.overflows.push_back(web_overflows(3, 0));
  const auto fs = evaluate_events(e);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].summary, "0.0.0.0:80: accept queue 129/128; 3 connections/s dropped");
  EXPECT_FALSE(fs[0].evidence.contains("pid"));
  EXPECT_NE(fs[0].fix.find("keeps the owning process from accepting"), std::string::npos) << fs[0].fix;
}

TEST(EventRules, AStrayOverflowIsNotAFinding) {
  EventEvidence e;
  e.window_s = 5;
  e.overflows.push_back(web_overflows(3, 1));  // 0.8/s
  EXPECT_TRUE(evaluate_events(e).empty());
  e.overflows[0] = web_overflows(0, 0);
  e.window_s = 1;
  EXPECT_TRUE(evaluate_events(e).empty());
  // No window, no rate.
  e.overflows[0] = web_overflows(100, 100);
  e.window_s = 0;
  EXPECT_TRUE(evaluate_events(e).empty());
}

TEST(EventRules, FirewallDropsToAListeningPort) {
  EventEvidence e;
  e.window_s = 1;
  e.firewall_drops.push_back(ssh_drops(12));
  e.listening_ports = {22, 80};
  e.owners[22] = {900, "sshd"};
  const auto fs = evaluate_events(e);
  const auto* f = find(fs, "host.firewall_drop");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_EQ(f->summary,
            "a firewall rule on this host dropped 12 packets/s to port 22, where sshd (pid 900) listens; top sources: "
            "203.0.113.5 (11), 203.0.113.6 (1)");
  EXPECT_EQ(f->evidence.at("port"), "22");
  EXPECT_EQ(f->evidence.at("drops"), "12");
  EXPECT_EQ(f->evidence.at("peers"), "203.0.113.5 (11), 203.0.113.6 (1)");
  EXPECT_EQ(f->evidence.at("command"), "sshd");
  EXPECT_NE(f->fix.find("nft list ruleset | grep -n 22"), std::string::npos) << f->fix;
  EXPECT_FALSE(f->cause.empty());
}

TEST(EventRules, FirewallDropsThatMustNotFire) {
  EventEvidence e;
  e.window_s = 1;
  e.firewall_drops.push_back(ssh_drops(12));
  // Listening ports not known: no finding.
  EXPECT_TRUE(evaluate_events(e).empty());
  // Nothing listens on the port: the firewall protects a closed port, as it should.
  e.listening_ports = {80, 443};
  EXPECT_TRUE(evaluate_events(e).empty());
  // Listening, but below the rate.
  e.listening_ports = {22};
  e.window_s = 20;
  EXPECT_TRUE(evaluate_events(e).empty());
}

TEST(EventRules, CriticalFirst) {
  EventEvidence e;
  e.firewall_drops.push_back(ssh_drops(12));
  e.listening_ports = {22, 80};
  e.overflows.push_back(web_overflows(10, 0));
  const auto fs = evaluate_events(e);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].id, "listen.accept_queue_full");
  EXPECT_EQ(fs[1].id, "host.firewall_drop");
}

TEST(EventRules, EveryIdHasTexts) {
  EventEvidence e;
  e.overflows.push_back(web_overflows(10, 0));
  e.firewall_drops.push_back(ssh_drops(12));
  e.listening_ports = {22, 80};
  const auto fs = evaluate_events(e);
  for (const auto id : event_finding_ids()) {
    const auto* f = find(fs, id);
    ASSERT_NE(f, nullptr) << id;
    EXPECT_FALSE(f->summary.empty()) << id;
    EXPECT_FALSE(f->cause.empty()) << id;
    EXPECT_FALSE(f->fix.empty()) << id;
    EXPECT_EQ(f->summary.find('{'), std::string::npos) << f->summary;
    EXPECT_EQ(f->fix.find('{'), std::string::npos) << f->fix;
  }
  EXPECT_EQ(fs.size(), event_finding_ids().size());
}

TEST(EventRules, NoPeersRecorded) {
  EventEvidence e;
  auto l = web_overflows(5, 0);
  l.peers.clear();
  e.overflows.push_back(l);
  EXPECT_EQ(evaluate_events(e)[0].evidence.at("peers"), "none");  // a token: the texts say it in words
}

}  // namespace
}  // namespace connscope::rules
