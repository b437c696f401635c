// Continuous probes: the PROBE JSON and the probe metric families (promtool included), the own-
// listener derivation, the doctor options per target, the listener re-rating of the talk stage,
// and the scheduler live on loopback (real sockets): ok, refused, a silent server, the schedule
// and its stagger, listeners coming and going, stop() in the middle of a run.
#include "agent/probes.h"

#include <gtest/gtest.h>

#include "prom_support.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "sys/unique_fd.h"

namespace connscope::agent {
namespace {

using prom_support::find_family;

namespace asio = boost::asio;
using namespace std::chrono_literals;
using probe::StageId;
using probe::StageStatus;
using SteadyClock = std::chrono::steady_clock;

ProbeConfig probe_config(const std::string& target, std::chrono::milliseconds interval = 30s,
                         std::chrono::milliseconds timeout = 3s) {
  auto parsed = parse_target(target);
  EXPECT_TRUE(parsed.has_value()) << target;
  ProbeConfig p;
  p.target = target;
  if (parsed) p.parsed = *parsed;
  p.interval = interval;
  p.timeout = timeout;
  return p;
}

std::vector<probe::StageRow> all_stages() {
  std::vector<probe::StageRow> rows;
  for (StageId id : {StageId::resolve, StageId::route, StageId::reach, StageId::connect,
                     StageId::secure, StageId::talk, StageId::close}) {
    rows.push_back({id, StageStatus::skipped, {}});
  }
  return rows;
}

void set_row(std::vector<probe::StageRow>& rows, StageId id, StageStatus s, probe::Clock::duration d) {
  for (auto& r : rows) {
    if (r.stage == id) {
      r.status = s;
      r.duration = d;
    }
  }
}

rules::StageFinding finding(StageId stage, std::string id, rules::Severity sev = rules::Severity::critical) {
  rules::Finding f;
  f.id = std::move(id);
  f.severity = sev;
  f.summary = "summary of " + f.id;
  f.cause = "cause of " + f.id;
  f.fix = "fix for " + f.id;
  f.evidence = {{"port", "5999"}};
  return {stage, std::move(f)};
}

// ---- pure parts ----

TEST(Probes, ListenerProbeAddress) {
  // (A table of structs holding std::optional<Endpoint> trips g++ 12's -Wmaybe-uninitialized.)
  const auto maps_to = [](int family, const char* listening, const char* probed) {
    const Endpoint l{family, listening, 8080};
    const auto got = listener_probe_address(l);
    if (probed == nullptr) {
      EXPECT_FALSE(got.has_value()) << listening;
      return;
    }
    ASSERT_TRUE(got.has_value()) << listening;
    EXPECT_EQ(*got, (Endpoint{family, probed, 8080})) << listening;
  };
  maps_to(AF_INET, "0.0.0.0", "127.0.0.1");
  maps_to(AF_INET6, "::", "::1");
  maps_to(AF_INET, "10.1.2.3", "10.1.2.3");
  maps_to(AF_INET, "127.0.0.53", "127.0.0.53");
  maps_to(AF_INET6, "2001:db8::5", "2001:db8::5");
  maps_to(AF_INET6, "fe80::1", nullptr);  // no zone in the dump: unreachable
}

TEST(Probes, OwnListenerTargetsMapSortDeduplicateAndSkipConfigured) {
  const std::vector<Endpoint> listening{
      {AF_INET6, "::", 22},          {AF_INET, "0.0.0.0", 22},
      {AF_INET, "0.0.0.0", 8080},    {AF_INET, "0.0.0.0", 8080},  // SO_REUSEPORT: twice
      {AF_INET, "127.0.0.1", 5999},  {AF_INET, "10.0.0.7", 9000},
      {AF_INET6, "fe80::1", 7000},   {AF_INET, "0.0.0.0", 6379},
      {AF_INET6, "::", 6379},        {AF_INET, "0.0.0.0", 443},
  };
  const std::vector<ProbeConfig> configured{
      probe_config("127.0.0.1:5999"),               // the same address and port
      probe_config("https://127.0.0.1:8080/health"),  // a URL on the probed address
      probe_config("localhost:6379"),               // covers both loopbacks
      probe_config("10.0.0.7:9001"),                // another port: covers nothing
      probe_config("example.com:443"),              // a name: cannot be compared, covers nothing
  };
  const auto got = own_listener_targets(listening, configured, 64);
  const std::vector<Endpoint> want{
      {AF_INET, "127.0.0.1", 22},
      {AF_INET6, "::1", 22},
      {AF_INET, "127.0.0.1", 443},
      {AF_INET, "10.0.0.7", 9000},
  };
  EXPECT_EQ(got, want);
  // The cap keeps the lowest ports.
  const auto capped = own_listener_targets(listening, configured, 2);
  EXPECT_EQ(capped, (std::vector<Endpoint>{want[0], want[1]}));
  EXPECT_TRUE(own_listener_targets({}, configured, 64).empty());
}

TEST(Probes, DoctorOptionsAsTheCliBuildsThem) {
  struct Row {
    const char* target;
    std::uint16_t port;
    AppProtocol protocol;
    bool tls;
    const char* path;
  };
  const Row rows[] = {
      {"https://example.com/health?x=1", 443, AppProtocol::http, true, "/health?x=1"},
      {"http://127.0.0.1:8080", 8080, AppProtocol::http, false, "/"},
      {"10.0.0.5:6379", 6379, AppProtocol::redis, false, "/"},
      {"db.internal:5432", 5432, AppProtocol::postgres, false, "/"},
      {"example.com:443", 443, AppProtocol::http, true, "/"},  // the port suggests https
      {"127.0.0.1:5999", 5999, AppProtocol::banner, false, "/"},
      {"[::1]:22", 22, AppProtocol::ssh, false, "/"},
  };
  for (const auto& r : rows) {
    const auto o = doctor_options_for(probe_config(r.target, 30s, 1500ms));
    EXPECT_EQ(o.port, r.port) << r.target;
    EXPECT_EQ(o.protocol, r.protocol) << r.target;
    EXPECT_EQ(o.tls, r.tls) << r.target;
    EXPECT_EQ(o.http_path, r.path) << r.target;
    EXPECT_EQ(o.timeout, 1500ms) << r.target;
  }
  const auto l = listener_doctor_options(Endpoint{AF_INET6, "::1", 443}, 700ms);
  EXPECT_EQ(l.target.host, "::1");
  EXPECT_EQ(l.target.kind, HostKind::ipv6);
  EXPECT_EQ(l.port, 443);
  EXPECT_EQ(l.protocol, AppProtocol::banner);  // not https: the port does not say what listens
  EXPECT_FALSE(l.tls);
  EXPECT_EQ(l.timeout, 700ms);
}

// A report whose talk stage ended with `outcome` after a good connect.
probe::DoctorReport talk_report(probe::TalkOutcome outcome, StageStatus talk_status, std::size_t received = 0) {
  probe::DoctorReport r;
  r.stages = all_stages();
  set_row(r.stages, StageId::resolve, StageStatus::ok, 1us);
  set_row(r.stages, StageId::route, StageStatus::ok, 20us);
  set_row(r.stages, StageId::reach, StageStatus::ok, 300us);
  set_row(r.stages, StageId::connect, StageStatus::ok, 80us);
  set_row(r.stages, StageId::talk, talk_status, 500ms);
  probe::TalkResult t;
  t.outcome = outcome;
  t.bytes_received = received;
  r.talk = t;
  r.total = 501ms;
  return r;
}

TEST(Probes, ListenerRunsAreRatedOnAcceptingConnections) {
  using probe::TalkOutcome;
  struct Row {
    TalkOutcome outcome;
    StageStatus doctor_status;  // what doctor rated the talk stage
    std::size_t received;
    const char* id;
    StageStatus listener_verdict;  // for an own listener
    StageId listener_stage;
  };
  const Row rows[] = {
      {TalkOutcome::no_response, StageStatus::fail, 0, "app.no_response", StageStatus::ok, StageId::talk},
      {TalkOutcome::timeout, StageStatus::fail, 3, "app.incomplete_reply", StageStatus::ok, StageId::talk},
      {TalkOutcome::unexpected_reply, StageStatus::warn, 40, "app.unexpected_reply", StageStatus::ok, StageId::talk},
      {TalkOutcome::closed_by_peer, StageStatus::fail, 0, "tcp.closed_after_accept", StageStatus::fail, StageId::talk},
      {TalkOutcome::reset_by_peer, StageStatus::fail, 0, "tcp.reset_after_accept", StageStatus::fail, StageId::talk},
      {TalkOutcome::slow_first_byte, StageStatus::warn, 20, "app.slow_first_byte", StageStatus::warn, StageId::talk},
  };
  const auto now = std::chrono::system_clock::now();
  for (const auto& r : rows) {
    const auto report = talk_report(r.outcome, r.doctor_status, r.received);
    const std::vector<rules::StageFinding> findings{finding(StageId::talk, r.id)};

    const ProbeRun as_config = summarize_run(report, findings, ProbeSource::config, now);
    EXPECT_EQ(as_config.verdict, r.doctor_status) << r.id;
    EXPECT_EQ(as_config.stage, StageId::talk) << r.id;
    EXPECT_EQ(as_config.findings.size(), 1u) << r.id;

    const ProbeRun as_listener = summarize_run(report, findings, ProbeSource::listener, now);
    EXPECT_EQ(as_listener.verdict, r.listener_verdict) << r.id;
    EXPECT_EQ(as_listener.stage, r.listener_stage) << r.id;
    EXPECT_EQ(as_listener.findings.empty(), r.listener_verdict == StageStatus::ok) << r.id;
    EXPECT_EQ(as_listener.duration, 501ms);
  }
  // An earlier stage's failure counts for a listener as for anyone: a refused connect.
  probe::DoctorReport refused;
  refused.stages = all_stages();
  set_row(refused.stages, StageId::resolve, StageStatus::ok, 1us);
  set_row(refused.stages, StageId::route, StageStatus::ok, 1us);
  set_row(refused.stages, StageId::connect, StageStatus::fail, 50us);
  const auto run = summarize_run(refused, {finding(StageId::connect, "tcp.refused")}, ProbeSource::listener, now);
  EXPECT_EQ(run.verdict, StageStatus::fail);
  EXPECT_EQ(run.stage, StageId::connect);
  EXPECT_FALSE(run.ok());
  // All ok: the stage is the last one that ran.
  auto good = talk_report(probe::TalkOutcome::ok, StageStatus::ok, 10);
  set_row(good.stages, StageId::close, StageStatus::ok, 1ms);
  const auto ok_run = summarize_run(good, {}, ProbeSource::config, now);
  EXPECT_EQ(ok_run.verdict, StageStatus::ok);
  EXPECT_EQ(ok_run.stage, StageId::close);
  EXPECT_TRUE(ok_run.ok());
}

ProbeStatus failed_status() {
  ProbeStatus s;
  s.target = "127.0.0.1:5999";
  s.interval = 15s;
  s.timeout = 2s;
  ProbeRun r;
  r.time = std::chrono::system_clock::time_point(1'700'000'000'123ms);
  r.verdict = StageStatus::fail;
  r.stage = StageId::connect;
  r.duration = 1500us;
  r.stages = all_stages();
  set_row(r.stages, StageId::resolve, StageStatus::ok, 2us);
  set_row(r.stages, StageId::route, StageStatus::ok, 40us);
  set_row(r.stages, StageId::reach, StageStatus::warn, 1ms);
  set_row(r.stages, StageId::connect, StageStatus::fail, 250us);
  // Two addresses refused alike: the same id twice on one stage.
  r.findings = {finding(StageId::connect, "tcp.refused"), finding(StageId::connect, "tcp.refused"),
                finding(StageId::reach, "path.loss", rules::Severity::warning)};
  record_run(s, r);
  record_run(s, r);
  return s;
}

TEST(Probes, RecordRunCounts) {
  ProbeStatus s = failed_status();
  EXPECT_EQ(s.runs, 2u);
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.consecutive_failures, 2u);
  ProbeRun warned = *s.last;
  warned.verdict = StageStatus::warn;  // a warning is no failure
  record_run(s, warned);
  EXPECT_EQ(s.runs, 3u);
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.consecutive_failures, 0u);
}

