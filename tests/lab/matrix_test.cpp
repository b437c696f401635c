#include "lab/matrix.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace connscope::lab::matrix {
namespace {

TEST(Matrix, HasAtLeast120CellsEachWithAnExpectationAndAUniqueName) {
  const auto all = cells();
  EXPECT_GE(all.size(), 120u);
  std::set<std::string> names;
  for (const auto& c : all) {
    EXPECT_TRUE(names.insert(c.name()).second) << "duplicate " << c.name();
    EXPECT_TRUE(c.expected.status == "ok" || c.expected.status == "warn" || c.expected.status == "fail") << c.name();
    // ok has no stage and no finding; warn and fail name both (the invariant's verdict side).
    EXPECT_EQ(c.expected.status == "ok", c.expected.stage.empty()) << c.name();
    EXPECT_EQ(c.expected.status == "ok", c.expected.finding.empty()) << c.name();
    for (char ch : c.name()) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') << c.name();
    EXPECT_GE(c.timeout.count(), 1000) << c.name();
  }
}

TEST(Matrix, CoversEveryFaultWhereFamilyAndProtocol) {
  std::set<Fault> faults;
  std::set<Where> wheres;
  std::map<std::pair<Family, Proto>, int> per_shard;
  for (const auto& c : cells()) {
    faults.insert(c.fault);
    wheres.insert(c.where);
    ++per_shard[{c.family, c.proto}];
  }
  EXPECT_EQ(faults.size(), std::size(kFaults));
  EXPECT_EQ(wheres.size(), std::size(kWheres));
  EXPECT_EQ(per_shard.size(), std::size(kFamilies) * std::size(kProtos));
}

TEST(Matrix, ServerBehavioursOnlyAtTheServerAndProtocolFaultsOnlyWhereTheyMeanSomething) {
  for (const Where w : {Where::r1, Where::r2}) {
    for (const Fault f : {Fault::none, Fault::close_after_accept, Fault::reset_after_accept, Fault::never_accept,
                          Fault::slow_first_byte, Fault::tls_no_shared_cipher, Fault::http_1xx_forever,
                          Fault::http_redirect_loop}) {
      EXPECT_FALSE(expect(f, w, Family::v4, Proto::https).has_value()) << name(f) << " at " << name(w);
    }
  }
  EXPECT_FALSE(expect(Fault::tls_client_cert_tls12, Where::server, Family::v4, Proto::http));
  EXPECT_FALSE(expect(Fault::tls_no_shared_cipher, Where::server, Family::v6, Proto::tcp));
  EXPECT_FALSE(expect(Fault::http_redirect_loop, Where::server, Family::v4, Proto::tls));
  EXPECT_FALSE(expect(Fault::http_1xx_forever, Where::server, Family::v6, Proto::tcp));
  EXPECT_FALSE(expect(Fault::delay, Where::server, Family::v4, Proto::tcp));
  // reject_icmp needs its kind, of the cell's family; nothing else takes one.
  EXPECT_FALSE(expect(Fault::reject_icmp, Where::r1, Family::v4, Proto::tcp));
  EXPECT_FALSE(expect(Fault::reject_icmp, Where::r1, Family::v4, Proto::tcp, icmp_kinds(Family::v6).front()));
  EXPECT_FALSE(expect(Fault::drop, Where::r1, Family::v4, Proto::tcp, icmp_kinds(Family::v4).front()));
}

TEST(Matrix, TheRuleNamesTheFindingPerFaultAndKind) {
  const auto kind = [](Family f, std::string_view nft) {
    for (const auto& k : icmp_kinds(f)) {
      if (k.nft == nft) return k;
    }
    ADD_FAILURE() << nft;
    return icmp_kinds(f).front();
  };
  const auto id = [](const std::optional<Expectation>& e) { return e ? e->stage + " " + e->finding : "none"; };
  using enum Fault;
  EXPECT_EQ(id(expect(drop, Where::r2, Family::v6, Proto::https)), "connect tcp.filtered");
  EXPECT_EQ(id(expect(reject_reset, Where::server, Family::v4, Proto::tcp)), "connect tcp.refused");
  EXPECT_EQ(id(expect(reject_icmp, Where::r1, Family::v4, Proto::http, kind(Family::v4, "port-unreachable"))),
            "connect tcp.rejected_icmp");
  EXPECT_EQ(id(expect(reject_icmp, Where::r1, Family::v4, Proto::http, kind(Family::v4, "prot-unreachable"))),
            "connect tcp.rejected_icmp");
  EXPECT_EQ(id(expect(reject_icmp, Where::r2, Family::v4, Proto::tls, kind(Family::v4, "host-prohibited"))),
            "connect net.admin_prohibited");
  EXPECT_EQ(id(expect(reject_icmp, Where::r2, Family::v4, Proto::tls, kind(Family::v4, "net-unreachable"))),
            "connect net.host_unreachable");
  EXPECT_EQ(id(expect(reject_icmp, Where::server, Family::v6, Proto::tcp, kind(Family::v6, "policy-fail"))),
            "connect net.admin_prohibited");
  EXPECT_EQ(id(expect(reject_icmp, Where::server, Family::v6, Proto::tcp, kind(Family::v6, "reject-route"))),
            "connect net.admin_prohibited");
  EXPECT_EQ(id(expect(reject_icmp, Where::server, Family::v6, Proto::tcp, kind(Family::v6, "addr-unreachable"))),
            "connect net.host_unreachable");
  EXPECT_EQ(id(expect(reject_icmp, Where::server, Family::v6, Proto::tcp, kind(Family::v6, "port-unreachable"))),
            "connect tcp.rejected_icmp");
  EXPECT_EQ(id(expect(reject_rate_limited, Where::r1, Family::v6, Proto::tcp)), "connect tcp.rejected_icmp");
  EXPECT_EQ(expect(loss, Where::r1, Family::v4, Proto::tcp)->status, "warn");
  EXPECT_EQ(expect(delay, Where::r2, Family::v4, Proto::https)->status, "ok");
  EXPECT_EQ(id(expect(close_after_accept, Where::server, Family::v4, Proto::http)), "talk tcp.closed_after_accept");
  EXPECT_EQ(id(expect(close_after_accept, Where::server, Family::v4, Proto::tls)), "secure tcp.closed_after_accept");
  EXPECT_EQ(id(expect(never_accept, Where::server, Family::v4, Proto::tcp)), "connect tcp.filtered");
  EXPECT_EQ(id(expect(tls_client_cert_tls13, Where::server, Family::v4, Proto::https)),
            "secure tls.client_cert_required");
  EXPECT_EQ(id(expect(http_redirect_loop, Where::server, Family::v4, Proto::http)), "talk http.redirect_loop");
}

TEST(Matrix, CellsCarryTheirRunOptions) {
  for (const auto& c : cells()) {
    EXPECT_EQ(c.follow, c.fault == Fault::http_redirect_loop) << c.name();
    EXPECT_EQ(c.repeat > 0, c.fault == Fault::loss) << c.name();
    EXPECT_EQ(c.awaits_contract, c.expected.finding == "tls.client_cert_required" ||
                                     c.expected.finding == "http.no_final_response" ||
                                     c.expected.finding == "http.redirect_loop")
        << c.name();
  }
}

TEST(Matrix, TruthIsTheExpectedFindingsClass) {
  Cell c;
  c.expected = {"fail", "connect", "tcp.rejected_icmp"};
  EXPECT_EQ(truth(c), (Judgement{"connect", "icmp_rejected"}));
  c.expected = {"ok", "", ""};
  EXPECT_EQ(truth(c), (Judgement{"", "ok"}));
  EXPECT_EQ(judge_finding("connect", "tcp.slow_handshake"), judge_finding("connect", "tcp.handshake_loss"));
  EXPECT_EQ(judge_finding("talk", "http.too_many_redirects"), (Judgement{"talk", "redirect_loop"}));
}

// Recorded outputs of nmap 7.93 in the lab.
TEST(Matrix, NmapPortLines) {
  EXPECT_EQ(judge_nmap("PORT     STATE SERVICE    REASON\n8080/tcp open  http-proxy syn-ack\n"), (Judgement{"", "ok"}));
  EXPECT_EQ(judge_nmap("7000/tcp closed afs3-fileserver conn-refused\n"), (Judgement{"connect", "refused"}));
  EXPECT_EQ(judge_nmap("443/tcp filtered https no-response\n"), (Judgement{"connect", "timeout"}));
  EXPECT_EQ(judge_nmap("443/tcp filtered https host-unreach\n"), (Judgement{"connect", "unreachable"}));
  EXPECT_EQ(judge_nmap("443/tcp filtered https admin-prohibited\n"), (Judgement{"connect", "prohibited"}));
  EXPECT_EQ(judge_nmap("Note: Host seems down.\n"), (Judgement{"connect", "no_answer"}));
}

TEST(Matrix, CurlExitCodesAndMessages) {
  EXPECT_FALSE(judge_curl(Proto::tcp, 7, "000", "curl: (7) Failed to connect"));
  EXPECT_EQ(*judge_curl(Proto::http, 0, "200", ""), (Judgement{"", "ok"}));
  EXPECT_EQ(*judge_curl(Proto::http, 0, "503", ""), (Judgement{"talk", "http_5xx"}));
  EXPECT_EQ(*judge_curl(Proto::http, 7, "000",
                        "curl: (7) Failed to connect to 198.18.3.2 port 8080 after 1 ms: Couldn't connect to "
                        "server\n"),
            (Judgement{"connect", "other"}));
  EXPECT_EQ(*judge_curl(Proto::http, 7, "000",
                        "*   Trying 198.18.3.2:8080...\n* connect to 198.18.3.2 port 8080 failed: Connection refused\n"
                        "* Failed to connect to 198.18.3.2 port 8080 after 0 ms: Couldn't connect to server\n"
                        "curl: (7) Failed to connect to 198.18.3.2 port 8080 after 0 ms: Couldn't connect to server\n"),
            (Judgement{"connect", "refused"}));
  // A verbose TLS line with "alert" in it does not decide: only the final line and connect lines.
  EXPECT_EQ(*judge_curl(Proto::https, 56, "000",
                        "* TLSv1.3 (OUT), TLS alert, close notify (256):\ncurl: (56) Recv failure: Connection reset by peer\n"),
            (Judgement{"talk", "reset"}));
  EXPECT_EQ(*judge_curl(Proto::http, 7, "000", "curl: (7) Failed to connect to x port 1: No route to host"),
            (Judgement{"connect", "unreachable"}));
  EXPECT_EQ(*judge_curl(Proto::https, 28, "000", "curl: (28) Connection timed out after 1001 milliseconds"),
            (Judgement{"connect", "timeout"}));
  EXPECT_EQ(*judge_curl(Proto::http, 28, "000",
                        "curl: (28) Operation timed out after 1000 milliseconds with 0 bytes received"),
            (Judgement{"talk", "timeout"}));
  EXPECT_EQ(*judge_curl(Proto::http, 52, "000", "curl: (52) Empty reply from server"), (Judgement{"talk", "closed"}));
  EXPECT_EQ(*judge_curl(Proto::http, 56, "000", "curl: (56) Recv failure: Connection reset by peer"),
            (Judgement{"talk", "reset"}));
  EXPECT_EQ(*judge_curl(Proto::https, 35, "000", "curl: (35) OpenSSL SSL_connect: Connection reset by peer in "
                                                 "connection to 198.18.3.2:9000"),
            (Judgement{"secure", "reset"}));
  EXPECT_EQ(*judge_curl(Proto::https, 35, "000",
                        "curl: (35) error:0A000410:SSL routines::sslv3 alert handshake failure"),
            (Judgement{"secure", "tls_alert"}));
  EXPECT_EQ(*judge_curl(Proto::https, 56, "000",
                        "curl: (56) OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate "
                        "required, errno 0"),
            (Judgement{"secure", "client_cert"}));
  EXPECT_EQ(*judge_curl(Proto::http, 47, "302", "curl: (47) Maximum (10) redirects followed"),
            (Judgement{"talk", "redirect_loop"}));
}

TEST(Matrix, BlackboxDebugPages) {
  const std::string ok = "Logs for the probe:\n... msg=\"Probe succeeded\"\n\nMetrics that would have been returned:\n"
                         "# TYPE probe_success gauge\nprobe_success 1\n";
  EXPECT_EQ(judge_blackbox(Proto::http, ok), (Judgement{"", "ok"}));
  const std::string refused =
      "ts=x caller=main.go:181 module=http_1s level=error msg=\"Error for HTTP request\" err=\"Get "
      "\\\"http://198.18.3.2:8080/\\\": dial tcp 198.18.3.2:8080: connect: connection refused\"\n"
      "probe_success 0\n";
  EXPECT_EQ(judge_blackbox(Proto::http, refused), (Judgement{"connect", "refused"}));
  const std::string dial_timeout =
      "level=error msg=\"Error dialing TCP\" err=\"dial tcp 198.18.3.2:7000: i/o timeout\"\nprobe_success 0\n";
  EXPECT_EQ(judge_blackbox(Proto::tcp, dial_timeout), (Judgement{"connect", "timeout"}));
  const std::string alert =
      "level=error msg=\"TLS Handshake (client) failed\" err=\"remote error: tls: handshake failure\"\n"
      "probe_success 0\n";
  EXPECT_EQ(judge_blackbox(Proto::tls, alert), (Judgement{"secure", "tls_alert"}));
  const std::string loop = "level=error msg=\"Error for HTTP request\" err=\"Get \\\"http://x/\\\": stopped after "
                           "10 redirects\"\nprobe_success 0\n";
  EXPECT_EQ(judge_blackbox(Proto::http, loop), (Judgement{"talk", "redirect_loop"}));
  const std::string eof = "level=error msg=\"Error for HTTP request\" err=\"Get \\\"http://x/\\\": EOF\"\n"
                          "probe_success 0\n";
  EXPECT_EQ(judge_blackbox(Proto::http, eof), (Judgement{"talk", "closed"}));
  // The http prober's dial error names the connect even when its timings line has a connect time.
  const std::string https_dial =
      "msg=\"Error for HTTP request\" err=\"Get \\\"https://198.18.3.2:8443/\\\": dial tcp 198.18.3.2:8443: i/o timeout\"\n"
      "msg=\"Response timings for roundtrip\" roundtrip=0 connectDone=2026-12-02T17:00:00Z tlsStart=0001-01-01T00:00:00Z\n"
      "probe_success 0\n";
  EXPECT_EQ(judge_blackbox(Proto::https, https_dial), (Judgement{"connect", "timeout"}));
  const std::string no_follow = "msg=\"Not following redirect\"\nmsg=\"Invalid HTTP response status code, wanted 2xx\" "
                                "status_code=302\nprobe_http_redirects 11\nprobe_success 0\n";
  EXPECT_EQ(judge_blackbox(Proto::http, no_follow), (Judgement{"talk", "redirect_loop"}));
  // An HTTPS handshake the server closed: connected, TLS started, no usable connection.
  EXPECT_EQ(judge_blackbox(Proto::https,
                           "msg=\"Error for HTTP request\" err=\"Get \\\"https://198.18.3.2:9000/\\\": EOF\"\n"
                           "msg=\"Response timings for roundtrip\" roundtrip=0 connectDone=2026-12-02T17:18:24.769009787Z "
                           "gotConn=0001-01-01T00:00:00Z responseStart=0001-01-01T00:00:00Z "
                           "tlsStart=2026-12-02T17:18:24.769027063Z tlsDone=2026-12-02T17:18:24.769100000Z\n"
                           "probe_success 0\n"),
            (Judgement{"secure", "closed"}));
  EXPECT_EQ(judge_blackbox(Proto::http, "err=\"Get \\\"http://[2001:db8:3::2]:9000/\\\": http: server closed idle "
                                        "connection\"\nmsg=\"Response timings for roundtrip\" connectDone=2026-12-02T17:00:00Z "
                                        "gotConn=2026-12-02T17:00:00Z tlsStart=0001-01-01T00:00:00Z\nprobe_success 0\n"),
            (Judgement{"talk", "closed"}));
  // The tls module's dial includes the handshake: EOF or a reset on read there is the handshake's.
  EXPECT_EQ(judge_blackbox(Proto::tls, "msg=\"Error dialing TCP\" err=EOF\nprobe_success 0\n"),
            (Judgement{"secure", "closed"}));
  EXPECT_EQ(judge_blackbox(Proto::tls, "msg=\"Error dialing TCP\" err=\"read tcp4 198.18.1.2:50860->198.18.3.2:9000: "
                                       "read: connection reset by peer\"\nprobe_success 0\n"),
            (Judgement{"secure", "reset"}));
  EXPECT_EQ(judge_blackbox(Proto::tcp, "msg=\"Error dialing TCP\" err=\"dial tcp4 198.18.3.2:9000: connect: connection "
                                       "reset by peer\"\nprobe_success 0\n"),
            (Judgement{"connect", "reset"}));
}

}  // namespace
}  // namespace connscope::lab::matrix
