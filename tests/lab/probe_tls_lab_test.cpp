// The secure stage in the lab: real TLS servers in the server namespace (nginx with the lab's
// certificates, `openssl s_server` for what nginx cannot be made to do, `connscope serve` and a
// scripted peer for servers that do not speak TLS at all); the handshake runs from the client
// namespace, two routers away, over a TCP socket connected with plain sockets, in both
// families. Every verdict is exact, with its evidence and its timing.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include "core/endpoint.h"
#include "lab/lab.h"
#include "lab/scripted_peer.h"
#include "probe/tls_probe.h"
#include "sys/unique_fd.h"

namespace connscope::lab {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using probe::TlsContext;
using probe::TlsOptions;
using probe::TlsOutcome;
using probe::TlsResult;
using sys::UniqueFd;
using Clock = std::chrono::steady_clock;
using namespace std::chrono;

constexpr Family kFamilies[] = {Family::v4, Family::v6};
constexpr std::uint16_t kNginxPort = 443;
constexpr std::uint16_t kOtherPort = 8443;   // a second nginx, openssl s_server, connscope serve
constexpr std::uint16_t kScriptPort = 9443;  // ScriptedPeer
// The lab's leaf certificates (lab.sh certs): valid until this day, 00:00:00 UTC.
const sys_days kValidUntil = sys_days{2049y / 12 / 31};

int af(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }
double ms(Clock::duration d) { return duration<double, std::milli>(d).count(); }

std::string describe(const TlsResult& r) {
  std::string s = std::string(probe::outcome_name(r.outcome)) + " " + r.version + " verify " +
                  std::to_string(r.verify_code) + " (" + r.verify_error + ")";
  if (r.alert_received) s += ", alert in " + std::to_string(r.alert_received->description);
  if (r.alert_sent) s += ", alert out " + std::to_string(r.alert_sent->description);
  if (r.error) s += ", error " + r.error->message();
  if (!r.first_bytes.empty()) s += ", first bytes " + probe::summarize(r.peer_reply);
  return s;
}

// --- certificates for the chain and OCSP scenarios, made here with OpenSSL ---

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct Issued {
  std::unique_ptr<X509, X509Free> cert;
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
};

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) throw std::runtime_error("extension " + value);
  X509_EXTENSION_free(ext);
}

// Signed by `issuer`, or self-signed when it is null. A CA when `san` is empty.
Issued issue(const std::string& cn, const std::string& san, long serial, const std::string& aia,
             const Issued* issuer) {
  Issued out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* c = out.cert.get();
  const bool ca = san.empty();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -86400);
  X509_gmtime_adj(X509_getm_notAfter(c), 30L * 86400);
  X509_set_pubkey(c, out.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, c, nullptr, nullptr, 0);
  add_ext(c, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(c, &ctx, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(c, &ctx, NID_subject_key_identifier, "hash");
  if (issuer) add_ext(c, &ctx, NID_authority_key_identifier, "keyid:always");
  if (!ca) add_ext(c, &ctx, NID_ext_key_usage, "serverAuth");
  if (!ca) add_ext(c, &ctx, NID_subject_alt_name, san);
  if (!aia.empty()) add_ext(c, &ctx, NID_info_access, "caIssuers;URI:" + aia);
  if (X509_sign(c, issuer ? issuer->key.get() : out.key.get(), EVP_sha256()) <= 0) {
    throw std::runtime_error("X509_sign");
  }
  return out;
}

void write_pem(const std::filesystem::path& path, const std::vector<const Issued*>& certs) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("open " + path.string());
  for (const Issued* c : certs) PEM_write_X509(f, c->cert.get());
  std::fclose(f);
}

void write_key(const std::filesystem::path& path, const Issued& c) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("open " + path.string());
  PEM_write_PrivateKey(f, c.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// A DER OCSP response, signed by `ca`, saying `cert` is good (this update 2026-01-01).
void write_ocsp_good(const std::filesystem::path& path, const Issued& ca, const Issued& cert) {
  OCSP_BASICRESP* basic = OCSP_BASICRESP_new();
  OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), cert.cert.get(), ca.cert.get());
  ASN1_TIME* this_update = ASN1_TIME_set(nullptr, 1767225600);
  ASN1_TIME* next_update = ASN1_TIME_set(nullptr, 1767830400);
  OCSP_basic_add1_status(basic, id, V_OCSP_CERTSTATUS_GOOD, 0, nullptr, this_update, next_update);
  OCSP_basic_sign(basic, ca.cert.get(), ca.key.get(), EVP_sha256(), nullptr, 0);
  OCSP_RESPONSE* resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_RESPONSE(resp, &der);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(der), len);
  OPENSSL_free(der);
  OCSP_RESPONSE_free(resp);
  OCSP_BASICRESP_free(basic);
  OCSP_CERTID_free(id);
  ASN1_TIME_free(this_update);
  ASN1_TIME_free(next_update);
}

