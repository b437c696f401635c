#include "probe/icmp_error.h"
#include "recorded_errqueue.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace connscope::probe {
namespace {

TEST(DecodeExtendedErr, IcmpV4WithOffender) {
  auto bytes = payload(SO_EE_ORIGIN_ICMP, 3, 13, EHOSTUNREACH, 0, AF_INET, "198.18.2.2");
  auto e = decode_extended_err(bytes);
  ASSERT_TRUE(e.has_value()) << e.error().message();
  EXPECT_EQ(e->origin, ErrOrigin::icmp);
  EXPECT_EQ(e->type, 3);
  EXPECT_EQ(e->code, 13);
  EXPECT_EQ(e->error, EHOSTUNREACH);
  EXPECT_EQ(e->info, 0u);
  EXPECT_EQ(e->offender, std::optional<std::string>("198.18.2.2"));
}

TEST(DecodeExtendedErr, Icmp6WithOffenderAndInfo) {
  auto bytes = payload(SO_EE_ORIGIN_ICMP6, 2, 0, EMSGSIZE, 1280, AF_INET6, "2001:db8:2::2");
  auto e = decode_extended_err(bytes);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->origin, ErrOrigin::icmp6);
  EXPECT_EQ(e->type, 2);
  EXPECT_EQ(e->info, 1280u);
  EXPECT_EQ(e->error, EMSGSIZE);
  EXPECT_EQ(e->offender, std::optional<std::string>("2001:db8:2::2"));
}

TEST(DecodeExtendedErr, V4MappedOffenderIsGivenAsIpv4) {
  auto bytes = payload(SO_EE_ORIGIN_ICMP, 3, 3, ECONNREFUSED, 0, AF_INET6, "::ffff:198.18.3.2");
  auto e = decode_extended_err(bytes);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->offender, std::optional<std::string>("198.18.3.2"));
}

TEST(DecodeExtendedErr, LocalErrorHasNoOffender) {
  auto bytes = payload(SO_EE_ORIGIN_LOCAL, 0, 0, EMSGSIZE, 1500, AF_UNSPEC, nullptr);
  auto e = decode_extended_err(bytes);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->origin, ErrOrigin::local);
  EXPECT_EQ(e->offender, std::nullopt);
  // A header alone (no room for an offender) decodes too.
  auto header_only = std::span<const std::byte>(bytes).first(sizeof(sock_extended_err));
  auto h = decode_extended_err(header_only);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->offender, std::nullopt);
  EXPECT_EQ(h->info, 1500u);
}

TEST(DecodeExtendedErr, RejectsTruncatedAndUnknownFamilies) {
  auto bytes = payload(SO_EE_ORIGIN_ICMP6, 1, 4, ECONNREFUSED, 0, AF_INET6, "2001:db8:3::2");
  EXPECT_FALSE(decode_extended_err(std::span<const std::byte>(bytes).first(10)).has_value());
  // Family says IPv6 but the address is cut short.
  EXPECT_FALSE(
      decode_extended_err(std::span<const std::byte>(bytes).first(sizeof(sock_extended_err) + 8))
          .has_value());
  auto odd = payload(SO_EE_ORIGIN_ICMP, 3, 3, ECONNREFUSED, 0, AF_INET, "198.18.3.2");
  const sa_family_t unix_family = AF_UNIX;
  std::memcpy(odd.data() + sizeof(sock_extended_err), &unix_family, sizeof unix_family);
  auto e = decode_extended_err(odd);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().detail.find("unknown address family 1"), std::string::npos);
}

TEST(DecodeErrorControl, FindsTheRecvErrMessageAmongOthers) {
  int ttl = 62;
  std::vector<std::byte> ttl_bytes(sizeof ttl);
  std::memcpy(ttl_bytes.data(), &ttl, sizeof ttl);
  auto bytes = control({
      {SOL_IP, IP_TTL, ttl_bytes},
      {SOL_IP, IP_RECVERR,
       payload(SO_EE_ORIGIN_ICMP, 3, 1, EHOSTUNREACH, 0, AF_INET, "198.18.1.1")},
  });
  auto e = decode_error_control(bytes);
  ASSERT_TRUE(e.has_value()) << e.error().message();
  ASSERT_TRUE(e->has_value());
  EXPECT_EQ((*e)->type, 3);
  EXPECT_EQ((*e)->code, 1);
  EXPECT_EQ((*e)->offender, std::optional<std::string>("198.18.1.1"));
}

