// `connscope agent` on loopback: it says where it listens, /api/v1/snapshot carries both tiers
// (the second fast sample has rates; our listener is in the listeners with its queue), unknown
// paths are 404, a non-loopback bind needs the token (401 without it), bad options exit 2.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/client.h"
#include "integration/serve_fixture.h"

namespace connscope::test {
namespace {

using nlohmann::json;

struct Reply {
  unsigned status = 0;
  std::string body;
};

Reply http_get(std::uint16_t port, const std::string& path, const std::string& auth = "") {
  auto fd = connect_tcp("127.0.0.1", port);
  EXPECT_TRUE(fd.valid());
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!auth.empty()) req += "Authorization: " + auth + "\r\n";
  send_all(fd.get(), req + "\r\n");
  const auto r = read_until_close(fd.get(), 5s);
  Reply out;
  if (r.data.rfind("HTTP/1.1 ", 0) == 0) out.status = static_cast<unsigned>(std::stoi(r.data.substr(9, 3)));
  const auto body = r.data.find("\r\n\r\n");
  if (body != std::string::npos) out.body = r.data.substr(body + 4);
  return out;
}

struct Agent {
  Process proc;
  json hello;
};

Agent start_agent(const std::vector<std::string>& args) {
  std::vector<std::string> argv{CONNSCOPE_BIN, "--json", "agent"};
  argv.insert(argv.end(), args.begin(), args.end());
  Agent a;
  a.proc = Process::spawn(argv);
  const std::string line = a.proc.wait_for_line(0, 5s);
  if (line.empty()) throw std::runtime_error("agent did not start: " + a.proc.err());
  a.hello = json::parse(line);
  return a;
}

TEST(Agent, SnapshotCarriesBothTiers) {
  // A listener with one connection waiting in its accept queue.
  auto served = start_serve({"--mode", "never-accept", "--backlog", "5"});
  auto waiting = connect_tcp("127.0.0.1", served.port);
  ASSERT_TRUE(waiting.valid());

  auto agent = start_agent({"--listen", "127.0.0.1:0", "--full-interval", "1s"});
  EXPECT_EQ(agent.hello.at("event"), "listening");
  EXPECT_TRUE(agent.hello.at("token").is_null());
  const auto port = agent.hello.at("port").get<std::uint16_t>();
  // Two fast samples (rates) and a full one taken after our connection.
  std::this_thread::sleep_for(2200ms);
  const auto r = http_get(port, "/api/v1/snapshot");
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = json::parse(r.body);
  const auto& fast = j.at("fast");
  EXPECT_TRUE(j.at("fast_error").is_null());
  EXPECT_TRUE(fast.at("rates_per_second").at("TcpExt.ListenOverflows").is_number()) << fast.dump();
  bool found = false;
  for (const auto& l : fast.at("listeners")) {
    if (l.at("local") == "127.0.0.1:" + std::to_string(served.port)) {
      found = true;
      EXPECT_EQ(l.at("accept_queue"), 1);
      EXPECT_EQ(l.at("accept_queue_limit"), 5);
    }
  }
  EXPECT_TRUE(found) << fast.at("listeners").dump();
  EXPECT_LT(fast.at("cost").at("cpu_ms").get<double>(), 50.0);
  const auto& full = j.at("full");
  ASSERT_FALSE(full.is_null()) << j.at("full_error");
  // Our waiting connection (both ends) and the agent's own request socket are ESTABLISHED.
  EXPECT_GE(full.at("states").at("ipv4").at("ESTABLISHED").get<int>(), 2) << full.at("states").dump();
  EXPECT_GE(full.at("states").at("ipv4").at("LISTEN").get<int>(), 2);
  EXPECT_TRUE(full.at("findings").is_array());

  // The same as Prometheus metrics, and promtool (Debian's prometheus package) accepts them.
  const auto m = http_get(port, "/metrics");
  ASSERT_EQ(m.status, 200u) << m.body;
  EXPECT_NE(m.body.find("connscope_listen_queue_length{listener=\"127.0.0.1:" + std::to_string(served.port) + "\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.body.find("# TYPE connscope_kernel_tcp_ext_listen_overflows_total counter\n"), std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") FAIL() << "promtool missing under CI";
    GTEST_SKIP() << "promtool not installed (scripts/install-deps installs it)";
  }
  const auto file = std::filesystem::temp_directory_path() / ("connscope-metrics-" + std::to_string(::getpid()));
  {
    std::ofstream out(file);
    out << m.body;
  }
  const auto check = run({"bash", "-c", "promtool check metrics < '" + file.string() + "'"}, 10s);
  std::filesystem::remove(file);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool's linter complains";

  EXPECT_EQ(http_get(port, "/nope").status, 404u);
  EXPECT_EQ(agent.proc.stop(), 0) << agent.proc.err();
}

TEST(Agent, NonLoopbackBindNeedsTheToken) {
  const auto dir = std::filesystem::temp_directory_path() / ("connscope-agent-token-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto agent = start_agent({"--listen", "0.0.0.0:0", "--data-dir", dir.string()});
  const auto port = agent.hello.at("port").get<std::uint16_t>();
  const std::string token = agent.hello.at("token").get<std::string>();
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(agent.hello.at("token_path"), (dir / "token").string());
  EXPECT_EQ(http_get(port, "/api/v1/snapshot").status, 401u);
  EXPECT_EQ(http_get(port, "/api/v1/snapshot", "Bearer wrong").status, 401u);
  EXPECT_EQ(http_get(port, "/api/v1/snapshot", "Bearer " + token).status, 200u);
  EXPECT_EQ(agent.proc.stop(), 0);
  // The next start reads the same token and does not show it again.
  auto again = start_agent({"--listen", "0.0.0.0:0", "--data-dir", dir.string()});
  EXPECT_TRUE(again.hello.at("token").is_null());
  EXPECT_EQ(http_get(again.hello.at("port").get<std::uint16_t>(), "/api/v1/snapshot", "Bearer " + token).status, 200u);
  again.proc.stop();
  std::filesystem::remove_all(dir);
}

TEST(Agent, ConfigFileAndItsErrors) {
  const auto dir = std::filesystem::temp_directory_path() / ("connscope-agent-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto good = dir / "agent.toml";
  {
    std::ofstream out(good);
    out << "listen = \"127.0.0.1:0\"\n[sampling]\nfull_interval = \"2s\"\n";
  }
  auto agent = start_agent({"--config", good.string()});
  EXPECT_EQ(agent.hello.at("address").get<std::string>().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(http_get(agent.hello.at("port").get<std::uint16_t>(), "/api/v1/snapshot").status, 200u);
  agent.proc.stop();

  const auto bad = dir / "bad.toml";
  {
    std::ofstream out(bad);
    out << "listen = \"127.0.0.1:0\"\n\n[sampling]\nfull_interval = \"3x\"\n";
  }
  const auto r = run({CONNSCOPE_BIN, "agent", "--config", bad.string()}, 5s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(bad.string() + " line 4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("full_interval"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  std::filesystem::remove_all(dir);
}

TEST(Agent, BadOptionsAreOneLineAndExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--listen", "nonsense"}, {"--listen", "127.0.0.1:70000"}, {"--full-interval", "0s"},
           {"--full-interval", "abc"}}) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "agent"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run(argv, 5s);
    EXPECT_EQ(r.exit_code, 2) << args[1] << ": " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace connscope::test
