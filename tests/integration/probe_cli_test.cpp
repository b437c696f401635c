// `connscope probe` on loopback: bad input is one line and exit 2 (a targets file's bad line by
// its number), open and closed endpoints get their state and reason in the table, JSON Lines and
// CSV, --rate is honoured (measured by the accepting side too), a low fd limit lowers the
// concurrency without a failure, and --tls --talk report the certificate and the reply.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/serve_fixture.h"

namespace connscope::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

CmdResult probe(std::vector<std::string> args, bool as_json = false, const SpawnOptions& opts = {},
                std::chrono::milliseconds timeout = 30s) {
  std::vector<std::string> argv{CONNSCOPE_BIN};
  if (as_json) argv.push_back("--json");
  argv.insert(argv.end(), {"--timeout", "2s", "probe"});
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout, opts);
}

// A listening socket on 127.0.0.1 (or another loopback address), port chosen by the kernel.
struct Listener {
  UniqueFd fd;
  std::uint16_t port = 0;
};
Listener listen_loopback(std::uint32_t host = INADDR_LOOPBACK) {
  Listener l;
  l.fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(host);
  EXPECT_EQ(::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(l.fd.get(), 64), 0);
  socklen_t len = sizeof a;
  ::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  l.port = ntohs(a.sin_port);
  return l;
}

// A port nothing listens on: bound, then closed (the kernel does not hand it out again at once).
std::uint16_t closed_port() {
  auto l = listen_loopback();
  return l.port;
}

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> v;
  for (const auto& line : lines(out)) v.push_back(json::parse(line));
  return v;
}

std::filesystem::path write_file(const std::string& name, const std::string& content) {
  const auto path = std::filesystem::temp_directory_path() /
                    (name + "." + std::to_string(::getpid()));
  std::ofstream(path) << content;
  return path;
}

TEST(Probe, BadInputIsOneLineAndExitTwo) {
  const auto bad_file = write_file("probe_bad_targets", "127.0.0.1:22\n# comment\n\nhost:99999\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{}, "no targets"},
      {{"127.0.0.1"}, "target \"127.0.0.1\": no port"},
      {{"127.0.0.1", "--ports", "0"}, "--ports \"0\": 0 is not a port (1-65535)"},
      {{"127.0.0.1", "--ports", "10-5"}, "--ports \"10-5\": range 10-5 ends below its start"},
      {{"127.0.0.1", "--ports", "a-b"}, "--ports \"a-b\""},
      {{"127.0.0.1:65536"}, "target \"127.0.0.1:65536\""},
      {{"127.0.0.1:80", "--concurrency", "0"}, "--concurrency \"0\""},
      {{"127.0.0.1:80", "--rate", "0"}, "--rate \"0\""},
      {{"127.0.0.1:80", "--csv", "--json"}, "--csv and --json: choose one"},
      {{"-4", "[::1]:80"}, "an IPv6 address with -4"},
      {{"-f", "/nonexistent/targets.txt"}, "-f \"/nonexistent/targets.txt\""},
      {{"-f", bad_file.string()}, bad_file.string() + " line 4: \"host:99999\": not a port"},
  };
  for (const auto& [args, want] : cases) {
    const auto r = probe(args);
    EXPECT_EQ(r.exit_code, 2) << want << ": " << r.err;
    EXPECT_EQ(r.out, "") << want;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  }
  std::filesystem::remove(bad_file);
}

TEST(Probe, OpenAndClosedInJsonLinesWithASummary) {
  auto open = listen_loopback();
  const auto closed = closed_port();
  const std::string o = "127.0.0.1:" + std::to_string(open.port);
  const std::string c = "127.0.0.1:" + std::to_string(closed);
  const auto r = probe({o, c}, true);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[0].at("type"), "endpoint");
  EXPECT_EQ(rows[0].at("target"), o);
  EXPECT_EQ(rows[0].at("state"), "open");
  EXPECT_EQ(rows[0].at("reason"), "syn-ack");
  EXPECT_EQ(rows[0].at("failure"), "none");
  EXPECT_TRUE(rows[0].at("time_ms").is_number());
  EXPECT_EQ(rows[1].at("state"), "closed");
  EXPECT_EQ(rows[1].at("reason"), "conn-refused");
  EXPECT_EQ(rows[1].at("finding"), "tcp.refused");
  EXPECT_EQ(rows[1].at("errno"), ECONNREFUSED);
  EXPECT_TRUE(rows[1].at("from").is_null());
  EXPECT_EQ(rows[1].at("port"), closed);
  const auto& s = rows[2];
  EXPECT_EQ(s.at("type"), "summary");
  EXPECT_EQ(s.at("total"), 2);
  EXPECT_EQ(s.at("open"), 1);
  EXPECT_EQ(s.at("closed"), 1);
  EXPECT_EQ(s.at("filtered"), 0);

  // Every endpoint open: exit 0; names resolve (localhost from the hosts file).
  const auto all = probe({o, "localhost:" + std::to_string(open.port)}, true);
  EXPECT_EQ(all.exit_code, 0) << all.err;
  const auto arows = json_lines(all.out);
  ASSERT_EQ(arows.size(), 3u);
  EXPECT_EQ(arows[1].at("host"), "localhost");
  EXPECT_EQ(arows[1].at("state"), "open");
}

