// `connscope doctor` in the lab, from the client namespace, IPv4 and IPv6 wherever the case
// applies: each test asserts the verdict (status, failing stage, finding id), the key evidence,
// and for silent failures that the verdict came within the deadline.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "lab/doctor_fixture.h"

namespace connscope::lab {
namespace {

TEST_P(DoctorLab, HealthyHttp) {
  serve("http");
  auto r = doctor({"http://" + server_target() + "/health"});
  expect_verdict(r, "ok", "", "");
  EXPECT_EQ(stage(r, "resolve").at("evidence").at("source"), "literal");
  const auto& route = stage(r, "route").at("evidence").at("routes").at(0);
  EXPECT_EQ(route.at("outcome"), "ok");
  EXPECT_EQ(route.at("gateway"), lab().addr(Node::r1, Node::client, fam()));
  EXPECT_EQ(route.at("source"), lab().addr(Node::client, fam()));
  EXPECT_EQ(route.at("interface"), lab().iface(Node::client, Node::r1));
  const auto& reach = stage(r, "reach");
  EXPECT_EQ(reach.at("status"), "ok");
  EXPECT_EQ(reach.at("evidence").at("received"), 3);
  const auto& connect = stage(r, "connect");
  EXPECT_EQ(connect.at("status"), "ok");
  EXPECT_EQ(connect.at("evidence").at("attempts").at(0).at("result"), "none");
  EXPECT_EQ(connect.at("evidence").at("attempts").at(0).at("syns_sent"), 1);
  const auto& talk = stage(r, "talk");
  EXPECT_EQ(talk.at("status"), "ok");
  EXPECT_EQ(talk.at("evidence").at("http").at("status"), 200);
  EXPECT_EQ(talk.at("evidence").at("protocol"), "http");
  EXPECT_GT(talk.at("evidence").at("first_byte_ms").get<double>(), 0.0);
  EXPECT_TRUE(r.out.at("findings").empty());
}

TEST_P(DoctorLab, HealthyByNameThroughTheLabResolver) {
  serve("http");
  auto dns = lab().start_dnsmasq();
  auto r = doctor({"--resolver", dns_addr(), fam() == Family::v4 ? "-4" : "-6",
                   "http://" + std::string(kServerName) + ":8080/"});
  expect_verdict(r, "ok", "", "");
  const auto& ev = stage(r, "resolve").at("evidence");
  EXPECT_EQ(ev.at("source"), "dns");
  EXPECT_EQ(ev.at("rcode"), "NOERROR");
  EXPECT_EQ(ev.at("server"), (Endpoint{af(fam()), dns_addr(), 53}.to_string()));
  ASSERT_EQ(ev.at("addresses").size(), 1u) << ev.dump();
  EXPECT_EQ(ev.at("addresses").at(0).at("address"), server_addr());
}

TEST_P(DoctorLab, NxdomainFailsAtResolve) {
  auto dns = lab().start_dnsmasq();
  const std::string name = "nope." + std::string(kDnsZone);
  auto r = doctor({"--resolver", dns_addr(), name + ":80"});
  expect_verdict(r, "fail", "resolve", "dns.nxdomain");
  const auto* f = finding(r, "dns.nxdomain");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->at("evidence").at("name"), name);
  EXPECT_EQ(f->at("evidence").at("rcode"), "NXDOMAIN");
  EXPECT_EQ(stage(r, "connect").at("status"), "skipped");
}

TEST_P(DoctorLab, ServfailFailsAtResolve) {
  auto dns = lab().start_dnsmasq();
  auto r = doctor({"--resolver", dns_addr(), "x." + std::string(kDnsServfailZone) + ":80"});
  expect_verdict(r, "fail", "resolve", "dns.servfail");
  EXPECT_EQ(finding(r, "dns.servfail")->at("evidence").at("rcode"), "SERVFAIL");
}

TEST_P(DoctorLab, NoRouteIsDecidedAtTheRouteStage) {
  // An unreachable route on the client for the server's address: the SYN never leaves.
  const std::string prefix = fam() == Family::v4 ? server_addr() + "/32" : server_addr() + "/128";
  auto added = lab().exec(Node::client, {"ip", fam() == Family::v4 ? "-4" : "-6", "route", "add", "unreachable", prefix});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  auto r = doctor({server_target()});
  expect_verdict(r, "fail", "route", "net.no_route");
  EXPECT_EQ(finding(r, "net.no_route")->at("evidence").at("address"), server_addr());
  EXPECT_EQ(stage(r, "route").at("evidence").at("routes").at(0).at("outcome"), "unreachable_route");
  EXPECT_EQ(stage(r, "connect").at("status"), "skipped");
}

TEST_P(DoctorLab, IcmpFilteredIsNotHostDown) {
  serve("http");
  // The server drops echo requests; TCP still gets through, so reach is not a problem.
  lab().nft(Node::server, fam() == Family::v4
                              ? "add table inet noping\nadd chain inet noping i { type filter hook input priority 0; policy accept; }\n"
                                "add rule inet noping i icmp type echo-request drop\n"
                              : "add table inet noping\nadd chain inet noping i { type filter hook input priority 0; policy accept; }\n"
                                "add rule inet noping i icmpv6 type echo-request drop\n");
  auto r = doctor({"http://" + server_target() + "/"});
  expect_verdict(r, "ok", "", "");
  EXPECT_EQ(stage(r, "reach").at("evidence").at("outcome"), "no_reply");
  EXPECT_EQ(stage(r, "reach").at("status"), "ok");
}

TEST_P(DoctorLab, ClosedPortIsRefusedByTheHost) {
  auto r = doctor({server_target(81)});
  expect_verdict(r, "fail", "connect", "tcp.refused");
  const auto* f = finding(r, "tcp.refused");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->at("summary"), server_target(81) + " refused (RST from the host): nothing listens on port 81");
  EXPECT_EQ(f->at("evidence").at("port"), "81");
  EXPECT_EQ(stage(r, "talk").at("status"), "skipped");
}

