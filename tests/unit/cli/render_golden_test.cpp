// Golden outputs of `connscope doctor` and `connscope probe` (cli/doctor_render.h,
// cli/probe_render.h): recorded results, built here as the probes would have filled them, fed
// through the pure renderers and compared with tests/fixtures/*.golden.*, in English and zh-CN.
// A failing doctor run (a redirect followed, then one address filtered and one refused, ICMP
// echo unanswered) with its findings; a probe of five endpoints with every outcome but error.
//
// After a deliberate change to the output, regenerate with
//   CONNSCOPE_UPDATE_GOLDENS=1 build/tests/unit/cli/unit_cli_render_golden
// and read the diff.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/doctor_render.h"
#include "cli/probe_render.h"
#include "core/target.h"

namespace connscope::cli {
namespace {

using namespace std::chrono_literals;
using probe::StageId;
using probe::StageStatus;

const std::string kFixtures = CONNSCOPE_FIXTURES;

// Compares `text` with the golden file `name`, or writes it there with CONNSCOPE_UPDATE_GOLDENS.
void expect_golden(const std::string& text, const std::string& name) {
  const std::string path = kFixtures + "/" + name;
  if (std::getenv("CONNSCOPE_UPDATE_GOLDENS") != nullptr) {
    std::ofstream(path, std::ios::binary) << text;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << path;
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(text, golden.str()) << "differs from " << path;
}

// A CJK ideograph somewhere in the text: the catalog's Chinese, not English.
bool has_chinese(const std::string& s) {
  // U+4E00..U+9FFF are E4 B8 80 .. E9 BF BF in UTF-8.
  for (std::size_t i = 0; i + 2 < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0xE4 && b <= 0xE9) return true;
  }
  return false;
}

probe::DoctorReport failing_doctor_report() {
  probe::DoctorReport r;
  auto target = parse_target("https://shop.example/");
  EXPECT_TRUE(target.has_value());
  r.options.target = *target;
  r.options.port = 443;
  r.options.tls = true;
  r.options.protocol = AppProtocol::http;

  r.dns.name = "shop.example";
  r.dns.source = probe::DnsSource::dns;
  r.dns.failure = probe::DnsFailure::none;
  r.dns.server = Endpoint{AF_INET, "192.0.2.53", 53};
  r.dns.rcode = 0;
  r.dns.addresses = {{AF_INET, "198.51.100.7", 300}, {AF_INET6, "2001:db8::7", 300}};
  r.dns.servers = {Endpoint{AF_INET, "192.0.2.53", 53}};

  probe::RouteResult v4;
  v4.outcome = probe::RouteOutcome::ok;
  v4.family = AF_INET;
  v4.destination = "198.51.100.7";
  v4.table = 254;
  v4.interface = "eth0";
  v4.source = "192.0.2.10";
  v4.gateway = "192.0.2.1";
  v4.link_mtu = 1500;
  v4.link_up = true;
  v4.duration = 90us;
  probe::RouteResult v6 = v4;
  v6.family = AF_INET6;
  v6.destination = "2001:db8::7";
  v6.source = "2001:db8::10";
  v6.gateway = "fe80::1";
  r.routes = {v4, v6};

  probe::ReachResult reach;
  reach.outcome = probe::ReachOutcome::no_reply;
  reach.method = probe::ReachMethod::ping_socket;
  reach.family = AF_INET;
  reach.destination = "198.51.100.7";
  reach.stats.sent = 3;
  reach.stats.received = 0;
  reach.stats.loss_percent = 100.0;
  reach.duration = 3s;
  r.reach = reach;

  probe::ConnectAttempt filtered;
  filtered.remote = Endpoint{AF_INET, "198.51.100.7", 443};
  filtered.local = Endpoint{AF_INET, "192.0.2.10", 51000};
  filtered.failure = probe::ConnectFailure::filtered;
  filtered.timed_out = true;
  filtered.elapsed = 3s;
  filtered.syn_retransmits = 2;
  probe::ConnectAttempt refused;
  refused.remote = Endpoint{AF_INET6, "2001:db8::7", 443};
  refused.local = Endpoint{AF_INET6, "2001:db8::10", 51002};
  refused.failure = probe::ConnectFailure::refused;
  refused.error = 111;
  refused.failed_op = "connect";
  refused.elapsed = 41ms;
  refused.syn_retransmits = 0;
  r.connect = {filtered, refused};

  r.stages = {{StageId::resolve, StageStatus::ok, 12ms},   {StageId::route, StageStatus::ok, 180us},
              {StageId::reach, StageStatus::warn, 3s},     {StageId::connect, StageStatus::fail, 3s},
              {StageId::secure, StageStatus::skipped, {}}, {StageId::talk, StageStatus::skipped, {}},
              {StageId::close, StageStatus::skipped, {}}};
  r.total = 3012ms;

  // `doctor --follow http://shop.example`: the first run answered 301 to the https URL.
  probe::RedirectChain chain;
  chain.hops.push_back({"http://shop.example", 301, "https://shop.example/"});
  chain.final_target = "https://shop.example/";
  probe::apply_redirects(r, std::move(chain));
  return r;
}

DoctorResult failing_doctor(Lang lang) {
  return doctor_result("http://shop.example", 80, failing_doctor_report(), {}, false, std::nullopt, lang);
}

TEST(RenderGolden, DoctorFailingRunInEnglish) {
  const auto d = failing_doctor(Lang::en);
  ASSERT_FALSE(d.findings.empty());
  ASSERT_TRUE(d.lead.has_value());
  EXPECT_EQ(d.findings[*d.lead].stage, StageId::connect);
  expect_golden(render_text(d, Lang::en, Style{false}), "doctor_render.golden.txt");
  expect_golden(render_json(d, Lang::en).dump(2) + "\n", "doctor_render.golden.json");
}

TEST(RenderGolden, DoctorFailingRunInChinese) {
  const auto d = failing_doctor(Lang::zh_CN);
  const std::string text = render_text(d, Lang::zh_CN, Style{false});
  EXPECT_TRUE(has_chinese(text));
  EXPECT_NE(text, render_text(failing_doctor(Lang::en), Lang::en, Style{false}));
  expect_golden(text, "doctor_render.golden.zh_CN.txt");
}

ProbeRow row(const std::string& text, std::uint16_t port, std::optional<Endpoint> remote, probe::ScanState state,
             probe::ConnectFailure failure, std::string_view reason, std::chrono::microseconds elapsed) {
  ProbeRow r;
  r.text = text;
  auto t = parse_target(text);
  EXPECT_TRUE(t.has_value()) << text;
  if (t) r.target = *t;
  r.port = port;
  r.remote = std::move(remote);
  r.result.state = state;
  r.result.failure = failure;
  r.result.reason = reason;
  r.result.elapsed = elapsed;
  return r;
}

ProbeResult mixed_probe() {
  using probe::ConnectFailure;
  using probe::ScanState;
  ProbeResult p;
  auto open = row("web.example:443", 443, Endpoint{AF_INET, "203.0.113.10", 443}, ScanState::open,
                  ConnectFailure::none, "syn-ack", 12400us);
  probe::ScanStages st;
  st.tls = probe::TlsOutcome::ok;
  st.tls_version = "TLSv1.3";
  st.tls_verified = true;
  st.days_to_expiry = 42;
  st.talk = probe::TalkOutcome::ok;
  st.protocol = AppProtocol::http;
  st.reply = "HTTP/1.1 200 OK";
  st.http_status = 200;
  open.result.stages = st;
  p.rows.push_back(open);
  auto closed = row("203.0.113.10:22", 22, Endpoint{AF_INET, "203.0.113.10", 22}, ScanState::closed,
                    ConnectFailure::refused, "conn-refused", 9500us);
  closed.result.error = 111;
  closed.result.failed_op = "connect";
  p.rows.push_back(closed);
  auto filtered = row("203.0.113.11:8080", 8080, Endpoint{AF_INET, "203.0.113.11", 8080}, ScanState::filtered,
                      ConnectFailure::filtered, "no-response", 3s);
  filtered.result.timed_out = true;
  p.rows.push_back(filtered);
  auto unreachable = row("[2001:db8::20]:25", 25, Endpoint{AF_INET6, "2001:db8::20", 25}, ScanState::unreachable,
                         ConnectFailure::admin_prohibited, "admin-prohibited", 31ms);
  probe::QueuedError icmp;
  icmp.origin = probe::ErrOrigin::icmp6;
  icmp.type = 1;
  icmp.code = 1;
  icmp.error = 13;
  icmp.offender = "2001:db8::1";
  unreachable.result.queued = icmp;
  unreachable.result.error = 13;
  unreachable.result.failed_op = "connect";
  p.rows.push_back(unreachable);
  auto gone = row("gone.example:80", 80, std::nullopt, ScanState::error, ConnectFailure::other, "error", 0us);
  gone.result = probe::setup_failure("resolve gone.example", 0);
  gone.dns_failure = "nxdomain";
  p.rows.push_back(gone);
  for (std::size_t i = 0; i < p.rows.size(); ++i) p.rows[i].result.start = std::chrono::microseconds(100 * i);
  p.stats.elapsed = 3020ms;
  p.stats.shards = 1;
  p.stats.max_in_flight = 4;
  p.stats.fd_waits = 2;
  p.endpoints = 4;
  p.timeout = 3000ms;
  p.concurrency = 1000;
  p.concurrency_requested = 1000;
  p.fd_limit = 1048576;
  p.tls_column = true;
  p.talk_column = true;
  return p;
}

TEST(RenderGolden, ProbeMixedOutcomesInEnglish) {
  const auto p = mixed_probe();
  EXPECT_FALSE(p.all_open());
  EXPECT_EQ(p.count(probe::ScanState::error), 1U);
  expect_golden(render_text(p, Lang::en, Style{false}), "probe_render.golden.txt");
  expect_golden(render_json(p), "probe_render.golden.jsonl");
  expect_golden(render_csv(p), "probe_render.golden.csv");
}

TEST(RenderGolden, ProbeMixedOutcomesInChinese) {
  const auto p = mixed_probe();
  const std::string text = render_text(p, Lang::zh_CN, Style{false});
  EXPECT_TRUE(has_chinese(text));
  expect_golden(text, "probe_render.golden.zh_CN.txt");
}

TEST(RenderGolden, ProbeFailedOnlyLeavesTheOpenOnesOut) {
  auto p = mixed_probe();
  p.failed_only = true;
  const std::string text = render_text(p, Lang::en, Style{false});
  EXPECT_EQ(text.find("web.example"), std::string::npos);
  EXPECT_NE(text.find("gone.example:80"), std::string::npos);
  // The summary still counts every endpoint.
  EXPECT_NE(text.find("5 endpoints in 3.02s"), std::string::npos) << text;
  p.rows.resize(1);
  const std::string none = render_text(p, Lang::en, Style{false});
  EXPECT_EQ(none.substr(0, none.find('\n')), "every endpoint is open");
}

}  // namespace
}  // namespace connscope::cli