// --- a scripted peer: not TLS at all ---

// A peer that reads what the client sends first (the ClientHello), answers with `reply`, then
// waits for the client to close (5 s at most).
ScriptedPeer::Script answer_with(std::string reply) {
  return [reply = std::move(reply)](int fd, const std::stop_token& stop, std::string&) {
    char buf[4096];
    pollfd c{fd, POLLIN, 0};
    if (::poll(&c, 1, 2000) == 1 && ::recv(fd, buf, sizeof buf, 0) > 0) {
      ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    const auto until = Clock::now() + 5s;
    while (!stop.stop_requested() && Clock::now() < until) {
      if (::poll(&c, 1, 50) == 1 && ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) break;
    }
  };
}

class TlsLab : public LabTest {
 protected:
  std::string server(Family f) { return lab().addr(Node::server, f); }

  static TlsContext context(const std::optional<std::string>& ca_file) {
    auto c = probe::make_tls_context(ca_file);
    if (!c) throw std::runtime_error(c.error().message());
    return *c;
  }
  TlsContext lab_ca() { return context(lab().certs().ca.string()); }

  // What the doctor passes for https://server.connscope.test.
  static TlsOptions named(milliseconds timeout = 5s) {
    TlsOptions o;
    o.sni = std::string(kServerName);
    o.verify_name = std::string(kServerName);
    o.alpn = {"h2", "http/1.1"};
    o.timeout = timeout;
    return o;
  }
  // What it passes for https://198.18.3.2 or https://[2001:db8:3::2]: no SNI, IP identity.
  TlsOptions by_address(Family f) {
    TlsOptions o;
    o.verify_name = server(f);
    o.alpn = {"h2", "http/1.1"};
    return o;
  }

  enum class Before { nothing, peer_fin, peer_rst };

  struct Run {
    TlsResult result;  // its stream already used and destroyed
    std::string reply;  // the first line of the answer to GET / over the stream, when asked
    Clock::duration took{};
    system_clock::time_point wall_before, wall_after;
  };

  // Connects from the client namespace (plain sockets), optionally waits for the peer's FIN or
  // RST, then runs the stage on an io_context of this thread; with `get` it sends GET / over
  // the secured stream and reads the status line.
  Run handshake(Family f, std::uint16_t port, TlsOptions o, TlsContext ctx, bool get = false,
                Before before = Before::nothing) {
    UniqueFd fd = lab().in_ns(Node::client, [&]() -> UniqueFd {
      sockaddr_storage ss{};
      const socklen_t len = Endpoint{af(f), server(f), port}.to_sockaddr(ss);
      UniqueFd s(::socket(af(f), SOCK_STREAM | SOCK_CLOEXEC, 0));
      timeval tv{3, 0};
      ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return UniqueFd();
      return s;
    });
    if (!fd) throw std::runtime_error("connect " + server(f) + ": " + std::strerror(errno));
    if (before != Before::nothing) {
      pollfd p{fd.get(), POLLIN, 0};
      EXPECT_EQ(::poll(&p, 1, 3000), 1) << "the peer did not close";
      if (before == Before::peer_rst) {
        EXPECT_NE(p.revents & (POLLERR | POLLHUP), 0);
      }
    }
    asio::io_context io;
    tcp::socket s(io);
    s.assign(f == Family::v4 ? tcp::v4() : tcp::v6(), fd.release());
    Run run;
    run.wall_before = system_clock::now();
    const auto start = Clock::now();
    auto future = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          run.result = co_await probe::secure(std::move(s), std::move(ctx), std::move(o));
          run.took = Clock::now() - start;
          run.wall_after = system_clock::now();
          if (get && run.result.stream) run.reply = co_await status_line(*run.result.stream);
          run.result.stream.reset();
        },
        asio::use_future);
    io.run();
    future.get();
    return run;
  }

  static asio::awaitable<std::string> status_line(probe::TlsStream& stream) {
    using namespace asio::experimental::awaitable_operators;
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    const std::string req = "GET / HTTP/1.1\r\nHost: " + std::string(kServerName) +
                            "\r\nConnection: close\r\n\r\n";
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(req), tuple);
    if (wec) co_return "write: " + wec.message();
    std::string buf;
    asio::steady_timer guard(co_await asio::this_coro::executor, 3s);
    auto got = co_await (asio::async_read_until(stream, asio::dynamic_buffer(buf), "\r\n", tuple) ||
                         guard.async_wait(tuple));
    if (got.index() != 0) co_return "no reply within 3 s";
    co_return buf.substr(0, buf.find("\r\n"));
  }

  Process nginx(const CertKey& ck, std::uint16_t port = kNginxPort) {
    return lab().start_nginx_tls(ck.cert, ck.key, port);
  }

  // openssl s_server -www on both server addresses (its default "*" binds v6 only here), kOtherPort.
  std::vector<Process> s_server(const std::filesystem::path& cert, const std::filesystem::path& key,
                                const std::vector<std::string>& extra) {
    std::vector<Process> out;
    for (const Family f : kFamilies) {
      const std::string at = f == Family::v4 ? server(f) + ":" + std::to_string(kOtherPort)
                                             : "[" + server(f) + "]:" + std::to_string(kOtherPort);
      std::vector<std::string> argv{"openssl", "s_server", "-www", "-accept", at,
                                    "-cert", cert.string(), "-key", key.string()};
      argv.insert(argv.end(), extra.begin(), extra.end());
      out.push_back(lab().spawn(Node::server, argv));
    }
    if (!lab().wait_for_tcp_listen(Node::server, kOtherPort, 5s)) {
      throw std::runtime_error("s_server did not listen: " + out.front().err() + out.back().err());
    }
    // wait_for_tcp_listen sees the first listener; give the second its moment.
    std::this_thread::sleep_for(200ms);
    return out;
  }

  Process serve(const std::vector<std::string>& args) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "serve",
                                  "--listen", Endpoint{AF_INET, server(Family::v4), kOtherPort}.to_string(),
                                  "--listen", Endpoint{AF_INET6, server(Family::v6), kOtherPort}.to_string()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p = lab().spawn(Node::server, argv);
    if (!lab().wait_for_tcp_listen(Node::server, kOtherPort, 3s)) {
      throw std::runtime_error("serve did not listen: " + p.err());
    }
    return p;
  }
};