TEST(Probes, JsonHasThePROBEShape) {
  ProbeStatus fresh;
  fresh.target = "https://example.com/health";
  fresh.source = ProbeSource::config;
  const auto j0 = probe_json(fresh, Lang::en);
  EXPECT_EQ(j0, nlohmann::json::parse(R"({"target":"https://example.com/health","source":"config",
      "interval_ms":30000,"timeout_ms":3000,"runs":0,"failures":0,"consecutive_failures":0,"last":null})"));

  ProbeStatus s = failed_status();
  s.source = ProbeSource::listener;
  const auto j = probe_json(s, Lang::en);
  EXPECT_EQ(j["target"], "127.0.0.1:5999");
  EXPECT_EQ(j["source"], "listener");
  EXPECT_EQ(j["interval_ms"], 15000);
  EXPECT_EQ(j["timeout_ms"], 2000);
  EXPECT_EQ(j["runs"], 2);
  EXPECT_EQ(j["failures"], 2);
  EXPECT_EQ(j["consecutive_failures"], 2);
  const auto& last = j["last"];
  EXPECT_EQ(last["time_ms"], 1'700'000'000'123LL);
  EXPECT_EQ(last["ok"], false);
  EXPECT_EQ(last["verdict"], "fail");
  EXPECT_EQ(last["stage"], "connect");
  EXPECT_DOUBLE_EQ(last["duration_ms"].get<double>(), 1.5);
  ASSERT_EQ(last["stages"].size(), 7u);
  EXPECT_EQ(last["stages"][0], nlohmann::json::parse(R"({"stage":"resolve","status":"ok","duration_ms":0.002})"));
  EXPECT_EQ(last["stages"][2]["status"], "warn");
  EXPECT_EQ(last["stages"][3]["status"], "fail");
  EXPECT_DOUBLE_EQ(last["stages"][3]["duration_ms"].get<double>(), 0.25);
  EXPECT_EQ(last["stages"][6]["status"], "skipped");
  ASSERT_EQ(last["findings"].size(), 3u);
  EXPECT_EQ(last["findings"][0], nlohmann::json::parse(R"({"id":"tcp.refused","severity":"critical",
      "summary":"summary of tcp.refused","cause":"cause of tcp.refused","fix":"fix for tcp.refused",
      "evidence":{"port":"5999"},"stage":"connect"})"));
  EXPECT_EQ(last["findings"][2]["severity"], "warning");
  EXPECT_EQ(last["findings"][2]["stage"], "reach");
}