TEST(DecodeErrorControl, Ipv6LevelAndEmptyBuffers) {
  auto bytes = control({{SOL_IPV6, IPV6_RECVERR,
                         payload(SO_EE_ORIGIN_ICMP6, 1, 1, EACCES, 0, AF_INET6, "2001:db8:2::2")}});
  auto e = decode_error_control(bytes);
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->has_value());
  EXPECT_EQ((*e)->origin, ErrOrigin::icmp6);
  EXPECT_EQ((*e)->error, EACCES);

  auto empty = decode_error_control({});
  ASSERT_TRUE(empty.has_value());
  EXPECT_FALSE(empty->has_value());

  // Same level, other type: not an error message.
  auto other = control({{SOL_IPV6, IPV6_HOPLIMIT, std::vector<std::byte>(4)}});
  auto o = decode_error_control(other);
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->has_value());
}

// The walk reach uses for a reply's TTL / hop limit.
TEST(FindControlMessage, TheFirstOfEitherKind) {
  int ttl = 62;
  std::vector<std::byte> ttl_bytes(sizeof ttl);
  std::memcpy(ttl_bytes.data(), &ttl, sizeof ttl);
  int hops = 61;
  std::vector<std::byte> hop_bytes(sizeof hops);
  std::memcpy(hop_bytes.data(), &hops, sizeof hops);
  auto bytes = control({
      {SOL_IP, IP_RECVERR, payload(SO_EE_ORIGIN_ICMP, 3, 1, EHOSTUNREACH, 0, AF_INET, "198.18.1.1")},
      {SOL_IPV6, IPV6_HOPLIMIT, hop_bytes},
      {SOL_IP, IP_TTL, ttl_bytes},
  });
  auto found = find_control_message(bytes, {SOL_IP, IP_TTL}, {SOL_IPV6, IPV6_HOPLIMIT});
  ASSERT_TRUE(found.has_value()) << found.error().message();
  ASSERT_TRUE(found->has_value());
  ASSERT_EQ((*found)->size(), sizeof(int));
  int got = 0;
  std::memcpy(&got, (*found)->data(), sizeof got);
  EXPECT_EQ(got, 61);

  auto none = find_control_message(bytes, {SOL_IP, IP_PKTINFO}, {SOL_IPV6, IPV6_PKTINFO});
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());

  cmsghdr h{};
  std::memcpy(&h, bytes.data(), sizeof h);
  h.cmsg_len = bytes.size() + 8;
  std::memcpy(bytes.data(), &h, sizeof h);
  EXPECT_FALSE(find_control_message(bytes, {SOL_IP, IP_TTL}, {SOL_IPV6, IPV6_HOPLIMIT}).has_value());
}

TEST(DecodeErrorControl, LengthPastTheBufferIsAnError) {
  auto bytes = control({{SOL_IP, IP_RECVERR,
                         payload(SO_EE_ORIGIN_ICMP, 3, 3, ECONNREFUSED, 0, AF_INET, "1.2.3.4")}});
  cmsghdr h{};
  std::memcpy(&h, bytes.data(), sizeof h);
  h.cmsg_len = bytes.size() + 8;
  std::memcpy(bytes.data(), &h, sizeof h);
  EXPECT_FALSE(decode_error_control(bytes).has_value());
  h.cmsg_len = 4;  // shorter than the header itself
  std::memcpy(bytes.data(), &h, sizeof h);
  EXPECT_FALSE(decode_error_control(bytes).has_value());
}

struct IcmpCase {
  ErrOrigin origin;
  int type;
  int code;
  std::optional<ConnectFailure> expected;
};

