#include "probe/icmp_echo.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace connscope::probe {
namespace {

using Bytes = std::vector<std::byte>;
using std::chrono::microseconds;

Bytes bytes(std::initializer_list<unsigned> values) {
  Bytes out;
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes addr(int family, const char* text) {
  Bytes out(family == AF_INET ? 4 : 16);
  EXPECT_EQ(inet_pton(family, text, out.data()), 1) << text;
  return out;
}

// An IPv4 header (no options unless `ihl_words` > 5): TTL, protocol, source, destination.
Bytes ipv4_header(std::uint8_t ttl, std::uint8_t proto, const char* src, const char* dst,
                  unsigned ihl_words = 5) {
  Bytes h(ihl_words * 4);
  h[0] = static_cast<std::byte>(0x40 | ihl_words);
  h[8] = std::byte{ttl};
  h[9] = std::byte{proto};
  const Bytes s = addr(AF_INET, src);
  const Bytes d = addr(AF_INET, dst);
  std::copy(s.begin(), s.end(), h.begin() + 12);
  std::copy(d.begin(), d.end(), h.begin() + 16);
  return h;
}

Bytes ipv6_header(std::uint8_t next, const char* src, const char* dst) {
  Bytes h(40);
  h[0] = std::byte{0x60};
  h[6] = std::byte{next};
  h[7] = std::byte{64};
  const Bytes s = addr(AF_INET6, src);
  const Bytes d = addr(AF_INET6, dst);
  std::copy(s.begin(), s.end(), h.begin() + 8);
  std::copy(d.begin(), d.end(), h.begin() + 24);
  return h;
}

// An ICMP header: type, code, zero checksum, then four bytes (identifier and sequence for echo,
// unused / MTU for errors).
Bytes icmp(std::uint8_t type, std::uint8_t code, std::uint16_t a, std::uint16_t b) {
  return bytes({type, code, 0, 0, static_cast<unsigned>(a >> 8), static_cast<unsigned>(a & 0xFF),
                static_cast<unsigned>(b >> 8), static_cast<unsigned>(b & 0xFF)});
}

constexpr std::uint64_t kNonce = 0x0102030405060708;
const char* const kServer4 = "198.18.3.2";
const char* const kClient4 = "198.18.1.2";
const char* const kR1v4 = "198.18.1.1";
const char* const kServer6 = "2001:db8:3::2";
const char* const kClient6 = "2001:db8:1::2";
const char* const kR1v6 = "2001:db8:1::1";

EchoMatcher matcher(int family, ReachMethod method) {
  EchoMatcher m;
  m.family = family;
  m.method = method;
  m.identifier = 0xBEEF;
  m.destination = family == AF_INET ? kServer4 : kServer6;
  m.payload = echo_payload(kNonce, 56);
  return m;
}

// ---- checksum and packets ----

TEST(InternetChecksum, KnownValues) {
  struct Case {
    Bytes data;
    std::uint16_t sum;
  };
  const std::vector<Case> cases = {
      {{}, 0xFFFF},
      // RFC 1071's example: one's complement sum 0xddf2.
      {bytes({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}), 0x220d},
      // Echo request, identifier 1, sequence 1, no payload.
      {bytes({0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01}), 0xF7FD},
      // Odd length: the last byte is padded with zero on the right.
      {bytes({0x01}), 0xFEFF},
      // Carries fold back in.
      {bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x02}), 0xFFFD},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(internet_checksum(cases[i].data), cases[i].sum) << i;
  }
}

TEST(EchoPayload, NonceThenPingsPattern) {
  const Bytes p = echo_payload(kNonce, 12);
  EXPECT_EQ(p, bytes({1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x11, 0x12, 0x13}));
  EXPECT_EQ(echo_payload(kNonce, 0), bytes({1, 2, 3, 4, 5, 6, 7, 8}));  // at least the nonce
  const Bytes big = echo_payload(0, 8 + 300);
  EXPECT_EQ(big[8 + 255], std::byte{0x0F});  // (0x10 + 255) & 0xFF: wraps
}

