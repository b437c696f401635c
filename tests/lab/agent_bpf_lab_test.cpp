// `connscope agent` with eBPF in the lab's server namespace: its per-second state distribution
// (the census, kept by the kernel's transition counters) equals a sock_diag dump (ss) exactly,
// after connections open and after some close; and a SYN dropped by an nft rule on this host is
// counted in /metrics under its reason (NETFILTER_DROP) and its listening port, as many times as
// the rule's own counter says; SYNs to more closed ports than the kernel's table has keys are all
// counted, under "other".
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

using nlohmann::json;
using States = std::map<std::string, long>;

// The 11 states the snapshot names, all present (0 when none).
States zero_states() {
  States s;
  for (const char* n : {"ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
                        "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"}) {
    s[n] = 0;
  }
  return s;
}

std::string show(const States& s) {
  std::string out;
  for (const auto& [k, v] : s) {
    if (v != 0) out += k + "=" + std::to_string(v) + " ";
  }
  return out.empty() ? "(none)" : out;
}

class AgentBpfLab : public LabTest {
 protected:
  // Every TCP socket of the server namespace, by state, from one sock_diag dump (ss). A
  // timewait minisocket counts as TIME_WAIT whatever substate ss shows (its timer says what it
  // is), as the census counts it; bound sockets that never connected (CLOSE) are left out, as
  // the census leaves them.
  States dump_states() {
    const auto r = lab().exec(Node::server, {"ss", "-Htanoe"});
    EXPECT_TRUE(r.ok()) << r.err;
    static const std::map<std::string, std::string> names{
        {"ESTAB", "ESTABLISHED"}, {"SYN-SENT", "SYN_SENT"},   {"SYN-RECV", "SYN_RECV"},   {"FIN-WAIT-1", "FIN_WAIT1"},
        {"FIN-WAIT-2", "FIN_WAIT2"}, {"TIME-WAIT", "TIME_WAIT"}, {"CLOSE-WAIT", "CLOSE_WAIT"}, {"LAST-ACK", "LAST_ACK"},
        {"LISTEN", "LISTEN"},      {"CLOSING", "CLOSING"}};
    States s = zero_states();
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      const auto state = line.substr(0, line.find(' '));
      if (line.find("timer:(timewait") != std::string::npos) {
        ++s["TIME_WAIT"];
      } else if (const auto it = names.find(state); it != names.end()) {
        ++s[it->second];
      }
    }
    return s;
  }

  // The `fast` events the stream has delivered so far.
  static std::vector<json> fast_events(const std::string& stream) {
    std::vector<json> out;
    for (auto at = stream.find("event: fast\ndata: "); at != std::string::npos;
         at = stream.find("event: fast\ndata: ", at + 1)) {
      const auto begin = at + std::string("event: fast\ndata: ").size();
      const auto end = stream.find('\n', begin);
      if (end == std::string::npos) break;
      out.push_back(json::parse(stream.substr(begin, end - begin)));
    }
    return out;
  }

  // Waits for a fast event taken between two equal dumps (nothing moved around it) and returns
  // its states with the dump's; empty when there was none before `timeout`.
  std::pair<States, States> census_and_dump(Process& stream, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    States census;
    States dump;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto before = dump_states();
      const auto seen = fast_events(stream.out()).size();
      std::vector<json> events;
      while (std::chrono::steady_clock::now() < deadline) {
        events = fast_events(stream.out());
        if (events.size() > seen) break;
        std::this_thread::sleep_for(50ms);
      }
      if (events.size() <= seen) break;
      const auto after = dump_states();
      if (before != after) continue;  // something moved around the sample: again
      census = zero_states();
      for (const auto& [k, v] : events.back().at("kernel").at("states").items()) census[k] = v.get<long>();
      dump = after;
      // The first sample taken in a still moment decides: the census is exact at once (a
      // census a second late would differ here), not eventually.
      break;
    }
    return {census, dump};
  }

  // TCP connections from the client namespace to the server's `port`, held open.
  std::vector<UniqueFd> connect_many(std::uint16_t port, int n) {
    return lab().in_ns(Node::client, [&] {
      std::vector<UniqueFd> out;
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(port);
      ::inet_pton(AF_INET, lab().server_v4().c_str(), &to.sin_addr);
      for (int i = 0; i < n; ++i) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
          ADD_FAILURE() << "connect " << i << ": " << std::strerror(errno);
          break;
        }
        out.push_back(std::move(fd));
      }
      return out;
    });
  }
};