using prom_support::Checked;
using prom_support::promtool_check;

TEST(Probes, MetricFamilies) {
  ProbeStatus never;  // configured, not run yet
  never.target = "https://example.com/health";
  ProbeStatus failed = failed_status();
  ProbeStatus ok;
  ok.target = "[::1]:22";
  ok.source = ProbeSource::listener;
  ProbeRun run;
  run.verdict = StageStatus::ok;
  run.stage = StageId::talk;
  run.duration = 250ms;
  run.stages = all_stages();
  set_row(run.stages, StageId::connect, StageStatus::ok, 100us);
  set_row(run.stages, StageId::talk, StageStatus::ok, 249ms);
  run.findings = {finding(StageId::talk, "app.something", rules::Severity::info)};  // ok run: no info
  record_run(ok, run);
  const std::vector<ProbeStatus> statuses{never, failed, ok};
  const auto fs = probe_metric_families(statuses);

  const auto* success = find_family(fs, "connscope_probe_success");
  ASSERT_NE(success, nullptr);
  ASSERT_EQ(success->samples.size(), 2u);  // none for the probe that has not run
  EXPECT_EQ(success->samples[0].labels[0].value, "127.0.0.1:5999");
  EXPECT_EQ(success->samples[0].value, 0.0);
  EXPECT_EQ(success->samples[1].labels[0].value, "[::1]:22");
  EXPECT_EQ(success->samples[1].value, 1.0);

  const auto* duration = find_family(fs, "connscope_probe_duration_seconds");
  ASSERT_NE(duration, nullptr);
  ASSERT_EQ(duration->samples.size(), 2u);
  EXPECT_DOUBLE_EQ(duration->samples[1].value, 0.25);

  const auto* stage = find_family(fs, "connscope_probe_stage_duration_seconds");
  ASSERT_NE(stage, nullptr);
  ASSERT_EQ(stage->samples.size(), 6u);  // 4 stages ran in the failed run, 2 in the ok one
  EXPECT_EQ(stage->samples[3].labels[1].value, "connect");
  EXPECT_DOUBLE_EQ(stage->samples[3].value, 250e-6);

  const auto* info = find_family(fs, "connscope_probe_failure_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->samples.size(), 2u);  // tcp.refused once (two addresses), path.loss
  EXPECT_EQ(info->samples[0].labels[0].value, "127.0.0.1:5999");
  EXPECT_EQ(info->samples[0].labels[1].name, "stage");
  EXPECT_EQ(info->samples[0].labels[1].value, "connect");
  EXPECT_EQ(info->samples[0].labels[2].name, "finding");
  EXPECT_EQ(info->samples[0].labels[2].value, "tcp.refused");
  EXPECT_EQ(info->samples[1].labels[2].value, "path.loss");

  const auto* runs = find_family(fs, "connscope_probe_runs_total");
  const auto* failures = find_family(fs, "connscope_probe_failures_total");
  ASSERT_NE(runs, nullptr);
  ASSERT_NE(failures, nullptr);
  EXPECT_EQ(runs->type, prom::MetricType::counter);
  ASSERT_EQ(runs->samples.size(), 3u);
  EXPECT_EQ(runs->samples[0].value, 0.0);
  EXPECT_EQ(runs->samples[1].value, 2.0);
  EXPECT_EQ(failures->samples[1].value, 2.0);
  EXPECT_EQ(failures->samples[2].value, 0.0);

  const auto page = prom::render(fs);
  ASSERT_TRUE(page.has_value()) << page.error().message();
  EXPECT_NE(page->find("connscope_probe_failure_info{target=\"127.0.0.1:5999\",stage=\"connect\",finding=\"tcp.refused\"} 1\n"),
            std::string::npos)
      << *page;
  // No probes at all: the families are still there, empty, and render.
  const auto empty = prom::render(probe_metric_families({}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_NE(empty->find("# TYPE connscope_probe_success gauge"), std::string::npos);

  CONNSCOPE_REQUIRE_PROMTOOL(promtool);
  const Checked c = promtool_check(*promtool, *page);
  EXPECT_EQ(c.status, 0) << c.output << "\n--- page ---\n" << *page;
  EXPECT_EQ(c.output, "") << *page;
}

// ---- the scheduler, live on loopback ----

// A listening TCP socket on 127.0.0.1 that nobody accepts from: the kernel completes handshakes
// into its accept queue, and the peer hears nothing.
struct SilentListener {
  sys::UniqueFd fd;
  std::uint16_t port = 0;
  explicit SilentListener(int backlog = 16) {
    fd = sys::UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd.get(), backlog), 0);
    socklen_t len = sizeof a;
    EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
  }
  [[nodiscard]] std::string target() const { return "127.0.0.1:" + std::to_string(port); }
};

// A port on 127.0.0.1 with nothing listening: bound, never listened on, so the kernel answers
// a SYN with RST and no other test can take the port while it is held.
struct ClosedPort {
  sys::UniqueFd fd;
  std::uint16_t port = 0;
  ClosedPort() {
    fd = sys::UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
  }
  [[nodiscard]] std::string target() const { return "127.0.0.1:" + std::to_string(port); }
};

// A server that says one line and closes when the client has, on its own thread with blocking calls (the probe's
// io_context must not be the one serving it, or a mistake in either would hide in the other).
struct GreetingServer {
  SilentListener listener;
  std::thread thread;
  std::atomic<bool> done{false};
  GreetingServer() {
    thread = std::thread([this] {
      while (!done) {
        pollfd p{listener.fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        sys::UniqueFd c(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c.valid()) continue;
        constexpr std::string_view kLine = "HELLO connscope-test 1.0\r\n";
        (void)!::write(c.get(), kLine.data(), kLine.size());
        // Closes after the client does (the close stage watches for our FIN). Closing at once
        // can put the client's socket in CLOSE_WAIT before connect_one reads its state, which
        // probe/tcp_connect.cpp takes for a failed handshake (EPROTO).
        char buf[256];
        pollfd r{c.get(), POLLIN, 0};
        while (!done && ::poll(&r, 1, 20) >= 0) {
          if ((r.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && ::read(c.get(), buf, sizeof buf) <= 0) break;
        }
      }
    });
  }
  ~GreetingServer() {
    done = true;
    thread.join();
  }
};

struct Harness {
  asio::io_context io{1};
  std::vector<ProbeStatus> results;
  std::vector<SteadyClock::time_point> result_times;
  std::unique_ptr<ProbeScheduler> scheduler;

  explicit Harness(ProbeSchedulerOptions o) {
    auto s = ProbeScheduler::create(io.get_executor(), std::move(o), [this](const ProbeStatus& st) {
      results.push_back(st);
      result_times.push_back(SteadyClock::now());
    });
    EXPECT_TRUE(s.has_value()) << s.error().message();
    if (s) scheduler = std::move(*s);
  }
  // Runs the loop until `done` or `limit`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = SteadyClock::now() + limit;
    while (!done() && SteadyClock::now() < end) io.run_one_for(5ms);
    return done();
  }
};

ProbeSchedulerOptions config_only(std::vector<ProbeConfig> probes) {
  ProbeSchedulerOptions o;
  o.probes = std::move(probes);
  o.probe_own_listeners = false;
  return o;
}

TEST(ProbeScheduler, OkAgainstAServerThatGreets) {
  GreetingServer server;
  Harness h(config_only({probe_config(server.listener.target(), 30s, 1s)}));
  h.scheduler->start();
  ASSERT_TRUE(h.run_until([&] { return !h.results.empty(); }, 1500ms));
  const ProbeStatus& s = h.results.front();
  ASSERT_TRUE(s.last);
  EXPECT_EQ(s.last->verdict, StageStatus::ok) << probe_json(s, Lang::en).dump(1);
  EXPECT_TRUE(s.last->ok());
  EXPECT_EQ(s.runs, 1u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(probe_json(s, Lang::en)["last"]["verdict"], "ok");
  const auto snap = h.scheduler->snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].target, server.listener.target());
  EXPECT_EQ(snap[0].runs, 1u);
}

TEST(ProbeScheduler, RefusedPortFailsWithTcpRefused) {
  ClosedPort closed;
  Harness h(config_only({probe_config(closed.target(), 30s, 1s)}));
  h.scheduler->start();
  ASSERT_TRUE(h.run_until([&] { return !h.results.empty(); }, 1500ms));
  const ProbeStatus& s = h.results.front();
  ASSERT_TRUE(s.last);
  EXPECT_EQ(s.last->verdict, StageStatus::fail);
  EXPECT_EQ(s.last->stage, StageId::connect);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.consecutive_failures, 1u);
  const auto j = probe_json(s, Lang::en);
  EXPECT_EQ(j["last"]["ok"], false);
  EXPECT_EQ(j["last"]["verdict"], "fail");
  EXPECT_EQ(j["last"]["stage"], "connect");
  ASSERT_FALSE(j["last"]["findings"].empty()) << j.dump(1);
  EXPECT_EQ(j["last"]["findings"][0]["id"], "tcp.refused");
  EXPECT_EQ(j["last"]["findings"][0]["stage"], "connect");
  EXPECT_FALSE(j["last"]["findings"][0]["cause"].get<std::string>().empty());
  EXPECT_FALSE(j["last"]["findings"][0]["fix"].get<std::string>().empty());

  const auto snap = h.scheduler->snapshot();
  const auto page = prom::render(probe_metric_families(snap));
  ASSERT_TRUE(page.has_value()) << page.error().message();
  const std::string t = closed.target();
  EXPECT_NE(page->find("connscope_probe_success{target=\"" + t + "\"} 0\n"), std::string::npos) << *page;
  EXPECT_NE(page->find("connscope_probe_failure_info{target=\"" + t + "\",stage=\"connect\",finding=\"tcp.refused\"} 1\n"),
            std::string::npos)
      << *page;
  EXPECT_NE(page->find("connscope_probe_failures_total{target=\"" + t + "\"} 1\n"), std::string::npos) << *page;
}