TEST_P(DoctorLab, PortUnreachableFromTheServerFirewall) {
  serve("http");
  lab().reject(Node::server, fam(), kPort, RejectKind::port_unreachable);
  auto r = doctor({server_target()});
  expect_verdict(r, "fail", "connect", "tcp.rejected_icmp");
  EXPECT_EQ(finding(r, "tcp.rejected_icmp")->at("evidence").at("from"), server_addr());
}

TEST_P(DoctorLab, AdminProhibitedByR2) {
  serve("http");
  lab().reject(Node::r2, fam(), kPort, RejectKind::admin_prohibited);
  auto r = doctor({server_target()});
  expect_verdict(r, "fail", "connect", "net.admin_prohibited");
  EXPECT_EQ(finding(r, "net.admin_prohibited")->at("evidence").at("from"), lab().addr(Node::r2, fam()));
  // The trace after the router's refusal: r2, hop 2, says unreachable.
  const auto& t = stage(r, "connect").at("evidence").at("trace");
  EXPECT_EQ(t.at("result"), "unreachable") << t.dump();
  EXPECT_EQ(t.at("hop"), 2);
  EXPECT_EQ(t.at("reporter"), lab().addr(Node::r2, fam()));
}

TEST_P(DoctorLab, HostUnreachableFromR1) {
  lab().reject(Node::r1, fam(), kPort, RejectKind::host_unreachable);
  auto r = doctor({server_target()});
  expect_verdict(r, "fail", "connect", "net.host_unreachable");
  EXPECT_EQ(finding(r, "net.host_unreachable")->at("evidence").at("from"), lab().addr(Node::r1, fam()));
  const auto& t = stage(r, "connect").at("evidence").at("trace");
  EXPECT_EQ(t.at("result"), "unreachable") << t.dump();
  EXPECT_EQ(t.at("hop"), 1);
  EXPECT_EQ(finding(r, "net.host_unreachable")->at("evidence").at("last_hop"), "1 (" + lab().addr(Node::r1, fam()) + ")");
}