// An unpaced scan of 10,000 endpoints runs on several epoll loops (one per core, up to 4); the
// rows still come back in input order, each with its own port. Ports below the ephemeral range,
// on an address no other test uses: a connect whose source port equals its destination port
// would connect to itself.
TEST(Probe, ShardedScanKeepsEveryEndpointInItsPlace) {
  constexpr std::uint32_t kHost = (127u << 24) | 5u;  // 127.0.0.5
  const std::uint16_t listening[] = {21000, 25001, 29999};
  std::vector<UniqueFd> listeners;
  for (std::uint16_t port : listening) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(kHost);
    a.sin_port = htons(port);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << port;
    ASSERT_EQ(::listen(fd.get(), 64), 0);
    listeners.push_back(std::move(fd));
  }
  const auto r = probe({"127.0.0.5", "--ports", "20000-29999", "--concurrency", "1000"}, true);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 10001u);
  const auto& s = rows.back();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(s.at("shards").get<unsigned>(), std::min(cores, 4u));
  EXPECT_EQ(s.at("open"), 3);
  EXPECT_EQ(s.at("closed"), 9997);
  EXPECT_LE(s.at("max_in_flight").get<int>(), 1000);
  for (std::size_t i = 0; i < 10000; ++i) {
    const auto port = static_cast<std::uint16_t>(20000 + i);
    ASSERT_EQ(rows[i].at("port"), port) << i;
    const bool open = std::find(std::begin(listening), std::end(listening), port) != std::end(listening);
    ASSERT_EQ(rows[i].at("state"), open ? "open" : "closed") << port;
  }
}

TEST(Probe, HostWithPortsTableAndFailedAndCsv) {
  auto open = listen_loopback();
  const auto closed = closed_port();
  const std::string ports = std::to_string(open.port) + "," + std::to_string(closed);
  const auto table = probe({"127.0.0.1", "--ports", ports});
  ASSERT_EQ(table.exit_code, 1) << table.err;
  const auto t = lines(table.out);
  ASSERT_EQ(t.size(), 4u) << table.out;  // header, two rows, summary
  EXPECT_EQ(t[0].rfind("ENDPOINT", 0), 0u);
  EXPECT_NE(t[1].find("open"), std::string::npos);
  EXPECT_NE(t[2].find("closed"), std::string::npos);
  EXPECT_NE(t[2].find("conn-refused"), std::string::npos);
  EXPECT_EQ(t[3].rfind("2 endpoints in ", 0), 0u) << t[3];
  EXPECT_NE(t[3].find("1 open, 1 closed, 0 filtered, 0 unreachable, 0 error"), std::string::npos);

  const auto failed = probe({"127.0.0.1", "--ports", ports, "--failed"});
  const auto f = lines(failed.out);
  ASSERT_EQ(f.size(), 3u) << failed.out;
  EXPECT_NE(f[1].find("closed"), std::string::npos);

  const auto csv = probe({"127.0.0.1", "--ports", ports, "--csv"});
  const auto cl = lines(csv.out);
  ASSERT_EQ(cl.size(), 3u) << csv.out;
  EXPECT_EQ(cl[0], "target,host,address,port,state,reason,from,time_ms,errno,tls_version,days_to_expiry,talk");
  EXPECT_EQ(cl[2].rfind("\"127.0.0.1\",\"127.0.0.1\",\"127.0.0.1\"," + std::to_string(closed) +
                            ",\"closed\",\"conn-refused\",\"\",",
                        0),
            0u)
      << cl[2];
  EXPECT_NE(csv.err.find("2 endpoints in "), std::string::npos);  // the summary: stderr
}