TEST(ProbeScheduler, SilentServerFailsAsATargetButIsHealthyAsAListener) {
  SilentListener silent;
  // As a configured http:// target, the request gets no answer: the talk stage fails.
  ProbeSchedulerOptions o = config_only({probe_config("http://" + silent.target() + "/", 30s, 300ms)});
  o.probe_own_listeners = true;
  o.listener_timeout = 300ms;
  Harness h(o);
  h.scheduler->start();
  // The same listener as an own listener: covered by the configured probe, so not probed twice.
  const std::vector<Endpoint> listening{{AF_INET, "127.0.0.1", silent.port}};
  h.scheduler->set_own_listener_addresses(listening);
  ASSERT_TRUE(h.run_until([&] { return !h.results.empty(); }, 1500ms));
  EXPECT_EQ(h.scheduler->snapshot().size(), 1u);
  const ProbeStatus& s = h.results.front();
  ASSERT_TRUE(s.last);
  EXPECT_EQ(s.last->verdict, StageStatus::fail);
  EXPECT_EQ(s.last->stage, StageId::talk);
  ASSERT_FALSE(s.last->findings.empty());
  EXPECT_EQ(s.last->findings.front().finding.id, "app.no_response");

  // Alone, as an own listener: it accepts connections, which is all a listener must show.
  Harness l([] {
    ProbeSchedulerOptions lo;
    lo.listener_timeout = 300ms;
    return lo;
  }());
  l.scheduler->set_own_listener_addresses(listening);
  l.scheduler->start();
  ASSERT_TRUE(l.run_until([&] { return !l.results.empty(); }, 1500ms));
  const ProbeStatus& ls = l.results.front();
  EXPECT_EQ(ls.source, ProbeSource::listener);
  EXPECT_EQ(ls.target, silent.target());
  ASSERT_TRUE(ls.last);
  EXPECT_EQ(ls.last->verdict, StageStatus::ok) << probe_json(ls, Lang::en).dump(1);
  EXPECT_TRUE(ls.last->findings.empty());
  EXPECT_EQ(probe_json(ls, Lang::en)["source"], "listener");
}

