#include "probe/icmp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace connscope::probe {
namespace {

struct Named {
  ErrOrigin origin;
  int type;
  int code;
  std::string_view words;
  std::string_view token;
};

// Every type/code the table knows, in words and as `probe`'s reason token.
constexpr Named kKnown[] = {
    {ErrOrigin::icmp, 0, 0, "echo reply", "icmp"},
    {ErrOrigin::icmp, 3, 0, "net unreachable", "net-unreachable"},
    {ErrOrigin::icmp, 3, 1, "host unreachable", "host-unreachable"},
    {ErrOrigin::icmp, 3, 2, "protocol unreachable", "protocol-unreachable"},
    {ErrOrigin::icmp, 3, 3, "port unreachable", "port-unreachable"},
    {ErrOrigin::icmp, 3, 4, "fragmentation needed", "frag-needed"},
    {ErrOrigin::icmp, 3, 5, "source route failed", "unreachable"},
    {ErrOrigin::icmp, 3, 6, "destination network unknown", "net-unknown"},
    {ErrOrigin::icmp, 3, 7, "destination host unknown", "host-unknown"},
    {ErrOrigin::icmp, 3, 8, "source host isolated", "unreachable"},
    {ErrOrigin::icmp, 3, 9, "network administratively prohibited", "net-prohibited"},
    {ErrOrigin::icmp, 3, 10, "host administratively prohibited", "host-prohibited"},
    {ErrOrigin::icmp, 3, 11, "network unreachable for TOS", "unreachable"},
    {ErrOrigin::icmp, 3, 12, "host unreachable for TOS", "unreachable"},
    {ErrOrigin::icmp, 3, 13, "administratively prohibited", "admin-prohibited"},
    {ErrOrigin::icmp, 3, 14, "host precedence violation", "unreachable"},
    {ErrOrigin::icmp, 3, 15, "precedence cutoff in effect", "unreachable"},
    {ErrOrigin::icmp, 3, 16, "destination unreachable", "unreachable"},  // an unlisted code
    {ErrOrigin::icmp, 4, 0, "source quench", "icmp"},
    {ErrOrigin::icmp, 5, 1, "redirect", "icmp"},
    {ErrOrigin::icmp, 8, 0, "echo request", "icmp"},
    {ErrOrigin::icmp, 11, 0, "time exceeded", "time-exceeded"},
    {ErrOrigin::icmp, 11, 1, "fragment reassembly time exceeded", "time-exceeded"},
    {ErrOrigin::icmp, 12, 0, "parameter problem", "parameter-problem"},
    {ErrOrigin::icmp, 12, 1, "parameter problem: missing a required option", "parameter-problem"},
    {ErrOrigin::icmp, 12, 2, "parameter problem: bad length", "parameter-problem"},
    {ErrOrigin::icmp6, 1, 0, "no route", "no-route"},
    {ErrOrigin::icmp6, 1, 1, "administratively prohibited", "admin-prohibited"},
    {ErrOrigin::icmp6, 1, 2, "beyond scope of source address", "beyond-scope"},
    {ErrOrigin::icmp6, 1, 3, "address unreachable", "addr-unreachable"},
    {ErrOrigin::icmp6, 1, 4, "port unreachable", "port-unreachable"},
    {ErrOrigin::icmp6, 1, 5, "source address failed ingress/egress policy", "policy-fail"},
    {ErrOrigin::icmp6, 1, 6, "reject route", "reject-route"},
    {ErrOrigin::icmp6, 1, 7, "error in source routing header", "unreachable"},
    {ErrOrigin::icmp6, 1, 8, "destination unreachable", "unreachable"},  // an unlisted code
    {ErrOrigin::icmp6, 2, 0, "packet too big", "packet-too-big"},
    {ErrOrigin::icmp6, 3, 0, "time exceeded", "time-exceeded"},
    {ErrOrigin::icmp6, 3, 1, "fragment reassembly time exceeded", "time-exceeded"},
    {ErrOrigin::icmp6, 4, 0, "parameter problem", "parameter-problem"},
    {ErrOrigin::icmp6, 4, 1, "unrecognized next header", "parameter-problem"},
    {ErrOrigin::icmp6, 4, 2, "parameter problem: unrecognized option", "parameter-problem"},
    {ErrOrigin::icmp6, 4, 3, "parameter problem", "parameter-problem"},
    {ErrOrigin::icmp6, 128, 0, "echo request", "icmp"},
    {ErrOrigin::icmp6, 129, 0, "echo reply", "icmp"},
};

std::uint8_t u8(int v) { return static_cast<std::uint8_t>(v); }

TEST(IcmpName, EveryKnownTypeAndCode) {
  for (const auto& n : kKnown) {
    SCOPED_TRACE(std::string(origin_name(n.origin)) + " " + std::to_string(n.type) + "/" +
                 std::to_string(n.code));
    EXPECT_EQ(icmp_known_name(n.origin, u8(n.type), u8(n.code)), std::optional(n.words));
    EXPECT_EQ(icmp_error_name(n.origin, u8(n.type), u8(n.code)), n.words);
    EXPECT_EQ(icmp_reason_token(n.origin, u8(n.type), u8(n.code)), n.token);
  }
}

TEST(IcmpName, UnknownTypesAreNumbers) {
  EXPECT_EQ(icmp_known_name(ErrOrigin::icmp, 42, 7), std::nullopt);
  EXPECT_EQ(icmp_error_name(ErrOrigin::icmp, 42, 7), "type 42 code 7");
  EXPECT_EQ(icmp_error_name(ErrOrigin::icmp6, 200, 0), "type 200 code 0");
  // ICMPv6's numbers are not ICMP's: type 11 means nothing there, type 1 nothing in IPv4.
  EXPECT_EQ(icmp_error_name(ErrOrigin::icmp6, 11, 0), "type 11 code 0");
  EXPECT_EQ(icmp_error_name(ErrOrigin::icmp, 1, 0), "type 1 code 0");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp, 42, 7), "icmp");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp6, 200, 0), "icmp");
}

