#include "watch/summary.h"

#include <gtest/gtest.h>

#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <sstream>

namespace connscope::watch {
namespace {

using namespace std::chrono;
using tp = system_clock::time_point;

const tp kStart = tp(seconds(1'800'000'000));

Event state(std::string from, std::string to, std::uint16_t local_port = 8080) {
  Event e;
  e.kind = EventKind::state;
  e.protocol = IPPROTO_TCP;
  e.source = Endpoint{AF_INET, "192.0.2.1", local_port};
  e.destination = Endpoint{AF_INET, "198.51.100.7", 40000};
  e.old_state = std::move(from);
  e.new_state = std::move(to);
  return e;
}

// A packet from `from` to this host (192.0.2.1) at `to_port`.
Event packet(EventKind kind, std::string from, std::uint16_t to_port) {
  Event e;
  e.kind = kind;
  e.protocol = IPPROTO_TCP;
  e.packet = true;
  e.source = Endpoint{AF_INET, std::move(from), 50000};
  e.destination = Endpoint{AF_INET, "192.0.2.1", to_port};
  return e;
}

Event drop(std::string reason, std::string from, std::uint16_t to_port) {
  Event e = packet(EventKind::drop, std::move(from), to_port);
  e.reason = std::move(reason);
  return e;
}

Event overflow(std::string peer, std::uint16_t port = 80) {
  Event e = packet(EventKind::accept_overflow, std::move(peer), port);
  e.backlog = 129;
  e.max_backlog = 128;
  return e;
}

Event socket_event(EventKind kind, std::uint16_t local_port, std::string peer) {
  Event e;
  e.kind = kind;
  e.protocol = IPPROTO_TCP;
  e.source = Endpoint{AF_INET, "192.0.2.1", local_port};
  e.destination = Endpoint{AF_INET, std::move(peer), 40000};
  return e;
}

TEST(Tally, CountsEachKindByItsKey) {
  Tally t;
  t.add(state("SYN-RECV", "ESTAB"));
  t.add(state("SYN-RECV", "ESTAB"));
  t.add(state("ESTAB", "FIN-WAIT-1"));
  t.add(drop("NETFILTER_DROP", "203.0.113.5", 22));
  t.add(drop("NETFILTER_DROP", "203.0.113.5", 22));
  t.add(drop("NO_SOCKET", "203.0.113.6", 23));
  t.add(socket_event(EventKind::reset_sent, 8080, "198.51.100.7"));
  t.add(socket_event(EventKind::reset_received, 443, "198.51.100.8"));
  t.add(socket_event(EventKind::retransmit, 443, "198.51.100.8"));
  t.add(socket_event(EventKind::synack_retransmit, 443, "198.51.100.9"));
  t.add(overflow("198.51.100.20"));
  t.add(overflow("198.51.100.20"));
  t.add(overflow("198.51.100.21"));
  EXPECT_EQ(t.events, 13u);
  EXPECT_EQ(t.transitions.count({"SYN-RECV", "ESTAB"}), 2u);
  EXPECT_EQ(t.transitions.count({"ESTAB", "FIN-WAIT-1"}), 1u);
  // A packet's local port is its destination's.
  EXPECT_EQ(t.drops.count({"NETFILTER_DROP", 22}), 2u);
  EXPECT_EQ(t.drops.count({"NO_SOCKET", 23}), 1u);
  // A socket's is its source's.
  EXPECT_EQ(t.resets_sent.count(8080), 1u);
  EXPECT_EQ(t.resets_received.count(443), 1u);
  EXPECT_EQ(t.retransmits.count(443), 2u);
  EXPECT_EQ(t.peers.count("198.51.100.7"), 4u);  // three state changes and a reset
  EXPECT_EQ(t.peers.count("203.0.113.5"), 2u);
  EXPECT_EQ(t.peers.count("198.51.100.20"), 2u);
  ASSERT_EQ(t.overflows.size(), 1u);
  const auto& l = t.overflows.at("192.0.2.1:80");
  EXPECT_EQ(l.accept_overflows, 3u);
  EXPECT_EQ(l.port, 80);
  EXPECT_EQ(l.backlog, 129u);
  EXPECT_EQ(l.peers.count("198.51.100.20"), 2u);
  EXPECT_EQ(t.firewall_sources.at(22).count("203.0.113.5"), 2u);
  EXPECT_FALSE(t.firewall_sources.contains(23));
}

TEST(Tally, AListenersOwnEndIsNoPeer) {
  Tally t;
  Event e;
  e.kind = EventKind::syn_queue_drop;
  e.source = Endpoint{AF_INET6, "::", 443};
  e.destination = Endpoint{AF_INET6, "::", 0};
  t.add(e);
  EXPECT_TRUE(t.peers.empty());
  EXPECT_EQ(t.overflows.at("[::]:443").syn_queue_drops, 1u);
}

TEST(BoundedCounts, KeysPastTheLimitAreCountedAsOther) {
  BoundedCounts<std::string> c(2);
  c.add("a");
  c.add("b", 5);
  c.add("c", 3);
  c.add("a");
  EXPECT_EQ(c.count("a"), 2u);
  EXPECT_EQ(c.count("c"), 0u);
  EXPECT_EQ(c.other(), 3u);
  const auto s = c.sorted();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].first, "b");
  EXPECT_EQ(s[1].first, "a");
}

bpf::Aggregates::Count counted(std::uint32_t kind, std::uint16_t family, std::vector<std::uint8_t> peer,
                               std::uint16_t port, std::uint64_t n, std::optional<std::uint32_t> reason = {}) {
  bpf::Aggregates::Count c;
  c.key.kind = kind;
  c.key.family = family;
  std::copy(peer.begin(), peer.end(), c.key.peer);
  c.key.port = port;
  if (reason) {
    c.key.reason = *reason;
    c.key.flags = CS_F_HAS_REASON;
  }
  c.events = n;
  return c;
}

TEST(KernelCounted, TheChangeSinceTheLastLookNamedAsEventsNameIt) {
  bpf::Aggregates before, now;
  const auto at = [](int from, int to) { return static_cast<std::size_t>(from * CS_TCP_STATES + to); };
  before.transitions[at(7, 2)] = 10;  // CLOSE -> SYN_SENT
  now.transitions[at(7, 2)] = 25;
  now.transitions[at(2, 1)] = 4;      // SYN_SENT -> ESTABLISHED, new
  // ::ffff:198.51.100.7 is shown as 198.51.100.7.
  const std::vector<std::uint8_t> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7};
  before.counts = {counted(CS_EV_STATE, AF_INET, {192, 0, 2, 9}, 0, 3), counted(CS_EV_DROP, AF_INET, {203, 0, 113, 5}, 22, 7, 6)};
  now.counts = {counted(CS_EV_STATE, AF_INET, {192, 0, 2, 9}, 0, 3), counted(CS_EV_STATE, AF_INET6, mapped, 0, 2),
                counted(CS_EV_DROP, AF_INET, {203, 0, 113, 5}, 22, 12, 6),
                counted(CS_EV_RESET_SENT, AF_INET, {0, 0, 0, 0}, 7000, 1)};
  before.other[CS_EV_DROP] = 1;
  now.other[CS_EV_DROP] = 6;
  ReasonNames names;
  names.drop[6] = "NETFILTER_DROP";