std::int64_t days_left(sys_days until, system_clock::time_point at) {
  return probe::days_until(until, time_point_cast<seconds>(at));
}

// The leaf of the lab's valid certificate, as presented.
void expect_lab_leaf(const probe::CertInfo& c, const std::string& cn, const std::string& issuer) {
  EXPECT_EQ(c.subject, "CN=" + cn);
  EXPECT_EQ(c.issuer, issuer);
  EXPECT_EQ(c.key, "EC P-256");
  EXPECT_EQ(c.signature, "ecdsa-with-SHA256");
  EXPECT_FALSE(c.ca);
  EXPECT_EQ(c.ca_issuers, "");
}

const std::vector<std::string> kLabSans = {"DNS:server.connscope.test", "IP:198.18.3.2",
                                           "IP:2001:db8:3::2"};

// --- success ---

TEST_F(TlsLab, ValidCertificateWithTheLabCaIsOkAndTheStreamCarriesHttp) {
  const Process p = nginx(lab().certs().valid);
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run run = handshake(f, kNginxPort, named(), lab_ca(), /*get=*/true);
    const TlsResult& r = run.result;
    ASSERT_EQ(r.outcome, TlsOutcome::ok) << describe(r);
    EXPECT_TRUE(r.handshake_complete);
    // nginx 1.22's default ssl_protocols stop at TLS 1.2 (TLS 1.3: StapledOcspResponseIsRead).
    EXPECT_EQ(r.version, "TLSv1.2");
    EXPECT_EQ(r.version_number, TLS1_2_VERSION);
    EXPECT_EQ(r.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
    EXPECT_EQ(r.alpn, "http/1.1");  // nginx here has no http2: it picks from our h2, http/1.1
    EXPECT_EQ(r.alpn_offered, (std::vector<std::string>{"h2", "http/1.1"}));
    EXPECT_EQ(r.sni, kServerName);
    EXPECT_EQ(r.verify_name, kServerName);
    EXPECT_EQ(r.ocsp.status, probe::OcspStatus::none);
    EXPECT_EQ(r.verify_code, X509_V_OK);
    EXPECT_EQ(r.verify_error, "ok");
    EXPECT_EQ(r.verification, TlsOutcome::ok);
    EXPECT_TRUE(r.verified);
    EXPECT_EQ(r.trust_anchor, "CN=connscope lab CA");
    EXPECT_FALSE(r.alert_received.has_value());
    EXPECT_FALSE(r.alert_sent.has_value());
    ASSERT_EQ(r.chain.size(), 1u);
    expect_lab_leaf(r.chain[0], "server.connscope.test", "CN=connscope lab CA");
    EXPECT_EQ(r.chain[0].not_before, "2025-01-01T00:00:00Z");
    EXPECT_EQ(r.chain[0].not_after, "2049-12-31T00:00:00Z");
    EXPECT_EQ(r.chain[0].san, kLabSans);
    EXPECT_FALSE(r.chain[0].self_issued);
    ASSERT_TRUE(r.days_to_expiry.has_value());
    EXPECT_GE(*r.days_to_expiry, days_left(kValidUntil, run.wall_after));
    EXPECT_LE(*r.days_to_expiry, days_left(kValidUntil, run.wall_before));
    EXPECT_GT(*r.days_to_expiry, 8000);
    EXPECT_FALSE(r.expiring_soon);
    EXPECT_EQ(r.first_bytes, "");
    EXPECT_EQ(r.peer_reply.kind, probe::ReplyKind::none);
    EXPECT_FALSE(r.error.has_value());
    EXPECT_EQ(probe::tls_status(r), probe::StageStatus::ok);
    EXPECT_TRUE(probe::tls_finding_ids(r).empty());
    EXPECT_EQ(run.reply, "HTTP/1.1 200 OK");
    EXPECT_GT(r.elapsed, Clock::duration::zero());
    EXPECT_LT(r.elapsed, 2s);
    std::cout << "[ time ] " << to_string(f) << " TLS 1.2 handshake to nginx: " << ms(r.elapsed)
              << " ms\n";
  }
}

