#include "probe/dns.h"

#include <gtest/gtest.h>

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <climits>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace connscope::probe {
namespace {

using namespace std::chrono_literals;

TEST(DnsClassify, AresStatusToFailure) {
  struct Case {
    int status;
    DnsFailure failure;
  };
  const Case cases[] = {
      {ARES_SUCCESS, DnsFailure::none},
      {ARES_ENODATA, DnsFailure::no_address},
      {ARES_ENOTFOUND, DnsFailure::nxdomain},
      {ARES_ESERVFAIL, DnsFailure::servfail},
      {ARES_EREFUSED, DnsFailure::refused},
      {ARES_ETIMEOUT, DnsFailure::timeout},
      {ARES_ECONNREFUSED, DnsFailure::unreachable},
      {ARES_EFORMERR, DnsFailure::bad_answer},
      {ARES_ENOTIMP, DnsFailure::bad_answer},
      {ARES_EBADRESP, DnsFailure::bad_answer},
      {ARES_EBADNAME, DnsFailure::bad_name},
      {ARES_ENOMEM, DnsFailure::other},
      {ARES_ECANCELLED, DnsFailure::other},
      {ARES_EDESTRUCTION, DnsFailure::other},
      {ARES_EBADFAMILY, DnsFailure::other},
      {ARES_ENONAME, DnsFailure::other},
      {-1, DnsFailure::other},
      {999, DnsFailure::other},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(classify_ares_status(c.status), c.failure) << ares_status_name(c.status);
  }
}

TEST(DnsClassify, RcodeOnlyForServerResponses) {
  struct Case {
    int status;
    std::optional<int> rcode;
    std::string_view name;
  };
  const Case cases[] = {
      {ARES_SUCCESS, 0, "NOERROR"},     {ARES_ENODATA, 0, "NOERROR"},
      {ARES_EFORMERR, 1, "FORMERR"},    {ARES_ESERVFAIL, 2, "SERVFAIL"},
      {ARES_ENOTFOUND, 3, "NXDOMAIN"},  {ARES_ENOTIMP, 4, "NOTIMP"},
      {ARES_EREFUSED, 5, "REFUSED"},    {ARES_ETIMEOUT, std::nullopt, ""},
      {ARES_ECONNREFUSED, std::nullopt, ""}, {ARES_EBADRESP, std::nullopt, ""},
      {ARES_ECANCELLED, std::nullopt, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(ares_status_name(c.status));
    EXPECT_EQ(rcode_from_ares_status(c.status), c.rcode);
    if (c.rcode) {
      EXPECT_EQ(rcode_name(*c.rcode), c.name);
    }
  }
  EXPECT_EQ(rcode_name(9), "NOTAUTH");
  EXPECT_EQ(rcode_name(11), "unknown");
  EXPECT_EQ(rcode_name(-1), "unknown");
}

TEST(DnsClassify, StatusNamesMatchCares) {
  // The table is indexed by value: a shifted entry would name the wrong status.
  EXPECT_EQ(ares_status_name(ARES_SUCCESS), "ARES_SUCCESS");
  EXPECT_EQ(ares_status_name(ARES_ENOTFOUND), "ARES_ENOTFOUND");
  EXPECT_EQ(ares_status_name(ARES_ECONNREFUSED), "ARES_ECONNREFUSED");
  EXPECT_EQ(ares_status_name(ARES_ETIMEOUT), "ARES_ETIMEOUT");
  EXPECT_EQ(ares_status_name(ARES_EBADSTR), "ARES_EBADSTR");
  EXPECT_EQ(ares_status_name(ARES_ENONAME), "ARES_ENONAME");
  EXPECT_EQ(ares_status_name(ARES_ECANCELLED), "ARES_ECANCELLED");
  EXPECT_EQ(ares_status_name(ARES_ECANCELLED + 1), "unknown");
}

TEST(DnsClassify, FindingIdsAndNames) {
  struct Case {
    DnsFailure failure;
    std::string_view name;
    std::optional<std::string_view> finding;
    bool next_server;
  };
  const Case cases[] = {
      {DnsFailure::none, "none", std::nullopt, false},
      {DnsFailure::nxdomain, "nxdomain", "dns.nxdomain", false},
      {DnsFailure::servfail, "servfail", "dns.servfail", true},
      {DnsFailure::refused, "refused", "dns.refused", true},
      {DnsFailure::timeout, "timeout", "dns.timeout", true},
      {DnsFailure::no_address, "no_address", "dns.no_address", false},
      {DnsFailure::unreachable, "unreachable", "dns.unreachable", true},
      {DnsFailure::bad_answer, "bad_answer", "dns.bad_answer", true},
      {DnsFailure::bad_name, "bad_name", std::nullopt, false},
      {DnsFailure::other, "other", std::nullopt, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(dns_failure_name(c.failure), c.name);
    EXPECT_EQ(finding_id(c.failure), c.finding);
    EXPECT_EQ(try_next_server(c.failure), c.next_server);
  }
  EXPECT_EQ(dns_source_name(DnsSource::hosts_file), "hosts");
  EXPECT_EQ(dns_source_name(DnsSource::literal), "literal");
  EXPECT_EQ(dns_family_name(DnsFamily::v6), "ipv6");
  EXPECT_EQ(record_type_name(DnsRecordType::aaaa), "AAAA");
}

std::vector<DnsTypeOutcome> outcomes(std::initializer_list<DnsFailure> failures) {
  std::vector<DnsTypeOutcome> out;
  for (DnsFailure f : failures) {
    DnsTypeOutcome o;
    o.failure = f;
    out.push_back(o);
  }
  return out;
}

TEST(DnsClassify, DecidingOutcomeOfAandAAAA) {
  using F = DnsFailure;
  struct Case {
    std::vector<DnsTypeOutcome> in;
    std::optional<std::size_t> expected;
    const char* why;
  };
  const Case cases[] = {
      {outcomes({}), std::nullopt, "nothing asked"},
      {outcomes({F::none}), 0, "one type answered"},
      {outcomes({F::no_address, F::none}), 1, "AAAA only: the answer wins"},
      {outcomes({F::servfail, F::none}), 1, "an address wins over a failed type"},
      {outcomes({F::no_address, F::nxdomain}), 1, "NXDOMAIN: the name does not exist"},
      {outcomes({F::timeout, F::nxdomain}), 1, "NXDOMAIN is an answer, a timeout is not"},
      {outcomes({F::no_address, F::servfail}), 1, "no data for A says nothing about AAAA"},
      {outcomes({F::timeout, F::servfail}), 0, "the first failure"},
      {outcomes({F::no_address, F::no_address}), 0, "no address at all"},
      {outcomes({F::unreachable}), 0, "one type, unreachable"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(deciding_outcome(c.in), c.expected) << c.why;
  }
}

TEST(DnsAttempt, AnsweredWhenTheDecidingQueryHasAnRcode) {
  DnsAttempt a;
  a.queries = outcomes({DnsFailure::no_address, DnsFailure::timeout});
  a.queries[0].rcode = 0;
  EXPECT_FALSE(a.answered());  // AAAA decided, and it timed out
  a.queries[1].failure = DnsFailure::servfail;
  a.queries[1].rcode = 2;
  EXPECT_TRUE(a.answered());
  a.queries.clear();
  EXPECT_FALSE(a.answered());
}

TEST(DnsParse, Resolver) {
  struct Case {
    std::string_view text;
    std::optional<Endpoint> expected;  // nullopt: an error
  };
  const Case cases[] = {
      {"198.18.4.2", Endpoint{AF_INET, "198.18.4.2", 53}},
      {"198.18.4.2:5353", Endpoint{AF_INET, "198.18.4.2", 5353}},
      {"2001:db8:4::2", Endpoint{AF_INET6, "2001:db8:4::2", 53}},
      {"2001:DB8:4:0::2", Endpoint{AF_INET6, "2001:db8:4::2", 53}},
      {"[2001:db8:4::2]", Endpoint{AF_INET6, "2001:db8:4::2", 53}},
      {"[2001:db8:4::2]:5353", Endpoint{AF_INET6, "2001:db8:4::2", 5353}},
      {"::1", Endpoint{AF_INET6, "::1", 53}},
      {"", std::nullopt},
      {":53", std::nullopt},
      {"198.18.4.2:0", std::nullopt},
      {"198.18.4.2:70000", std::nullopt},
      {"dns.example", std::nullopt},
      {"dns.example:53", std::nullopt},
      {"[2001:db8::1", std::nullopt},
      {"198.18.4.256", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto got = parse_resolver(c.text);
    if (c.expected) {
      ASSERT_TRUE(got.has_value()) << got.error().message();
      EXPECT_EQ(*got, *c.expected);
    } else {
      ASSERT_FALSE(got.has_value()) << got->to_string();
      EXPECT_NE(got.error().op.find("--resolver"), std::string::npos) << got.error().op;
    }
  }
}

TEST(DnsParse, AddressLiteral) {
  struct Case {
    std::string_view text;
    int family;  // 0: not a literal
    std::string_view address;
  };
  const Case cases[] = {
      {"198.18.3.2", AF_INET, "198.18.3.2"},
      {"2001:db8:3::2", AF_INET6, "2001:db8:3::2"},
      {"2001:DB8:3:0:0::2", AF_INET6, "2001:db8:3::2"},
      {"[2001:db8:3::2]", AF_INET6, "2001:db8:3::2"},
      {"fe80::1%eth0", AF_INET6, "fe80::1%eth0"},
      {"::ffff:198.18.3.2", AF_INET6, "::ffff:198.18.3.2"},
      {"server.connscope.test", 0, ""},
      {"198.18.3", 0, ""},
      {"198.18.3.2.example", 0, ""},
      {"198.18.3.2%eth0", 0, ""},
      {"fe80::1%", 0, ""},
      {"[]", 0, ""},
      {"", 0, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto got = parse_address_literal(c.text);
    if (c.family == 0) {
      EXPECT_FALSE(got.has_value()) << got->address;
      continue;
    }
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->family, c.family);
    EXPECT_EQ(got->address, c.address);
    EXPECT_FALSE(got->ttl.has_value());
  }
}

// A hand-built getaddrinfo result: the chain www → edge → server, one v4 and one v6 address,
// plus what the hosts-file path adds (a canonical name without an alias) and nodes a reader
// must skip.
TEST(DnsParse, CollectAddrinfo) {
  char www[] = "www.connscope.test";
  char edge[] = "edge.connscope.test";
  char server[] = "server.connscope.test";
  ares_addrinfo_cname c3{2147483647, nullptr, server, nullptr};
  ares_addrinfo_cname c2{60, edge, server, &c3};
  ares_addrinfo_cname c1{300, www, edge, &c2};

  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, "198.18.3.2", &sin.sin_addr);
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8:3::2", &sin6.sin6_addr);

  ares_addrinfo_node short_node{};  // v6 family but a v4-sized address: skipped
  short_node.ai_family = AF_INET6;
  short_node.ai_addrlen = sizeof sin;
  short_node.ai_addr = reinterpret_cast<sockaddr*>(&sin);
  ares_addrinfo_node empty_node{};  // no address at all: skipped
  empty_node.ai_family = AF_INET;
  empty_node.ai_next = &short_node;
  ares_addrinfo_node n6{};
  n6.ai_ttl = 30;
  n6.ai_family = AF_INET6;
  n6.ai_addrlen = sizeof sin6;
  n6.ai_addr = reinterpret_cast<sockaddr*>(&sin6);
  n6.ai_next = &empty_node;
  ares_addrinfo_node n4{};
  n4.ai_ttl = 20;
  n4.ai_family = AF_INET;
  n4.ai_addrlen = sizeof sin;
  n4.ai_addr = reinterpret_cast<sockaddr*>(&sin);
  n4.ai_next = &n6;

  ares_addrinfo ai{};
  ai.cnames = &c1;
  ai.nodes = &n4;
  ai.name = www;

  const DnsAnswer got = collect_addrinfo(&ai);
  const std::vector<DnsCname> chain = {{"www.connscope.test", "edge.connscope.test", 300},
                                       {"edge.connscope.test", "server.connscope.test", 60}};
  EXPECT_EQ(got.cnames, chain);
  const std::vector<DnsAddress> addresses = {{AF_INET, "198.18.3.2", 20},
                                             {AF_INET6, "2001:db8:3::2", 30}};
  EXPECT_EQ(got.addresses, addresses);

  const DnsAnswer none = collect_addrinfo(nullptr);
  EXPECT_TRUE(none.cnames.empty());
  EXPECT_TRUE(none.addresses.empty());
}

TEST(DnsTiming, ShareBecomesTwoTriesThatSpendIt) {
  struct Case {
    std::chrono::milliseconds share;
    int timeout_ms;
  };
  const Case cases[] = {
      {3000ms, 983},  // (3000 - 50) / 3: the margin is 5 %, at most 50 ms
      {1000ms, 316}, {600ms, 190}, {100ms, 31}, {20ms, 6}, {2ms, 1}, {0ms, 1}, {-5ms, 1},
      {std::chrono::milliseconds(std::chrono::hours(24 * 365)), (INT_MAX / 4 - 50) / 3},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.share.count());
    const AresTiming t = ares_timing(c.share);
    EXPECT_EQ(t.timeout_ms, c.timeout_ms);
    EXPECT_EQ(t.tries, 2);
    // c-ares waits T, then 2T: less than the share (above the 1 ms floor), but most of it.
    if (c.share >= 20ms && c.share <= 1h) {  // beyond that, c-ares' int milliseconds cap it
      EXPECT_LT(3 * t.timeout_ms, c.share.count());
      EXPECT_GE(3 * t.timeout_ms, c.share.count() * 9 / 10);
    }
  }
}

DnsResult run_resolve(std::string name, DnsOptions options) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, resolve(io.get_executor(), std::move(name), options),
                                      boost::asio::use_future);
  io.run();
  return future.get();
}

// Literals never reach c-ares: no configuration is read, no socket is opened.
TEST(DnsResolve, LiteralsSkipDns) {
  DnsOptions any;
  DnsResult v4 = run_resolve("198.18.3.2", any);
  EXPECT_EQ(v4.source, DnsSource::literal);
  EXPECT_EQ(v4.failure, DnsFailure::none);
  ASSERT_EQ(v4.addresses.size(), 1u);
  EXPECT_EQ(v4.addresses[0].address, "198.18.3.2");
  EXPECT_FALSE(v4.server.has_value());
  EXPECT_TRUE(v4.attempts.empty());
  EXPECT_TRUE(v4.servers.empty());

  DnsOptions only6;
  only6.family = DnsFamily::v6;
  DnsResult v6 = run_resolve("[2001:db8:3::2]", only6);
  EXPECT_EQ(v6.source, DnsSource::literal);
  EXPECT_TRUE(v6.ok());
  ASSERT_EQ(v6.addresses.size(), 1u);
  EXPECT_EQ(v6.addresses[0].family, AF_INET6);

  DnsResult mismatch = run_resolve("198.18.3.2", only6);
  EXPECT_EQ(mismatch.source, DnsSource::literal);
  EXPECT_EQ(mismatch.failure, DnsFailure::no_address);
  EXPECT_TRUE(mismatch.addresses.empty());
}

TEST(DnsResolve, MissingResolvConfIsAnErrorNotADefault) {
  DnsOptions o;
  o.resolv_conf = "/nonexistent/connscope/resolv.conf";
  DnsResult r = run_resolve("server.connscope.test", o);
  EXPECT_EQ(r.failure, DnsFailure::other);
  EXPECT_NE(r.detail.find("/nonexistent/connscope/resolv.conf"), std::string::npos) << r.detail;
  EXPECT_TRUE(r.attempts.empty());
}

}  // namespace
}  // namespace connscope::probe
