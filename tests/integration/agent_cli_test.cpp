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
#include <algorithm>
#include <csignal>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/client.h"
#include "integration/agent_fixture.h"
#include "integration/serve_fixture.h"

namespace connscope::test {
namespace {

using nlohmann::json;

using Reply = HttpReply;

// `auth` is an Authorization value; `header` a whole extra header line ("Cookie: a=b").
Reply get(std::uint16_t port, const std::string& path, const std::string& auth = "", const std::string& header = "") {
  std::vector<std::string> headers;
  if (!auth.empty()) headers.push_back("Authorization: " + auth);
  if (!header.empty()) headers.push_back(header);
  return http_get(port, path, headers);
}

TEST(Agent, SnapshotCarriesBothTiers) {
  // A listener with one connection waiting in its accept queue.
  auto served = start_serve({"--mode", "never-accept", "--backlog", "5"});
  auto waiting = connect_tcp("127.0.0.1", served.port);
  ASSERT_TRUE(waiting.valid());

  // The tiers (a full dump every second); the BPF sampler has its own test below.
  auto agent = start_agent({"--listen", "127.0.0.1:0", "--full-interval", "1s", "--no-bpf"});
  EXPECT_EQ(agent.hello.at("event"), "listening");
  EXPECT_EQ(agent.hello.at("sampler").at("kind"), "tiers");
  EXPECT_EQ(agent.hello.at("sampler").at("bpf").at("reason"), "turned off (--no-bpf, or [sampling] bpf = false)");
  EXPECT_TRUE(agent.hello.at("token").is_null());
  const auto port = agent.port();
  // Two fast samples (rates) and a full one taken after our connection.
  std::this_thread::sleep_for(2200ms);
  const auto r = get(port, "/api/v1/snapshot");
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
  EXPECT_GE(j.at("history").at("writes").get<int>(), 2) << j.at("history").dump();
  EXPECT_EQ(j.at("history").at("failed"), 0);
  EXPECT_TRUE(j.at("history").at("last_error").is_null());

  // The same as Prometheus metrics, and promtool (Debian's prometheus package) accepts them.
  const auto m = get(port, "/metrics");
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

  EXPECT_EQ(get(port, "/nope").status, 404u);
  EXPECT_EQ(agent.proc.stop(), 0) << agent.proc.err();
}

TEST(Agent, NonLoopbackBindNeedsTheToken) {
  const TempDir home("agent-token");
  const auto dir = home.path() / "data";  // made by the agent
  auto agent = start_agent({"--listen", "0.0.0.0:0", "--data-dir", dir.string()});
  const auto port = agent.port();
  const std::string token = agent.hello.at("token").get<std::string>();
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(agent.hello.at("token_path"), (dir / "token").string());
  EXPECT_EQ(get(port, "/api/v1/snapshot").status, 401u);
  EXPECT_EQ(get(port, "/api/v1/snapshot", "Bearer wrong").status, 401u);
  EXPECT_EQ(get(port, "/api/v1/snapshot", "Bearer " + token).status, 200u);
  // Every route, the dashboard's page and files too.
  for (const char* path : {"/", "/assets/app.js", "/metrics", "/api/v1/events", "/api/v1/history", "/api/v1/probes",
                           "/api/v1/findings", "/nope"}) {
    EXPECT_EQ(get(port, path).status, 401u) << path;
  }
  // The browser's way: /?token= moves the token into an HttpOnly cookie, which then opens every
  // route; a wrong token in the address gets 401.
  EXPECT_EQ(get(port, "/?token=wrong").status, 401u);
  const auto login = get(port, "/?token=" + token);
  EXPECT_EQ(login.status, 303u) << login.head;
  EXPECT_NE(login.head.find("Location: /\r\n"), std::string::npos) << login.head;
  EXPECT_NE(login.head.find("Set-Cookie: connscope_token=" + token + "; Path=/; HttpOnly; SameSite=Strict"),
            std::string::npos)
      << login.head;
  EXPECT_EQ(get(port, "/", "", "Cookie: connscope_token=" + token).status, 200u);
  EXPECT_EQ(get(port, "/api/v1/snapshot", "", "Cookie: theme=dark; connscope_token=" + token).status, 200u);
  EXPECT_EQ(get(port, "/api/v1/snapshot", "", "Cookie: connscope_token=" + token + "x").status, 401u);
  EXPECT_EQ(agent.proc.stop(), 0);
  // The next start reads the same token and does not show it again.
  auto again = start_agent({"--listen", "0.0.0.0:0", "--data-dir", dir.string()});
  EXPECT_TRUE(again.hello.at("token").is_null());
  EXPECT_EQ(get(again.port(), "/api/v1/snapshot", "Bearer " + token).status, 200u);
  again.proc.stop();
}

TEST(Agent, ConfigFileAndItsErrors) {
  const TempDir home("agent-config");
  const auto& dir = home.path();
  const auto good = dir / "agent.toml";
  {
    std::ofstream out(good);
    out << "listen = \"127.0.0.1:0\"\nprobe_own_listeners = false\n[sampling]\nfull_interval = \"2s\"\n";
  }
  auto agent = start_agent({"--config", good.string()});
  EXPECT_EQ(agent.hello.at("address").get<std::string>().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(get(agent.port(), "/api/v1/snapshot").status, 200u);
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
}

// As root (the tests' machine), BPF is the default: the state distribution every second from the
// census, a full dump at start and then every check interval.
TEST(Agent, SamplesWithBpfByDefault) {
  auto agent = start_agent({"--listen", "127.0.0.1:0"});
  const auto& sampler = agent.hello.at("sampler");
  ASSERT_EQ(sampler.at("kind"), "bpf") << sampler.dump() << agent.proc.err();
  EXPECT_EQ(sampler.at("bpf").at("enabled"), true);
  EXPECT_EQ(sampler.at("full_interval_ms"), 600'000);
  const auto port = agent.port();
  std::this_thread::sleep_for(2500ms);
  const auto r = get(port, "/api/v1/snapshot");
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = json::parse(r.body);
  const auto& kernel = j.at("fast").at("kernel");
  ASSERT_TRUE(kernel.is_object()) << j.at("fast").dump();
  EXPECT_GE(kernel.at("states").at("LISTEN").get<int>(), 1) << kernel.dump();
  EXPECT_TRUE(kernel.at("per_second").is_object()) << kernel.dump();
  EXPECT_FALSE(j.at("full").is_null()) << j.at("full_error");
  EXPECT_EQ(j.at("full_wait_ms"), 600'000);
  // The states are history every second.
  const auto h = get(port, "/api/v1/history?series=tcp_sockets%7Bstate%3D%22LISTEN%22%7D&from=-1m&step=1s");
  ASSERT_EQ(h.status, 200u) << h.body;
  EXPECT_GE(json::parse(h.body).at("series").at(0).at("points").size(), 2u) << h.body;
  const auto m = get(port, "/metrics");
  EXPECT_NE(m.body.find("# TYPE connscope_drops_total counter\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("connscope_resets_total{direction=\"sent\"} "), std::string::npos);
  EXPECT_EQ(agent.proc.stop(), 0) << agent.proc.err();
}

// Without the privilege the agent samples by tiers and says why BPF is off.
TEST(Agent, WithoutThePrivilegeFallsBackToTiersAndSaysWhy) {
  const TempDir home("agent-nobody");
  std::filesystem::permissions(home.path(), std::filesystem::perms::all);
  auto r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                CONNSCOPE_BIN, "--json", "agent", "--listen", "127.0.0.1:0", "--data-dir", (home.path() / "data").string()},
               2s);
  // It ran until the deadline stopped it; its first line says how it samples.
  const auto first = r.out.substr(0, r.out.find('\n'));
  ASSERT_FALSE(first.empty()) << r.err;
  const auto hello = json::parse(first);
  EXPECT_EQ(hello.at("sampler").at("kind"), "tiers") << first;
  EXPECT_EQ(hello.at("sampler").at("bpf").at("enabled"), false);
  EXPECT_NE(hello.at("sampler").at("bpf").at("reason").get<std::string>().find("CAP_BPF and CAP_PERFMON"), std::string::npos)
      << first;
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The times of a series' points in [from, to] (Unix ms), at a 100 ms step.
std::vector<std::int64_t> history_times(std::uint16_t port, const std::string& series, std::int64_t from,
                                        std::int64_t to) {
  const auto r = get(port, "/api/v1/history?series=" + series + "&from=" + std::to_string(from) +
                                    "&to=" + std::to_string(to) + "&step=100ms");
  EXPECT_EQ(r.status, 200u) << r.body;
  std::vector<std::int64_t> out;
  if (r.status != 200) return out;
  const auto j = json::parse(r.body);
  for (const auto& p : j.at("series").at(0).at("points")) out.push_back(p.at("t").get<std::int64_t>());
  return out;
}

TEST(Agent, HistoryFindingsAndTheEventStream) {
  // No CPU budget: under the sanitizers a dump costs enough to stretch the 1 s interval.
  // The tiers: a full dump every second (with BPF it would come every check interval).
  auto agent = start_agent({"--listen", "127.0.0.1:0", "--full-interval", "1s", "--no-bpf"},
                           "[sampling]\nfull_cpu_budget = 0\n[history]\nlistener_charted_after = \"0s\"\n");
  const auto port = agent.port();
  // The event stream: the latest samples at once, then a fast sample every second.
  auto fd = connect_tcp("127.0.0.1", port);
  ASSERT_TRUE(fd.valid());
  send_all(fd.get(), "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  // Within 2.5 s: the header, the retry hint, the latest fast and full samples, then at least two
  // more fast ones (1 s apart) and a full one (--full-interval 1s).
  std::string seen;
  const auto end = std::chrono::steady_clock::now() + 2500ms;
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = seen.find(what); at != std::string::npos; at = seen.find(what, at + 1)) ++n;
    return n;
  };
  while (std::chrono::steady_clock::now() < end && (count("event: fast\n") < 3 || count("event: full\n") < 2)) {
    const auto r = read_some(fd.get(), 1 << 20, 100ms);
    seen += r.data;
    if (r.eof || r.error != 0) break;
  }
  EXPECT_EQ(seen.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << seen.substr(0, 300);
  EXPECT_NE(seen.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(seen.find("\r\n\r\nretry: 2000\n\n"), std::string::npos);
  EXPECT_GE(count("event: fast\n"), 3u);
  EXPECT_GE(count("event: full\n"), 2u);
  // Each event's data is one JSON document: the snapshot's fast and full objects.
  const auto data = seen.find("data: ", seen.find("event: fast\n"));
  ASSERT_NE(data, std::string::npos);
  const auto line = seen.substr(data + 6, seen.find('\n', data) - data - 6);
  EXPECT_TRUE(json::parse(line).contains("rates_per_second")) << line;
  fd.reset();

  std::this_thread::sleep_for(1500ms);
  const auto names = get(port, "/api/v1/history");
  ASSERT_EQ(names.status, 200u) << names.body;
  const auto list = json::parse(names.body).at("series_names");
  for (const char* want : {"tcp_in_use", "tcp_time_wait", "tcp_sockets{state=\"ESTABLISHED\"}",
                           "rate{counter=\"TcpExt.ListenOverflows\"}"}) {
    EXPECT_NE(std::find(list.begin(), list.end(), want), list.end()) << want << " not in " << list.dump();
  }
  const auto listener = "listen_queue{listener=\"127.0.0.1:" + std::to_string(port) + "\"}";
  EXPECT_NE(std::find(list.begin(), list.end(), listener), list.end()) << list.dump();
  const auto h = get(port, "/api/v1/history?series=tcp_in_use&series=tcp_sockets%7Bstate%3D%22LISTEN%22%7D&from=-1m&step=1s");
  ASSERT_EQ(h.status, 200u) << h.body;
  const auto hj = json::parse(h.body);
  EXPECT_EQ(hj.at("step_ms"), 1000);
  ASSERT_EQ(hj.at("series").size(), 2u);
  EXPECT_GE(hj.at("series").at(0).at("points").size(), 3u) << h.body;
  EXPECT_EQ(hj.at("series").at(0).at("source"), "raw");
  for (const auto& p : hj.at("series").at(1).at("points")) EXPECT_GE(p.at("min").get<double>(), 1.0) << h.body;

  const auto f = get(port, "/api/v1/findings?from=-1h");
  ASSERT_EQ(f.status, 200u) << f.body;
  const auto fj = json::parse(f.body);
  EXPECT_TRUE(fj.at("current").is_array());
  EXPECT_TRUE(fj.at("events").is_array());

  EXPECT_EQ(get(port, "/api/v1/history?series=x&from=soon").status, 400u);
  EXPECT_EQ(agent.proc.stop(), 0) << agent.proc.err();
}

TEST(Agent, HistorySurvivesARestartAndAKill9) {
  TempDir dir("agent-history");
  const std::int64_t began = now_unix_ms();
  std::int64_t killed_at = 0;
  {
    auto agent = start_agent({"--listen", "127.0.0.1:0", "--data-dir", dir.path().string()});
    std::this_thread::sleep_for(3500ms);
    killed_at = now_unix_ms();
    EXPECT_EQ(agent.proc.stop(SIGKILL), 128 + SIGKILL);
  }
  // The database opens again (the agent checks it at start and refuses a damaged one), and
  // keeps the first run's samples up to at most 2 s before the kill.
  auto again = start_agent({"--listen", "127.0.0.1:0", "--data-dir", dir.path().string()});
  const auto port = again.port();
  auto times = history_times(port, "tcp_in_use", began - 1000, killed_at);
  ASSERT_GE(times.size(), 3u);
  EXPECT_GE(times.back(), killed_at - 2000) << "lost more than 2 s before the kill";
  EXPECT_EQ(again.proc.stop(), 0) << again.proc.err();
  const std::int64_t stopped_at = now_unix_ms();
  // A clean stop checkpoints the WAL into the database file and removes it.
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "history.db"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "history.db-wal"));

  // After a clean stop as well; and both runs are there, with the gap between them.
  auto third = start_agent({"--listen", "127.0.0.1:0", "--data-dir", dir.path().string()});
  times = history_times(third.port(), "tcp_in_use", began - 1000, stopped_at);
  ASSERT_GE(times.size(), 4u);
  EXPECT_GE(times.back(), stopped_at - 2000);
  EXPECT_LE(times.front(), killed_at);
  EXPECT_EQ(third.proc.stop(), 0) << third.proc.err();
}

TEST(Agent, ADamagedHistoryABusyDataDirOrABusyPortIsOneLineAndExitThree) {
  const TempDir dir("agent-damaged");
  std::ofstream(dir.path() / "history.db") << "not a database\n";
  const auto damaged = run({CONNSCOPE_BIN, "agent", "--listen", "127.0.0.1:0", "--data-dir", dir.path().string()}, 10s);
  EXPECT_EQ(damaged.exit_code, 3) << damaged.err;
  EXPECT_EQ(damaged.err, "connscope: history " + (dir.path() / "history.db").string() +
                             ": not an SQLite database (move it aside or choose another --data-dir)\n");
  EXPECT_EQ(damaged.out, "");

  auto first = start_agent({"--listen", "127.0.0.1:0"});
  // One agent per data dir: a second one on the first one's is refused before it listens.
  const auto twice = run({CONNSCOPE_BIN, "agent", "--listen", "127.0.0.1:0", "--data-dir",
                          (first.own_dir->path() / "data").string()},
                         10s);
  EXPECT_EQ(twice.exit_code, 3) << twice.err;
  EXPECT_EQ(twice.err, "connscope: --data-dir \"" + (first.own_dir->path() / "data").string() +
                           "\": another connscope agent is using it (choose another --data-dir)\n");
  const TempDir other("agent-busy");
  const auto busy = run({CONNSCOPE_BIN, "agent", "--listen", "127.0.0.1:" + std::to_string(first.port()),
                         "--data-dir", other.path().string()},
                        10s);
  EXPECT_EQ(busy.exit_code, 3) << busy.err;
  EXPECT_EQ(std::count(busy.err.begin(), busy.err.end(), '\n'), 1) << busy.err;
  EXPECT_NE(busy.err.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << busy.err;
  EXPECT_EQ(first.proc.stop(), 0);
}

TEST(Agent, BadOptionsAreOneLineAndExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--listen", "nonsense"}, {"--listen", "127.0.0.1:70000"}, {"--full-interval", "0s"},
           {"--full-interval", "abc"}, {"--check-interval", "500ms"}, {"--check-interval", "soon"}}) {
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
