// `connscope load` on loopback: bad input is one line and exit 2; a storm against a server
// connects every connection it planned, at the rate asked (open loop) or with the connections
// asked in flight (closed loop); a closed port refuses every one; a server that never accepts
// with a small backlog drops the SYNs past its queue and the storm says so; Ctrl-C stops with
// the report so far.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/serve_fixture.h"

namespace connscope::test {
namespace {

using nlohmann::json;

CmdResult load(const std::vector<std::string>& args, bool as_json = true, std::chrono::milliseconds timeout = 30s) {
  std::vector<std::string> argv{CONNSCOPE_BIN};
  if (as_json) argv.push_back("--json");
  argv.push_back("load");
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

// A loopback port nothing listens on (bound, never listened, closed: the kernel gives it to no
// one else for a while).
std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  return ntohs(sin.sin_port);
}

std::uint64_t fate_count(const json& j, const std::string& fate) {
  std::uint64_t n = 0;
  for (const auto& f : j.at("fates")) n += f.at("fate") == fate ? f.at("count").get<std::uint64_t>() : 0;
  return n;
}

TEST(LoadCli, BadInputIsOneLineAndExit2) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"127.0.0.1:1"}, "give --rate N (open loop) or --connections N (closed loop)"},
      {{"127.0.0.1:1", "--rate", "10", "--connections", "5"}, "give --rate or --connections, not both"},
      {{"127.0.0.1:1", "--rate", "0"}, "--rate 0: not a positive number of connections per second"},
      {{"127.0.0.1", "--rate", "10"}, "no port"},
      {{"127.0.0.1:1", "--rate", "10", "--duration", "soon"}, "--duration"},
      {{"127.0.0.1:1", "--connections", "0"}, "--connections"},
      {{"127.0.0.1:1", "--rate", "10", "--close", "half"}, "--close"},
  };
  for (const auto& [args, want] : cases) {
    const auto r = load(args, false);
    EXPECT_EQ(r.exit_code, 2) << want << "\n" << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST(LoadCli, OpenLoopConnectsEveryPlannedConnectionAtTheRate) {
  auto served = start_serve({"--mode", "echo"});
  const auto r = load({"127.0.0.1:" + std::to_string(served.port), "--rate", "400", "--duration", "1s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j.at("model"), "open_loop");
  EXPECT_EQ(j.at("planned"), 400);
  EXPECT_EQ(j.at("started"), 400);
  EXPECT_EQ(j.at("finished"), 400);
  EXPECT_EQ(fate_count(j, "connected"), 400u) << r.out;
  EXPECT_EQ(j.at("unfinished"), 0);
  EXPECT_FALSE(j.at("interrupted").get<bool>());
  // The starts follow the schedule: 400 over one second, so the run takes about a second.
  EXPECT_GE(j.at("elapsed_ms").get<double>(), 990.0);
  EXPECT_LT(j.at("elapsed_ms").get<double>(), 3000.0);
  std::uint64_t started = 0;
  for (const auto& s : j.at("timeline")) started += s.at("started").get<std::uint64_t>();
  EXPECT_EQ(started, 400u);
  EXPECT_GE(j.at("timeline").at(0).at("started").get<int>(), 390);
  const auto& c = j.at("latency_ms").at("connect");
  EXPECT_EQ(c.at("count"), 400);
  EXPECT_GT(c.at("p50").get<double>(), 0.0);
  EXPECT_LE(c.at("p50").get<double>(), c.at("p99").get<double>());
  EXPECT_LE(c.at("p99_9").get<double>(), c.at("max").get<double>());
  // The server saw them all.
  EXPECT_EQ(served.proc.stop(SIGINT), 0);
  const auto summary = json_events(served.proc.out(), "summary");
  ASSERT_EQ(summary.size(), 1u) << served.proc.out();
  EXPECT_EQ(json::parse(summary.front()).at("accepted"), 400) << summary.front();
}

TEST(LoadCli, ClosedLoopKeepsTheConnectionsAskedInFlight) {
  auto served = start_serve({"--mode", "echo"});
  const auto r = load({"127.0.0.1:" + std::to_string(served.port), "--connections", "8", "--duration", "500ms", "--close", "rst"});
  // Every connection connects; a server slower than the storm (a sanitizer build) may fill its
  // accept queue with connections the client already reset, and then a SYN waits for its resend:
  // exit 1 then, with those counted as connected after retransmissions.
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err << r.out;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j.at("model"), "closed_loop");
  EXPECT_TRUE(j.at("planned").is_null());
  EXPECT_EQ(j.at("close"), "rst");
  EXPECT_GT(j.at("started").get<int>(), 8);
  EXPECT_EQ(j.at("finished"), j.at("started"));
  EXPECT_EQ(fate_count(j, "connected") + fate_count(j, "connected_after_retransmits"), j.at("started").get<std::uint64_t>())
      << r.out;
  EXPECT_EQ(r.exit_code, fate_count(j, "connected_after_retransmits") > 0 ? 1 : 0);
  EXPECT_LE(j.at("max_in_flight").get<int>(), 8);
}

TEST(LoadCli, AClosedPortRefusesEveryConnection) {
  const auto port = closed_port();
  const auto r = load({"127.0.0.1:" + std::to_string(port), "--rate", "100", "--duration", "500ms"});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  const auto j = json::parse(r.out);
  ASSERT_EQ(j.at("fates").size(), 1u) << r.out;
  EXPECT_EQ(j.at("fates").at(0).at("fate"), "refused");
  EXPECT_EQ(j.at("fates").at(0).at("reason"), "conn-refused");
  EXPECT_EQ(j.at("fates").at(0).at("finding"), "tcp.refused");
  EXPECT_EQ(j.at("fates").at(0).at("count"), 50);
  EXPECT_EQ(j.at("latency_ms").at("connect").at("count"), 0);
  EXPECT_TRUE(j.at("latency_ms").at("connect").at("p50").is_null());
}

TEST(LoadCli, ANeverAcceptingServerDropsTheSynsPastItsQueue) {
  // Backlog 4: the accept queue holds 5, then the kernel drops every SYN (with or without
  // syncookies); the client resends at 1 s and gives up at the 1.5 s timeout.
  auto served = start_serve({"--mode", "never-accept", "--backlog", "4"});
  // --timeout is global: before the command.
  std::vector<std::string> argv{CONNSCOPE_BIN, "--json", "--timeout", "1500ms", "load",
                                "127.0.0.1:" + std::to_string(served.port), "--rate", "100", "--duration", "500ms"};
  const auto t = run(argv, 30s);
  ASSERT_EQ(t.exit_code, 1) << t.err << t.out;
  const auto j = json::parse(t.out);
  EXPECT_EQ(j.at("timeout_ms"), 1500);
  EXPECT_EQ(j.at("finished"), 50);
  const auto connected = fate_count(j, "connected") + fate_count(j, "connected_after_retransmits");
  EXPECT_LE(connected, 6u) << t.out;
  EXPECT_GE(fate_count(j, "timed_out"), 44u) << t.out;
  for (const auto& f : j.at("fates")) {
    if (f.at("fate") == "timed_out") {
      EXPECT_EQ(f.at("reason"), "no-response");
      EXPECT_EQ(f.at("finding"), "tcp.filtered");
    }
  }
}

TEST(LoadCli, CtrlCStopsWithTheReportSoFar) {
  auto served = start_serve({"--mode", "echo"});
  auto p = Process::spawn({CONNSCOPE_BIN, "--json", "load", "127.0.0.1:" + std::to_string(served.port), "--rate", "100",
                           "--duration", "60s"});
  std::this_thread::sleep_for(1500ms);
  const auto begun = std::chrono::steady_clock::now();
  ::kill(p.pid(), SIGINT);
  const auto status = p.wait(5s);
  ASSERT_TRUE(status.has_value()) << "load did not stop on SIGINT";
  EXPECT_LT(std::chrono::steady_clock::now() - begun, 1s);
  EXPECT_EQ(*status, 0) << p.err();
  const auto j = json::parse(p.out());
  EXPECT_TRUE(j.at("interrupted").get<bool>());
  EXPECT_EQ(j.at("planned"), 6000);
  EXPECT_GE(j.at("started").get<int>(), 100);
  EXPECT_LE(j.at("started").get<int>(), 300);
  EXPECT_EQ(j.at("finished").get<int>() + j.at("unfinished").get<int>(), j.at("started").get<int>());
}

TEST(LoadCli, ChineseReport) {
  auto served = start_serve({"--mode", "echo"});
  const auto r = run({CONNSCOPE_BIN, "--lang", "zh-CN", "load", "127.0.0.1:" + std::to_string(served.port), "--rate", "50/s",
                      "--duration", "200ms"},
                     30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("压测 127.0.0.1:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("已建立"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("每秒"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace connscope::test