TEST_F(TlsLab, IpLiteralIsVerifiedAgainstTheIpSansWithoutSni) {
  const Process valid = nginx(lab().certs().valid);
  const Process wrong = nginx(lab().certs().wrong_name, kOtherPort);
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run ok = handshake(f, kNginxPort, by_address(f), lab_ca());
    EXPECT_EQ(ok.result.outcome, TlsOutcome::ok) << describe(ok.result);
    EXPECT_EQ(ok.result.sni, "");
    EXPECT_EQ(ok.result.verify_name, server(f));
    EXPECT_TRUE(ok.result.verified);

    // other.connscope.test has no IP SANs.
    const Run bad = handshake(f, kOtherPort, by_address(f), lab_ca());
    EXPECT_EQ(bad.result.outcome, TlsOutcome::hostname_mismatch) << describe(bad.result);
    EXPECT_EQ(bad.result.verify_code, X509_V_ERR_IP_ADDRESS_MISMATCH);
    EXPECT_EQ(bad.result.verify_error, "IP address mismatch");
    ASSERT_EQ(bad.result.chain.size(), 1u);
    EXPECT_EQ(bad.result.chain[0].san, (std::vector<std::string>{"DNS:other.connscope.test"}));
  }
}

// --- certificate failures ---

struct CertCase {
  const char* what;
  CertKey LabCerts::*cert;
  TlsOutcome outcome;
  long code;
  const char* error;
  int alert_sent;  // what OpenSSL tells the server (ssl_x509err2alert)
};