TEST_F(AgentBpfLab, ExactStatesEverySecondAndTheDropsOfAFirewallRule) {
  // In the server namespace: a listener that never accepts (the server's ends of our connections
  // stay in its accept queue, ESTABLISHED, then CLOSE_WAIT when the client closes), and one
  // behind a firewall rule that drops its SYNs.
  auto held = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--mode", "never-accept", "--backlog", "128",
                                         "--listen", "0.0.0.0:8080"});
  auto walled = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--mode", "echo", "--listen", "0.0.0.0:8081"});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 8080, 3s)) << held.err();
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 8081, 3s)) << walled.err();
  const auto config = lab().dir() / "agent.toml";
  // No probes of the own listeners: their connections would move the states under the test.
  std::ofstream(config) << "listen = \"127.0.0.1:9600\"\nprobe_own_listeners = false\n";
  auto agent = lab().spawn(Node::server, {CONNSCOPE_BIN, "--json", "agent", "--config", config.string(),
                                          "--data-dir", (lab().dir() / "data").string()});
  const auto hello_line = agent.wait_for_line(0, 10s);
  ASSERT_FALSE(hello_line.empty()) << agent.err();
  const auto hello = json::parse(hello_line);
  ASSERT_EQ(hello.at("sampler").at("kind"), "bpf") << hello_line;

  // One event stream for the whole test: its two sockets are ESTABLISHED throughout.
  auto stream = lab().spawn(Node::server, {"curl", "-sN", "--max-time", "60", "http://127.0.0.1:9600/api/v1/events"});

  // 40 connections made after the census's base dump: the census has them from the counters.
  auto conns = connect_many(8080, 40);
  ASSERT_EQ(conns.size(), 40u);
  auto [census, dump] = census_and_dump(stream, 8s);
  EXPECT_EQ(census, dump) << "census: " << show(census) << "\ndump:   " << show(dump) << "\n" << agent.err();
  EXPECT_EQ(dump["ESTABLISHED"], 40 + 2) << show(dump);  // ours, and the event stream's two ends
  EXPECT_EQ(dump["LISTEN"], 3) << show(dump);            // 8080, 8081, the agent's 9600

  // 15 of them closed by the client: their server ends go to CLOSE_WAIT (nobody accepts them).
  conns.resize(25);
  std::tie(census, dump) = census_and_dump(stream, 8s);
  EXPECT_EQ(census, dump) << "census: " << show(census) << "\ndump:   " << show(dump);
  EXPECT_EQ(dump["CLOSE_WAIT"], 15) << show(dump);
  EXPECT_EQ(dump["ESTABLISHED"], 25 + 2) << show(dump);

  // A SYN to 8081 dropped by a rule of this host's firewall, and its retransmission.
  lab().nft(Node::server, "add table inet agentbpf\n"
                          "add chain inet agentbpf in { type filter hook input priority -5; policy accept; }\n"
                          "add rule inet agentbpf in tcp dport 8081 counter drop\n");
  lab().in_ns(Node::client, [&] {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(8081);
    ::inet_pton(AF_INET, lab().server_v4().c_str(), &to.sin_addr);
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to);
    std::this_thread::sleep_for(1500ms);  // the SYN at 0 and its retransmission at 1 s
  });
  const auto rule = lab().exec(Node::server, {"nft", "list", "chain", "inet", "agentbpf", "in"});
  ASSERT_TRUE(rule.ok()) << rule.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(rule.out, m, std::regex("counter packets ([0-9]+)"))) << rule.out;
  const long dropped = std::stol(m[1]);
  EXPECT_GE(dropped, 2) << rule.out;
  std::this_thread::sleep_for(1500ms);  // a fast sample after the last drop
  const auto metrics = lab().exec(Node::server, {"curl", "-s", "--max-time", "3", "http://127.0.0.1:9600/metrics"});
  ASSERT_TRUE(metrics.ok()) << metrics.err;
  const std::string want = "connscope_drops_total{reason=\"NETFILTER_DROP\",port=\"8081\",protocol=\"tcp\"} " +
                           std::to_string(dropped) + "\n";
  EXPECT_NE(metrics.out.find(want), std::string::npos) << want << "\n" << metrics.out;

  // SYNs to 5,000 different closed ports, more than the kernel's table of drop counts has keys:
  // each is dropped as NO_SOCKET (and answered with a RST), and each is counted, under "other"
  // (nothing listens there), not lost to a full table.
  const std::string no_socket = "connscope_drops_total{reason=\"NO_SOCKET\",port=\"other\",protocol=\"tcp\"} ";
  const auto no_socket_count = [&] {
    const auto r = lab().exec(Node::server, {"curl", "-s", "--max-time", "3", "http://127.0.0.1:9600/metrics"});
    EXPECT_TRUE(r.ok()) << r.err;
    const auto at = r.out.find(no_socket);
    return at == std::string::npos ? 0L : std::stol(r.out.substr(at + no_socket.size()));
  };
  const long before = no_socket_count();
  const int refused = lab().in_ns(Node::client, [&] {
    int n = 0;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    ::inet_pton(AF_INET, lab().server_v4().c_str(), &to.sin_addr);
    for (int port = 20000; port < 25000; ++port) {
      to.sin_port = htons(static_cast<std::uint16_t>(port));
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno == ECONNREFUSED) ++n;
    }
    return n;
  });
  ASSERT_EQ(refused, 5000);
  std::this_thread::sleep_for(1500ms);  // a fast sample after the last drop
  const long counted = no_socket_count() - before;
  EXPECT_GE(counted, 5000);
  EXPECT_LT(counted, 5050);  // and little else: the lab is quiet

  EXPECT_EQ(agent.stop(), 0) << agent.err();
}