TEST_P(DoctorLab, DroppedSynsAreFilteredWithinTheTimeout) {
  serve("http");
  lab().drop(Node::server, fam(), kPort);
  auto r = doctor({server_target()}, "1s");
  expect_verdict(r, "fail", "connect", "tcp.filtered");
  const auto& a = stage(r, "connect").at("evidence").at("attempts").at(0);
  EXPECT_TRUE(a.at("timed_out").get<bool>());
  EXPECT_GE(a.at("duration_ms").get<double>(), 1000.0);
  EXPECT_LE(a.at("duration_ms").get<double>(), 1100.0);
  EXPECT_LE(stage(r, "connect").at("duration_ms").get<double>(), 1100.0);
  // The whole run, reach and the trace alongside: the verdict within timeout x 1.1 (the
  // process's start and exit and the lab's exec on top).
  EXPECT_LE(r.out.at("duration_ms").get<double>(), 1100.0);
  EXPECT_LT(r.elapsed, 1300ms);
  // The trace that ran alongside: r1 and r2 answer, the server (hop 3) drops.
  const auto& t = stage(r, "connect").at("evidence").at("trace");
  EXPECT_EQ(t.at("result"), "stopped") << t.dump();
  EXPECT_EQ(t.at("last_responding_hop"), 2);
  EXPECT_EQ(t.at("last_responder"), lab().addr(Node::r2, fam()));
  EXPECT_EQ(finding(r, "tcp.filtered")->at("evidence").at("last_hop"), "2 (" + lab().addr(Node::r2, fam()) + ")");
}

TEST_P(DoctorLab, EverythingDroppedIsStillOneTimeout) {
  serve("http");
  lab().drop(Node::server, fam(), 0);  // ICMP echo too
  auto r = doctor({server_target()}, "1s");
  expect_verdict(r, "fail", "connect", "tcp.filtered");
  EXPECT_EQ(stage(r, "reach").at("status"), "warn");  // no echo reply and no TCP either
  EXPECT_EQ(stage(r, "reach").at("evidence").at("received"), 0);
  EXPECT_LE(r.out.at("duration_ms").get<double>(), 1100.0);
  EXPECT_LT(r.elapsed, 1300ms);
}

// A connect that gets through after a resent SYN: the trace that started alongside is stopped
// and not reported.
TEST_P(DoctorLab, LostFirstSynIsAWarningNotAFailure) {
  serve("http");
  lab().drop_first_syn(Node::r1, 8080);
  auto r = doctor({"http://" + server_target() + "/"}, "3s");
  expect_verdict(r, "warn", "connect", "tcp.slow_handshake");
  EXPECT_EQ(finding(r, "tcp.slow_handshake")->at("evidence").at("retransmits"), "1");
  EXPECT_EQ(stage(r, "talk").at("status"), "ok");
  EXPECT_FALSE(stage(r, "connect").at("evidence").contains("trace"));
  EXPECT_LT(stage(r, "connect").at("duration_ms").get<double>(), 1500.0);
}

