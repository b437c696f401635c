// `connscope trace` on loopback: bad input is one line and exit 2; a listening loopback port is
// reached at hop 1 (TCP, and UDP / ICMP to 127.0.0.1); a closed port is reached with a reset;
// JSON fields; --resolve names 127.0.0.1 from the hosts file.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/serve_fixture.h"

namespace connscope::test {
namespace {

CmdResult trace(std::vector<std::string> args, bool json = false) {
  std::vector<std::string> argv{CONNSCOPE_BIN};
  if (json) argv.push_back("--json");
  argv.insert(argv.end(), {"--timeout", "2s", "trace"});
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, 20s);
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto end = s.find('\n', start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

TEST(Trace, BadInputIsOneLineAndExitTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{""}, "target \"\""},
      {{"exa mple.com:80"}, "target \"exa mple.com:80\""},
      {{"127.0.0.1:0"}, "target \"127.0.0.1:0\""},
      {{"127.0.0.1:65536"}, "target \"127.0.0.1:65536\""},
      {{"--port", "0", "127.0.0.1"}, "--port \"0\": not a port (1-65535)"},
      {{"--port", "65536", "127.0.0.1"}, "--port \"65536\": not a port (1-65535)"},
      {{"--probes", "0", "127.0.0.1:80"}, "--probes \"0\": must be 1 to 10"},
      {{"--probes", "11", "127.0.0.1:80"}, "--probes \"11\""},
      {{"--max-hops", "0", "127.0.0.1:80"}, "--max-hops \"0\": must be 1 to 255"},
      {{"--max-hops", "256", "127.0.0.1:80"}, "--max-hops \"256\": must be 1 to 255"},
      {{"--first-hop", "5", "--max-hops", "4", "127.0.0.1:80"}, "--first-hop \"5\""},
      {{"--cycles", "0", "127.0.0.1:80"}, "--cycles \"0\""},
      {{"--tcp", "--udp", "127.0.0.1:80"}, "--tcp, --udp and --icmp: choose one"},
      {{"--udp", "--icmp", "127.0.0.1"}, "--tcp, --udp and --icmp: choose one"},
      {{"--icmp", "127.0.0.1:80"}, "ICMP echo has no port"},
      {{"-4", "-6", "127.0.0.1:80"}, "-4 and -6: choose one"},
      {{"-4", "[::1]:80"}, "an IPv6 address with -4"},
      {{"--interval", "soon", "127.0.0.1:80"}, "--interval"},
      {{"--source", "not-an-ip", "127.0.0.1:80"}, "--source \"not-an-ip\""},
      {{"--max-hops", "x", "127.0.0.1:80"}, "max-hops"},
  };
  for (const auto& [args, want] : cases) {
    const auto r = trace(args);
    EXPECT_EQ(r.exit_code, 2) << want << ": " << r.err;
    EXPECT_EQ(r.out, "") << want;
    EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  }
}

TEST(Trace, ListeningLoopbackPortIsReachedAtHopOne) {
  auto served = start_serve({"--mode", "echo"});
  const std::string target = "127.0.0.1:" + std::to_string(served.port);
  const auto human = trace({target});
  ASSERT_EQ(human.exit_code, 0) << human.out << human.err;
  const auto lines = split_lines(human.out);
  ASSERT_EQ(lines.size(), 4u) << human.out;  // header, columns, hop 1, verdict
  EXPECT_EQ(lines[0].rfind("trace to 127.0.0.1 port " + std::to_string(served.port) + ", tcp, 30 hops max", 0), 0u)
      << lines[0];
  EXPECT_NE(lines[2].find("127.0.0.1"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("SYN-ACK"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3], "reached 127.0.0.1 at hop 1: port " + std::to_string(served.port) + " is open (SYN-ACK)");
  EXPECT_EQ(human.out.find("\x1b["), std::string::npos) << "no colour off a terminal";
  EXPECT_EQ(human.err, "") << "no progress off a terminal";

  const auto r = trace({"-q", "2", target}, true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("mode"), "tcp");
  EXPECT_EQ(j.at("address"), "127.0.0.1");
  EXPECT_EQ(j.at("family"), "ipv4");
  EXPECT_EQ(j.at("port"), served.port);
  EXPECT_EQ(j.at("verdict").at("result"), "reached");
  EXPECT_EQ(j.at("verdict").at("hop"), 1);
  EXPECT_EQ(j.at("verdict").at("answer"), "syn_ack");
  EXPECT_EQ(j.at("verdict").at("reporter"), "127.0.0.1");
  ASSERT_EQ(j.at("hops").size(), 1u);
  const auto& hop = j.at("hops").at(0);
  EXPECT_EQ(hop.at("ttl"), 1);
  EXPECT_EQ(hop.at("destination"), true);
  EXPECT_EQ(hop.at("sent"), 2);
  EXPECT_EQ(hop.at("received"), 2);
  EXPECT_EQ(hop.at("loss"), "none");
  EXPECT_EQ(hop.at("responders").at(0).at("address"), "127.0.0.1");
  ASSERT_EQ(hop.at("probes").size(), 2u);
  EXPECT_EQ(hop.at("probes").at(0).at("reply"), "syn_ack");
  EXPECT_GT(hop.at("probes").at(0).at("rtt_ms").get<double>(), 0.0);
  EXPECT_EQ(j.at("path_mtu"), nullptr);
  EXPECT_EQ(j.at("rounds"), 2);
}

TEST(Trace, ClosedLoopbackPortIsReachedWithReset) {
  // A port that was just free: bound, closed, nothing listens.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  const auto port = ntohs(sin.sin_port);
  const auto r = trace({"127.0.0.1:" + std::to_string(port)}, true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("verdict").at("answer"), "rst");
}

TEST(Trace, UdpWithPathMtuOnLoopback) {
  const auto r = trace({"--udp", "--mtu", "127.0.0.1"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("port"), 33434);
  EXPECT_EQ(j.at("verdict").at("answer"), "port_unreachable");
  EXPECT_EQ(j.at("verdict").at("hop"), 1);
  EXPECT_EQ(j.at("path_mtu").at("outcome"), "confirmed");
  EXPECT_EQ(j.at("path_mtu").at("reporter"), nullptr);  // loopback: no router in between
  EXPECT_GE(j.at("path_mtu").at("mtu").get<int>(), 1500);
}

TEST(Trace, ResolveNamesLoopbackFromTheHostsFile) {
  auto served = start_serve({"--mode", "echo"});
  const auto r = trace({"--resolve", "-q", "1", "127.0.0.1:" + std::to_string(served.port)}, true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& name = j.at("hops").at(0).at("responders").at(0).at("name");
  ASSERT_TRUE(name.is_string()) << r.out;
  EXPECT_NE(name.get<std::string>().find("localhost"), std::string::npos) << name;
}

}  // namespace
}  // namespace connscope::test
