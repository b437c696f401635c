// The resolve stage's reading of c-ares' results (probe::type_outcome, settle_on_last_attempt):
// the pure part of dns.cpp that the fuzz harness dns_answer shares with the stage.
#include <ares.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

#include "probe/dns_result.h"

namespace connscope::probe {
namespace {

DnsAnswer one_address(std::string a) {
  DnsAnswer answer;
  answer.addresses.push_back(DnsAddress{AF_INET, std::move(a), 60});
  return answer;
}

TEST(TypeOutcome, OurHardStopIsATimeout) {
  for (int st : {ARES_ECANCELLED, ARES_EDESTRUCTION}) {
    const auto o = type_outcome(DnsRecordType::a, st, 0, {}, true, true);
    EXPECT_EQ(o.ares_status, ARES_ETIMEOUT);
    EXPECT_EQ(o.failure, DnsFailure::timeout);
    EXPECT_FALSE(o.rcode.has_value());
  }
  // Without the hard stop, a cancellation is what it is.
  EXPECT_EQ(type_outcome(DnsRecordType::a, ARES_ECANCELLED, 0, {}, true, false).ares_status,
            ARES_ECANCELLED);
}

TEST(TypeOutcome, HostsFileRefusalIsNotFoundAndSuccessNeedsAnAddress) {
  const auto hosts = type_outcome(DnsRecordType::aaaa, ARES_ECONNREFUSED, 0, {}, false, false);
  EXPECT_EQ(hosts.ares_status, ARES_ENOTFOUND);
  EXPECT_FALSE(hosts.rcode.has_value());  // no server asked

  const auto empty = type_outcome(DnsRecordType::a, ARES_SUCCESS, 0, {}, true, false);
  EXPECT_EQ(empty.failure, DnsFailure::no_address);
  EXPECT_EQ(empty.rcode, 0);

  const auto ok = type_outcome(DnsRecordType::a, ARES_SUCCESS, 1, one_address("192.0.2.1"), true, false);
  EXPECT_EQ(ok.failure, DnsFailure::none);
  EXPECT_EQ(ok.timeouts, 1);
}

TEST(SettleOnLastAttempt, TheLastServerDecides) {
  DnsResult r;
  DnsAttempt first;
  first.server = Endpoint{AF_INET, "192.0.2.1", 53};
  first.queries.push_back(type_outcome(DnsRecordType::a, ARES_ESERVFAIL, 0, {}, true, false));
  first.failure = DnsFailure::servfail;
  DnsAttempt last;
  last.server = Endpoint{AF_INET, "192.0.2.2", 53};
  DnsAnswer answer = one_address("198.51.100.7");
  answer.cnames.push_back(DnsCname{"www.example.com", "edge.example.net", 300});
  last.queries.push_back(type_outcome(DnsRecordType::a, ARES_SUCCESS, 0, answer, true, false));
  last.queries.push_back(type_outcome(DnsRecordType::aaaa, ARES_ENODATA, 0, {}, true, false));
  last.failure = DnsFailure::none;
  r.attempts = {first, last};
  EXPECT_TRUE(settle_on_last_attempt(r));
  EXPECT_EQ(r.source, DnsSource::dns);
  EXPECT_EQ(r.failure, DnsFailure::none);
  EXPECT_EQ(r.server, last.server);
  EXPECT_EQ(r.rcode, 0);
  EXPECT_EQ(r.detail, "");
  ASSERT_EQ(r.addresses.size(), 1u);
  EXPECT_EQ(r.addresses[0].address, "198.51.100.7");
  EXPECT_EQ(r.canonical_name, "edge.example.net");

  // A timeout last: no server answered, c-ares' words for it.
  DnsAttempt silent;
  silent.server = Endpoint{AF_INET, "192.0.2.3", 53};
  silent.queries.push_back(type_outcome(DnsRecordType::a, ARES_ECANCELLED, 0, {}, true, true));
  silent.failure = DnsFailure::timeout;
  r.attempts.push_back(silent);
  EXPECT_FALSE(settle_on_last_attempt(r));
  EXPECT_EQ(r.failure, DnsFailure::timeout);
  EXPECT_FALSE(r.server.has_value());
  EXPECT_FALSE(r.rcode.has_value());
  EXPECT_EQ(r.detail, ares_strerror(ARES_ETIMEOUT));
  EXPECT_TRUE(r.addresses.empty());
  EXPECT_TRUE(r.cnames.empty());
  EXPECT_EQ(r.canonical_name, "");
}

}  // namespace
}  // namespace connscope::probe
