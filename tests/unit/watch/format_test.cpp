#include "watch/format.h"

#include <gtest/gtest.h>

#include <netinet/in.h>

#include <cstdlib>
#include <ctime>

namespace connscope::watch {
namespace {

using namespace std::chrono;

class Format : public ::testing::Test {
 protected:
  // Lines are in local time: pin it.
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

// 2026-12-02T21:44:02.123Z
system_clock::time_point at_ms(std::int64_t ms) { return system_clock::time_point(milliseconds(ms)); }
constexpr std::int64_t kT = 1796247842123;

Event state_event() {
  Event e;
  e.time = at_ms(kT);
  e.kind = EventKind::state;
  e.protocol = IPPROTO_TCP;
  e.source = Endpoint{AF_INET, "127.0.0.1", 8080};
  e.destination = Endpoint{AF_INET, "127.0.0.1", 51234};
  e.old_state = "SYN-RECV";
  e.new_state = "ESTAB";
  e.pid = 1234;
  e.comm = "nginx";
  return e;
}

Event firewall_drop() {
  Event e;
  e.time = at_ms(kT);
  e.kind = EventKind::drop;
  e.protocol = IPPROTO_TCP;
  e.packet = true;
  e.source = Endpoint{AF_INET, "10.0.0.5", 51234};
  e.destination = Endpoint{AF_INET, "192.168.1.10", 80};
  e.reason = "NETFILTER_DROP";
  e.reason_code = 6;
  e.location = 0xffffffff81a2b3c4ULL;
  e.ifindex = 2;
  return e;
}

TEST_F(Format, Times) {
  EXPECT_EQ(clock_time(at_ms(kT)), "21:44:02.123");
  EXPECT_EQ(rfc3339_ms(at_ms(kT)), "2026-12-02T21:44:02.123Z");
  EXPECT_EQ(rfc3339_ms(at_ms(kT - 123)), "2026-12-02T21:44:02.000Z");
}

TEST_F(Format, AStateChangeLine) {
  EXPECT_EQ(format_line(state_event(), Lang::en),
            "21:44:02.123 state             tcp 127.0.0.1:8080 → 127.0.0.1:51234 SYN-RECV → ESTAB nginx/1234");
}

TEST_F(Format, ADropLineExplainsAfterADash) {
  EXPECT_EQ(format_line(firewall_drop(), Lang::en),
            "21:44:02.123 drop              tcp 10.0.0.5:51234 → 192.168.1.10:80 NETFILTER_DROP — a firewall rule on "
            "this host (netfilter: nftables or iptables) dropped it");
}

TEST_F(Format, VerboseAddsTheFixOnItsOwnLine) {
  const auto text = format_line(firewall_drop(), Lang::en, {.colour = false, .verbose = true});
  const auto nl = text.find('\n');
  ASSERT_NE(nl, std::string::npos);
  EXPECT_EQ(text.find('\n', nl + 1), std::string::npos);
  EXPECT_EQ(text.substr(nl + 1, 38), "    fix: List the rules that match the");
  EXPECT_NE(text.find("grep -n 80"), std::string::npos);
  // Without verbose, one line.
  EXPECT_EQ(format_line(firewall_drop(), Lang::en).find('\n'), std::string::npos);
}

TEST_F(Format, AnUnknownReasonKeepsItsNameAndNoDash) {
  auto e = firewall_drop();
  e.reason = "reason 131";
  const auto line = format_line(e, Lang::en);
  EXPECT_TRUE(line.ends_with(" reason 131")) << line;
  EXPECT_EQ(line.find("—"), std::string::npos);
}

TEST_F(Format, LongLinesAreCutToTheColumnLimit) {
  auto e = firewall_drop();
  e.reason = "TCP_RFC7323_TW_PAWS";  // a long explanation
  e.source = Endpoint{AF_INET6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 65535};
  e.destination = Endpoint{AF_INET6, "2001:db8:1111:2222:3333:4444:5555:6666", 443};
  const auto line = format_line(e, Lang::en);
  EXPECT_LE(columns(line), kLineColumns);
  EXPECT_GT(columns(line), kLineColumns - 25);
  EXPECT_TRUE(line.ends_with("…")) << line;
}

TEST_F(Format, ColourOnlyWhenAsked) {
  const auto plain = format_line(firewall_drop(), Lang::en, {.colour = false});
  const auto coloured = format_line(firewall_drop(), Lang::en, {.colour = true});
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_NE(coloured.find("\x1b[31mdrop"), std::string::npos) << coloured;
  EXPECT_NE(coloured.find("\x1b[1mNETFILTER_DROP\x1b[0m"), std::string::npos) << coloured;
  // Colour does not change what is shown.
  EXPECT_EQ(columns(coloured), columns(plain));
}

TEST_F(Format, Columns) {
  EXPECT_EQ(columns("abc"), 3u);
  EXPECT_EQ(columns("a → b"), 5u);
  EXPECT_EQ(columns("\x1b[31mred\x1b[0m"), 3u);
  EXPECT_EQ(columns("连接"), 4u);  // CJK takes two columns each
}

TEST_F(Format, AProcessNameCannotWriteToTheTerminalOrBreakTheJson) {
  // A name with an escape sequence, cut by the kernel in the middle of a three-byte character.
  EXPECT_EQ(printable("ab\x1b[2Jc\xe8\xbf"), "ab?[2Jc\uFFFD\uFFFD");
  EXPECT_EQ(printable("连接池"), "连接池");
  EXPECT_EQ(printable("\xff\x80\x80"), "\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(printable("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // U+1F600
  EXPECT_EQ(printable("\xc0\xaf\xed\xa0\x80\xc2\x85"), "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD");
  auto e = state_event();
  e.comm = "evil\x1b]0;x\x07\xff";
  const auto line = format_line(e, Lang::en);
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with(" evil?]0;x?\uFFFD/1234")) << line;
  EXPECT_EQ(event_json(e, Lang::en).dump().find("\\u001b"), std::string::npos);
  EXPECT_EQ(event_json(e, Lang::en)["comm"], "evil?]0;x?\uFFFD");
}

TEST_F(Format, UnknownEndsAndProcesses) {
  Event e;
  e.time = at_ms(kT);
  e.kind = EventKind::drop;
  e.packet = true;
  e.reason = "NOMEM";
  EXPECT_EQ(format_line(e, Lang::en),
            "21:44:02.123 drop              - - → - NOMEM — the kernel could not allocate memory for it");
}

TEST_F(Format, TheJsonOfADrop) {
  const auto j = event_json(firewall_drop(), Lang::en);
  EXPECT_EQ(j["time"], "2026-12-02T21:44:02.123Z");
  EXPECT_EQ(j["kind"], "drop");
  EXPECT_EQ(j["group"], "drop");
  EXPECT_EQ(j["protocol"], "tcp");
  EXPECT_EQ(j["packet"], true);
  EXPECT_EQ(j["source"], (nlohmann::json{{"address", "10.0.0.5"}, {"port", 51234}}));
  EXPECT_EQ(j["destination"], (nlohmann::json{{"address", "192.168.1.10"}, {"port", 80}}));
  EXPECT_FALSE(j.contains("old_state"));
  EXPECT_TRUE(j["pid"].is_null());
  EXPECT_TRUE(j["comm"].is_null());
  EXPECT_EQ(j["reason"], "NETFILTER_DROP");
  EXPECT_EQ(j["reason_code"], 6);
  EXPECT_EQ(j["explanation"]["meaning"], "a firewall rule on this host (netfilter: nftables or iptables) dropped it");
  EXPECT_NE(j["explanation"]["fix"].get<std::string>().find("nft list ruleset | grep -n 80"), std::string::npos);
  EXPECT_EQ(j["location"], "0xffffffff81a2b3c4");
  EXPECT_EQ(j["ifindex"], 2);
  EXPECT_FALSE(j.contains("backlog"));
  EXPECT_EQ(j.size(), 14u);  // no state or overflow fields
}

TEST_F(Format, TheJsonOfAStateChangeAndAnOverflow) {
  auto j = event_json(state_event(), Lang::en);
  EXPECT_EQ(j["old_state"], "SYN-RECV");
  EXPECT_EQ(j["new_state"], "ESTAB");
  EXPECT_EQ(j["pid"], 1234);
  EXPECT_EQ(j["comm"], "nginx");
  EXPECT_TRUE(j["reason"].is_null());
  EXPECT_TRUE(j["reason_code"].is_null());
  EXPECT_TRUE(j["explanation"].is_null());
  EXPECT_TRUE(j["location"].is_null());

  Event o;
  o.time = at_ms(kT);
  o.kind = EventKind::accept_overflow;
  o.protocol = 132;  // SCTP: a number
  o.source = Endpoint{AF_INET6, "::", 443};
  o.count = 7;
  o.backlog = 129;
  o.max_backlog = 128;
  j = event_json(o, Lang::en);
  EXPECT_EQ(j["kind"], "accept_overflow");
  EXPECT_EQ(j["group"], "overflow");
  EXPECT_EQ(j["protocol"], 132);
  EXPECT_TRUE(j["destination"].is_null());
  EXPECT_EQ(j["count"], 7);
  EXPECT_EQ(j["backlog"], 129);
  EXPECT_EQ(j["max_backlog"], 128);
  EXPECT_NE(j["explanation"]["meaning"].get<std::string>().find("accept queue full (129/128)"), std::string::npos);
  o.protocol = 0;
  EXPECT_TRUE(event_json(o, Lang::en)["protocol"].is_null());
}

}  // namespace
}  // namespace connscope::watch