TEST(ProbeScheduler, RunsAtItsIntervalAndReportsEachRunOnce) {
  ClosedPort closed;
  Harness h(config_only({probe_config(closed.target(), 200ms, 100ms)}));
  const auto t0 = SteadyClock::now();
  h.scheduler->start();
  ASSERT_TRUE(h.run_until([&] { return h.results.size() >= 2; }, 1000ms));
  // The first at once, the second an interval after the first started.
  EXPECT_LT(h.result_times[1] - t0, 500ms);
  EXPECT_GE(h.result_times[1] - t0, 190ms);
  h.run_until([] { return false; }, 150ms);
  // One callback per run, each with the count so far.
  const auto runs = h.scheduler->snapshot().front().runs;
  EXPECT_EQ(h.results.size(), runs);
  for (std::size_t i = 0; i < h.results.size(); ++i) EXPECT_EQ(h.results[i].runs, i + 1);
}

TEST(ProbeScheduler, FirstRunsAreStaggeredOverTheInterval) {
  ClosedPort a, b, c, d;
  Harness h(config_only({probe_config(a.target(), 800ms, 100ms), probe_config(b.target(), 800ms, 100ms),
                         probe_config(c.target(), 800ms, 100ms), probe_config(d.target(), 800ms, 100ms)}));
  const auto t0 = SteadyClock::now();
  h.scheduler->start();
  ASSERT_TRUE(h.run_until([&] { return h.results.size() >= 4; }, 1500ms));
  // Target i's first result comes about i/4 of the interval (200 ms each) after start, in order.
  for (std::size_t i = 0; i < 4; ++i) {
    const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(h.result_times[i] - t0);
    EXPECT_EQ(h.results[i].target, (std::array{a.target(), b.target(), c.target(), d.target()}[i]));
    EXPECT_GE(at, 200ms * static_cast<int>(i)) << i;
    EXPECT_LT(at, 200ms * static_cast<int>(i) + 150ms) << i;
  }
}

