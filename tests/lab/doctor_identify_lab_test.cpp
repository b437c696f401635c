// The doctor on the endings issue 12 named as classes: a server that wants a client certificate
// (TLS 1.3 says so after the handshake, TLS 1.2 during it), a port with no scheme whose service
// waits for the client (TLS, HTTP, silence), a name whose addresses do not all work, and an
// HTTP server that answers only "100 Continue". Each asserts the verdict, the finding and the
// evidence that names the cause, for both address families.
#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <thread>
#include <vector>

#include "lab/doctor_fixture.h"
#include "lab/scripted_peer.h"

namespace connscope::lab {
namespace {

constexpr std::uint16_t kTlsPort = 8443;
constexpr std::uint16_t kOddPort = 9000;  // no scheme is known for it

class DoctorIdentifyLab : public DoctorLab {
 protected:
  // `openssl s_server -www` on the server's address of this family, asking for a client
  // certificate issued by the lab CA (-Verify: a client without one is refused).
  void mutual_tls(const std::string& version_flag) {
    const auto& c = lab().certs();
    const std::string at = fam() == Family::v4 ? server_addr() + ":" + std::to_string(kTlsPort)
                                               : "[" + server_addr() + "]:" + std::to_string(kTlsPort);
    server_ = lab().spawn(Node::server, {"openssl", "s_server", "-www", "-accept", at, "-cert", c.valid.cert.string(),
                                         "-key", c.valid.key.string(), "-CAfile", c.ca.string(), "-Verify", "1",
                                         version_flag});
    ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, kTlsPort, 5s)) << server_.err();
  }
  std::vector<std::string> tls_args() {
    return {"--sni", std::string(kServerName), "--ca-file", lab().certs().ca.string(),
            "https://" + server_target(kTlsPort) + "/"};
  }
  // `connscope serve` on another port than the fixture's.
  Process serve_on(std::uint16_t port, const std::string& mode) {
    auto p = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--listen", server_target(port), "--mode", mode});
    EXPECT_TRUE(lab().wait_for_tcp_listen(Node::server, port, 3s)) << p.err();
    return p;
  }
};

TEST_P(DoctorIdentifyLab, Tls13ServerThatWantsAClientCertificateRefusesAfterTheHandshake) {
  mutual_tls("-tls1_3");
  auto r = doctor(tls_args(), "3s");
  expect_verdict(r, "fail", "secure", "tls.client_cert_required");
  const auto& sec = stage(r, "secure").at("evidence");
  EXPECT_EQ(sec.at("version"), "TLSv1.3");
  EXPECT_EQ(sec.at("alert_received").at("name"), "certificate required") << sec.dump();
  EXPECT_TRUE(sec.at("alert_received").at("after_handshake").get<bool>());
  EXPECT_TRUE(sec.at("certificate_requested").get<bool>());
  EXPECT_EQ(stage(r, "talk").at("status"), "skipped");
  const auto* f = finding(r, "tls.client_cert_required");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->at("evidence").at("client_cert"), "none");  // a token: the texts say it in words
  EXPECT_NE(f->at("fix").get<std::string>().find("--cert"), std::string::npos);
}

TEST_P(DoctorIdentifyLab, Tls12ServerThatWantsAClientCertificateRefusesTheHandshake) {
  mutual_tls("-tls1_2");
  auto r = doctor(tls_args(), "3s");
  expect_verdict(r, "fail", "secure", "tls.client_cert_required");
  const auto& sec = stage(r, "secure").at("evidence");
  EXPECT_FALSE(sec.at("alert_received").at("after_handshake").get<bool>()) << sec.dump();
  EXPECT_TRUE(sec.at("certificate_requested").get<bool>());
}

TEST_P(DoctorIdentifyLab, PresentingTheLabClientCertificateGetsThrough) {
  mutual_tls("-tls1_3");
  auto args = tls_args();
  args.insert(args.begin(), {"--cert", lab().certs().client.cert.string(), "--key", lab().certs().client.key.string()});
  auto r = doctor(args, "3s");
  expect_verdict(r, "ok", "", "");
  EXPECT_EQ(stage(r, "secure").at("evidence").at("client_certificate"), "CN=client.connscope.test");
  EXPECT_EQ(stage(r, "talk").at("evidence").at("http").at("status"), 200);
}

TEST_P(DoctorIdentifyLab, AServiceWithoutSchemeThatSpeaksTlsIsJudgedAsTls) {
  auto nginx = lab().start_nginx_tls(lab().certs().valid.cert, lab().certs().valid.key, kOddPort);
  auto r = doctor({"--sni", std::string(kServerName), "--ca-file", lab().certs().ca.string(), server_target(kOddPort)},
                  "3s");
  expect_verdict(r, "ok", "", "");
  const auto& sec = stage(r, "secure");
  EXPECT_EQ(sec.at("status"), "ok");
  EXPECT_EQ(sec.at("evidence").at("identified").at("speaks"), "tls") << sec.dump();
  EXPECT_TRUE(sec.at("evidence").at("verified").get<bool>());
  EXPECT_EQ(stage(r, "talk").at("evidence").at("http").at("status"), 200);
  // The human line says what it speaks and how to ask for it.
  auto text = lab().exec(Node::client, {CONNSCOPE_BIN, "--timeout", "3s", "doctor", "--sni", std::string(kServerName),
                                        "--ca-file", lab().certs().ca.string(), server_target(kOddPort)},
                         20s);
  const std::string version = sec.at("evidence").at("version");
  EXPECT_NE(text.out.find("speaks TLS (" + version + ", certificate CN=server.connscope.test): use https://" +
                          server_target(kOddPort) + "/"),
            std::string::npos)
      << text.out;
}