TEST_F(TlsLab, CertificateFailuresAreClassifiedWithTheirEvidence) {
  const CertCase cases[] = {
      {"expired", &LabCerts::expired, TlsOutcome::cert_expired, X509_V_ERR_CERT_HAS_EXPIRED,
       "certificate has expired", SSL_AD_CERTIFICATE_EXPIRED},
      {"not yet valid", &LabCerts::not_yet_valid, TlsOutcome::cert_not_yet_valid,
       X509_V_ERR_CERT_NOT_YET_VALID, "certificate is not yet valid", SSL_AD_BAD_CERTIFICATE},
      {"wrong name", &LabCerts::wrong_name, TlsOutcome::hostname_mismatch,
       X509_V_ERR_HOSTNAME_MISMATCH, "hostname mismatch", SSL_AD_BAD_CERTIFICATE},
      {"self-signed", &LabCerts::self_signed, TlsOutcome::untrusted,
       X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "self-signed certificate", SSL_AD_UNKNOWN_CA},
  };
  const LabCerts& certs = lab().certs();
  std::uint16_t port = 4430;
  std::vector<Process> servers;
  for (const auto& c : cases) servers.push_back(nginx(certs.*(c.cert), port++));
  for (const Family f : kFamilies) {
    port = 4430;
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(to_string(f)) + " " + c.what);
      const Run run = handshake(f, port++, named(), lab_ca());
      const TlsResult& r = run.result;
      EXPECT_EQ(r.outcome, c.outcome) << describe(r);
      EXPECT_FALSE(r.handshake_complete);
      EXPECT_EQ(r.stream, nullptr);
      EXPECT_EQ(r.verify_code, c.code);
      EXPECT_EQ(r.verify_error, c.error);
      EXPECT_EQ(r.verification, c.outcome);
      EXPECT_FALSE(r.verified);
      EXPECT_EQ(r.version, "TLSv1.2");  // the ServerHello came before the certificate
      ASSERT_TRUE(r.alert_sent.has_value());
      EXPECT_EQ(r.alert_sent->level, 2);
      EXPECT_EQ(r.alert_sent->description, c.alert_sent);
      EXPECT_FALSE(r.alert_received.has_value());
      ASSERT_TRUE(r.error.has_value());
      EXPECT_EQ(r.error->detail, "certificate verify failed");
      ASSERT_EQ(r.chain.size(), 1u);
      EXPECT_EQ(probe::tls_finding_ids(r),
                (std::vector<std::string_view>{probe::finding_id(c.outcome)}));
      EXPECT_EQ(probe::tls_status(r), probe::StageStatus::fail);
      // The peer's first bytes were TLS: kept as evidence of what came.
      EXPECT_EQ(r.peer_reply.kind, probe::ReplyKind::tls_record);
      EXPECT_EQ(r.first_bytes.substr(0, 3), std::string("\x16\x03\x03", 3));
    }
  }
  // The evidence of each: dates, names, days (negative when expired).
  const Run expired = handshake(Family::v4, 4430, named(), lab_ca());
  EXPECT_EQ(expired.result.chain[0].not_after, "2021-01-01T00:00:00Z");
  ASSERT_TRUE(expired.result.days_to_expiry.has_value());
  EXPECT_GE(*expired.result.days_to_expiry, days_left(sys_days{2021y / 1 / 1}, expired.wall_after));
  EXPECT_LE(*expired.result.days_to_expiry, days_left(sys_days{2021y / 1 / 1}, expired.wall_before));
  EXPECT_LT(*expired.result.days_to_expiry, -1800);
  EXPECT_FALSE(expired.result.expiring_soon);
  const Run notyet = handshake(Family::v4, 4431, named(), lab_ca());
  EXPECT_EQ(notyet.result.chain[0].not_before, "2040-01-01T00:00:00Z");
  const Run wrong = handshake(Family::v6, 4432, named(), lab_ca());
  EXPECT_EQ(wrong.result.chain[0].subject, "CN=other.connscope.test");
  const Run self = handshake(Family::v6, 4433, named(), lab_ca());
  EXPECT_TRUE(self.result.chain[0].self_issued);
  EXPECT_EQ(self.result.chain[0].issuer, "CN=server.connscope.test");
}

TEST_F(TlsLab, InsecureCompletesAndKeepsTheVerifyErrorAsEvidence) {
  const Process self = nginx(lab().certs().self_signed);
  const Process expired = nginx(lab().certs().expired, kOtherPort);
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    TlsOptions o = named();
    o.insecure = true;
    const Run run = handshake(f, kNginxPort, o, lab_ca(), /*get=*/true);
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::ok) << describe(r);
    EXPECT_TRUE(r.handshake_complete);
    EXPECT_TRUE(r.insecure);
    EXPECT_EQ(r.verify_code, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    EXPECT_EQ(r.verify_error, "self-signed certificate");
    EXPECT_EQ(r.verification, TlsOutcome::untrusted);
    EXPECT_FALSE(r.verified);
    EXPECT_EQ(r.trust_anchor, "");
    EXPECT_FALSE(r.alert_sent.has_value());
    EXPECT_FALSE(r.error.has_value());
    EXPECT_EQ(probe::tls_status(r), probe::StageStatus::warn);
    EXPECT_TRUE(probe::tls_finding_ids(r).empty());
    EXPECT_EQ(run.reply, "HTTP/1.1 200 OK");

    const Run old = handshake(f, kOtherPort, o, lab_ca(), /*get=*/true);
    EXPECT_EQ(old.result.outcome, TlsOutcome::ok) << describe(old.result);
    EXPECT_EQ(old.result.verify_code, X509_V_ERR_CERT_HAS_EXPIRED);
    EXPECT_EQ(old.result.verification, TlsOutcome::cert_expired);
    EXPECT_LT(*old.result.days_to_expiry, 0);
    EXPECT_EQ(old.reply, "HTTP/1.1 200 OK");
  }
}

TEST_F(TlsLab, WithoutTheLabCaThePrivateCaIsUntrusted) {
  const Process p = nginx(lab().certs().valid);
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run run = handshake(f, kNginxPort, named(), context(std::nullopt));
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::untrusted) << describe(r);
    EXPECT_EQ(r.verify_code, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    EXPECT_EQ(r.chain_facts.presented, 1u);
    EXPECT_FALSE(r.chain_facts.leaf_issuer_presented);
    EXPECT_FALSE(r.chain_facts.leaf_has_ca_issuers);
    ASSERT_TRUE(r.alert_sent.has_value());
    EXPECT_EQ(r.alert_sent->description, SSL_AD_UNKNOWN_CA);
    EXPECT_EQ(r.alert_sent->name, "unknown CA");
  }
}