TEST(ProbeScheduler, ListenersComeAndGoAndKeepTheirHistory) {
  ClosedPort p1, p2;
  ProbeSchedulerOptions o;
  o.listener_interval = 10s;
  o.listener_timeout = 100ms;
  Harness h(o);
  h.scheduler->start();
  std::vector<Endpoint> listening{{AF_INET, "0.0.0.0", p1.port}, {AF_INET, "127.0.0.1", p2.port}};
  h.scheduler->set_own_listener_addresses(listening);
  // Both at once? No: the two new ones are staggered over their interval; the first now.
  ASSERT_TRUE(h.run_until([&] { return !h.results.empty(); }, 1000ms));
  EXPECT_EQ(h.results.front().target, "127.0.0.1:" + std::to_string(std::min(p1.port, p2.port)));
  auto snap = h.scheduler->snapshot();
  ASSERT_EQ(snap.size(), 2u);
  // The same list again (every second, in the agent): the probes keep their counters.
  for (int i = 0; i < 3; ++i) h.scheduler->set_own_listener_addresses(listening);
  h.run_until([] { return false; }, 50ms);
  snap = h.scheduler->snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].runs + snap[1].runs, 1u);
  // One goes away: it leaves the snapshot; the other keeps its history.
  const std::uint16_t stays = std::min(p1.port, p2.port);
  listening.erase(std::remove_if(listening.begin(), listening.end(), [&](const Endpoint& e) { return e.port != stays; }),
                  listening.end());
  h.scheduler->set_own_listener_addresses(listening);
  snap = h.scheduler->snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].target, "127.0.0.1:" + std::to_string(stays));
  EXPECT_EQ(snap[0].runs, 1u);
  // A new one is probed at once.
  ClosedPort p3;
  listening.push_back({AF_INET6, "::", p3.port});
  listening.push_back({AF_INET, "0.0.0.0", p3.port});
  h.scheduler->set_own_listener_addresses(listening);
  ASSERT_TRUE(h.run_until([&] { return h.results.size() >= 2; }, 1000ms));
  EXPECT_EQ(h.scheduler->snapshot().size(), 3u);
}

