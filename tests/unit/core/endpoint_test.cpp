#include "core/endpoint.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <string>

#include "core/number.h"

namespace connscope {
namespace {

TEST(ParsePort, Range) {
  EXPECT_EQ(parse_port("1", "--port").value(), 1);
  EXPECT_EQ(parse_port("65535", "--port").value(), 65535);
  EXPECT_EQ(parse_port("0", "--port", true).value(), 0);
  for (const char* bad : {"0", "65536", "70000", "-1", "", "80a", " 80", "1e3", "123456"}) {
    auto r = parse_port(bad, "--port");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message(), std::string("--port \"") + bad + "\": not a port (1-65535)");
  }
}

struct Case {
  const char* text;
  int family;
  const char* address;
  int port;
};

TEST(ParseEndpoint, Forms) {
  const Case cases[] = {
      {"127.0.0.1:8080", AF_INET, "127.0.0.1", 8080},
      {"[::1]:443", AF_INET6, "::1", 443},
      {"[2001:DB8::0001]:1", AF_INET6, "2001:db8::1", 1},
      {"[::]:80", AF_INET6, "::", 80},
      {":8080", AF_INET, "0.0.0.0", 8080},
      {"8080", AF_INET, "0.0.0.0", 8080},
      {"localhost:22", AF_INET, "127.0.0.1", 22},
      {"0.0.0.0:0", AF_INET, "0.0.0.0", 0},
  };
  for (const auto& c : cases) {
    auto r = parse_endpoint(c.text, "--listen", true);
    ASSERT_TRUE(r.has_value()) << c.text << ": " << r.error().message();
    EXPECT_EQ(r->family, c.family) << c.text;
    EXPECT_EQ(r->address, c.address) << c.text;
    EXPECT_EQ(r->port, c.port) << c.text;
  }
}

TEST(ParseEndpoint, ErrorsNameTheInputAndTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty address"},
      {"::1:80", "needs brackets"},
      {"[::1]80", "missing port"},
      {"[::1", "missing ']'"},
      {"[127.0.0.1]:80", "not an IPv6 address"},
      {"[localhost]:8445", "not an IPv6 address"},  // found by fuzz_text_inputs
      {"example.com:80", "not a numeric IP address"},
      {"1.2.3.4:0", "not a port (1-65535)"},
      {"1.2.3.4:99999", "not a port"},
      {"300.1.1.1:80", "not a numeric IP address"},
  };
  for (const auto& [text, want] : cases) {
    auto r = parse_endpoint(text, "--listen");
    ASSERT_FALSE(r.has_value()) << text;
    const auto msg = r.error().message();
    EXPECT_NE(msg.find(std::string("--listen \"") + text + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
  }
}

TEST(Endpoint, RoundTripsThroughSockaddr) {
  for (const char* text : {"192.0.2.7:9", "[2001:db8::7]:65535"}) {
    auto ep = parse_endpoint(text, "x");
    ASSERT_TRUE(ep.has_value());
    sockaddr_storage ss{};
    const socklen_t len = ep->to_sockaddr(ss);
    EXPECT_EQ(len, ep->family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    const Endpoint back = endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
    EXPECT_EQ(back, *ep);
    EXPECT_EQ(back.to_string(), text);
  }
}

TEST(ParseInt, RangeAndGarbage) {
  EXPECT_EQ(parse_int("8", "--backlog", 0, 65535).value(), 8);
  for (const char* bad : {"", "x", "-1", "65536", "8 ", "0x10"}) {
    auto r = parse_int(bad, "--backlog", 0, 65535);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message(),
              std::string("--backlog \"") + bad + "\": not a whole number from 0 to 65535");
  }
}

}  // namespace
}  // namespace connscope