TEST(IcmpName, OtherOriginsHaveNoNames) {
  EXPECT_EQ(icmp_known_name(ErrOrigin::local, 3, 3), std::nullopt);
  EXPECT_EQ(icmp_error_name(ErrOrigin::local, 0, 0), "type 0 code 0");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::none, 3, 3), "icmp");
}

// The reason tokens `connscope probe` printed before they moved here (scan_test.cpp).
TEST(IcmpName, ScanReasonTokens) {
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp, 3, 3), "port-unreachable");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp, 3, 2), "protocol-unreachable");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp, 3, 13), "admin-prohibited");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp, 3, 99), "unreachable");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp, 5, 0), "icmp");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp6, 1, 6), "reject-route");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::icmp6, 3, 0), "time-exceeded");
  EXPECT_EQ(icmp_reason_token(ErrOrigin::local, 3, 3), "icmp");
}

TEST(DescribeIcmp, WordsNumbersAndSender) {
  EXPECT_EQ(describe_icmp(ErrOrigin::icmp, 3, 3, std::string("198.18.3.2")),
            "ICMP port unreachable (type 3 code 3) from 198.18.3.2");
  EXPECT_EQ(describe_icmp(ErrOrigin::icmp, 3, 13), "ICMP administratively prohibited (type 3 code 13)");
  EXPECT_EQ(describe_icmp(ErrOrigin::icmp6, 1, 3, std::string("2001:db8:2::2")),
            "ICMPv6 address unreachable (type 1 code 3) from 2001:db8:2::2");
  EXPECT_EQ(describe_icmp(ErrOrigin::icmp6, 2, 0), "ICMPv6 packet too big (type 2 code 0)");
  EXPECT_EQ(describe_icmp(ErrOrigin::icmp, 42, 7, std::string("198.18.1.1")),
            "ICMP type 42 code 7 from 198.18.1.1");
}

TEST(IcmpEvidence, FollowsTheWordIcmpInTheCatalog) {
  EXPECT_EQ(icmp_evidence(ErrOrigin::icmp, 3, 3), "port unreachable (type 3 code 3)");
  EXPECT_EQ(icmp_evidence(ErrOrigin::icmp, 3, 4), "fragmentation needed (type 3 code 4)");
  EXPECT_EQ(icmp_evidence(ErrOrigin::icmp6, 1, 6), "reject route (ICMPv6 type 1 code 6)");
  EXPECT_EQ(icmp_evidence(ErrOrigin::icmp6, 1, 5),
            "source address failed ingress/egress policy (ICMPv6 type 1 code 5)");
  EXPECT_EQ(icmp_evidence(ErrOrigin::icmp, 42, 7), "type 42 code 7");
  EXPECT_EQ(icmp_evidence(ErrOrigin::icmp6, 42, 7), "ICMPv6 type 42 code 7");
}

TEST(IcmpOrigin, Names) {
  EXPECT_EQ(origin_name(ErrOrigin::icmp), "icmp");
  EXPECT_EQ(origin_name(ErrOrigin::icmp6), "icmp6");
  EXPECT_EQ(origin_name(ErrOrigin::local), "local");
  EXPECT_EQ(origin_name(ErrOrigin::unknown), "unknown");
}

}  // namespace
}  // namespace connscope::probe
