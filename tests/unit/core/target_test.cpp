#include "core/target.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <optional>
#include <string>

namespace connscope {
namespace {

struct Good {
  const char* text;
  const char* host;
  HostKind kind;
  int port;  // -1: none
  Scheme scheme;
  bool guessed;
  AppProtocol protocol;
  bool tls;
  const char* path;
};

constexpr auto N = HostKind::name;
constexpr auto V4 = HostKind::ipv4;
constexpr auto V6 = HostKind::ipv6;
using S = Scheme;
using P = AppProtocol;

TEST(ParseTarget, GoodForms) {
  const Good cases[] = {
      // host, host:port
      {"example.com", "example.com", N, -1, S::none, false, P::banner, false, ""},
      {"Example.COM", "example.com", N, -1, S::none, false, P::banner, false, ""},
      {"example.com.", "example.com", N, -1, S::none, false, P::banner, false, ""},
      {"localhost", "localhost", N, -1, S::none, false, P::banner, false, ""},
      {"my_host-1.internal", "my_host-1.internal", N, -1, S::none, false, P::banner, false, ""},
      {"example.com:9000", "example.com", N, 9000, S::none, false, P::banner, false, ""},
      {"example.com:65535", "example.com", N, 65535, S::none, false, P::banner, false, ""},
      {"example.com:1", "example.com", N, 1, S::none, false, P::banner, false, ""},
      // well-known ports suggest the protocol
      {"db.example:5432", "db.example", N, 5432, S::postgres, true, P::postgres, false, ""},
      {"example.com:443", "example.com", N, 443, S::https, true, P::http, true, "/"},
      {"example.com:80", "example.com", N, 80, S::http, true, P::http, false, "/"},
      {"gw:22", "gw", N, 22, S::ssh, true, P::ssh, false, ""},
      {"mx:25", "mx", N, 25, S::smtp, true, P::smtp, false, ""},
      {"mx:465", "mx", N, 465, S::smtps, true, P::smtp, true, ""},
      {"mx:587", "mx", N, 587, S::smtp, true, P::smtp, false, ""},
      {"cache:6379", "cache", N, 6379, S::redis, true, P::redis, false, ""},
      {"sql:3306", "sql", N, 3306, S::mysql, true, P::mysql, false, ""},
      {"files:21", "files", N, 21, S::ftp, true, P::ftp, false, ""},
      {"app:8080", "app", N, 8080, S::http, true, P::http, false, "/"},
      // IP literals
      {"198.18.3.2", "198.18.3.2", V4, -1, S::none, false, P::banner, false, ""},
      {"198.18.3.2:8080", "198.18.3.2", V4, 8080, S::http, true, P::http, false, "/"},
      {"[2001:db8::1]:9000", "2001:db8::1", V6, 9000, S::none, false, P::banner, false, ""},
      {"[2001:DB8:0::0001]:22", "2001:db8::1", V6, 22, S::ssh, true, P::ssh, false, ""},
      {"[2001:db8::1]", "2001:db8::1", V6, -1, S::none, false, P::banner, false, ""},
      {"[2001:db8::1:443]", "2001:db8::1:443", V6, -1, S::none, false, P::banner, false, ""},
      {"2001:db8:3::2", "2001:db8:3::2", V6, -1, S::none, false, P::banner, false, ""},
      {"::1", "::1", V6, -1, S::none, false, P::banner, false, ""},
      {"::", "::", V6, -1, S::none, false, P::banner, false, ""},
      {"2001:db8::abcd", "2001:db8::abcd", V6, -1, S::none, false, P::banner, false, ""},
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1", V6, -1, S::none, false, P::banner, false, ""},
      {"fe80::1%eth0", "fe80::1%eth0", V6, -1, S::none, false, P::banner, false, ""},
      {"[fe80::1%eth0]:22", "fe80::1%eth0", V6, 22, S::ssh, true, P::ssh, false, ""},
      // URLs: the scheme implies port, protocol and TLS
      {"http://example.com", "example.com", N, 80, S::http, false, P::http, false, "/"},
      {"https://example.com/", "example.com", N, 443, S::https, false, P::http, true, "/"},
      {"HTTPS://Example.com/health", "example.com", N, 443, S::https, false, P::http, true,
       "/health"},
      {"https://example.com:8443/a/b?x=1&y=2#top", "example.com", N, 8443, S::https, false, P::http,
       true, "/a/b?x=1&y=2"},
      {"http://example.com?q", "example.com", N, 80, S::http, false, P::http, false, "/?q"},
      {"http://example.com#frag", "example.com", N, 80, S::http, false, P::http, false, "/"},
      {"http://[2001:db8::1]:8080/x", "2001:db8::1", V6, 8080, S::http, false, P::http, false,
       "/x"},
      {"http://[fe80::1%25eth0]/", "fe80::1%eth0", V6, 80, S::http, false, P::http, false, "/"},
      {"http://198.18.3.2/", "198.18.3.2", V4, 80, S::http, false, P::http, false, "/"},
      {"ssh://gw.example", "gw.example", N, 22, S::ssh, false, P::ssh, false, ""},
      {"ssh://gw.example:2222", "gw.example", N, 2222, S::ssh, false, P::ssh, false, ""},
      {"smtp://mx.example", "mx.example", N, 25, S::smtp, false, P::smtp, false, ""},
      {"smtps://mx.example", "mx.example", N, 465, S::smtps, false, P::smtp, true, ""},
      {"redis://cache", "cache", N, 6379, S::redis, false, P::redis, false, ""},
      {"redis://cache/0", "cache", N, 6379, S::redis, false, P::redis, false, ""},
      {"postgres://db", "db", N, 5432, S::postgres, false, P::postgres, false, ""},
      {"postgresql://db:6432/app", "db", N, 6432, S::postgres, false, P::postgres, false, ""},
      {"mysql://sql.example", "sql.example", N, 3306, S::mysql, false, P::mysql, false, ""},
      {"ftp://files.example", "files.example", N, 21, S::ftp, false, P::ftp, false, ""},
      {"ftp://files.example:2121/pub", "files.example", N, 2121, S::ftp, false, P::ftp, false, ""},
  };
  for (const auto& c : cases) {
    auto r = parse_target(c.text);
    ASSERT_TRUE(r.has_value()) << c.text << ": " << r.error().message();
    EXPECT_EQ(r->host, c.host) << c.text;
    EXPECT_EQ(r->kind, c.kind) << c.text;
    EXPECT_EQ(r->is_ip_literal(), c.kind != N) << c.text;
    EXPECT_EQ(r->port, c.port < 0 ? std::nullopt : std::optional<std::uint16_t>(c.port)) << c.text;
    EXPECT_EQ(r->scheme, c.scheme) << c.text;
    EXPECT_EQ(r->scheme_guessed, c.guessed) << c.text;
    EXPECT_EQ(r->protocol, c.protocol) << c.text;
    EXPECT_EQ(r->tls, c.tls) << c.text;
    EXPECT_EQ(r->http_path, c.path) << c.text;
  }
}

TEST(ParseTarget, PortExplicitOnlyWhenTyped) {
  EXPECT_FALSE(parse_target("https://example.com")->port_explicit);
  EXPECT_TRUE(parse_target("https://example.com:443")->port_explicit);
  EXPECT_TRUE(parse_target("example.com:443")->port_explicit);
  EXPECT_FALSE(parse_target("example.com")->port_explicit);
}

TEST(ParseTarget, FamilyAndHttpHost) {
  EXPECT_EQ(parse_target("example.com")->family(), AF_UNSPEC);
  EXPECT_EQ(parse_target("192.0.2.1")->family(), AF_INET);
  EXPECT_EQ(parse_target("[2001:db8::1]:80")->family(), AF_INET6);
  const std::pair<const char*, const char*> hosts[] = {
      {"https://example.com/", "example.com"},
      {"https://example.com:443/", "example.com"},
      {"https://example.com:8443/", "example.com:8443"},
      {"http://example.com:80/", "example.com"},
      {"http://[2001:db8::1]/", "[2001:db8::1]"},
      {"http://[2001:db8::1]:8080/", "[2001:db8::1]:8080"},
      {"http://[fe80::1%25eth0]:8080/", "[fe80::1]:8080"},  // a zone is local: never sent
      {"example.com:8080", "example.com:8080"},  // guessed http, but 8080 is not its port
      {"example.com:9000", "example.com:9000"},
      {"example.com", "example.com"},
  };
  for (const auto& [text, want] : hosts) {
    auto t = parse_target(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(t->http_host(), want) << text;
  }
}

TEST(ParseTarget, ErrorsNameTheInputAndSayWhatIsWrong) {
  const std::string long_label(64, 'a');
  const std::string ok_label(63, 'a');
  // 4 × 63 + 3 dots = 255 > 253
  const std::string long_name = ok_label + "." + ok_label + "." + ok_label + "." + ok_label;
  const std::pair<std::string, const char*> cases[] = {
      {"", "empty target"},
      {"foo:70000", "not a port (1-65535)"},
      {"foo:65536", "not a port (1-65535)"},
      {"foo:0", "not a port (1-65535)"},
      {"foo:", "not a port (1-65535)"},
      {"foo:http", "not a port (1-65535)"},
      {"foo:-1", "not a port (1-65535)"},
      {"foo:80:90", "not an IPv6 address"},
      {":8080", "missing host before ':'"},
      {"2001:db8::1:443",
       "ambiguous: an IPv6 address with a port needs brackets, e.g. "
       "[2001:db8::1]:443 (or [2001:db8::1:443] for the address alone)"},
      {"::1:22", "[::1]:22"},
      {"2001:db8:1:2:3:4:5:6:443", "[2001:db8:1:2:3:4:5:6]:443"},
      {"2001:zz8::1", "not an IPv6 address"},
      {"[2001:db8::1", "missing ']'"},
      {"[2001:db8::1]443", "unexpected text after ']'"},
      {"[2001:db8::1]:", "not a port (1-65535)"},
      {"[2001:db8::1]:99999", "not a port (1-65535)"},
      {"[198.18.3.2]:80", "is not an IPv6 address"},
      {"[]:80", "empty brackets"},
      {"[example.com]:80", "is not an IPv6 address"},
      {"[fe80::1%]:80", "is not an IPv6 address"},
      {"gopher://example.com",
       "unknown scheme \"gopher\" (known: http, https, ssh, smtp, smtps, "
       "redis, postgres (or postgresql), mysql, ftp)"},
      {"rediss://cache", "unknown scheme \"rediss\""},
      {"://example.com", "missing scheme"},
      {"http://", "missing host"},
      {"http:///path", "missing host"},
      {"http://:8080/", "missing host before ':'"},
      {"http://user:secret@example.com/", "user names and passwords (user@host) are not accepted"},
      {"postgres://app@db/app", "are not accepted"},
      {"user@example.com", "are not accepted"},
      {"http://2001:db8::1/", "an IPv6 address in a URL needs brackets"},
      {"http://2001:db8::1:8080/", "http://[2001:db8::1]/"},
      {"http://example.com:99999/", "not a port (1-65535)"},
      {"example.com/health", "a path needs a URL scheme"},
      {"example.com?x", "a path needs a URL scheme"},
      {"exa mple.com", "contains a space or a control character"},
      {" example.com", "contains a space or a control character"},
      {"example.com\n", "contains a space or a control character"},
      {"b\xc3\xbc"
       "cher.de",
       "non-ASCII characters (write an internationalised name in its xn-- form)"},
      {"exa*mple.com", "invalid character '*' in host name"},
      {"example..com", "empty label"},
      {".example.com", "empty label"},
      {".", "empty label"},
      {"-example.com", "starts or ends with '-'"},
      {"example-.com", "starts or ends with '-'"},
      {long_label + ".com", "is 64 characters long (at most 63)"},
      {long_name, "host name is 255 characters long (at most 253)"},
      {"1.2.3", "not a valid IPv4 address"},
      {"256.1.1.1", "not a valid IPv4 address"},
      {"123", "not a valid IPv4 address"},
      {"198.18.3.2.7:80", "not a valid IPv4 address"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_target(text);
    ASSERT_FALSE(r.has_value()) << text << " parsed as host " << r->host;
    EXPECT_EQ(r.error().code, 0) << text;
    const auto msg = r.error().message();
    EXPECT_NE(msg.find(want), std::string::npos) << text << " → " << msg;
    if (text.find('\n') == std::string::npos && text.find('\xc3') == std::string::npos) {
      EXPECT_EQ(r.error().op, "target \"" + text + "\"") << msg;
    }
  }
}

TEST(ParseTarget, ErrorLinesCarryNoControlBytes) {
  auto r = parse_target("a\x1b[31mb");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().op, "target \"a\\x1b[31mb\"");
}

TEST(ParseTarget, LongestValidNameAndLabelAreAccepted) {
  const std::string label(63, 'a');
  // 3 × 63 + 61 + 3 dots = 253
  const std::string name = label + "." + label + "." + label + "." + std::string(61, 'b');
  ASSERT_EQ(name.size(), 253u);
  auto r = parse_target(name + ":80");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->host, name);
  EXPECT_TRUE(parse_target(name + ".").has_value()) << "the trailing dot does not count";
}

TEST(Scheme, NamesRoundTripAndPortsAreTheDefaults) {
  for (Scheme s :
       {S::http, S::https, S::ssh, S::smtp, S::smtps, S::redis, S::postgres, S::mysql, S::ftp}) {
    EXPECT_EQ(parse_scheme(scheme_name(s)), s);
    EXPECT_EQ(scheme_for_port(default_port(s)), s) << scheme_name(s);
  }
  EXPECT_EQ(parse_scheme("PostgreSQL"), S::postgres);
  EXPECT_EQ(parse_scheme("gopher"), std::nullopt);
  EXPECT_EQ(default_port(S::none), 0);
  EXPECT_EQ(scheme_for_port(9000), S::none);
  EXPECT_EQ(protocol_name(scheme_protocol(S::smtps)), "smtp");
  EXPECT_TRUE(scheme_tls(S::smtps));
  EXPECT_FALSE(scheme_tls(S::smtp));
  EXPECT_EQ(protocol_name(AppProtocol::banner), "banner");
}

TEST(Scheme, WhatATargetImpliesOnAPort) {
  struct Row {
    const char* target;
    std::uint16_t port;
    const char* protocol;
    bool tls;
  };
  for (const Row& r : {Row{"https://h/x", 443, "http", true}, Row{"http://h:8443/", 8443, "http", false},
                       Row{"h:5432", 5432, "postgres", false}, Row{"h:443", 443, "http", true},
                       Row{"h:9000", 9000, "banner", false}, Row{"h", 22, "ssh", false},
                       Row{"redis://h", 6380, "redis", false}}) {
    const auto t = parse_target(r.target);
    ASSERT_TRUE(t.has_value()) << r.target;
    EXPECT_EQ(protocol_name(target_protocol(*t, r.port)), r.protocol) << r.target;
    EXPECT_EQ(target_tls(*t, r.port), r.tls) << r.target;
  }
}

}  // namespace
}  // namespace connscope