// Checks every 2 s while connections open and close all the time: each check compares the
// census with a dump brought to the same counters, so a right census shows no drift (or at most
// two counts for each transition that happened during the dump, when no still dump could be had).
TEST_F(AgentBpfLab, TheChecksFindNoDriftUnderChurn) {
  auto echo = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--mode", "echo", "--listen", "0.0.0.0:8080"});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 8080, 3s)) << echo.err();
  const auto config = lab().dir() / "agent.toml";
  std::ofstream(config) << "listen = \"127.0.0.1:9600\"\nprobe_own_listeners = false\n"
                        << "[sampling]\ncheck_interval = \"2s\"\n";
  auto agent = lab().spawn(Node::server, {CONNSCOPE_BIN, "--json", "agent", "--config", config.string(),
                                          "--data-dir", (lab().dir() / "data").string()});
  const auto hello_line = agent.wait_for_line(0, 10s);
  ASSERT_FALSE(hello_line.empty()) << agent.err();
  ASSERT_EQ(json::parse(hello_line).at("sampler").at("full_interval_ms"), 2000) << hello_line;
  auto stream = lab().spawn(Node::server, {"curl", "-sN", "--max-time", "60", "http://127.0.0.1:9600/api/v1/events"});

  // About 7 s of connections opened and closed at once, from the client namespace.
  const int made = lab().in_ns(Node::client, [&] {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(8080);
    ::inet_pton(AF_INET, lab().server_v4().c_str(), &to.sin_addr);
    int n = 0;
    const auto until = std::chrono::steady_clock::now() + 7s;
    while (std::chrono::steady_clock::now() < until) {
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) ++n;
      std::this_thread::sleep_for(2ms);
    }
    return n;
  });
  EXPECT_GT(made, 500);
  std::this_thread::sleep_for(1500ms);

  std::map<std::int64_t, json> checks;  // by time
  for (const auto& e : fast_events(stream.out())) {
    const auto& c = e.at("kernel").at("check");
    if (!c.is_null()) checks[c.at("time_ms").get<std::int64_t>()] = c;
  }
  EXPECT_GE(checks.size(), 3u) << agent.err();
  for (const auto& [t, c] : checks) {
    // A connection that changed state during the dump is one count off in two states (its old
    // and its new one): at most twice the transitions that moved.
    EXPECT_LE(c.at("total_drift").get<std::int64_t>(), 2 * c.at("moved").get<std::int64_t>()) << c.dump();
    if (c.at("exact") == true) {
      EXPECT_TRUE(c.at("drift").empty()) << c.dump();
    }
  }
  EXPECT_EQ(agent.stop(), 0) << agent.err();
}

}  // namespace
}  // namespace connscope::lab