  const auto k = kernel_counted(before, now, names);
  ASSERT_EQ(k.transitions.size(), 2u);
  EXPECT_EQ(k.transitions[0].first, (TransitionKey{"SYN_SENT", "ESTABLISHED"}));
  EXPECT_EQ(k.transitions[0].second, 4u);
  EXPECT_EQ(k.transitions[1].first, (TransitionKey{"CLOSE", "SYN_SENT"}));
  EXPECT_EQ(k.transitions[1].second, 15u);
  ASSERT_EQ(k.counts.size(), 3u);  // 192.0.2.9's connections did not change
  EXPECT_EQ(k.counts[0].kind, EventKind::state);
  EXPECT_EQ(k.counts[0].peer, "198.51.100.7");
  EXPECT_EQ(k.counts[0].events, 2u);
  EXPECT_EQ(k.counts[1].kind, EventKind::drop);
  EXPECT_EQ(k.counts[1].reason, "NETFILTER_DROP");
  EXPECT_EQ(k.counts[1].port, 22);
  EXPECT_EQ(k.counts[1].peer, "203.0.113.5");
  EXPECT_EQ(k.counts[1].events, 5u);
  EXPECT_EQ(k.counts[2].kind, EventKind::reset_sent);
  EXPECT_EQ(k.counts[2].reason, "");
  EXPECT_EQ(k.counts[2].peer, "");  // the unspecified address is no peer
  EXPECT_EQ(k.other[CS_EV_DROP], 5u);