TEST(ClassifyIcmp, EveryDestinationUnreachableCodeV4) {
  const IcmpCase cases[] = {
      {ErrOrigin::icmp, 3, 0, ConnectFailure::host_unreachable},   // net unreachable
      {ErrOrigin::icmp, 3, 1, ConnectFailure::host_unreachable},   // host unreachable
      {ErrOrigin::icmp, 3, 2, ConnectFailure::rejected_icmp},      // protocol unreachable
      {ErrOrigin::icmp, 3, 3, ConnectFailure::rejected_icmp},      // port unreachable
      {ErrOrigin::icmp, 3, 4, std::nullopt},                       // frag needed
      {ErrOrigin::icmp, 3, 5, ConnectFailure::host_unreachable},   // source route failed
      {ErrOrigin::icmp, 3, 6, ConnectFailure::host_unreachable},   // net unknown
      {ErrOrigin::icmp, 3, 7, ConnectFailure::host_unreachable},   // host unknown
      {ErrOrigin::icmp, 3, 8, ConnectFailure::host_unreachable},   // source host isolated
      {ErrOrigin::icmp, 3, 9, ConnectFailure::admin_prohibited},   // net prohibited
      {ErrOrigin::icmp, 3, 10, ConnectFailure::admin_prohibited},  // host prohibited
      {ErrOrigin::icmp, 3, 11, ConnectFailure::host_unreachable},  // net unreachable for TOS
      {ErrOrigin::icmp, 3, 12, ConnectFailure::host_unreachable},  // host unreachable for TOS
      {ErrOrigin::icmp, 3, 13, ConnectFailure::admin_prohibited},  // communication prohibited
      {ErrOrigin::icmp, 3, 14, ConnectFailure::admin_prohibited},  // precedence violation
      {ErrOrigin::icmp, 3, 15, ConnectFailure::admin_prohibited},  // precedence cutoff
      {ErrOrigin::icmp, 3, 16, ConnectFailure::other},
      {ErrOrigin::icmp, 11, 0, ConnectFailure::host_unreachable},  // TTL exceeded in transit
      {ErrOrigin::icmp, 12, 0, ConnectFailure::other},             // parameter problem
      {ErrOrigin::icmp, 0, 0, std::nullopt},                       // echo reply
      {ErrOrigin::icmp, 4, 0, std::nullopt},                       // source quench
  };
  for (const auto& c : cases) {
    EXPECT_EQ(classify_icmp(c.origin, static_cast<std::uint8_t>(c.type),
                            static_cast<std::uint8_t>(c.code)),
              c.expected)
        << "ICMP " << c.type << "/" << c.code;
  }
}