TEST_P(DoctorIdentifyLab, AnUntrustedTlsServiceWithoutSchemeFailsAsTlsWould) {
  auto nginx = lab().start_nginx_tls(lab().certs().self_signed.cert, lab().certs().self_signed.key, kOddPort);
  auto r = doctor({server_target(kOddPort)}, "3s");
  expect_verdict(r, "fail", "secure", "tls.cert_untrusted");
  EXPECT_EQ(stage(r, "secure").at("evidence").at("identified").at("speaks"), "tls");
}

TEST_P(DoctorIdentifyLab, AServiceWithoutSchemeThatSpeaksHttpIsJudgedAsHttp) {
  auto p = serve_on(kOddPort, "http");
  auto r = doctor({server_target(kOddPort)}, "2s");
  expect_verdict(r, "ok", "", "");
  const auto& talk = stage(r, "talk").at("evidence");
  EXPECT_EQ(talk.at("identified").at("speaks"), "http") << talk.dump();
  EXPECT_EQ(talk.at("protocol"), "http");
  EXPECT_EQ(talk.at("http").at("status"), 200);
  EXPECT_EQ(stage(r, "secure").at("status"), "skipped");
}

TEST_P(DoctorIdentifyLab, AServiceThatAnswersNothingIsSilentNotDead) {
  auto p = serve_on(kOddPort, "discard");
  auto r = doctor({server_target(kOddPort)}, "1s");
  expect_verdict(r, "warn", "talk", "app.silent");
  const auto& talk = stage(r, "talk");
  EXPECT_EQ(talk.at("evidence").at("identified").at("speaks"), "nothing");
  EXPECT_EQ(talk.at("evidence").at("identified").at("tried").size(), 3u);
  // The greeting wait and both probes fit in the one deadline.
  EXPECT_LE(talk.at("duration_ms").get<double>(), 1150.0);
  EXPECT_EQ(finding(r, "app.silent")->at("summary"),
            server_target(kOddPort) + " accepts connections but says nothing: no greeting, no answer to a TLS "
                                      "ClientHello or an HTTP request");
}

TEST_P(DoctorIdentifyLab, AServiceThatSpeaksFirstIsJudgedByItsGreeting) {
  auto p = serve_on(kOddPort, "banner");
  auto r = doctor({server_target(kOddPort)}, "2s");
  expect_verdict(r, "ok", "", "");
  EXPECT_EQ(stage(r, "talk").at("evidence").at("identified").at("speaks"), "greeting");
}

TEST_P(DoctorIdentifyLab, ANameWithAnAddressThatRefusesIsAWarningNamingIt) {
  // The name has both families; the service listens on this family only.
  serve("http");
  const std::string name = "both.connscope.test";
  auto dns = lab().start_dnsmasq({{name, lab().addr(Node::server, Family::v4)},
                                  {name, lab().addr(Node::server, Family::v6)}});
  auto r = doctor({"--resolver", dns_addr(), "http://" + name + ":8080/"}, "2s");
  expect_verdict(r, "warn", "connect", "net.some_addresses_fail");
  const auto other = fam() == Family::v4 ? Family::v6 : Family::v4;
  const auto* f = finding(r, "net.some_addresses_fail");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->at("evidence").at("address"), lab().addr(Node::server, other));
  EXPECT_EQ(f->at("evidence").at("family"), other == Family::v4 ? "IPv4" : "IPv6");
  EXPECT_EQ(f->at("evidence").at("failure_id"), "tcp.refused");
  EXPECT_EQ(stage(r, "connect").at("evidence").at("attempts").size(), 2u);
  EXPECT_EQ(stage(r, "talk").at("status"), "ok");
  // -4 / -6 still restrict the run to one family: that one works.
  auto only = doctor({"--resolver", dns_addr(), fam() == Family::v4 ? "-4" : "-6", "http://" + name + ":8080/"}, "2s");
  expect_verdict(only, "ok", "", "");
}

TEST_P(DoctorIdentifyLab, OnlyInterimResponsesAreNoFinalResponse) {
  ScriptedPeer peer(lab(), kOddPort, [](int fd, const std::stop_token& stop, std::string& request) {
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) request.assign(buf, static_cast<std::size_t>(n));
    const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
    ::send(fd, cont.data(), cont.size(), MSG_NOSIGNAL);
    while (!stop.stop_requested()) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) == 1 && ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) return;
    }
  });
  auto r = doctor({"http://" + server_target(kOddPort) + "/"}, "1s");
  expect_verdict(r, "fail", "talk", "http.no_final_response");
  const auto& talk = stage(r, "talk").at("evidence");
  EXPECT_EQ(talk.at("http_interim").at("count"), 1);
  EXPECT_EQ(talk.at("http_interim").at("first_status"), 100);
  EXPECT_LE(stage(r, "talk").at("duration_ms").get<double>(), 1100.0);
}

INSTANTIATE_TEST_SUITE_P(Families, DoctorIdentifyLab, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace connscope::lab