TEST_P(DoctorLab, RepeatedHandshakesMeasureTheLoss) {
  serve("http");
  lab().drop_first_syn(Node::r1, 8080);
  auto r = doctor({"--repeat", "3", "--proto", "http", server_target()}, "3s");
  expect_verdict(r, "warn", "connect", "tcp.slow_handshake");
  const auto& rep = stage(r, "connect").at("evidence").at("repeat");
  EXPECT_EQ(rep.at("attempts"), 3);
  EXPECT_EQ(rep.at("connected"), 3);
  EXPECT_EQ(rep.at("with_retransmits"), 3);
  EXPECT_EQ(rep.at("syns_sent"), 6);
  EXPECT_DOUBLE_EQ(rep.at("syn_loss_percent").get<double>(), 50.0);
  EXPECT_GE(rep.at("time_min_ms").get<double>(), 1000.0);
  const auto* f = finding(r, "tcp.handshake_loss");
  ASSERT_NE(f, nullptr) << r.out.dump(2);
  EXPECT_EQ(f->at("evidence").at("retransmitted"), "3");
  EXPECT_EQ(f->at("evidence").at("loss"), "50.0");
}

// Random loss, as the issue puts it: 30 % of the TCP segments r1 forwards towards the server are
// lost. The connect gets through (the kernel resends the SYN) and the run says so as a warning,
// never as a failure. 20 handshakes: the chance that none of them loses a SYN is 0.7^21, under
// 0.1 %. TCP only: losing 30 % of IPv6 neighbour discovery too would now and then make r1 give up
// on r2's address (ICMPv6 address unreachable), which is another story.
// The server speaks first (a greeting), so the talk stage sends nothing into the loss: an HTTP
// request lost twice after a resent SYN (the RTO is then 3 s) would fail the talk stage, rightly,
// in about one run in ten.
TEST_P(DoctorLab, ThirtyPercentLossOnR1IsAWarningNotAFailure) {
  serve("banner", {"--banner", "SSH-2.0-OpenSSH_9.2p1"});
  lab().nft(Node::r1,
            "add table inet connscope_lab\n"
            "add chain inet connscope_lab forward { type filter hook forward priority 0; policy accept; }\n"
            "add rule inet connscope_lab forward oifname \"" + lab().iface(Node::r1, Node::r2) +
                "\" meta l4proto tcp numgen random mod 100 < 30 drop\n");
  auto r = doctor({"--repeat", "20", "--proto", "ssh", server_target()}, "5s", 50s);
  EXPECT_EQ(r.out.at("verdict").at("status"), "warn") << r.out.dump(2);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(stage(r, "connect").at("status"), "warn");
  const auto& rep = stage(r, "connect").at("evidence").at("repeat");
  EXPECT_EQ(rep.at("attempts"), 20);
  EXPECT_GT(rep.at("syn_retransmits").get<int>(), 0);
  EXPECT_GT(rep.at("syn_loss_percent").get<double>(), 0.0);
  EXPECT_NE(finding(r, "tcp.handshake_loss"), nullptr) << r.out.dump(2);
  for (const auto& s : r.out.at("stages")) EXPECT_NE(s.at("status"), "fail") << s.dump();
}

TEST_P(DoctorLab, Http503IsAnApplicationFailure) {
  serve("http", {"--http-status", "503"});
  auto r = doctor({"http://" + server_target() + "/"});
  expect_verdict(r, "fail", "talk", "app.http_5xx");
  EXPECT_EQ(finding(r, "app.http_5xx")->at("evidence").at("status"), "503");
}

TEST_P(DoctorLab, ResetRightAfterAccept) {
  serve("reset-after-accept");
  auto r = doctor({"http://" + server_target() + "/"});
  expect_verdict(r, "fail", "talk", "tcp.reset_after_accept");
}

TEST_P(DoctorLab, NeverAcceptedConnectionGetsNoResponseWithinTheDeadline) {
  serve("never-accept", {"--backlog", "8"});
  auto r = doctor({"http://" + server_target() + "/"}, "1s");
  expect_verdict(r, "fail", "talk", "app.no_response");
  EXPECT_EQ(stage(r, "connect").at("status"), "ok");
  EXPECT_NE(finding(r, "app.no_response")->at("cause").get<std::string>().find("accept queue"), std::string::npos);
  EXPECT_LE(stage(r, "talk").at("duration_ms").get<double>(), 1100.0);
}