  // Counted as the same events streamed would be.
  Summary s(kStart);
  s.add(k);
  s.add(state("ESTABLISHED", "FIN_WAIT1"));
  s.roll(kStart + seconds(1));
  const auto& w = s.last_window();
  EXPECT_EQ(w.events, 19u + 5 + 1 + 5 + 1);  // transitions, drops, the reset, drops without room, the event
  EXPECT_EQ(w.transitions.count({"CLOSE", "SYN_SENT"}), 15u);
  EXPECT_EQ(w.transitions.count({"ESTABLISHED", "FIN_WAIT1"}), 1u);
  EXPECT_EQ(w.peers.count("198.51.100.7"), 3u);  // 2 connections, 1 streamed event
  EXPECT_EQ(w.peers.count("203.0.113.5"), 5u);
  EXPECT_EQ(w.drops.count({"NETFILTER_DROP", 22}), 5u);
  EXPECT_EQ(w.drops.other(), 5u);
  EXPECT_EQ(w.resets_sent.count(7000), 1u);
  EXPECT_EQ(w.firewall_sources.at(22).count("203.0.113.5"), 5u);
  EXPECT_EQ(s.total().transitions.count({"SYN_SENT", "ESTABLISHED"}), 4u);
}

TEST(Summary, WindowsRollAndTheTotalKeepsEverything) {
  Summary s(kStart);
  s.add(state("SYN-RECV", "ESTAB"));
  s.add_lost(3);
  s.roll(kStart + seconds(1));
  EXPECT_EQ(s.last_window().events, 1u);
  EXPECT_EQ(s.last_window().lost, 3u);
  s.add(state("ESTAB", "CLOSE-WAIT"));
  s.add(state("ESTAB", "CLOSE-WAIT"));
  s.roll(kStart + milliseconds(2500));
  EXPECT_EQ(s.last_window().events, 2u);
  EXPECT_EQ(s.last_window().lost, 0u);
  EXPECT_EQ(s.last_window().transitions.count({"SYN-RECV", "ESTAB"}), 0u);
  EXPECT_EQ(s.last_window_length(), milliseconds(1500));
  EXPECT_EQ(s.total().events, 3u);
  EXPECT_EQ(s.total().lost, 3u);
  EXPECT_EQ(s.total_length(), milliseconds(2500));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Summary, TheTextBlockSortsEachSectionAndFitsTheHeight) {
  Summary s(kStart);
  s.add(state("SYN-RECV", "ESTAB"));
  s.roll(kStart + seconds(1));
  for (int i = 0; i < 5; ++i) s.add(state("ESTAB", "FIN-WAIT-1"));
  for (int i = 0; i < 3; ++i) s.add(state("FIN-WAIT-1", "FIN-WAIT-2"));
  for (int i = 0; i < 2; ++i) s.add(drop("NETFILTER_DROP", "203.0.113.5", 22));
  s.add(overflow("198.51.100.20"));
  s.roll(kStart + seconds(2));
  const auto text = render_summary_text(s, Lang::en, false, 0);
  const auto lines = lines_of(text);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "connscope watch — last 1.00s: 11 events, 0 missed; since start (2.00s): 12 events, 0 missed");
  EXPECT_EQ(lines[1], "");
  // Overflows come first.
  EXPECT_TRUE(lines[2].starts_with("Listener queue overflows")) << lines[2];
  EXPECT_TRUE(lines[2].ends_with("last 1.00s       total")) << lines[2];
  EXPECT_TRUE(lines[3].starts_with("  192.0.2.1:80 (queue 129/128)")) << lines[3];
  // Transitions: the last window's largest first; one seen only before it comes last.
  const auto t = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.starts_with("State"); });
  ASSERT_NE(t, lines.end());
  EXPECT_TRUE(t[1].starts_with("  ESTAB → FIN-WAIT-1 ")) << t[1];
  EXPECT_TRUE(t[1].ends_with("           5           5")) << t[1];
  EXPECT_TRUE(t[2].starts_with("  FIN-WAIT-1 → FIN-WAIT-2 ")) << t[2];
  EXPECT_TRUE(t[3].starts_with("  SYN-RECV → ESTAB ")) << t[3];
  EXPECT_TRUE(t[3].ends_with("           0           1")) << t[3];
  EXPECT_NE(text.find("  NETFILTER_DROP :22 "), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);

  // A short terminal: one row per section, the rest counted in the header.
  const auto small = lines_of(render_summary_text(s, Lang::en, true, 8));
  const auto t2 = std::find_if(small.begin(), small.end(), [](const std::string& l) { return l.find("State") != std::string::npos; });
  ASSERT_NE(t2, small.end());
  EXPECT_NE(t2->find("State transitions (+2 more)"), std::string::npos) << *t2;
  EXPECT_TRUE(t2[1].starts_with("  ESTAB → FIN-WAIT-1 ")) << t2[1];
  EXPECT_EQ(t2[2], "");
  EXPECT_NE(small[0].find("\x1b[1m"), std::string::npos);
  EXPECT_EQ(small.size(), 1 + 4 * 3u);  // four sections of one row each: one past the height

  // 16 lines: the 7 left after the headers are dealt out a row at a time, so transitions get all
  // three of theirs and the peers two of three.
  const auto mid = lines_of(render_summary_text(s, Lang::en, false, 16));
  EXPECT_EQ(mid.size(), 16u);
  const auto t3 = std::find_if(mid.begin(), mid.end(), [](const std::string& l) { return l.starts_with("State"); });
  ASSERT_NE(t3, mid.end());
  EXPECT_EQ(t3->find("more"), std::string::npos) << *t3;
  EXPECT_TRUE(t3[3].starts_with("  SYN-RECV → ESTAB ")) << t3[3];
  const auto p3 = std::find_if(mid.begin(), mid.end(), [](const std::string& l) { return l.starts_with("Top peers"); });
  ASSERT_NE(p3, mid.end());
  EXPECT_TRUE(p3->starts_with("Top peers, by events (+1 more) ")) << *p3;
}

