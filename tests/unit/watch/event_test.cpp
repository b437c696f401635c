#include "watch/event.h"

#include <arpa/inet.h>

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

#include "bpf/events.h"

namespace connscope::watch {
namespace {

std::vector<std::byte> bytes(const cs_event& e) {
  std::vector<std::byte> out(sizeof e);
  std::memcpy(out.data(), &e, sizeof e);
  return out;
}

ReasonNames names() {
  ReasonNames n;
  n.drop[12] = "NETFILTER_DROP";
  n.reset[1] = "NO_SOCKET";
  return n;
}

TEST(DecodeEvent, AStateChangeWithItsProcess) {
  cs_event raw{};
  raw.ts_ns = 5'000'000'000ULL;
  raw.kind = CS_EV_STATE;
  raw.family = AF_INET;
  raw.protocol = IPPROTO_TCP;
  raw.sport = 8080;
  raw.dport = 40000;
  const in_addr a{htonl(0x7f000001)}, b{htonl(0x7f000002)};
  std::memcpy(raw.saddr, &a, 4);
  std::memcpy(raw.daddr, &b, 4);
  raw.old_state = 2;
  raw.new_state = 1;
  raw.pid = 42;
  std::strcpy(raw.comm, "curl");
  const auto e = decode_event(bytes(raw), names(), std::chrono::seconds(1'700'000'000));
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->kind, EventKind::state);
  EXPECT_EQ(e->source->to_string(), "127.0.0.1:8080");
  EXPECT_EQ(e->destination->to_string(), "127.0.0.2:40000");
  EXPECT_EQ(e->old_state, "SYN_SENT");
  EXPECT_EQ(e->new_state, "ESTABLISHED");
  EXPECT_EQ(e->pid, 42U);
  EXPECT_EQ(e->comm, "curl");
  EXPECT_FALSE(e->packet);
  EXPECT_TRUE(e->reason.empty());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(e->time.time_since_epoch()).count(), 1'700'000'005);
}

TEST(DecodeEvent, ADropOfAnIpv6PacketWithTheKernelsReason) {
  cs_event raw{};
  raw.kind = CS_EV_DROP;
  raw.family = AF_INET6;
  raw.protocol = IPPROTO_TCP;
  raw.flags = CS_F_PACKET | CS_F_HAS_REASON;
  raw.reason = 12;
  raw.sport = 5555;
  raw.dport = 443;
  inet_pton(AF_INET6, "fd00::2", raw.saddr);
  inet_pton(AF_INET6, "fd00::1", raw.daddr);
  const auto e = decode_event(bytes(raw), names(), {});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::drop);
  EXPECT_TRUE(e->packet);
  EXPECT_EQ(e->reason, "NETFILTER_DROP");
  EXPECT_EQ(e->reason_code, 12U);
  EXPECT_EQ(e->source->to_string(), "[fd00::2]:5555");
  EXPECT_EQ(e->destination->to_string(), "[fd00::1]:443");
  EXPECT_FALSE(e->pid);
}

TEST(DecodeEvent, ADualStackSocketsIpv4EndsAreShownAsIpv4) {
  cs_event raw{};
  raw.kind = CS_EV_STATE;
  raw.family = AF_INET6;
  raw.protocol = IPPROTO_TCP;
  raw.sport = 80;
  raw.dport = 40000;
  raw.old_state = 10;
  raw.new_state = 3;
  inet_pton(AF_INET6, "::ffff:198.18.3.2", raw.saddr);
  inet_pton(AF_INET6, "::ffff:198.18.1.2", raw.daddr);
  const auto e = decode_event(bytes(raw), names(), {});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->source->family, AF_INET);
  EXPECT_EQ(e->source->to_string(), "198.18.3.2:80");
  EXPECT_EQ(e->destination->to_string(), "198.18.1.2:40000");
  // Not every address under ::/80 is mapped: ::1 and ::ffff:0:a.b.c.d stay IPv6.
  inet_pton(AF_INET6, "::1", raw.saddr);
  inet_pton(AF_INET6, "::ffff:0:198.18.1.2", raw.daddr);
  const auto other = decode_event(bytes(raw), names(), {});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->source->to_string(), "[::1]:80");
  EXPECT_EQ(other->destination->family, AF_INET6);
}

TEST(DecodeEvent, AReasonThisKernelDoesNotNameKeepsItsNumber) {
  cs_event raw{};
  raw.kind = CS_EV_RESET_SENT;
  raw.flags = CS_F_HAS_REASON;
  raw.reason = 200;
  const auto e = decode_event(bytes(raw), names(), {});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reason, "reason 200");
  EXPECT_FALSE(e->source);  // not IP: no addresses
}

TEST(DecodeEvent, AShortRecordOrAnUnknownKindIsAnError) {
  cs_event raw{};
  raw.kind = CS_EV_STATE;
  auto b = bytes(raw);
  b.pop_back();
  EXPECT_FALSE(decode_event(b, names(), {}));
  raw.kind = 99;
  const auto e = decode_event(bytes(raw), names(), {});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("unknown kind 99"), std::string::npos);
}

TEST(EventGroups, ParseNamesAndRejectsUnknownOnes) {
  const auto g = parse_groups("drop,state,drop", "--events");
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, (std::vector<EventGroup>{EventGroup::drop, EventGroup::state}));
  const auto bad = parse_groups("drop,drops", "--events");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("\"drops\""), std::string::npos);
  EXPECT_FALSE(parse_groups("", "--events"));
  EXPECT_EQ(group_of(EventKind::synack_retransmit), EventGroup::retransmit);
  EXPECT_EQ(kind_name(EventKind::syn_queue_drop), "syn_queue_drop");
}

}  // namespace
}  // namespace connscope::watch
