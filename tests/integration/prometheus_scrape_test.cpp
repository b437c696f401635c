// A real Prometheus (Debian's /usr/bin/prometheus) scrapes two agents on loopback, and PromQL
// returns both: `up` is 1 for each, a fast-tier family and a full-tier family (LISTEN sockets:
// each agent has at least its own listener) come back once per agent, labelled with its address.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/agent_fixture.h"
#include "integration/client.h"
#include "support/process.h"

namespace connscope::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A port nobody listens on right now (bound and closed: prometheus may still lose a race for it,
// start_prometheus retries).
std::uint16_t free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw std::runtime_error("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
  socklen_t len = sizeof a;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) throw std::runtime_error("getsockname failed");
  return ntohs(a.sin_port);
}

struct Prometheus {
  Process proc;
  std::uint16_t port = 0;
};

// Starts prometheus on a free loopback port and waits for /-/ready. A lost race for the port
// (it exits saying so) is retried with another one.
Prometheus start_prometheus(const fs::path& config, const fs::path& tsdb, const fs::path& logs) {
  std::string last_log;
  for (int attempt = 0; attempt < 5; ++attempt) {
    Prometheus p;
    p.port = free_port();
    p.proc = Process::spawn({"prometheus", "--config.file=" + config.string(), "--storage.tsdb.path=" + tsdb.string(),
                             "--web.listen-address=127.0.0.1:" + std::to_string(p.port)},
                            {}, logs);
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!p.proc.running()) break;
      if (http_get(p.port, "/-/ready").status == 200) return p;
      std::this_thread::sleep_for(100ms);
    }
    last_log = p.proc.err() + p.proc.out();
    if (last_log.find("address already in use") == std::string::npos) break;
  }
  throw std::runtime_error("prometheus did not become ready:\n" + last_log);
}

// Runs an instant query; the vector's samples as instance label -> value. nullopt (with the
// reason in `why`) while Prometheus has nothing or answers with an error.
std::optional<std::map<std::string, double>> query(std::uint16_t port, const std::string& promql, std::string& why) {
  const auto r = http_get(port, "/api/v1/query?query=" + url_encode(promql));
  if (r.status != 200) {
    why = promql + ": HTTP " + std::to_string(r.status) + " " + r.body;
    return std::nullopt;
  }
  const auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success" || j.at("data").at("resultType") != "vector") {
    why = promql + ": " + r.body;
    return std::nullopt;
  }
  std::map<std::string, double> out;
  for (const auto& s : j.at("data").at("result")) {
    // Values come as [time, "text"]; the same instance twice would be a bug in the query.
    const auto instance = s.at("metric").value("instance", "");
    if (out.contains(instance)) {
      why = promql + ": instance twice: " + r.body;
      return std::nullopt;
    }
    out[instance] = std::stod(s.at("value").at(1).get<std::string>());
  }
  why = promql + ": " + r.body;
  return out;
}

TEST(PrometheusScrape, TwoAgentsBothAnswerPromQL) {
  if (std::system("command -v prometheus >/dev/null 2>&1") != 0) {
    if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") FAIL() << "prometheus missing under CI";
    GTEST_SKIP() << "prometheus not installed (scripts/install-deps installs it)";
  }
  // Directories first: destroyed last, after every process below has been stopped.
  const TempDir prom_dir("prom-server");

  auto a = start_agent({"--listen", "127.0.0.1:0"});
  auto b = start_agent({"--listen", "127.0.0.1:0"});
  const std::string inst_a = "127.0.0.1:" + std::to_string(a.port());
  const std::string inst_b = "127.0.0.1:" + std::to_string(b.port());
  const std::set<std::string> want{inst_a, inst_b};

  const auto config = prom_dir.path() / "prometheus.yml";
  {
    std::ofstream out(config);
    out << "global:\n"
           "  scrape_interval: 1s\n"
           "  scrape_timeout: 900ms\n"
           "  evaluation_interval: 1s\n"
           "scrape_configs:\n"
           "  - job_name: connscope\n"
           "    static_configs:\n"
           "      - targets: ['"
        << inst_a << "', '" << inst_b << "']\n";
  }
  fs::create_directories(prom_dir.path() / "logs");
  auto prom = start_prometheus(config, prom_dir.path() / "tsdb", prom_dir.path() / "logs");
  // What to show when an assertion fails: prometheus' own log and the agents' stderr.
  const auto context = [&] {
    return "\n--- prometheus log:\n" + prom.proc.err() + prom.proc.out() + "\n--- agent A stderr:\n" + a.proc.err() +
           "\n--- agent B stderr:\n" + b.proc.err();
  };

  // Each query must hold at once for both agents: polled until then or the deadline.
  // `up` exists for a target that failed too (as 0): only the healthy ones count.
  const std::string up = "up{job=\"connscope\"} == 1";
  const std::string in_use = "count by (instance) (connscope_tcp_sockets_in_use{job=\"connscope\"})";
  const std::string listen =
      "sum by (instance) (connscope_tcp_sockets{job=\"connscope\",family=\"ipv4\",state=\"LISTEN\"})";
  const std::string overflows = "connscope_kernel_tcp_ext_listen_overflows_total{job=\"connscope\"}";
  std::map<std::string, std::map<std::string, double>> got;
  std::string why;
  const auto keys = [](const std::map<std::string, double>& m) {
    std::set<std::string> k;
    for (const auto& [name, v] : m) k.insert(name);
    return k;
  };
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  bool all = false;
  while (!all && std::chrono::steady_clock::now() < deadline) {
    all = true;
    for (const auto* q : {&up, &in_use, &listen, &overflows}) {
      const auto r = query(prom.port, *q, why);
      if (!r || keys(*r) != want) {
        all = false;
        break;
      }
      got[*q] = *r;
    }
    if (!all) std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(all) << "not every query returned both agents within 20 s; last: " << why << context();

  // Exactly the two instances, each label the agent's own address.
  for (const auto* q : {&up, &in_use, &listen, &overflows}) {
    EXPECT_EQ(keys(got[*q]), want) << *q << context();
  }
  for (const auto& inst : want) {
    EXPECT_EQ(got[up][inst], 1.0) << inst << context();
    // count by (instance): the ipv4 series at least (ipv6 when the machine has it).
    EXPECT_GE(got[in_use][inst], 1.0) << inst;
    EXPECT_LE(got[in_use][inst], 2.0) << inst;
    // Both agents listen on 127.0.0.1 in this namespace: each sees at least one IPv4 LISTEN socket.
    EXPECT_GE(got[listen][inst], 1.0) << inst;
    EXPECT_GE(got[overflows][inst], 0.0) << inst;
  }

  // The scrapes themselves were clean: Prometheus reports each target healthy, no error.
  const auto targets = http_get(prom.port, "/api/v1/targets?state=active");
  ASSERT_EQ(targets.status, 200u) << targets.body;
  const auto tj = json::parse(targets.body);
  std::set<std::string> healthy;
  for (const auto& t : tj.at("data").at("activeTargets")) {
    EXPECT_EQ(t.at("lastError"), "") << t.dump();
    if (t.at("health") == "up") healthy.insert(t.at("labels").at("instance").get<std::string>());
  }
  EXPECT_EQ(healthy, want) << targets.body;

  // Orderly stops (the destructors would SIGTERM then SIGKILL anyway if we never get here).
  EXPECT_EQ(prom.proc.stop(), 0) << context();
  EXPECT_EQ(a.proc.stop(), 0) << a.proc.err();
  EXPECT_EQ(b.proc.stop(), 0) << b.proc.err();
}

}  // namespace
}  // namespace connscope::test
