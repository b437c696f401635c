// `connscope inspect` on loopback: a real listener with a full queue, a CLOSE_WAIT leak,
// record and replay, a service inside the ephemeral port range, the streamed JSON and a closed
// stdout, and bad input. Assertions look only at the test's own port: other tests
// run in parallel on the same host.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/client.h"
#include "integration/serve_fixture.h"

namespace connscope::test {
namespace {

namespace fs = std::filesystem;

CmdResult inspect(std::vector<std::string> args) {
  args.insert(args.begin(), {CONNSCOPE_BIN, "--json", "inspect"});
  return run(args, 10s);
}

const nlohmann::json* listener_on(const nlohmann::json& j, std::uint16_t port) {
  for (const auto& l : j.at("listeners")) {
    if (l.at("port") == port) return &l;
  }
  return nullptr;
}

const nlohmann::json* finding(const nlohmann::json& j, const std::string& id, std::uint16_t port) {
  for (const auto& f : j.at("findings")) {
    if (f.at("id") == id && f.at("evidence").value("port", "") == std::to_string(port)) return &f;
  }
  return nullptr;
}

TEST(Inspect, FullAcceptQueueIsNamedWithItsProcess) {
  auto s = start_serve({"--mode", "never-accept", "--backlog", "8"});
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(connect_nonblocking(s.address, s.port));
  std::this_thread::sleep_for(300ms);
  const auto r = inspect({"--port", std::to_string(s.port), "--interval", "1500ms"});
  ASSERT_EQ(r.exit_code, 1) << r.err;  // problems found
  const auto j = nlohmann::json::parse(r.out);
  const auto* l = listener_on(j, s.port);
  ASSERT_NE(l, nullptr) << r.out;
  EXPECT_EQ(l->at("accept_queue"), 9);
  EXPECT_EQ(l->at("accept_queue_limit"), 8);
  EXPECT_EQ(l->at("pid"), s.proc.pid());
  EXPECT_EQ(l->at("command"), "connscope");
  // The 41 clients left out keep retransmitting their SYNs into a full queue.
  EXPECT_GT(j.at("counters").at("ListenOverflows").at("per_second").get<double>(), 0.0);
  const auto* f = finding(j, "listen.accept_queue_full", s.port);
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_EQ(f->at("severity"), "critical");
  EXPECT_EQ(f->at("evidence").at("pid"), std::to_string(s.proc.pid()));
  EXPECT_EQ(f->at("evidence").at("accept_queue"), "9");
  // With --port the kernel filters: only this port's sockets are counted.
  EXPECT_EQ(j.at("states").at("LISTEN"), 1);
  EXPECT_EQ(j.at("states").at("ESTABLISHED"), 9);  // the queued server-side sockets
}

TEST(Inspect, CloseWaitLeakNamesTheProcess) {
  auto s = start_serve({"--mode", "no-close"});
  for (int i = 0; i < 20; ++i) {
    auto fd = connect_tcp(s.address, s.port);
    ASSERT_TRUE(fd);
  }  // each closed at once: FIN to a server that never closes
  std::this_thread::sleep_for(300ms);
  const auto r = inspect({"--port", std::to_string(s.port), "--interval", "0"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("states").at("CLOSE_WAIT"), 20);
  const auto* f = finding(j, "tcp.close_wait_leak", s.port);
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_EQ(f->at("evidence").at("pid"), std::to_string(s.proc.pid()));
  EXPECT_EQ(f->at("evidence").at("close_wait"), "20");
  bool found = false;
  for (const auto& p : j.at("processes")) {
    if (p.at("pid") == s.proc.pid()) {
      found = true;
      EXPECT_EQ(p.at("states").at("CLOSE_WAIT"), 20);
    }
  }
  EXPECT_TRUE(found);
}

TEST(Inspect, AllListsTheMatchingSocketsWithStateAndPidFilters) {
  auto s = start_serve({"--mode", "no-close"});
  for (int i = 0; i < 3; ++i) {
    auto fd = connect_tcp(s.address, s.port);
    ASSERT_TRUE(fd);
  }
  std::this_thread::sleep_for(300ms);
  const auto port = std::to_string(s.port);
  const auto pid = std::to_string(s.proc.pid());
  const auto r = inspect({"--all", "--port", port, "--state", "close-wait", "--pid", pid, "--interval", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // 3 CLOSE_WAIT: below the leak threshold
  const auto j = nlohmann::json::parse(r.out);
  // The LISTEN dump always runs; --state narrows the full dump.
  ASSERT_EQ(j.at("socket_list").size(), 4u) << r.out;
  int close_wait = 0;
  for (const auto& sock : j.at("socket_list")) {
    EXPECT_EQ(sock.at("pid"), s.proc.pid());
    EXPECT_EQ(sock.at("local"), "127.0.0.1:" + port);
    if (sock.at("state") == "CLOSE_WAIT") ++close_wait;
  }
  EXPECT_EQ(close_wait, 3);
  EXPECT_EQ(j.at("states").at("FIN_WAIT2"), 0);  // the clients' side is filtered out
  // Another pid owns none of them.
  const auto other = inspect({"--all", "--port", port, "--pid", "1", "--interval", "0"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ(nlohmann::json::parse(other.out).at("sockets"), 0);
}

TEST(Inspect, ListenOnlyAndHealthyExitZero) {
  auto s = start_serve({"--mode", "echo"});
  const auto r = inspect({"--listen", "--port", std::to_string(s.port), "--interval", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("listeners").size(), 1u);
  EXPECT_EQ(j.at("listeners")[0].at("accept_queue"), 0);
  EXPECT_TRUE(j.at("findings").empty());
}

TEST(Inspect, RecordThenReplayGivesTheSameAnswer) {
  auto s = start_serve({"--mode", "never-accept", "--backlog", "4"});
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 10; ++i) clients.push_back(connect_nonblocking(s.address, s.port));
  std::this_thread::sleep_for(300ms);
  const fs::path dir = fs::temp_directory_path() / ("connscope-rec-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto live = inspect({"--port", std::to_string(s.port), "--interval", "500ms", "--record", dir.string()});
  ASSERT_EQ(live.exit_code, 1) << live.err;
  clients.clear();
  s.proc.stop();
  const auto replay = inspect({"--replay", dir.string()});
  ASSERT_EQ(replay.exit_code, 1) << replay.err;
  auto a = nlohmann::json::parse(live.out);
  auto b = nlohmann::json::parse(replay.out);
  EXPECT_EQ(a.at("listeners"), b.at("listeners"));
  EXPECT_EQ(a.at("states"), b.at("states"));
  EXPECT_EQ(a.at("counters"), b.at("counters"));
  EXPECT_EQ(a.at("findings"), b.at("findings"));
  // The measured interval is recorded, so replayed rates equal the live ones.
  EXPECT_DOUBLE_EQ(b.at("interval_s").get<double>(), a.at("interval_s").get<double>());
  EXPECT_GE(b.at("interval_s").get<double>(), 0.5);

  // A recording cut short is a one-line error, exit 2.
  const auto dump = dir / "sock_diag.nldump";
  fs::resize_file(dump, fs::file_size(dump) - 7);
  const auto cut = inspect({"--replay", dir.string()});
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_EQ(lines(cut.err).size(), 1u) << cut.err;
  EXPECT_NE(cut.err.find("sock_diag.nldump"), std::string::npos) << cut.err;
  fs::remove_all(dir);
}

TEST(Inspect, GarbledProcRecordingIsAOneLineError) {
  auto s = start_serve({"--mode", "echo"});
  const fs::path dir = fs::temp_directory_path() / ("connscope-rec2-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  // 0 or 1: host-wide rates (resets, retransmits) depend on what else runs in parallel.
  const auto rec = inspect({"--port", std::to_string(s.port), "--interval", "100ms", "--record", dir.string()});
  ASSERT_TRUE(rec.exit_code == 0 || rec.exit_code == 1) << rec.err;
  std::ofstream(dir / "second" / "net" / "netstat") << "TcpExt: ListenOverflows ListenDrops\nTcpExt: 1\n";
  const auto r = inspect({"--replay", dir.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("netstat"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

// Golden files: a recording made with --record (tests/fixtures/inspect_replay: a never-accept
// listener with backlog 8 and 30 clients) and the output it must give. A change to the
// renderers shows up here; regenerate with the commands in tests/fixtures/README.md.
TEST(Inspect, ReplayMatchesTheGoldenOutput) {
  const std::string fixtures = CONNSCOPE_FIXTURES;
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const auto human = run({CONNSCOPE_BIN, "inspect", "--replay", fixtures + "/inspect_replay"}, 10s);
  EXPECT_EQ(human.exit_code, 1) << human.err;
  EXPECT_EQ(human.out, read(fixtures + "/inspect_replay.golden.txt"));
  const auto json = run({CONNSCOPE_BIN, "--json", "inspect", "--replay", fixtures + "/inspect_replay"}, 10s);
  EXPECT_EQ(json.exit_code, 1) << json.err;
  EXPECT_EQ(json.out, read(fixtures + "/inspect_replay.golden.json"));
  // In Chinese: the same numbers, every heading, column and finding text from zh_CN.po.
  const auto zh = run({CONNSCOPE_BIN, "--lang", "zh-CN", "inspect", "--replay", fixtures + "/inspect_replay"}, 10s);
  EXPECT_EQ(zh.exit_code, 1) << zh.err;
  EXPECT_EQ(zh.out, read(fixtures + "/inspect_replay.golden.zh_CN.txt"));
}

// A listener on 127.0.0.1 at a port inside ip_local_port_range, as application servers often
// use, and 20 clients whose own ports come from the same range, some below the service's and
// some above: the clients' sockets are this host's outgoing connections to the service, never
// "incoming on their own port", and the service has one incoming row.
TEST(Inspect, LoopbackServiceInsideTheEphemeralRange) {
  std::ifstream range_file("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0;
  int hi = 0;
  range_file >> lo >> hi;
  ASSERT_GT(hi - lo, 2000) << lo << "-" << hi;
  // A free port in the upper half, so that most clients' ports fall below it.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener);
  std::uint16_t service = 0;
  for (int p = hi - 1000 - (::getpid() % 1000); p > (lo + hi) / 2 && service == 0; p -= 7) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(p));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) service = static_cast<std::uint16_t>(p);
  }
  ASSERT_NE(service, 0);
  ASSERT_EQ(::listen(listener.get(), 64), 0);
  std::vector<UniqueFd> clients;
  std::set<int> client_ports;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(connect_tcp("127.0.0.1", service));
    ASSERT_TRUE(clients.back());
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ASSERT_EQ(::getsockname(clients.back().get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    client_ports.insert(ntohs(a.sin_port));
  }
  // Not accepted: queued connections are ESTABLISHED on the server side already.
  const auto r = inspect({"--interval", "0", "--no-owners"});
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  int service_rows = 0;
  for (const auto& p : j.at("ports")) {
    const int port = p.at("port");
    const bool incoming = p.at("direction") == "incoming";
    EXPECT_FALSE(incoming && client_ports.contains(port)) << "client port " << port << " taken as a service";
    if (port != service) continue;
    ++service_rows;
    EXPECT_EQ(p.at("states").at("ESTABLISHED"), 20) << p;
  }
  EXPECT_EQ(service_rows, 2) << "one incoming, one outgoing row for port " << service;
}

// The JSON is written as it is rendered, key by key: the bytes must be what nlohmann::json
// (whose objects keep their keys sorted) would print for the same document.
TEST(Inspect, StreamedJsonIsTheCompactDump) {
  auto s = start_serve({"--mode", "no-close"});
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(connect_tcp(s.address, s.port));
  const auto r = inspect({"--all", "--interval", "100ms"});
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.at("socket_list").empty());
  EXPECT_EQ(j.dump() + "\n", r.out);
}

// A reader that is gone: one line on stderr and exit 3, not a signal or an internal error.
// The pipe's read end is closed before connscope starts, so its first write meets EPIPE.
TEST(Inspect, ClosedStdoutIsAOneLineError) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  UniqueFd write_end(fds[1]);
  const fs::path err = fs::temp_directory_path() / ("connscope-epipe-" + std::to_string(::getpid()));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> args{CONNSCOPE_BIN, "--json", "inspect", "--interval", "0", "--no-owners"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, CONNSCOPE_BIN, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL() << "connscope did not end";
    }
    std::this_thread::sleep_for(10ms);
  }
  std::ifstream in(err);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(err);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(text, "connscope: write standard output: Broken pipe\n");
}

TEST(Inspect, BadInput) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--port", "70000"}, "--port \"70000\": not a port (1-65535)"},
      {{"--state", "sleepy"}, "--state \"sleepy\": unknown state \"sleepy\""},
      {{"--interval", "soon"}, "--interval \"soon\""},
      {{"--pid", "abc"}, "--pid \"abc\""},
      {{"--replay", "/nonexistent/rec"}, "/nonexistent/rec/sock_diag.nldump"},
      {{"--record", "/tmp/x", "--replay", "/tmp/y"}, "--record: cannot be combined with --replay"},
  };
  for (const auto& [args, want] : cases) {
    const auto r = inspect(args);
    EXPECT_EQ(r.exit_code, 2) << want << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace connscope::test