TEST_P(DoctorLab, SlowFirstByteIsAWarning) {
  serve("slow-first-byte", {"--delay", "1500ms"});
  auto r = doctor({"http://" + server_target() + "/"}, "3s");
  expect_verdict(r, "warn", "talk", "app.slow_first_byte");
  EXPECT_GE(stage(r, "talk").at("evidence").at("first_byte_ms").get<double>(), 1500.0);
}

TEST_P(DoctorLab, SshLikeBannerIsRecognised) {
  serve("banner", {"--banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2"});
  auto r = doctor({"--proto", "ssh", server_target()});
  expect_verdict(r, "ok", "", "");
  const auto& talk = stage(r, "talk").at("evidence");
  EXPECT_EQ(talk.at("reply_kind"), "ssh_banner");
  EXPECT_EQ(talk.at("reply"), "SSH-2.0-OpenSSH_9.2p1 Debian-2");
}

TEST_P(DoctorLab, DripFeedingPeerEndsWithinTheDeadline) {
  serve("drip", {"--interval", "1s", "--banner", "SSH-2.0-this-takes-forever"});
  auto r = doctor({"--proto", "ssh", server_target()}, "2s");
  EXPECT_EQ(r.out.at("verdict").at("stage"), "talk") << r.out.dump(2);
  EXPECT_NE(r.out.at("verdict").at("status"), "ok");
  EXPECT_LE(stage(r, "talk").at("duration_ms").get<double>(), 2200.0);
}

// Hostile peers end within the deadline with a verdict.
TEST_P(DoctorLab, EndlessBannerStopsAtTheByteCap) {
  // 100,000 bytes without a line end, then more (banner mode echoes): never a complete greeting.
  serve("banner", {"--banner", "SSH-2.0-" + std::string(100000, 'x')});
  auto r = doctor({"--proto", "ssh", server_target()}, "2s");
  expect_verdict(r, "warn", "talk", "app.unexpected_reply");
  const auto& talk = stage(r, "talk").at("evidence");
  EXPECT_EQ(talk.at("end"), "limit") << talk.dump();
  EXPECT_EQ(talk.at("bytes_received"), 4096);
  EXPECT_LE(stage(r, "talk").at("duration_ms").get<double>(), 2200.0);
}

TEST_P(DoctorLab, GarbageAnsweringTheClientHelloIsNotTls) {
  serve("garbage");
  auto r = doctor({"--tls", "--proto", "banner", server_target()}, "2s");
  expect_verdict(r, "fail", "secure", "tls.not_tls");
  EXPECT_EQ(finding(r, "tls.not_tls")->at("evidence").at("reply").get<std::string>().rfind("64 bytes: ", 0), 0u)
      << finding(r, "tls.not_tls")->dump();
  EXPECT_LE(stage(r, "secure").at("duration_ms").get<double>(), 2200.0);
}

// ---- path MTU black hole ----
// The r1–r2 link gets MTU 1280 and r2 drops the "fragmentation needed" / "packet too big" it
// would send: the server's full-size segments die at r2, its smaller last segment arrives. (A
// lower MTU on r2–server itself would lower the server's own MSS, which hides the hole.)
class DoctorMtuLab : public DoctorLab {
 protected:
  void make_black_hole() {
    lab().set_link_mtu(Node::r1, Node::r2, 1280);
    lab().drop_frag_needed(Node::r2);
  }
  void expect_black_hole(const DoctorRun& r, const std::string& stalled) {
    expect_verdict(r, "fail", stalled, "path.mtu_blackhole");
    const auto& retry = stage(r, stalled).at("evidence").at("mtu_retry");
    EXPECT_TRUE(retry.at("confirmed").get<bool>()) << retry.dump();
    EXPECT_EQ(retry.at("mss"), fam() == Family::v4 ? 536 : 1220);
    EXPECT_GE(retry.at("out_of_order").get<int>(), 1);
    const auto* f = finding(r, "path.mtu_blackhole");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->at("stage"), stalled);
    EXPECT_EQ(f->at("evidence").at("mss"), std::to_string(fam() == Family::v4 ? 536 : 1220));
  }
};