TEST(Summary, NothingYet) {
  Summary s(kStart);
  s.roll(kStart + seconds(1));
  const auto lines = lines_of(render_summary_text(s, Lang::en, false, 24));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "  no events yet");
}

TEST(Summary, TheJsonObject) {
  Summary s(kStart);
  s.add(state("SYN-RECV", "ESTAB"));
  s.add(drop("NETFILTER_DROP", "203.0.113.5", 22));
  s.add(drop("", "203.0.113.5", 0));
  s.add(socket_event(EventKind::reset_sent, 8080, "198.51.100.7"));
  s.add(overflow("198.51.100.20"));
  s.add_lost(2);
  s.add_missed(4);
  s.roll(kStart + milliseconds(1000));
  const auto j = summary_json(s);
  const auto& w = j["window"];
  EXPECT_DOUBLE_EQ(w["seconds"].get<double>(), 1.0);
  EXPECT_EQ(w["events"], 5);
  EXPECT_EQ(w["lost"], 2);
  EXPECT_EQ(w["missed"], 4);
  EXPECT_EQ(w["transitions"], (nlohmann::json::parse(R"([{"from":"SYN-RECV","to":"ESTAB","count":1}])")));
  EXPECT_EQ(w["drops"], (nlohmann::json::parse(
                            R"([{"reason":null,"port":null,"count":1},{"reason":"NETFILTER_DROP","port":22,"count":1}])")));
  EXPECT_EQ(w["resets_sent"], (nlohmann::json::parse(R"([{"port":8080,"count":1}])")));
  EXPECT_EQ(w["resets_received"], nlohmann::json::array());
  EXPECT_EQ(w["retransmits"], nlohmann::json::array());
  // Equal counts in address order.
  EXPECT_EQ(w["peers"], (nlohmann::json::parse(R"([{"address":"198.51.100.7","count":2},
      {"address":"203.0.113.5","count":2},{"address":"198.51.100.20","count":1}])")));
  EXPECT_EQ(w["overflows"], (nlohmann::json::parse(R"([{"listener":"192.0.2.1:80","port":80,"accept_overflows":1,
      "syn_queue_drops":0,"backlog":129,"max_backlog":128,"count":1,
      "peers":[{"address":"198.51.100.20","count":1}]}])")));
  EXPECT_EQ(w["truncated"], nlohmann::json::object());
  EXPECT_EQ(j["total"], w);
}

TEST(Summary, TheEvidenceForTheEventRules) {
  Tally w;
  for (int i = 0; i < 30; ++i) w.add(overflow(i < 20 ? "198.51.100.20" : "198.51.100.21"));
  for (int i = 0; i < 10; ++i) w.add(drop("NETFILTER_DROP", i < 7 ? "203.0.113.5" : "203.0.113.6", 22));
  w.add(drop("NO_SOCKET", "203.0.113.5", 23));
  Event sq;  // a SYN-queue drop only: not an accept-queue overflow
  sq.kind = EventKind::syn_queue_drop;
  sq.source = Endpoint{AF_INET, "192.0.2.1", 8443};
  w.add(sq);
  const auto e = event_evidence(w, seconds(2));
  EXPECT_DOUBLE_EQ(e.window_s, 2.0);
  ASSERT_EQ(e.overflows.size(), 1u);
  const auto& o = e.overflows[0];
  EXPECT_EQ(o.listener, "192.0.2.1:80");
  EXPECT_EQ(o.port, 80);
  EXPECT_EQ(o.accept_overflows, 30u);
  ASSERT_EQ(o.peers.size(), 2u);
  EXPECT_EQ(o.peers[0].address, "198.51.100.20");
  EXPECT_EQ(o.peers[0].count, 20u);
  ASSERT_EQ(e.firewall_drops.size(), 1u);
  EXPECT_EQ(e.firewall_drops[0].port, 22);
  EXPECT_EQ(e.firewall_drops[0].drops, 10u);
  ASSERT_EQ(e.firewall_drops[0].peers.size(), 2u);
  EXPECT_EQ(e.firewall_drops[0].peers[0].address, "203.0.113.5");
  EXPECT_EQ(e.firewall_drops[0].peers[0].count, 7u);
}

}  // namespace
}  // namespace connscope::watch
