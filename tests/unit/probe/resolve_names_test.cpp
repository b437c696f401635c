// `connscope probe`'s resolver pool (probe/resolve_names.h) on inputs that need no server:
// address literals resolve to themselves, and nothing asked is nothing done.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "probe/resolve_names.h"

namespace connscope::probe {
namespace {

using namespace std::chrono_literals;

TEST(ResolveNames, NoNamesNoLookups) { EXPECT_TRUE(resolve_names({}, DnsFamily::any, 1s).empty()); }

TEST(ResolveNames, EveryNameGetsItsOwnAnswer) {
  const auto r = resolve_names({"192.0.2.7", "2001:db8::9"}, DnsFamily::any, 1s);
  ASSERT_EQ(r.size(), 2U);
  ASSERT_TRUE(r.at("192.0.2.7").address.has_value());
  EXPECT_EQ(*r.at("192.0.2.7").address, "192.0.2.7");
  EXPECT_EQ(r.at("192.0.2.7").family, AF_INET);
  ASSERT_TRUE(r.at("2001:db8::9").address.has_value());
  EXPECT_EQ(r.at("2001:db8::9").family, AF_INET6);
  EXPECT_TRUE(r.at("2001:db8::9").failure.empty());
}

TEST(ResolveNames, ALiteralOfTheOtherFamilyHasNoAddress) {
  const auto r = resolve_names({"192.0.2.7"}, DnsFamily::v6, 1s);
  ASSERT_EQ(r.size(), 1U);
  EXPECT_FALSE(r.at("192.0.2.7").address.has_value());
  EXPECT_FALSE(r.at("192.0.2.7").failure.empty());
}

}  // namespace
}  // namespace connscope::probe