TEST_F(TlsLab, MissingIntermediateIsChainIncompleteAndTheFullChainVerifies) {
  const auto dir = lab().dir() / "chain";
  std::filesystem::create_directories(dir);
  const Issued root = issue("Lab Test Root", "", 1, "", nullptr);
  const Issued mid = issue("Lab Test Intermediate", "", 2, "", &root);
  const Issued leaf = issue("server.connscope.test", "DNS:server.connscope.test", 3,
                            "http://ca.connscope.test/intermediate.der", &mid);
  write_pem(dir / "root.pem", {&root});
  write_pem(dir / "leaf.pem", {&leaf});
  write_pem(dir / "full.pem", {&leaf, &mid});
  write_key(dir / "leaf.key", leaf);
  const Process alone = lab().start_nginx_tls(dir / "leaf.pem", dir / "leaf.key", kNginxPort);
  const Process full = lab().start_nginx_tls(dir / "full.pem", dir / "leaf.key", kOtherPort);
  const TlsContext trust_root = context((dir / "root.pem").string());
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run a = handshake(f, kNginxPort, named(), trust_root);
    EXPECT_EQ(a.result.outcome, TlsOutcome::chain_incomplete) << describe(a.result);
    EXPECT_EQ(a.result.verify_code, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    ASSERT_EQ(a.result.chain.size(), 1u);
    EXPECT_EQ(a.result.chain[0].issuer, "CN=Lab Test Intermediate");
    EXPECT_EQ(a.result.chain[0].ca_issuers, "http://ca.connscope.test/intermediate.der");
    EXPECT_EQ(probe::tls_finding_ids(a.result), (std::vector<std::string_view>{"tls.chain_incomplete"}));

    const Run b = handshake(f, kOtherPort, named(), trust_root);
    EXPECT_EQ(b.result.outcome, TlsOutcome::ok) << describe(b.result);
    ASSERT_EQ(b.result.chain.size(), 2u);
    EXPECT_EQ(b.result.chain[0].subject, "CN=server.connscope.test");
    EXPECT_EQ(b.result.chain[1].subject, "CN=Lab Test Intermediate");
    EXPECT_EQ(b.result.chain[1].issuer, "CN=Lab Test Root");
    EXPECT_TRUE(b.result.chain[1].ca);
    EXPECT_TRUE(b.result.chain_facts.leaf_issuer_presented);
    EXPECT_EQ(b.result.trust_anchor, "CN=Lab Test Root");

    // The complete chain, but we trust another root: the root is unknown, nothing is missing.
    const Run c = handshake(f, kOtherPort, named(), lab_ca());
    EXPECT_EQ(c.result.outcome, TlsOutcome::untrusted) << describe(c.result);
    EXPECT_EQ(c.result.verify_code, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  }
}

TEST_F(TlsLab, StapledOcspResponseIsRead) {
  const auto dir = lab().dir() / "ocsp";
  std::filesystem::create_directories(dir);
  const Issued root = issue("Lab OCSP Root", "", 1, "", nullptr);
  const Issued leaf = issue("server.connscope.test", "DNS:server.connscope.test", 0x77, "", &root);
  write_pem(dir / "root.pem", {&root});
  write_pem(dir / "leaf.pem", {&leaf});
  write_key(dir / "leaf.key", leaf);
  write_ocsp_good(dir / "ocsp.der", root, leaf);
  const auto servers = s_server(dir / "leaf.pem", dir / "leaf.key",
                                {"-status_file", (dir / "ocsp.der").string()});
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    TlsOptions o = named();
    o.alpn.clear();
    const Run run = handshake(f, kOtherPort, o, context((dir / "root.pem").string()), true);
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::ok) << describe(r);
    EXPECT_EQ(r.version, "TLSv1.3");  // s_server's default: in TLS 1.3 the staple rides in Certificate
    EXPECT_EQ(r.version_number, TLS1_3_VERSION);
    EXPECT_EQ(r.cipher, "TLS_AES_256_GCM_SHA384");
    EXPECT_EQ(r.ocsp.status, probe::OcspStatus::good);
    EXPECT_EQ(r.ocsp.this_update, "2026-01-01T00:00:00Z");
    EXPECT_EQ(r.ocsp.next_update, "2026-01-08T00:00:00Z");
    EXPECT_EQ(r.alpn, "");  // none offered, none selected
    EXPECT_EQ(r.chain[0].serial, "77");
    EXPECT_EQ(run.reply, "HTTP/1.0 200 ok");

    // A failed verification in TLS 1.3 still knows the version (the ServerHello came first).
    const Run other_ca = handshake(f, kOtherPort, o, lab_ca());
    EXPECT_EQ(other_ca.result.outcome, TlsOutcome::untrusted) << describe(other_ca.result);
    EXPECT_EQ(other_ca.result.version, "TLSv1.3");
    EXPECT_EQ(other_ca.result.cipher, "TLS_AES_256_GCM_SHA384");
    ASSERT_TRUE(other_ca.result.alert_sent.has_value());
    EXPECT_EQ(other_ca.result.alert_sent->description, SSL_AD_UNKNOWN_CA);
  }
}

