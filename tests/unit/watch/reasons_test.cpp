#include "watch/reasons.h"

#include <gtest/gtest.h>

#include <netinet/in.h>

#include <set>
#include <string>

namespace connscope::watch {
namespace {

using namespace std::string_view_literals;

// The reasons the brief names: every one must have words.
constexpr std::string_view kDropNames[] = {
    "NO_SOCKET", "SOCKET_CLOSE", "SOCKET_FILTER", "SOCKET_RCVBUFF", "SOCKET_BACKLOG", "PKT_TOO_SMALL",
    "TCP_CSUM", "UDP_CSUM", "IP_CSUM", "NETFILTER_DROP", "OTHERHOST", "IP_RPFILTER", "XFRM_POLICY",
    "IP_NOPROTO", "PROTO_MEM", "TCP_AUTH_HDR", "TCP_MD5NOTFOUND", "TCP_MD5UNEXPECTED", "TCP_MD5FAILURE",
    "TCP_AONOTFOUND", "TCP_AOUNEXPECTED", "TCP_AOKEYNOTFOUND", "TCP_AOFAILURE", "TCP_FLAGS",
    "TCP_ABORT_ON_DATA", "TCP_ZEROWINDOW", "TCP_OLD_DATA", "TCP_OVERWINDOW", "TCP_OFOMERGE",
    "TCP_RFC7323_PAWS", "TCP_RFC7323_PAWS_ACK", "TCP_RFC7323_TW_PAWS", "TCP_RFC7323_TSECR",
    "TCP_LISTEN_OVERFLOW", "TCP_OLD_SEQUENCE", "TCP_INVALID_SEQUENCE", "TCP_INVALID_ACK_SEQUENCE",
    "TCP_RESET", "TCP_INVALID_SYN", "TCP_CLOSE", "TCP_FASTOPEN", "TCP_OLD_ACK", "TCP_TOO_OLD_ACK",
    "TCP_ACK_UNSENT_DATA", "TCP_OFO_QUEUE_PRUNE", "TCP_OFO_DROP", "IP_OUTNOROUTES", "BPF_CGROUP_EGRESS",
    "IPV6DISABLED", "NEIGH_CREATEFAIL", "NEIGH_FAILED", "NEIGH_QUEUEFULL", "NEIGH_DEAD", "NEIGH_HH_FILLFAIL",
    "QDISC_DROP", "QDISC_OVERLIMIT", "CPU_BACKLOG", "XDP", "TC_INGRESS", "TC_EGRESS", "NOMEM", "FULL_RING",
    "IP_INADDRERRORS", "IP_INNOROUTES", "IP_LOCAL_SOURCE", "IP_INVALID_SOURCE", "PKT_TOO_BIG",
    "TCP_MINTTL", "SECURITY_HOOK", "QUEUE_PURGE"};

constexpr std::string_view kResetNames[] = {
    "NO_SOCKET", "TCP_INVALID_ACK_SEQUENCE", "TCP_RFC7323_PAWS", "TCP_TOO_OLD_ACK", "TCP_ACK_UNSENT_DATA",
    "TCP_FLAGS", "TCP_OLD_ACK", "TCP_ABORT_ON_DATA", "TCP_TIMEWAIT_SOCKET", "INVALID_SYN",
    "TCP_ABORT_ON_CLOSE", "TCP_ABORT_ON_LINGER", "TCP_ABORT_ON_MEMORY", "TCP_STATE", "TCP_KEEPALIVE_TIMEOUT",
    "TCP_DISCONNECT_WITH_DATA", "ERROR"};

// No text may keep a placeholder the call did not fill, or be empty.
void expect_complete(const ReasonText& t, std::string_view name) {
  EXPECT_FALSE(t.meaning.empty()) << name;
  EXPECT_FALSE(t.fix.empty()) << name;
  EXPECT_EQ(t.meaning.find('{'), std::string::npos) << name << ": " << t.meaning;
  EXPECT_EQ(t.fix.find('{'), std::string::npos) << name << ": " << t.fix;
}

TEST(Reasons, EveryNamedDropReasonHasWords) {
  for (const auto name : kDropNames) {
    const auto t = drop_reason_text(Lang::en, name, {"8080", "10.0.0.5"});
    ASSERT_TRUE(t.has_value()) << name;
    expect_complete(*t, name);
  }
}

TEST(Reasons, EveryNamedResetReasonHasWords) {
  for (const auto name : kResetNames) {
    const auto t = reset_reason_text(Lang::en, name, {"8080", "10.0.0.5"});
    ASSERT_TRUE(t.has_value()) << name;
    expect_complete(*t, name);
  }
}

TEST(Reasons, TheTablesHoldNoDuplicatesAndOnlyNamesTheyResolve) {
  std::set<std::string_view> seen;
  for (const auto name : known_drop_reasons()) {
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_TRUE(drop_reason_text(Lang::en, name).has_value()) << name;
  }
  EXPECT_EQ(seen.size(), std::size(kDropNames));
  seen.clear();
  for (const auto name : known_reset_reasons()) {
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_TRUE(reset_reason_text(Lang::en, name).has_value()) << name;
  }
  EXPECT_EQ(seen.size(), std::size(kResetNames));
}

TEST(Reasons, AnUnknownNameIsNotGuessed) {
  EXPECT_FALSE(drop_reason_text(Lang::en, "reason 131").has_value());
  EXPECT_FALSE(drop_reason_text(Lang::en, "VXLAN_INVALID_HDR").has_value());
  EXPECT_FALSE(drop_reason_text(Lang::en, "").has_value());
  EXPECT_FALSE(drop_reason_text(Lang::en, "netfilter_drop").has_value());  // names are exact
  EXPECT_FALSE(reset_reason_text(Lang::en, "MPTCP_RST_EUNSPEC").has_value());
  EXPECT_FALSE(reset_reason_text(Lang::en, "NOT_SPECIFIED").has_value());
}

TEST(Reasons, TheFirewallDropNamesTheCommandsWithThePort) {
  const auto t = drop_reason_text(Lang::en, "NETFILTER_DROP", {"443", "192.0.2.7"});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->meaning, "a firewall rule on this host (netfilter: nftables or iptables) dropped it");
  EXPECT_NE(t->fix.find("nft list ruleset | grep -n 443"), std::string::npos) << t->fix;
  EXPECT_NE(t->fix.find("iptables -S | grep 443"), std::string::npos) << t->fix;
}

TEST(Reasons, WithoutArgumentsTheTextsShowWhatToReplace) {
  const auto t = drop_reason_text(Lang::en, "NO_SOCKET");
  ASSERT_TRUE(t);
  EXPECT_NE(t->meaning.find("port PORT"), std::string::npos) << t->meaning;
}

struct NamedMsg {
  std::string_view name;
  Msg id;
};

constexpr NamedMsg kWatchMessages[] = {
#define WATCH_MSG(id, english) {#id, Msg::id},
    CONNSCOPE_WATCH_MESSAGES(WATCH_MSG)
#undef WATCH_MSG
};

TEST(Reasons, EveryReasonAndKindTextFormatsWithTheArgumentsItIsGiven) {
  // A reason's or a kind's text may quote only {port}, {peer}, {backlog} and {max_backlog}: fmt
  // throws on any other name.
  int checked = 0;
  for (const auto& [name, id] : kWatchMessages) {
    EXPECT_FALSE(text_template(Lang::en, id).empty()) << name;
    const auto prefix = name.substr(0, 3);
    if (prefix != "wd_" && prefix != "wr_" && prefix != "we_") continue;
    ++checked;
    EXPECT_NO_THROW((void)tr(Lang::en, id, fmt::arg("port", 80), fmt::arg("peer", "192.0.2.1"),
                             fmt::arg("backlog", 1), fmt::arg("max_backlog", 2), fmt::arg("count", 3)))
        << name;
  }
  EXPECT_GT(checked, 100);
}

Event drop_event(std::string reason) {
  Event e;
  e.kind = EventKind::drop;
  e.protocol = IPPROTO_TCP;
  e.packet = true;
  e.source = Endpoint{AF_INET, "198.51.100.9", 40000};
  e.destination = Endpoint{AF_INET, "192.0.2.1", 22};
  e.reason = std::move(reason);
  return e;
}

TEST(EventText, ADropQuotesItsLocalPortAndPeer) {
  const auto t = event_text(Lang::en, drop_event("NO_SOCKET"));
  ASSERT_TRUE(t);
  EXPECT_NE(t->meaning.find("port 22"), std::string::npos) << t->meaning;
  const auto r = event_text(Lang::en, drop_event("IP_RPFILTER"));
  ASSERT_TRUE(r);
  EXPECT_NE(r->meaning.find("198.51.100.9"), std::string::npos) << r->meaning;
}

TEST(EventText, ADropWithAnUnknownReasonHasNoWords) {
  EXPECT_FALSE(event_text(Lang::en, drop_event("reason 131")).has_value());
}

TEST(EventText, ASocketEventsLocalEndIsItsSource) {
  Event e;
  e.kind = EventKind::reset_sent;
  e.source = Endpoint{AF_INET, "192.0.2.1", 8080};
  e.destination = Endpoint{AF_INET, "198.51.100.9", 40000};
  e.reason = "NO_SOCKET";
  const auto args = reason_args(e);
  EXPECT_EQ(args.port, "8080");
  EXPECT_EQ(args.peer, "198.51.100.9");
  const auto t = event_text(Lang::en, e);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->meaning, "nothing listens on port 8080, or the connection is gone");
}