TEST(BuildEchoRequest, Ipv4WithChecksumIpv6WithoutIt) {
  const Bytes payload = bytes({0xAA, 0xBB});
  const Bytes v4 = build_echo_request(AF_INET, 0x0001, 0x0001, {});
  EXPECT_EQ(v4, bytes({0x08, 0x00, 0xF7, 0xFD, 0x00, 0x01, 0x00, 0x01}));
  const Bytes v4p = build_echo_request(AF_INET, 0xBEEF, 0x0203, payload);
  EXPECT_EQ(v4p.size(), 10u);
  EXPECT_EQ(internet_checksum(v4p), 0) << "a packet with its checksum sums to zero";
  EXPECT_EQ(Bytes(v4p.begin() + 4, v4p.end()), bytes({0xBE, 0xEF, 0x02, 0x03, 0xAA, 0xBB}));
  const Bytes v6 = build_echo_request(AF_INET6, 0xBEEF, 7, payload);
  EXPECT_EQ(v6, bytes({0x80, 0x00, 0x00, 0x00, 0xBE, 0xEF, 0x00, 0x07, 0xAA, 0xBB}));
}

// ---- matching ----

struct MatchCase {
  const char* name;
  EchoMatcher matcher;
  Bytes data;
  std::string from;
  std::optional<int> ttl;  // from the control message
  Received expected;
};

Received reply(std::uint16_t seq, std::string from, std::optional<int> ttl) {
  Received r;
  r.kind = Received::Kind::echo_reply;
  r.sequence = seq;
  r.ttl = ttl;
  r.from = std::move(from);
  return r;
}

Received error(ErrOrigin origin, std::uint8_t type, std::uint8_t code, std::string from,
               std::uint16_t seq, std::uint32_t info = 0) {
  Received r;
  r.kind = Received::Kind::icmp_error;
  r.sequence = seq;
  r.error = ReachIcmpError{origin, type, code, std::move(from), seq, info};
  return r;
}

const Received kForeign{};

