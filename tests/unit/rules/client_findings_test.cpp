#include "rules/client_findings.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace connscope::rules {
namespace {

// The {names} a catalog text quotes.
std::set<std::string> names_in(Msg id) {
  std::set<std::string> out;
  const std::string t(text_template(Lang::en, id));
  const std::regex re(R"(\{([a-z_]+)\})");
  for (auto it = std::sregex_iterator(t.begin(), t.end(), re); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

TEST(ClientFindings, EveryIdFormatsWithTheNamesItsTextsQuoteAndFailsWithoutOne) {
  std::set<std::string> ids;
  for (const auto& spec : client_findings_catalog()) {
    EXPECT_TRUE(ids.insert(std::string(spec.id)).second) << "duplicate " << spec.id;
    std::set<std::string> names;
    for (Msg m : {spec.summary, spec.cause, spec.fix}) names.merge(names_in(m));
    std::map<std::string, std::string> evidence;
    // A plural message's count must be a number: it picks the form.
    for (const auto& n : names) evidence[n] = n == plural_count_name(spec.summary) ? "2" : "<" + n + ">";
    auto f = make_client_finding(spec.id, evidence, Lang::en);
    ASSERT_TRUE(f.has_value()) << spec.id << ": " << f.error().message();
    EXPECT_EQ(f->id, spec.id);
    EXPECT_EQ(f->severity, spec.severity);
    EXPECT_FALSE(f->summary.empty());
    EXPECT_FALSE(f->cause.empty());
    EXPECT_FALSE(f->fix.empty());
    EXPECT_EQ(f->summary.find('{'), std::string::npos) << spec.id;
    for (const auto& n : names) {
      auto fewer = evidence;
      fewer.erase(n);
      EXPECT_FALSE(make_client_finding(spec.id, fewer, Lang::en).has_value()) << spec.id << " without " << n;
    }
  }
  // The ids DESIGN.md lists for the client side.
  for (const char* id : {"dns.nxdomain", "dns.servfail", "dns.timeout", "dns.no_address", "net.no_route",
                         "net.host_unreachable", "net.admin_prohibited", "tcp.refused", "tcp.rejected_icmp",
                         "tcp.filtered", "tcp.reset_after_accept", "tcp.closed_after_accept",
                         "tcp.slow_handshake", "tcp.local_port_exhaustion", "tls.not_tls", "tls.alert",
                         "tls.cert_expired", "tls.cert_not_yet_valid", "tls.cert_hostname_mismatch",
                         "tls.cert_untrusted", "tls.chain_incomplete", "tls.old_protocol",
                         "tls.cert_expiring_soon", "app.no_response", "app.http_5xx", "app.http_4xx",
                         "app.slow_first_byte", "path.mtu_blackhole"}) {
    EXPECT_TRUE(ids.contains(id)) << id;
  }
}

TEST(ClientFindings, RefusedReadsLikeTheIssueSays) {
  auto f = make_client_finding("tcp.refused", {{"endpoint", "198.18.2.2:443"}, {"port", "443"}}, Lang::en);
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_EQ(f->summary, "198.18.2.2:443 refused (RST from the host): nothing listens on port 443");
  EXPECT_EQ(f->severity, Severity::critical);
  EXPECT_NE(f->fix.find("ss -ltnp 'sport = :443'"), std::string::npos);
  EXPECT_EQ(find_client_spec("tcp.refused")->stage, probe::StageId::connect);
}

TEST(ClientFindings, UnknownIdIsAnError) {
  auto f = make_client_finding("tcp.nope", {}, Lang::en);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().op, "finding \"tcp.nope\"");
}

}  // namespace
}  // namespace connscope::rules