TEST(EventText, AResetWithoutAKernelReasonStillSaysSomething) {
  Event e;
  e.kind = EventKind::reset_sent;
  e.source = Endpoint{AF_INET, "192.0.2.1", 8080};
  for (const std::string reason : {"", "NOT_SPECIFIED"}) {
    e.reason = reason;
    const auto t = event_text(Lang::en, e);
    ASSERT_TRUE(t) << reason;
    EXPECT_EQ(t->meaning.find("no reason given"), 0u) << t->meaning;
  }
}

TEST(EventText, KindsThatNeedWords) {
  Event e;
  e.source = Endpoint{AF_INET, "192.0.2.1", 80};
  e.destination = Endpoint{AF_INET, "198.51.100.9", 40000};
  e.kind = EventKind::reset_received;
  EXPECT_EQ(event_text(Lang::en, e)->meaning, "198.51.100.9 aborted the connection (RST)");
  e.kind = EventKind::accept_overflow;
  e.backlog = 129;
  e.max_backlog = 128;
  EXPECT_EQ(event_text(Lang::en, e)->meaning,
            "accept queue full (129/128): the application does not call accept() fast enough; 1 SYNs or handshake ACKs dropped");
  e.kind = EventKind::syn_queue_drop;
  e.count = 4;
  EXPECT_EQ(event_text(Lang::en, e)->meaning, "SYN queue full and syncookies off: 4 SYNs dropped");
  e.kind = EventKind::retransmit;
  EXPECT_TRUE(event_text(Lang::en, e).has_value());
  e.kind = EventKind::synack_retransmit;
  EXPECT_TRUE(event_text(Lang::en, e).has_value());
  e.kind = EventKind::state;
  EXPECT_FALSE(event_text(Lang::en, e).has_value());
}

}  // namespace
}  // namespace connscope::watch