TEST(Probe, RateIsHonouredInEveryOneSecondWindow) {
  // 200 listeners; the accepting side timestamps each connection as it arrives. On 127.0.0.3,
  // which no other test scans (their ephemeral ports could be these).
  std::vector<Listener> ls;
  for (int i = 0; i < 200; ++i) ls.push_back(listen_loopback(0x7f000003));
  std::vector<std::string> args;
  for (const auto& l : ls) args.push_back("127.0.0.3:" + std::to_string(l.port));
  args.insert(args.end(), {"--rate", "100"});
  std::atomic<bool> stop{false};
  std::vector<Clock::time_point> accepted;
  std::thread acceptor([&] {
    std::vector<pollfd> pfds;
    for (const auto& l : ls) pfds.push_back(pollfd{l.fd.get(), POLLIN, 0});
    while (!stop) {
      if (::poll(pfds.data(), pfds.size(), 50) <= 0) continue;
      const auto now = Clock::now();
      for (auto& p : pfds) {
        if ((p.revents & POLLIN) == 0) continue;
        while (true) {
          const int c = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c < 0) break;
          ::close(c);
          accepted.push_back(now);
        }
      }
    }
  });
  const auto t0 = Clock::now();
  const auto r = probe(args, true);
  const auto wall = Clock::now() - t0;
  stop = true;
  acceptor.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(wall, 1900ms);
  EXPECT_LT(wall, 10s);
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 201u);
  std::vector<double> starts;
  for (std::size_t i = 0; i + 1 < rows.size(); ++i) starts.push_back(rows[i].at("start_ms").get<double>());
  std::sort(starts.begin(), starts.end());
  EXPECT_GE(starts.back() - starts.front(), 1980.0);  // 199 intervals of 10 ms at least
  std::size_t lo = 0;
  for (std::size_t hi = 0; hi < starts.size(); ++hi) {
    while (starts[hi] - starts[lo] >= 1000.0) ++lo;
    EXPECT_LE(hi - lo + 1, 100u) << "connect starts in one second, ending at " << starts[hi] << " ms";
  }
  // The server's view (accept times carry poll latency, so one start of slack).
  ASSERT_EQ(accepted.size(), 200u);
  std::sort(accepted.begin(), accepted.end());
  lo = 0;
  for (std::size_t hi = 0; hi < accepted.size(); ++hi) {
    while (accepted[hi] - accepted[lo] >= 1s) ++lo;
    EXPECT_LE(hi - lo + 1, 101u);
  }
  EXPECT_EQ(rows.back().at("rate_limit"), 100.0);
}

TEST(Probe, ALowFdLimitLowersConcurrencyAndEveryEndpointIsClassified) {
  // 3000 closed loopback ports under RLIMIT_NOFILE 128: never EMFILE as a failure. 127.0.0.2,
  // where nothing listens, so that no other test's listener is hit.
  const auto r = probe({"127.0.0.2", "--ports", "40001-43000", "--concurrency", "1000"}, true,
                       SpawnOptions{-1, 128});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--concurrency 1000 lowered to "), std::string::npos) << r.err;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 3001u);
  const auto& s = rows.back();
  EXPECT_EQ(s.at("total"), 3000);
  EXPECT_EQ(s.at("error"), 0);
  EXPECT_EQ(s.at("fd_limit"), 128);
  EXPECT_LE(s.at("concurrency").get<int>(), 128 - 32 - 3);
  EXPECT_LE(s.at("max_in_flight").get<int>(), s.at("concurrency").get<int>());
  EXPECT_EQ(s.at("closed"), 3000);
}

TEST(Probe, TlsAndTalkOnOpenEndpoints) {
  auto served = start_serve({"--mode", "http", "--tls-self-signed"});
  // The URL names the protocol (a random port would be talked to as a banner).
  const auto r = probe({"--tls", "--talk", "https://127.0.0.1:" + std::to_string(served.port) + "/"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 2u);
  const auto& e = rows[0];
  EXPECT_EQ(e.at("state"), "open");
  EXPECT_EQ(e.at("tls").at("outcome"), "ok");
  EXPECT_EQ(e.at("tls").at("verified"), false);  // self-signed: recorded, not enforced
  EXPECT_TRUE(e.at("tls").at("days_to_expiry").is_number_integer());
  EXPECT_GE(e.at("tls").at("days_to_expiry").get<int>(), 0);
  EXPECT_EQ(e.at("talk").at("protocol"), "http");
  EXPECT_EQ(e.at("talk").at("http_status"), 200);
}

}  // namespace
}  // namespace connscope::test