TEST_P(DoctorMtuLab, LargeGreetingStallsAndSmallSegmentsGetThrough) {
  make_black_hole();
  serve("banner", {"--banner", std::string(3000, 'x')});
  auto r = doctor({"--proto", "banner", server_target()}, "1s");
  expect_black_hole(r, "talk");
  EXPECT_EQ(stage(r, "talk").at("evidence").at("mtu_retry").at("talk"), "ok");
}

TEST_P(DoctorMtuLab, LargeHttpsResponseStallsAfterTheHandshake) {
  make_black_hole();
  auto nginx = lab().start_nginx_tls(lab().certs().valid.cert, lab().certs().valid.key, 8443);
  auto r = doctor({"--sni", std::string(kServerName), "--ca-file", lab().certs().ca.string(),
                   "https://" + server_target(8443) + std::string(kNginxLargePath)}, "1s");
  EXPECT_EQ(stage(r, "secure").at("status"), "ok");
  expect_black_hole(r, "talk");
}

TEST_P(DoctorMtuLab, LargeCertificateChainStallsTheTlsHandshake) {
  make_black_hole();
  // The leaf and four more certificates: a server flight of several segments.
  const auto& c = lab().certs();
  const auto chain = lab().dir() / "long-chain.pem";
  {
    std::ofstream out(chain, std::ios::binary);
    for (const auto& p : {c.valid.cert, c.ca, c.expired.cert, c.wrong_name.cert, c.self_signed.cert}) {
      std::ifstream in(p, std::ios::binary);
      out << in.rdbuf();
    }
    ASSERT_TRUE(out.good()) << chain;
  }
  auto nginx = lab().start_nginx_tls(chain, c.valid.key, 8443);
  auto r = doctor({"--sni", std::string(kServerName), "--ca-file", c.ca.string(),
                   "https://" + server_target(8443) + "/"}, "1s");
  expect_black_hole(r, "secure");
  EXPECT_EQ(stage(r, "secure").at("evidence").at("outcome"), "timeout");
  EXPECT_EQ(stage(r, "secure").at("evidence").at("mtu_retry").at("tls"), "ok");
}

// The control: without the fault the same large replies come whole, and nothing is retried.
TEST_P(DoctorMtuLab, NoBlackHoleNoRetry) {
  serve("banner", {"--banner", std::string(3000, 'x')});
  auto r = doctor({"--proto", "banner", server_target()}, "1s");
  expect_verdict(r, "ok", "", "");
  EXPECT_FALSE(stage(r, "talk").at("evidence").contains("mtu_retry"));
}

