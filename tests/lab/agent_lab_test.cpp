// `connscope agent` alone in the lab's server namespace, where the only listeners are the
// test's: it probes every one of them by default (0.0.0.0 on 127.0.0.1, :: on ::1) with the
// doctor, calls a listener that accepts healthy whatever its protocol, one that resets every
// connection failed with the finding, and runs a configured target as `doctor` would. The
// results are in /api/v1/probes and /metrics. (In the integration tests the agent's listener
// probes are off: there they would connect to the other tests' listeners.)
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

using nlohmann::json;

class AgentLab : public LabTest {
 protected:
  // GET through curl inside the server namespace; the body ("" when it failed).
  std::string get(std::uint16_t port, const std::string& path) {
    const auto r = lab().exec(Node::server, {"curl", "-s", "--max-time", "3",
                                             "http://127.0.0.1:" + std::to_string(port) + path});
    return r.ok() ? r.out : std::string();
  }

  static const json* find_probe(const json& probes, const std::string& target) {
    for (const auto& p : probes.at("probes")) {
      if (p.at("target") == target) return &p;
    }
    return nullptr;
  }
};

TEST_F(AgentLab, ProbesEveryOwnListenerAndTheConfiguredTargets) {
  // A healthy HTTP server on 0.0.0.0, one that resets every connection on ::, both in the server
  // namespace; the agent there too.
  auto http = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--mode", "http", "--listen", "0.0.0.0:8080"});
  auto reset = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--mode", "reset-after-accept", "--listen", "[::]:8081"});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 8080, 3s)) << http.err();
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 8081, 3s)) << reset.err();
  const auto config = lab().dir() / "agent.toml";
  {
    std::ofstream out(config);
    out << "listen = \"127.0.0.1:9600\"\n"
        << "probe_interval = \"1s\"\nprobe_timeout = \"1s\"\n"
        << "[[probes]]\ntarget = \"http://" << lab().server_v4() << ":8080/\"\n"
        << "[[probes]]\ntarget = \"" << lab().server_v4() << ":8082\"\n";  // nothing listens
  }
  auto agent = lab().spawn(Node::server, {CONNSCOPE_BIN, "--json", "agent", "--config", config.string(),
                                          "--data-dir", (lab().dir() / "data").string()});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, 9600, 5s)) << agent.err();

  // Every probe has run at least twice within 3 s (1 s interval, runs of about 100 ms).
  json probes;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    const auto body = get(9600, "/api/v1/probes");
    probes = json::parse(body.empty() ? "{\"probes\":[]}" : body);
    bool all = probes.at("probes").size() == 5;
    for (const auto& p : probes.at("probes")) all = all && p.at("runs").get<int>() >= 2;
    if (all || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(probes.at("probes").size(), 5u) << probes.dump(1);

  // The configured ones first, in file order, as `doctor` runs them.
  EXPECT_EQ(probes["probes"][0]["target"], "http://" + lab().server_v4() + ":8080/");
  EXPECT_EQ(probes["probes"][0]["source"], "config");
  EXPECT_EQ(probes["probes"][0]["last"]["verdict"], "ok") << probes["probes"][0].dump(1);
  EXPECT_EQ(probes["probes"][0]["last"]["stages"][5]["stage"], "talk");
  EXPECT_EQ(probes["probes"][0]["last"]["stages"][5]["status"], "ok");
  const auto& closed = probes["probes"][1];
  EXPECT_EQ(closed["last"]["verdict"], "fail");
  EXPECT_EQ(closed["last"]["stage"], "connect");
  EXPECT_EQ(closed["last"]["findings"][0]["id"], "tcp.refused") << closed.dump(1);
  EXPECT_EQ(closed["consecutive_failures"], closed["runs"]);

  // The listeners, by port: HTTP on 127.0.0.1 is healthy; the agent's own port (which waits for
  // its client to speak) is healthy too; the resetting one on ::1 fails after the handshake.
  const auto* web = find_probe(probes, "127.0.0.1:8080");
  ASSERT_NE(web, nullptr) << probes.dump(1);
  EXPECT_EQ((*web)["source"], "listener");
  EXPECT_EQ((*web)["last"]["verdict"], "ok") << web->dump(1);
  const auto* self = find_probe(probes, "127.0.0.1:9600");
  ASSERT_NE(self, nullptr) << probes.dump(1);
  EXPECT_EQ((*self)["last"]["verdict"], "ok") << self->dump(1);
  const auto* bad = find_probe(probes, "[::1]:8081");
  ASSERT_NE(bad, nullptr) << probes.dump(1);
  EXPECT_EQ((*bad)["last"]["verdict"], "fail") << bad->dump(1);
  EXPECT_EQ((*bad)["last"]["stages"][3]["status"], "ok");  // connected, then reset
  ASSERT_FALSE((*bad)["last"]["findings"].empty());
  EXPECT_NE((*bad)["last"]["stage"], "connect");

  // The same in /metrics.
  const auto metrics = get(9600, "/metrics");
  EXPECT_NE(metrics.find("connscope_probe_success{target=\"127.0.0.1:8080\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("connscope_probe_success{target=\"[::1]:8081\"} 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("connscope_probe_failure_info{target=\"" + lab().server_v4() +
                         ":8082\",stage=\"connect\",finding=\"tcp.refused\"} 1\n"),
            std::string::npos);

  // A listener that goes away leaves the probes.
  reset.stop();
  const auto gone_by = std::chrono::steady_clock::now() + 3s;
  while (find_probe(json::parse(get(9600, "/api/v1/probes")), "[::1]:8081") != nullptr &&
         std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(find_probe(json::parse(get(9600, "/api/v1/probes")), "[::1]:8081"), nullptr);
  EXPECT_EQ(agent.stop(), 0) << agent.err();
}

}  // namespace
}  // namespace connscope::lab