// --- protocol failures ---

TEST_F(TlsLab, Tls10And11ServersAreSeenAsOldProtocol) {
  const CertKey& valid = lab().certs().valid;
  struct Case {
    const char* flag;
    const char* version;
    int number;
  };
  for (const Case c : {Case{"-tls1", "TLSv1", TLS1_VERSION}, Case{"-tls1_1", "TLSv1.1", TLS1_1_VERSION}}) {
    auto servers = s_server(valid.cert, valid.key, {c.flag, "-cipher", "DEFAULT:@SECLEVEL=0"});
    for (const Family f : kFamilies) {
      SCOPED_TRACE(std::string(to_string(f)) + " " + c.flag);
      const Run run = handshake(f, kOtherPort, named(), lab_ca(), /*get=*/true);
      const TlsResult& r = run.result;
      EXPECT_EQ(r.outcome, TlsOutcome::old_protocol) << describe(r);
      EXPECT_TRUE(r.handshake_complete);
      EXPECT_EQ(r.version, c.version);
      EXPECT_EQ(r.version_number, c.number);
      EXPECT_EQ(r.cipher, "ECDHE-ECDSA-AES256-SHA");
      EXPECT_TRUE(r.verified);
      EXPECT_EQ(probe::tls_status(r), probe::StageStatus::warn);
      EXPECT_EQ(probe::tls_finding_ids(r), (std::vector<std::string_view>{"tls.old_protocol"}));
      EXPECT_EQ(run.reply, "HTTP/1.0 200 ok");  // usable: the talk stage can go on
    }
    for (auto& s : servers) s.stop();
    std::this_thread::sleep_for(100ms);
  }
}

TEST_F(TlsLab, ServerAlertIsNamed) {
  // TLS 1.2 and a client certificate demanded: the server ends the handshake with
  // handshake_failure when our (empty) Certificate arrives. After its CertificateRequest, that
  // alert means it wants mutual TLS.
  const CertKey& valid = lab().certs().valid;
  const auto servers = s_server(valid.cert, valid.key, {"-tls1_2", "-Verify", "1"});
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run run = handshake(f, kOtherPort, named(), lab_ca());
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::client_cert_required) << describe(r);
    EXPECT_TRUE(r.certificate_requested);
    EXPECT_EQ(r.client_certificate, "");
    ASSERT_TRUE(r.alert_received.has_value());
    EXPECT_EQ(r.alert_received->level, 2);
    EXPECT_EQ(r.alert_received->description, SSL_AD_HANDSHAKE_FAILURE);
    EXPECT_EQ(r.alert_received->name, "handshake failure");
    EXPECT_FALSE(r.alert_sent.has_value());
    EXPECT_EQ(r.version, "TLSv1.2");
    EXPECT_TRUE(r.verified == false && r.verify_code == X509_V_OK);  // the server's chain was fine
    EXPECT_EQ(r.peer_reply.kind, probe::ReplyKind::tls_record);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->detail, "sslv3 alert handshake failure");
    EXPECT_EQ(probe::tls_finding_ids(r), (std::vector<std::string_view>{"tls.client_cert_required"}));
  }
}