INSTANTIATE_TEST_SUITE_P(Families, DoctorMtuLab, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// ---- secure: nginx in the server namespace with the lab's certificates ----

TEST_P(DoctorLab, HealthyHttpsWithTheLabCa) {
  auto nginx = lab().start_nginx_tls(lab().certs().valid.cert, lab().certs().valid.key, 8443);
  auto dns = lab().start_dnsmasq();
  auto r = doctor({"--resolver", dns_addr(), fam() == Family::v4 ? "-4" : "-6", "--ca-file",
                   lab().certs().ca.string(), "https://" + std::string(kServerName) + ":8443/"},
                  "3s");
  expect_verdict(r, "ok", "", "");
  const auto& sec = stage(r, "secure");
  EXPECT_EQ(sec.at("status"), "ok");
  EXPECT_TRUE(sec.at("evidence").at("verified").get<bool>());
  EXPECT_EQ(sec.at("evidence").at("sni"), kServerName);
  EXPECT_EQ(sec.at("evidence").at("alpn"), "http/1.1");
  EXPECT_GT(sec.at("evidence").at("days_to_expiry").get<int>(), 0);
  EXPECT_EQ(stage(r, "talk").at("evidence").at("http").at("status"), 200);
}

TEST_P(DoctorLab, ExpiredCertificate) {
  auto nginx = lab().start_nginx_tls(lab().certs().expired.cert, lab().certs().expired.key, 8443);
  auto r = doctor({"--sni", std::string(kServerName), "--ca-file", lab().certs().ca.string(),
                   "https://" + server_target(8443) + "/"}, "3s");
  expect_verdict(r, "fail", "secure", "tls.cert_expired");
  EXPECT_EQ(finding(r, "tls.cert_expired")->at("evidence").at("subject").get<std::string>().find("CN="), 0u);
  EXPECT_EQ(stage(r, "talk").at("status"), "skipped");
}

TEST_P(DoctorLab, HostnameMismatch) {
  auto nginx = lab().start_nginx_tls(lab().certs().wrong_name.cert, lab().certs().wrong_name.key, 8443);
  auto r = doctor({"--sni", std::string(kServerName), "--ca-file", lab().certs().ca.string(),
                   "https://" + server_target(8443) + "/"}, "3s");
  expect_verdict(r, "fail", "secure", "tls.cert_hostname_mismatch");
  EXPECT_EQ(finding(r, "tls.cert_hostname_mismatch")->at("evidence").at("sni"), kServerName);
}

TEST_P(DoctorLab, SelfSignedIsUntrustedAndInsecureMakesItAWarning) {
  auto nginx = lab().start_nginx_tls(lab().certs().self_signed.cert, lab().certs().self_signed.key, 8443);
  auto r = doctor({"--sni", std::string(kServerName), "--ca-file", lab().certs().ca.string(),
                   "https://" + server_target(8443) + "/"}, "3s");
  expect_verdict(r, "fail", "secure", "tls.cert_untrusted");
  auto insecure = doctor({"--insecure", "--sni", std::string(kServerName), "--ca-file", lab().certs().ca.string(),
                          "https://" + server_target(8443) + "/"}, "3s");
  EXPECT_EQ(insecure.out.at("verdict").at("status"), "warn") << insecure.out.dump(2);
  EXPECT_EQ(stage(insecure, "secure").at("status"), "warn");
  EXPECT_EQ(stage(insecure, "talk").at("evidence").at("http").at("status"), 200);
}

TEST_P(DoctorLab, PlainHttpOnTheTlsPortIsNotTls) {
  serve("http");
  auto r = doctor({"--tls", "http://" + server_target() + "/"}, "2s");
  expect_verdict(r, "fail", "secure", "tls.not_tls");
  EXPECT_EQ(finding(r, "tls.not_tls")->at("evidence").at("reply").get<std::string>().rfind("HTTP/1.1 400", 0), 0u)
      << finding(r, "tls.not_tls")->dump();
}

INSTANTIATE_TEST_SUITE_P(Families, DoctorLab, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// Not per family: the resolver that never answers is an IPv4 address.
class DoctorLabV4 : public LabTest {};

TEST_F(DoctorLabV4, SilentResolverTimesOutWithinTheDeadline) {
  const auto t0 = Clock::now();
  auto r = lab().exec(Node::client, {CONNSCOPE_BIN, "--json", "--timeout", "1s", "doctor", "--resolver",
                                     lab().silent_v4(), std::string(kServerName) + ":80"},
                      10s);
  const auto elapsed = Clock::now() - t0;
  auto j = json::parse(r.out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(j.at("verdict").at("finding"), "dns.timeout") << j.dump(2);
  EXPECT_EQ(j.at("verdict").at("stage"), "resolve");
  EXPECT_LE(j.at("duration_ms").get<double>(), 1100.0);
  EXPECT_LT(elapsed, 1500ms);
}

}  // namespace
}  // namespace connscope::lab