TEST(ClassifyIcmp, EveryDestinationUnreachableCodeV6) {
  const IcmpCase cases[] = {
      {ErrOrigin::icmp6, 1, 0, ConnectFailure::host_unreachable},  // no route
      {ErrOrigin::icmp6, 1, 1, ConnectFailure::admin_prohibited},  // administratively prohibited
      {ErrOrigin::icmp6, 1, 2, ConnectFailure::host_unreachable},  // beyond scope
      {ErrOrigin::icmp6, 1, 3, ConnectFailure::host_unreachable},  // address unreachable
      {ErrOrigin::icmp6, 1, 4, ConnectFailure::rejected_icmp},     // port unreachable
      {ErrOrigin::icmp6, 1, 5, ConnectFailure::admin_prohibited},  // source policy
      {ErrOrigin::icmp6, 1, 6, ConnectFailure::admin_prohibited},  // reject route
      {ErrOrigin::icmp6, 1, 7, ConnectFailure::host_unreachable},  // source routing header
      {ErrOrigin::icmp6, 1, 8, ConnectFailure::other},
      {ErrOrigin::icmp6, 2, 0, std::nullopt},                        // packet too big
      {ErrOrigin::icmp6, 3, 0, ConnectFailure::host_unreachable},    // hop limit exceeded
      {ErrOrigin::icmp6, 4, 1, ConnectFailure::rejected_icmp},       // unknown next header
      {ErrOrigin::icmp6, 4, 0, ConnectFailure::other},               // erroneous header field
      {ErrOrigin::icmp6, 129, 0, std::nullopt},                      // echo reply
      // The same numbers under the other origin mean something else, or nothing.
      {ErrOrigin::icmp, 1, 4, std::nullopt},
      {ErrOrigin::local, 3, 3, std::nullopt},
      {ErrOrigin::none, 3, 3, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(classify_icmp(c.origin, static_cast<std::uint8_t>(c.type),
                            static_cast<std::uint8_t>(c.code)),
              c.expected)
        << origin_name(c.origin) << " " << c.type << "/" << c.code;
  }
}

struct ErrnoCase {
  int error;
  std::optional<QueuedError> queued;
  ConnectFailure expected;
};

QueuedError icmp(ErrOrigin origin, std::uint8_t type, std::uint8_t code, int err,
                 std::string from) {
  return QueuedError{origin, type, code, err, 0, std::move(from)};
}

TEST(ClassifyConnectError, ErrnoAndQueuedIcmpTogether) {
  const ErrnoCase cases[] = {
      // ECONNREFUSED: a reset unless an ICMP port-unreachable was queued for it.
      {ECONNREFUSED, std::nullopt, ConnectFailure::refused},
      {ECONNREFUSED, icmp(ErrOrigin::icmp, 3, 3, ECONNREFUSED, "198.18.3.2"),
       ConnectFailure::rejected_icmp},
      {ECONNREFUSED, icmp(ErrOrigin::icmp6, 1, 4, ECONNREFUSED, "2001:db8:3::2"),
       ConnectFailure::rejected_icmp},
      // EHOSTUNREACH (v4) is both host-unreachable and admin-prohibited: the ICMP decides.
      {EHOSTUNREACH, icmp(ErrOrigin::icmp, 3, 13, EHOSTUNREACH, "198.18.2.2"),
       ConnectFailure::admin_prohibited},
      {EHOSTUNREACH, icmp(ErrOrigin::icmp, 3, 1, EHOSTUNREACH, "198.18.1.1"),
       ConnectFailure::host_unreachable},
      {EHOSTUNREACH, std::nullopt, ConnectFailure::host_unreachable},
      {EACCES, icmp(ErrOrigin::icmp6, 1, 1, EACCES, "2001:db8:2::2"),
       ConnectFailure::admin_prohibited},
      {ENETUNREACH, icmp(ErrOrigin::icmp, 3, 0, ENETUNREACH, "198.18.1.1"),
       ConnectFailure::host_unreachable},
      {ENETUNREACH, std::nullopt, ConnectFailure::no_route},
      {EPERM, std::nullopt, ConnectFailure::admin_prohibited},
      {ETIMEDOUT, std::nullopt, ConnectFailure::filtered},
      // A soft error kept while the SYNs went on: the deadline passed, but not in silence.
      {ETIMEDOUT, icmp(ErrOrigin::icmp, 3, 1, EHOSTUNREACH, "198.18.1.1"),
       ConnectFailure::host_unreachable},
      {EADDRNOTAVAIL, std::nullopt, ConnectFailure::local_port_exhaustion},
      // A queued message that ends no handshake leaves the errno to decide.
      {ECONNREFUSED, icmp(ErrOrigin::icmp6, 2, 0, EMSGSIZE, "2001:db8:2::2"),
       ConnectFailure::refused},
      {ECONNRESET, std::nullopt, ConnectFailure::other},
      {0, std::nullopt, ConnectFailure::other},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(classify_connect_error(c.error, c.queued), c.expected)
        << "errno " << c.error << " icmp " << (c.queued ? int(c.queued->type) : -1) << "/"
        << (c.queued ? int(c.queued->code) : -1);
  }
}

TEST(ConnectFailureNames, NamesAndFindingIds) {
  EXPECT_EQ(connect_failure_name(ConnectFailure::rejected_icmp), "rejected_icmp");
  EXPECT_EQ(connect_failure_name(ConnectFailure::local_port_exhaustion), "local_port_exhaustion");
  EXPECT_EQ(finding_id(ConnectFailure::refused), "tcp.refused");
  EXPECT_EQ(finding_id(ConnectFailure::rejected_icmp), "tcp.rejected_icmp");
  EXPECT_EQ(finding_id(ConnectFailure::admin_prohibited), "net.admin_prohibited");
  EXPECT_EQ(finding_id(ConnectFailure::host_unreachable), "net.host_unreachable");
  EXPECT_EQ(finding_id(ConnectFailure::no_route), "net.no_route");
  EXPECT_EQ(finding_id(ConnectFailure::filtered), "tcp.filtered");
  EXPECT_EQ(finding_id(ConnectFailure::local_port_exhaustion), "tcp.local_port_exhaustion");
  EXPECT_EQ(finding_id(ConnectFailure::none), std::nullopt);
  EXPECT_EQ(finding_id(ConnectFailure::other), std::nullopt);
  EXPECT_EQ(origin_name(ErrOrigin::icmp6), "icmp6");
}

}  // namespace
}  // namespace connscope::probe