TEST_F(TlsLab, PlainHttpServerIsNotTlsAndSaysWhatItIs) {
  const Process p = serve({"--mode", "http"});
  const std::string expected =
      "HTTP/1.1 400 Bad Request\r\nServer: connscope-serve\r\nContent-Type: text/plain; charset=utf-8\r\n";
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run run = handshake(f, kOtherPort, named(), lab_ca());
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::not_tls) << describe(r);
    EXPECT_FALSE(r.handshake_complete);
    EXPECT_EQ(r.version, "");
    EXPECT_TRUE(r.chain.empty());
    EXPECT_GE(r.first_bytes.size(), 26u);  // at least the status line and its CRLF
    EXPECT_LE(r.first_bytes.size(), probe::kFirstBytesMax);
    EXPECT_EQ(r.first_bytes, expected.substr(0, r.first_bytes.size()));
    EXPECT_EQ(r.peer_reply.kind, probe::ReplyKind::http_response);
    EXPECT_EQ(r.peer_reply.code, 400);
    EXPECT_EQ(r.peer_reply.version, "1.1");
    EXPECT_EQ(r.peer_reply.text, "Bad Request");
    EXPECT_EQ(probe::summarize(r.peer_reply), "HTTP/1.1 400 Bad Request");
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->detail, "wrong version number");
    EXPECT_EQ(probe::tls_finding_ids(r), (std::vector<std::string_view>{"tls.not_tls"}));
    EXPECT_LT(r.elapsed, 1s);
  }
}

TEST_F(TlsLab, GarbageAfterTheClientHelloIsNotTls) {
  const std::string garbage("\x00\xff\x13\x37 not a TLS record \x01\x02\x03", 26);
  ScriptedPeer peer(lab(), kScriptPort, answer_with(garbage));
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run run = handshake(f, kScriptPort, named(2s), lab_ca());
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::not_tls) << describe(r);
    EXPECT_EQ(r.first_bytes, garbage);
    EXPECT_EQ(r.peer_reply.kind, probe::ReplyKind::binary);
    EXPECT_LT(run.took, 2s);
  }
}

TEST_F(TlsLab, SilentServerTimesOutAtTheDeadline) {
  const Process p = serve({"--mode", "never-accept"});
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run run = handshake(f, kOtherPort, named(1s), lab_ca());
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::timeout) << describe(r);
    EXPECT_GE(run.took, 1s);
    EXPECT_LE(run.took, 1100ms);
    EXPECT_GE(r.elapsed, 1s);
    EXPECT_EQ(r.first_bytes, "");
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->detail, "not done within 1000 ms");
    EXPECT_EQ(probe::tls_status(r), probe::StageStatus::fail);
    std::cout << "[ time ] " << to_string(f) << " silent server: verdict after " << ms(run.took)
              << " ms (deadline 1000)\n";
  }
}

TEST_F(TlsLab, DrippingServerTimesOutAtTheDeadline) {
  // A TLS record header announcing 16448 bytes, then one byte every 100 ms: OpenSSL alone would
  // wait for all of them.
  const Process p = serve({"--mode", "drip", "--interval", "100ms", "--banner", "\x16\x03\x03\x40\x40"});
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)));
    const Run run = handshake(f, kOtherPort, named(1s), lab_ca());
    const TlsResult& r = run.result;
    EXPECT_EQ(r.outcome, TlsOutcome::timeout) << describe(r);
    EXPECT_GE(run.took, 1s);
    EXPECT_LE(run.took, 1100ms);
    EXPECT_EQ(r.first_bytes.substr(0, 5), "\x16\x03\x03\x40\x40");
    EXPECT_GE(r.first_bytes.size(), 5u);
    EXPECT_LE(r.first_bytes.size(), 12u);
    std::cout << "[ time ] " << to_string(f) << " dripping server: verdict after " << ms(run.took)
              << " ms (deadline 1000), " << r.first_bytes.size() << " bytes came\n";
  }
}

TEST_F(TlsLab, FinAndRstBeforeTheServerHello) {
  {
    const Process p = serve({"--mode", "close-after-accept"});
    for (const Family f : kFamilies) {
      SCOPED_TRACE(std::string(to_string(f)) + " FIN");
      const Run run = handshake(f, kOtherPort, named(), lab_ca(), false, Before::peer_fin);
      EXPECT_EQ(run.result.outcome, TlsOutcome::closed_by_peer) << describe(run.result);
      EXPECT_EQ(run.result.first_bytes, "");
      ASSERT_TRUE(run.result.error.has_value());
      EXPECT_EQ(run.result.error->detail, "the peer closed the connection");
    }
  }
  std::this_thread::sleep_for(100ms);
  const Process p = serve({"--mode", "reset-after-accept"});
  for (const Family f : kFamilies) {
    SCOPED_TRACE(std::string(to_string(f)) + " RST");
    const Run run = handshake(f, kOtherPort, named(), lab_ca(), false, Before::peer_rst);
    EXPECT_EQ(run.result.outcome, TlsOutcome::reset_by_peer) << describe(run.result);
    ASSERT_TRUE(run.result.error.has_value());
    EXPECT_EQ(run.result.error->code, ECONNRESET);
  }
}

}  // namespace
}  // namespace connscope::lab
