// The doctor's stage lines (cli/doctor_text.h) on hand-built reports: English as it always read,
// and Chinese from the catalog with every outcome word translated.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>

#include "cli/doctor_text.h"

namespace connscope::cli {
namespace {

using namespace std::chrono_literals;
using probe::StageId;

probe::DoctorReport refused_report() {
  probe::DoctorReport r;
  r.dns.name = "127.0.0.1";
  r.dns.source = probe::DnsSource::literal;
  auto& route = r.routes.emplace_back();
  route.destination = "127.0.0.1";
  route.outcome = probe::RouteOutcome::local;
  route.interface = "lo";
  probe::ConnectAttempt a;
  a.remote = Endpoint{AF_INET, "127.0.0.1", 1};
  a.failure = probe::ConnectFailure::refused;
  a.elapsed = 132us;
  r.connect.push_back(a);
  probe::ConnectAttempt ok;
  ok.remote = Endpoint{AF_INET, "127.0.0.2", 1};
  ok.failure = probe::ConnectFailure::none;
  ok.elapsed = 2s;
  ok.syn_retransmits = 1;
  ok.local = Endpoint{AF_INET, "127.0.0.1", 40000};
  r.connect.push_back(ok);
  probe::CloseResult c;
  c.how = probe::PeerClose::fin;
  c.after = 70us;
  r.close = c;
  return r;
}

TEST(DoctorText, EnglishLinesReadAsBefore) {
  const auto r = refused_report();
  EXPECT_EQ(stage_summary(r, StageId::resolve, Lang::en), "127.0.0.1 is an address: no lookup");
  EXPECT_EQ(stage_summary(r, StageId::route, Lang::en), "127.0.0.1 is this host (dev lo)");
  EXPECT_EQ(stage_summary(r, StageId::connect, Lang::en),
            "127.0.0.1:1 refused after 132us; 127.0.0.2:1 connected in 2.00s after 1 SYN retransmission from "
            "127.0.0.1:40000");
  EXPECT_EQ(stage_summary(r, StageId::close, Lang::en), "the peer closed with FIN 70.0us after our FIN");
  EXPECT_EQ(status_text(Lang::en, probe::StageStatus::skipped), "skipped");
}

TEST(DoctorText, ChineseLinesComeFromTheCatalog) {
  const auto r = refused_report();
  EXPECT_EQ(stage_summary(r, StageId::resolve, Lang::zh_CN), "127.0.0.1 是 IP 地址，无需解析");
  EXPECT_EQ(stage_summary(r, StageId::route, Lang::zh_CN), "127.0.0.1 是本机（网卡 lo）");
  EXPECT_EQ(stage_summary(r, StageId::connect, Lang::zh_CN),
            "127.0.0.1:1 拒绝连接（RST），耗时 132us；127.0.0.2:1 连接成功，耗时 2.00s，重传 1 次 SYN 后，本地地址 "
            "127.0.0.1:40000");
  EXPECT_EQ(status_text(Lang::zh_CN, probe::StageStatus::fail), "失败");
}

// Every outcome a stage line can name has its own words in Chinese: none falls back to the
// English token (a new enum value without a translation fails here).
TEST(DoctorText, EveryConnectAndRouteOutcomeIsTranslated) {
  for (int f = 0; f <= static_cast<int>(probe::ConnectFailure::other); ++f) {
    probe::DoctorReport r;
    probe::ConnectAttempt a;
    a.remote = Endpoint{AF_INET, "192.0.2.1", 80};
    a.failure = static_cast<probe::ConnectFailure>(f);
    if (a.connected()) continue;
    r.connect.push_back(a);
    EXPECT_NE(stage_summary(r, StageId::connect, Lang::zh_CN), stage_summary(r, StageId::connect, Lang::en)) << f;
  }
  for (auto o : {probe::RouteOutcome::no_route, probe::RouteOutcome::unreachable_route,
                 probe::RouteOutcome::prohibited_route, probe::RouteOutcome::blackhole_route,
                 probe::RouteOutcome::error}) {
    probe::DoctorReport r;
    auto& route = r.routes.emplace_back();
    route.destination = "192.0.2.1";
    route.outcome = o;
    const auto zh = stage_summary(r, StageId::route, Lang::zh_CN);
    EXPECT_EQ(zh.find("_route"), std::string::npos) << zh;
    EXPECT_NE(zh, stage_summary(r, StageId::route, Lang::en));
  }
}

// An identified TLS service that sent no certificate: "none" is a word of the reader's language.
TEST(DoctorText, AnIdentifiedTlsServiceWithoutACertificateSaysSoInChinese) {
  probe::DoctorReport r;
  probe::ConnectAttempt a;
  a.remote = Endpoint{AF_INET, "127.0.0.1", 8443};
  a.failure = probe::ConnectFailure::none;
  r.connect.push_back(a);
  r.identified = probe::Identification{probe::Speaks::tls, {}, {}};
  r.tls.emplace();
  r.tls->version = "TLSv1.3";
  const std::string en = stage_summary(r, StageId::secure, Lang::en);
  EXPECT_NE(en.find("certificate none"), std::string::npos) << en;
  const std::string zh = stage_summary(r, StageId::secure, Lang::zh_CN);
  EXPECT_NE(zh.find("证书 无"), std::string::npos) << zh;
  EXPECT_EQ(zh.find("none"), std::string::npos) << zh;
}

}  // namespace
}  // namespace connscope::cli