namespace connscope {
namespace {

TEST(RedirectUrl, ResolvesTheFormsServersSend) {
  auto base = parse_target("http://example.test:8080/a/b?x=1");
  ASSERT_TRUE(base.has_value());
  const std::pair<const char*, const char*> rows[] = {
      {"https://other.test/", "https://other.test/"},
      {"//cdn.test/x", "http://cdn.test/x"},
      {"/login", "http://example.test:8080/login"},
      {"c", "http://example.test:8080/a/c"},
      {"?y=2", "http://example.test:8080/a/b?y=2"},
  };
  for (const auto& [loc, want] : rows) {
    auto r = redirect_url(*base, loc);
    ASSERT_TRUE(r.has_value()) << loc << ": " << r.error().message();
    EXPECT_EQ(*r, want) << loc;
  }
  auto v6 = parse_target("https://[2001:db8::1]/");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(*redirect_url(*v6, "/x"), "https://[2001:db8::1]/x");
  EXPECT_FALSE(redirect_url(*base, "").has_value());
  EXPECT_FALSE(redirect_url(*base, "/a b").has_value());
  auto ssh = parse_target("ssh://h.test");
  ASSERT_TRUE(ssh.has_value());
  EXPECT_FALSE(redirect_url(*ssh, "/x").has_value());
}

}  // namespace
}  // namespace connscope