TEST(MatchPacket, Table) {
  const auto raw4 = matcher(AF_INET, ReachMethod::raw_socket);
  const auto ping4 = matcher(AF_INET, ReachMethod::ping_socket);
  const auto raw6 = matcher(AF_INET6, ReachMethod::raw_socket);
  const auto ping6 = matcher(AF_INET6, ReachMethod::ping_socket);
  const Bytes payload = raw4.payload;
  Bytes other_nonce = payload;
  other_nonce[0] = std::byte{0x99};
  auto ip4 = [](const char* src, std::uint8_t proto = 1) {
    return ipv4_header(62, proto, src, kClient4);
  };
  // What a router quotes of our request: its IP header and the echo header (Linux quotes more).
  auto quoted4 = [&](const char* dst, std::uint16_t id, std::uint16_t seq) {
    return concat({ipv4_header(63, 1, kClient4, dst), icmp(8, 0, id, seq)});
  };
  auto quoted6 = [&](std::uint8_t next, const char* dst, std::uint16_t id, std::uint16_t seq) {
    return concat({ipv6_header(next, kClient6, dst), icmp(128, 0, id, seq), payload});
  };

  const std::vector<MatchCase> cases = {
      // raw IPv4: the IP header first; its TTL wins over any control message
      {"raw4 reply", raw4, concat({ip4(kServer4), icmp(0, 0, 0xBEEF, 2), payload}), kServer4, {},
       reply(2, kServer4, 62)},
      {"raw4 reply to another pinger", raw4,
       concat({ip4(kServer4), icmp(0, 0, 0xBEE0, 2), payload}), kServer4, {}, kForeign},
      {"raw4 reply from another host", raw4,
       concat({ip4(kR1v4), icmp(0, 0, 0xBEEF, 2), payload}), kR1v4, {}, kForeign},
      {"raw4 reply of an earlier run", raw4,
       concat({ip4(kServer4), icmp(0, 0, 0xBEEF, 2), other_nonce}), kServer4, {}, kForeign},
      {"raw4 reply without payload", raw4, concat({ip4(kServer4), icmp(0, 0, 0xBEEF, 2)}),
       kServer4, {}, kForeign},
      {"raw4 truncated icmp", raw4, concat({ip4(kServer4), bytes({0, 0, 0, 0})}), kServer4, {},
       kForeign},
      {"raw4 truncated ip", raw4, bytes({0x45, 0, 0}), kServer4, {}, kForeign},
      {"raw4 not ip version 4", raw4,
       concat({bytes({0x65}), Bytes(19), icmp(0, 0, 0xBEEF, 2), payload}), kServer4, {}, kForeign},
      {"raw4 not icmp", raw4, concat({ip4(kServer4, 6), icmp(0, 0, 0xBEEF, 2), payload}),
       kServer4, {}, kForeign},
      {"raw4 an echo request", raw4, concat({ip4(kServer4), icmp(8, 0, 0xBEEF, 2), payload}),
       kServer4, {}, kForeign},
      {"raw4 host unreachable from r1", raw4,
       concat({ip4(kR1v4), icmp(3, 1, 0, 0), quoted4(kServer4, 0xBEEF, 3)}), kR1v4, {},
       error(ErrOrigin::icmp, 3, 1, kR1v4, 3)},
      {"raw4 admin prohibited", raw4,
       concat({ip4(kR1v4), icmp(3, 13, 0, 0), quoted4(kServer4, 0xBEEF, 1)}), kR1v4, {},
       error(ErrOrigin::icmp, 3, 13, kR1v4, 1)},
      {"raw4 frag needed carries the mtu", raw4,
       concat({ip4(kR1v4), icmp(3, 4, 0, 1280), quoted4(kServer4, 0xBEEF, 1)}), kR1v4, {},
       error(ErrOrigin::icmp, 3, 4, kR1v4, 1, 1280)},
      {"raw4 time exceeded", raw4,
       concat({ip4(kR1v4), icmp(11, 0, 0, 0), quoted4(kServer4, 0xBEEF, 2)}), kR1v4, {},
       error(ErrOrigin::icmp, 11, 0, kR1v4, 2)},
      {"raw4 error quoting options", raw4,
       concat({ip4(kR1v4), icmp(3, 1, 0, 0), ipv4_header(63, 1, kClient4, kServer4, 6),
               icmp(8, 0, 0xBEEF, 3)}),
       kR1v4, {}, error(ErrOrigin::icmp, 3, 1, kR1v4, 3)},
      {"raw4 error about another destination", raw4,
       concat({ip4(kR1v4), icmp(3, 1, 0, 0), quoted4("198.18.3.9", 0xBEEF, 3)}), kR1v4, {},
       kForeign},
      {"raw4 error about another pinger", raw4,
       concat({ip4(kR1v4), icmp(3, 1, 0, 0), quoted4(kServer4, 0x1111, 3)}), kR1v4, {}, kForeign},
      {"raw4 error quoting too little", raw4,
       concat({ip4(kR1v4), icmp(3, 1, 0, 0), ipv4_header(63, 1, kClient4, kServer4),
               bytes({8, 0, 0, 0})}),
       kR1v4, {}, kForeign},
      {"raw4 redirect is not an error about us", raw4,
       concat({ip4(kR1v4), icmp(5, 1, 0, 0), quoted4(kServer4, 0xBEEF, 3)}), kR1v4, {}, kForeign},
      // ping socket IPv4: no IP header; the kernel owns the identifier
      {"ping4 reply", ping4, concat({icmp(0, 0, 0x0042, 3), payload}), kServer4, 61,
       reply(3, kServer4, 61)},
      {"ping4 reply without ttl", ping4, concat({icmp(0, 0, 0x0042, 1), payload}), kServer4, {},
       reply(1, kServer4, std::nullopt)},
      {"ping4 errors come on the error queue", ping4,
       concat({icmp(3, 1, 0, 0), quoted4(kServer4, 0xBEEF, 3)}), kR1v4, {}, kForeign},
      // IPv6: no IP header on either socket; hop limit from the control message
      {"raw6 reply", raw6, concat({icmp(129, 0, 0xBEEF, 1), payload}), kServer6, 62,
       reply(1, kServer6, 62)},
      {"raw6 reply to another pinger", raw6, concat({icmp(129, 0, 0x0001, 1), payload}), kServer6,
       62, kForeign},
      {"raw6 addr unreachable", raw6,
       concat({icmp(1, 3, 0, 0), quoted6(58, kServer6, 0xBEEF, 2)}), kR1v6, 64,
       error(ErrOrigin::icmp6, 1, 3, kR1v6, 2)},
      {"raw6 packet too big carries the mtu", raw6,
       concat({icmp(2, 0, 0, 1280), quoted6(58, kServer6, 0xBEEF, 1)}), kR1v6, 64,
       error(ErrOrigin::icmp6, 2, 0, kR1v6, 1, 1280)},
      {"raw6 error about udp", raw6,
       concat({icmp(1, 3, 0, 0), quoted6(17, kServer6, 0xBEEF, 2)}), kR1v6, 64, kForeign},
      {"raw6 error about another destination", raw6,
       concat({icmp(1, 3, 0, 0), quoted6(58, "2001:db8:3::9", 0xBEEF, 2)}), kR1v6, 64, kForeign},
      {"raw6 an ipv4 echo reply type", raw6, concat({icmp(0, 0, 0xBEEF, 1), payload}), kServer6,
       62, kForeign},
      {"ping6 reply", ping6, concat({icmp(129, 0, 0x0042, 3), payload}), kServer6, 62,
       reply(3, kServer6, 62)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Received got = match_packet(c.matcher, c.data, c.from, c.ttl);
    EXPECT_EQ(static_cast<int>(got.kind), static_cast<int>(c.expected.kind));
    EXPECT_EQ(got, c.expected);
  }
}

TEST(MatchQueuedError, PingSocketErrorQueue) {
  const auto ping4 = matcher(AF_INET, ReachMethod::ping_socket);
  const auto ping6 = matcher(AF_INET6, ReachMethod::ping_socket);
  const auto raw4 = matcher(AF_INET, ReachMethod::raw_socket);
  const Bytes ours4 = build_echo_request(AF_INET, 0x0042, 2, ping4.payload);
  const Bytes ours6 = build_echo_request(AF_INET6, 0x0042, 3, ping6.payload);
  const QueuedError host_unreach{ErrOrigin::icmp, 3, 1, EHOSTUNREACH, 0, std::string(kR1v4)};
  const QueuedError frag{ErrOrigin::icmp, 3, 4, EMSGSIZE, 1280, std::string("198.18.2.2")};
  const QueuedError addr_unreach{ErrOrigin::icmp6, 1, 3, EHOSTUNREACH, 0, std::string(kR1v6)};
  const QueuedError local{ErrOrigin::local, 0, 0, EMSGSIZE, 1500, std::nullopt};

  struct Case {
    const char* name;
    EchoMatcher m;
    QueuedError q;
    Bytes original;
    Received expected;
  };
  const std::vector<Case> cases = {
      {"v4 host unreachable", ping4, host_unreach, ours4,
       error(ErrOrigin::icmp, 3, 1, kR1v4, 2)},
      {"v4 frag needed", ping4, frag, ours4, error(ErrOrigin::icmp, 3, 4, "198.18.2.2", 2, 1280)},
      {"v6 addr unreachable", ping6, addr_unreach, ours6,
       error(ErrOrigin::icmp6, 1, 3, kR1v6, 3)},
      {"local error has no sender", ping4, local, ours4, error(ErrOrigin::local, 0, 0, "", 2, 1500)},
      {"not our echo request", ping4, host_unreach, build_echo_request(AF_INET6, 1, 2, {}),
       kForeign},
      {"too short", ping4, host_unreach, bytes({8, 0, 0, 0}), kForeign},
      {"raw socket checks the identifier", raw4, host_unreach, ours4, kForeign},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(match_queued_error(c.m, c.q, c.original), c.expected);
  }
}

// ---- statistics and outcome ----

// ---- choosing the socket ----

struct Call {
  int domain, type, protocol;
  friend bool operator==(const Call&, const Call&) = default;
};

// Answers each socket() call with the next scripted result: 0 for "a real fd", else -errno.
struct FakeOpener {
  std::vector<int> results;
  std::vector<Call> calls;
  int operator()(int domain, int type, int protocol) {
    calls.push_back({domain, type, protocol});
    const int r = results.at(calls.size() - 1);
    return r == 0 ? ::open("/dev/null", O_RDONLY | O_CLOEXEC) : r;
  }
};

TEST(OpenEchoSocket, PingSocketFirstThenRawThenUnavailable) {
  struct Case {
    const char* name;
    int family;
    std::vector<int> results;
    ReachMethod method;
    int ping_error, raw_error;
    std::vector<Call> calls;
  };
  const int icmp = IPPROTO_ICMP;
  const int icmp6 = IPPROTO_ICMPV6;
  const std::vector<Case> cases = {
      {"ping socket allowed", AF_INET, {0}, ReachMethod::ping_socket, 0, 0,
       {{AF_INET, SOCK_DGRAM, icmp}}},
      {"root outside ping_group_range", AF_INET, {-EACCES, 0}, ReachMethod::raw_socket, EACCES, 0,
       {{AF_INET, SOCK_DGRAM, icmp}, {AF_INET, SOCK_RAW, icmp}}},
      {"neither", AF_INET6, {-EACCES, -EPERM}, ReachMethod::unavailable, EACCES, EPERM,
       {{AF_INET6, SOCK_DGRAM, icmp6}, {AF_INET6, SOCK_RAW, icmp6}}},
      {"no ping sockets in this kernel", AF_INET, {-EPROTONOSUPPORT, -EPERM},
       ReachMethod::unavailable, EPROTONOSUPPORT, EPERM,
       {{AF_INET, SOCK_DGRAM, icmp}, {AF_INET, SOCK_RAW, icmp}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeOpener opener{c.results, {}};
    EchoSocket s = open_echo_socket(c.family, std::ref(opener));
    EXPECT_EQ(s.method, c.method);
    EXPECT_EQ(s.ping_error, c.ping_error);
    EXPECT_EQ(s.raw_error, c.raw_error);
    EXPECT_EQ(s.fd.valid(), c.method != ReachMethod::unavailable);
    EXPECT_EQ(opener.calls, c.calls);
  }
}

TEST(PingGroupRange, Parse) {
  using R = std::optional<std::pair<std::uint32_t, std::uint32_t>>;
  const std::vector<std::pair<std::string_view, R>> cases = {
      {"1\t0", R({1, 0})},
      {"1\t0\n", R({1, 0})},
      {"0 2147483647", R({0, 2147483647})},
      {"  100   200 ", R({100, 200})},
      {"", std::nullopt},
      {"1", std::nullopt},
      {"a b", std::nullopt},
      {"1 0 5", std::nullopt},
      {"-1 0", std::nullopt},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(parse_ping_group_range(text), expected) << "'" << text << "'";
  }
}

TEST(UnavailableReason, NamesCapabilityAndSetting) {
  using R = std::optional<std::pair<std::uint32_t, std::uint32_t>>;
  const std::vector<std::uint32_t> nobody = {65534};
  const std::vector<std::uint32_t> several = {1000, 27, 100};
  struct Case {
    const char* name;
    int family, ping_error, raw_error;
    R range;
    std::vector<std::uint32_t> groups;
    int code;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {"the usual", AF_INET, EACCES, EPERM, R({1, 0}), nobody, EPERM,
       "no CAP_NET_RAW for a raw socket, and no group of this process (65534) is inside "
       "net.ipv4.ping_group_range (1 0) for a ping socket"},
      {"several groups, a narrow range", AF_INET6, EACCES, EPERM, R({2000, 2001}), several, EPERM,
       "no CAP_NET_RAW for a raw socket, and no group of this process (1000, 27, 100) is inside "
       "net.ipv4.ping_group_range (2000 2001) for a ping socket"},
      {"setting unreadable", AF_INET, EACCES, EPERM, std::nullopt, nobody, EPERM,
       "no CAP_NET_RAW for a raw socket, and no group of this process (65534) is inside "
       "net.ipv4.ping_group_range (unreadable) for a ping socket"},
      {"no ping sockets in this kernel", AF_INET, EPROTONOSUPPORT, EPERM, R({1, 0}), nobody, EPERM,
       "no CAP_NET_RAW for a raw socket, and a ping socket failed with EPROTONOSUPPORT"},
      {"out of descriptors", AF_INET, EMFILE, EMFILE, R({1, 0}), nobody, EMFILE,
       "a raw socket failed with errno 24, and a ping socket failed with errno 24"},
      {"no IPv6 here", AF_INET6, EAFNOSUPPORT, EAFNOSUPPORT, R({1, 0}), nobody, EAFNOSUPPORT,
       "IPv6 is not available on this host"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Error e = unavailable_reason("192.0.2.7", c.family, c.ping_error, c.raw_error, c.range,
                                       c.groups);
    EXPECT_EQ(e.op, "ICMP echo to 192.0.2.7");
    EXPECT_EQ(e.code, c.code);
    EXPECT_EQ(e.detail, c.detail);
  }
}

}  // namespace
}  // namespace connscope::probe