TEST(ProbeScheduler, StopEndsARunInTheMiddleOfItsConnect) {
  // A listener whose accept queue is full drops further SYNs, as a filter would: the probe's
  // handshake waits for its 3 s deadline.
  SilentListener full(0);
  sys::UniqueFd filler(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(full.port);
  ASSERT_EQ(::connect(filler.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);

  Harness h(config_only({probe_config(full.target(), 30s, 3s)}));
  h.scheduler->start();
  h.run_until([] { return false; }, 300ms);
  ASSERT_EQ(h.scheduler->in_flight(), 1u);
  ASSERT_TRUE(h.results.empty());
  const auto t0 = SteadyClock::now();
  h.scheduler->stop();
  h.io.run_for(2s);  // returns when nothing is left to do
  const auto took = SteadyClock::now() - t0;
  RecordProperty("stop_us", static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  EXPECT_LT(took, 100ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(h.scheduler->in_flight(), 0u);
  EXPECT_TRUE(h.results.empty());  // a cancelled run reports nothing
}

TEST(ProbeScheduler, StopEndsARunWaitingForAReply) {
  SilentListener silent;
  Harness h(config_only({probe_config("http://" + silent.target() + "/", 30s, 3s)}));
  h.scheduler->start();
  h.run_until([] { return false; }, 300ms);
  ASSERT_EQ(h.scheduler->in_flight(), 1u);
  const auto t0 = SteadyClock::now();
  h.scheduler.reset();  // the destructor stops
  h.io.run_for(2s);
  const auto took = SteadyClock::now() - t0;
  RecordProperty("stop_us", static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  EXPECT_LT(took, 100ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_TRUE(h.results.empty());
}

TEST(ProbeScheduler, AListenerThatGoesAwayMidRunIsCancelledAndReportsNothing) {
  SilentListener silent;
  ProbeSchedulerOptions o;
  o.listener_timeout = 3s;
  Harness h(o);
  h.scheduler->start();
  const std::vector<Endpoint> listening{{AF_INET, "127.0.0.1", silent.port}};
  h.scheduler->set_own_listener_addresses(listening);
  h.run_until([] { return false; }, 200ms);
  ASSERT_EQ(h.scheduler->in_flight(), 1u);  // waiting for a greeting that never comes
  h.scheduler->set_own_listener_addresses({});
  EXPECT_TRUE(h.scheduler->snapshot().empty());
  EXPECT_TRUE(h.run_until([&] { return h.scheduler->in_flight() == 0; }, 100ms));
  h.run_until([] { return false; }, 50ms);
  EXPECT_TRUE(h.results.empty());
}

TEST(ProbeScheduler, CapsRunsInFlight) {
  SilentListener silent;
  std::vector<ProbeConfig> probes;
  // Five targets whose first runs are due 200 ms apart, each hanging 500 ms in its talk stage:
  // without the cap three would overlap at 800 ms.
  for (int i = 0; i < 5; ++i) {
    probes.push_back(probe_config("http://" + silent.target() + "/" + std::to_string(i), 1s, 500ms));
  }
  auto o = config_only(probes);
  o.max_in_flight = 2;
  Harness h(o);
  h.scheduler->start();
  std::size_t most = 0;
  h.run_until([&] {
    most = std::max(most, h.scheduler->in_flight());
    return h.results.size() >= 5;
  }, 1900ms);
  EXPECT_EQ(most, 2u);
  EXPECT_EQ(h.results.size(), 5u);
}

TEST(ProbeScheduler, CreateRejectsBadOptions) {
  ProbeSchedulerOptions o;
  o.max_in_flight = 0;
  asio::io_context io;
  EXPECT_FALSE(ProbeScheduler::create(io.get_executor(), o, {}).has_value());
  o.max_in_flight = 1;
  o.listener_interval = 0ms;
  EXPECT_FALSE(ProbeScheduler::create(io.get_executor(), o, {}).has_value());
}

}  // namespace
}  // namespace connscope::agent

namespace connscope::agent {
namespace {

ProbeRun filtered_run() {
  ProbeRun r;
  r.verdict = probe::StageStatus::fail;
  r.stage = probe::StageId::connect;
  rules::Finding f;
  f.id = "tcp.filtered";
  r.findings.push_back({probe::StageId::connect, f});
  return r;
}

TEST(ProbeAttribution, AFilteredOwnListenerWithAFullAcceptQueueIsTheQueue) {
  rules::ListenerEvidence full;
  full.address = "127.0.0.1:9652";
  full.port = 9652;
  full.accept_queue = 9;
  full.accept_queue_limit = 8;
  auto run = filtered_run();
  attribute_to_accept_queue(run, full, Lang::en);
  ASSERT_EQ(run.findings.size(), 1u);
  EXPECT_EQ(run.findings[0].stage, probe::StageId::connect);
  EXPECT_EQ(run.findings[0].finding.id, "listen.accept_queue_full");
  EXPECT_EQ(run.findings[0].finding.evidence.at("accept_queue"), "9");
  EXPECT_FALSE(run.findings[0].finding.fix.empty());

  // A queue with room: the SYN was dropped elsewhere, the finding stays.
  rules::ListenerEvidence roomy = full;
  roomy.accept_queue = 0;
  run = filtered_run();
  attribute_to_accept_queue(run, roomy, Lang::en);
  EXPECT_EQ(run.findings.at(0).finding.id, "tcp.filtered");

  // A refused connect is not a queue's doing.
  run = filtered_run();
  run.findings[0].finding.id = "tcp.refused";
  attribute_to_accept_queue(run, full, Lang::en);
  EXPECT_EQ(run.findings.at(0).finding.id, "tcp.refused");
}

}  // namespace
}  // namespace connscope::agent
