#include "probe/tls_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <system_error>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "probe/watchdog.h"

namespace connscope::probe {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using AiaPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS,
                               Deleter<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>>;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, Deleter<OCSP_RESPONSE, OCSP_RESPONSE_free>>;
using OcspBasicPtr = std::unique_ptr<OCSP_BASICRESP, Deleter<OCSP_BASICRESP, OCSP_BASICRESP_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// OpenSSL's reason for a packed error ("wrong version number"), or its number when it has none.
std::string openssl_reason(unsigned long e) {
  if (e == 0) return "unknown OpenSSL error";
  if (const char* r = ERR_reason_error_string(e)) return r;
  return fmt::format("OpenSSL error {:#x}", e);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return {};
  // RFC 2253 with OpenSSL's escapes: bytes over 0x7f and control characters become \XX.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return bio_text(bio.get());
}

std::optional<std::chrono::sys_seconds> asn1_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                           day{static_cast<unsigned>(tm.tm_mday)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

std::string asn1_time_text(const ASN1_TIME* t) {
  const auto s = asn1_time(t);
  return s ? iso8601(*s) : std::string();
}

std::string asn1_text(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  const auto* data = ASN1_STRING_get0_data(s);
  const auto len = ASN1_STRING_length(s);
  if (data == nullptr || len <= 0) return {};
  const std::string_view raw(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len));
  return escape_preview(raw, raw.size());
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  const auto* data = ASN1_STRING_get0_data(ip);
  const int len = ASN1_STRING_length(ip);
  char buf[INET6_ADDRSTRLEN] = {};
  if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof buf) != nullptr) return buf;
  if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof buf) != nullptr) return buf;
  return fmt::format("<{} bytes>", len);
}

std::vector<std::string> san_list(X509* cert) {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_DNS) out.push_back("DNS:" + asn1_text(g->d.dNSName));
    if (g->type == GEN_IPADD) out.push_back("IP:" + ip_text(g->d.iPAddress));
    if (g->type == GEN_URI) out.push_back("URI:" + asn1_text(g->d.uniformResourceIdentifier));
    if (g->type == GEN_EMAIL) out.push_back("email:" + asn1_text(g->d.rfc822Name));
  }
  return out;
}

std::string ca_issuers_uri(X509* cert) {
  AiaPtr aia(
      static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)));
  if (!aia) return {};
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
    if (OBJ_obj2nid(ad->method) == NID_ad_ca_issuers && ad->location->type == GEN_URI) {
      return asn1_text(ad->location->d.uniformResourceIdentifier);
    }
  }
  return {};
}

std::string key_text(X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) return {};
  const int bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    std::array<char, 80> group{};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &len) == 1) {
      const char* nist = EC_curve_nid2nist(OBJ_sn2nid(group.data()));
      return fmt::format("EC {}", nist != nullptr ? nist : group.data());
    }
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return fmt::format("{} {}", type != nullptr ? type : "key", bits);
}

std::string serial_text(const ASN1_INTEGER* serial) {
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::string sha256_text(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md.data(), &n) != 1) return {};
  std::string out;
  for (unsigned int i = 0; i < n; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

bool is_ip_literal(std::string_view name, std::string* bare) {
  const std::string s(name.substr(0, name.find('%')));
  in6_addr a6{};
  in_addr a4{};
  const bool ip = inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
  if (ip && bare != nullptr) *bare = s;
  return ip;
}

// Filled by OpenSSL's callbacks while the handshake runs, on the stream's one thread.
struct Observed {
  std::string bytes;  // the first bytes OpenSSL read from the peer
  std::optional<TlsAlert> received;
  std::optional<TlsAlert> sent;
  bool server_hello = false;
};

// Records what SSL reads from its read BIO: exactly the peer's bytes, in order, before any
// parsing (OpenSSL's own error says only "wrong version number").
long on_bio(BIO* bio, int oper, const char* argp, std::size_t, int, long, int ret,
            std::size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && processed != nullptr && argp != nullptr) {
    auto* seen = reinterpret_cast<Observed*>(BIO_get_callback_arg(bio));
    const std::size_t room = kFirstBytesMax - std::min(kFirstBytesMax, seen->bytes.size());
    seen->bytes.append(argp, std::min(room, *processed));
  }
  return ret;
}

void on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*,
                void* arg) {
  auto* seen = static_cast<Observed*>(arg);
  const auto* b = static_cast<const unsigned char*>(buf);
  if (content_type == SSL3_RT_HANDSHAKE && write_p == 0 && len >= 1 && b[0] == SSL3_MT_SERVER_HELLO) {
    seen->server_hello = true;
  }
  if (content_type != SSL3_RT_ALERT || len < 2) return;
  TlsAlert alert{b[0], b[1], alert_name(b[1])};
  auto& slot = write_p != 0 ? seen->sent : seen->received;
  if (!slot) slot = std::move(alert);
}

asio::awaitable<void> run_handshake(TlsStream& stream, error_code& out, Deadline& state) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
  out = ec;
  state.finished = true;
}

HandshakeEnd end_of(const error_code& ec, const Deadline& deadline) {
  if (deadline.fired) return HandshakeEnd::deadline;
  if (!ec) return HandshakeEnd::done;
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return HandshakeEnd::eof;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted) {
    return HandshakeEnd::reset;
  }
  if (ec.category() == asio::error::get_ssl_category()) return HandshakeEnd::tls_error;
  return HandshakeEnd::system_error;
}

Error handshake_error(const error_code& ec, HandshakeEnd end, std::chrono::milliseconds timeout) {
  const std::string op = "TLS handshake";
  if (end == HandshakeEnd::deadline) {
    return Error{op, 0, fmt::format("not done within {} ms", timeout.count())};
  }
  if (end == HandshakeEnd::eof) return Error{op, 0, "the peer closed the connection"};
  if (end == HandshakeEnd::tls_error) {
    return Error{op, 0, openssl_reason(static_cast<unsigned long>(ec.value()))};
  }
  return Error{op, ec.value(), {}};
}

// Whatever the peer sent that OpenSSL had not read when it gave up: what is left in the BIO pair
// (read through the callback, which appends it), then what already waits in the socket.
void drain_first_bytes(TlsStream& stream, Observed& seen) {
  BIO* rbio = SSL_get_rbio(stream.native_handle());
  std::array<char, kFirstBytesMax> buf{};
  while (rbio != nullptr && seen.bytes.size() < kFirstBytesMax && BIO_ctrl_pending(rbio) > 0) {
    if (BIO_read(rbio, buf.data(), static_cast<int>(buf.size())) <= 0) break;
  }
  auto& sock = stream.next_layer();
  if (!sock.is_open() || seen.bytes.size() >= kFirstBytesMax) return;
  error_code ec;
  const std::size_t waiting = sock.available(ec);
  if (ec || waiting == 0) return;
  const std::size_t want = std::min(waiting, kFirstBytesMax - seen.bytes.size());
  const std::size_t n = sock.read_some(asio::buffer(buf.data(), want), ec);
  if (!ec) seen.bytes.append(buf.data(), n);
}

std::string alpn_wire(const std::vector<std::string>& protocols, bool* ok) {
  std::string wire;
  *ok = true;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) *ok = false;
    wire += static_cast<char>(p.size() & 0xff);
    wire += p;
  }
  return wire;
}

}  // namespace

// --- names ---

std::string_view outcome_name(TlsOutcome o) {
  if (o == TlsOutcome::ok) return "ok";
  if (o == TlsOutcome::not_tls) return "not_tls";
  if (o == TlsOutcome::alert) return "alert";
  if (o == TlsOutcome::cert_expired) return "cert_expired";
  if (o == TlsOutcome::cert_not_yet_valid) return "cert_not_yet_valid";
  if (o == TlsOutcome::hostname_mismatch) return "hostname_mismatch";
  if (o == TlsOutcome::untrusted) return "untrusted";
  if (o == TlsOutcome::chain_incomplete) return "chain_incomplete";
  if (o == TlsOutcome::old_protocol) return "old_protocol";
  if (o == TlsOutcome::timeout) return "timeout";
  if (o == TlsOutcome::closed_by_peer) return "closed_by_peer";
  if (o == TlsOutcome::reset_by_peer) return "reset_by_peer";
  return "other";
}

std::string_view finding_id(TlsOutcome o) {
  if (o == TlsOutcome::not_tls) return "tls.not_tls";
  if (o == TlsOutcome::alert) return "tls.alert";
  if (o == TlsOutcome::cert_expired) return "tls.cert_expired";
  if (o == TlsOutcome::cert_not_yet_valid) return "tls.cert_not_yet_valid";
  if (o == TlsOutcome::hostname_mismatch) return "tls.cert_hostname_mismatch";
  if (o == TlsOutcome::untrusted) return "tls.cert_untrusted";
  if (o == TlsOutcome::chain_incomplete) return "tls.chain_incomplete";
  if (o == TlsOutcome::old_protocol) return "tls.old_protocol";
  return "";
}

std::string_view ocsp_status_name(OcspStatus s) {
  if (s == OcspStatus::good) return "good";
  if (s == OcspStatus::revoked) return "revoked";
  if (s == OcspStatus::unknown) return "unknown";
  if (s == OcspStatus::malformed) return "malformed";
  return "none";
}

// --- pure parts ---

bool could_be_tls(std::string_view b) {
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(b[i]); };
  if (b.empty()) return true;
  if (at(0) < 20 || at(0) > 24) return false;  // change_cipher_spec .. heartbeat
  if (b.size() >= 2 && at(1) != 3) return false;
  if (b.size() >= 3 && at(2) > 4) return false;
  return true;
}

bool is_old_protocol(int version) { return version != 0 && version < TLS1_2_VERSION; }

TlsOutcome classify_verify(long code, const ChainFacts& facts) {
  if (code == X509_V_OK) return TlsOutcome::ok;
  if (code == X509_V_ERR_CERT_HAS_EXPIRED) return TlsOutcome::cert_expired;
  if (code == X509_V_ERR_CERT_NOT_YET_VALID) return TlsOutcome::cert_not_yet_valid;
  if (code == X509_V_ERR_HOSTNAME_MISMATCH || code == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return TlsOutcome::hostname_mismatch;
  }
  if (code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
      code == X509_V_ERR_CERT_UNTRUSTED || code == X509_V_ERR_CERT_REJECTED) {
    return TlsOutcome::untrusted;
  }
  if (code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
      code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
      code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
    const bool leaf_issuer_missing = !facts.leaf_issuer_presented && !facts.leaf_self_issued;
    if (leaf_issuer_missing && (facts.presented > 1 || facts.leaf_has_ca_issuers)) {
      return TlsOutcome::chain_incomplete;
    }
    return TlsOutcome::untrusted;
  }
  return TlsOutcome::other;
}

std::string alert_name(int description) {
  const std::string name = SSL_alert_desc_string_long(description & 0xff);
  if (name != "unknown") return name;
  // Alerts OpenSSL 3.0's table lacks; TLS 1.3 servers send 116 when they want a client certificate.
  if (description == 86) return "inappropriate fallback";
  if (description == 109) return "missing extension";
  if (description == 116) return "certificate required";
  return name;
}

TlsOutcome classify_alert(const TlsAlert& alert) {
  return alert.description == SSL_AD_CLOSE_NOTIFY ? TlsOutcome::closed_by_peer : TlsOutcome::alert;
}

TlsOutcome judge(const HandshakeFacts& f) {
  const bool verify_failed = f.chain_received && f.verify_code != X509_V_OK;
  if (f.end == HandshakeEnd::deadline) return TlsOutcome::timeout;
  if (f.end == HandshakeEnd::done) {
    // OpenSSL aborts a failed verification unless we are insecure; kept for safety.
    if (verify_failed && !f.insecure) return classify_verify(f.verify_code, f.chain);
    return is_old_protocol(f.version_number) ? TlsOutcome::old_protocol : TlsOutcome::ok;
  }
  if (!f.first_bytes.empty() && !could_be_tls(f.first_bytes)) return TlsOutcome::not_tls;
  if (f.alert_received) return classify_alert(*f.alert_received);
  if (verify_failed && !f.insecure) return classify_verify(f.verify_code, f.chain);
  if (f.end == HandshakeEnd::eof) return TlsOutcome::closed_by_peer;
  if (f.end == HandshakeEnd::reset) return TlsOutcome::reset_by_peer;
  return TlsOutcome::other;
}

std::int64_t days_until(std::chrono::sys_seconds not_after, std::chrono::sys_seconds now) {
  return static_cast<std::int64_t>(std::chrono::floor<std::chrono::days>(not_after - now).count());
}

std::string iso8601(std::chrono::sys_seconds t) {
  using namespace std::chrono;
  const auto day_start = floor<days>(t);
  const year_month_day ymd{day_start};
  const hh_mm_ss hms{t - day_start};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

CertInfo describe_cert(x509_st* cert) {
  CertInfo c;
  if (cert == nullptr) return c;
  c.subject = name_text(X509_get_subject_name(cert));
  c.issuer = name_text(X509_get_issuer_name(cert));
  c.serial = serial_text(X509_get0_serialNumber(cert));
  if (const auto t = asn1_time(X509_get0_notBefore(cert))) {
    c.not_before_time = *t;
    c.not_before = iso8601(*t);
  }
  if (const auto t = asn1_time(X509_get0_notAfter(cert))) {
    c.not_after_time = *t;
    c.not_after = iso8601(*t);
  }
  c.san = san_list(cert);
  c.key = key_text(cert);
  if (const char* sig = OBJ_nid2ln(X509_get_signature_nid(cert))) c.signature = sig;
  c.sha256 = sha256_text(cert);
  c.ca_issuers = ca_issuers_uri(cert);
  c.self_issued = X509_self_signed(cert, 1) == 1;
  c.ca = X509_check_ca(cert) != 0;
  ERR_clear_error();  // X509_self_signed leaves an error for a certificate that is not
  return c;
}

ChainFacts chain_facts(std::span<x509_st* const> presented) {
  ChainFacts f;
  f.presented = presented.size();
  if (presented.empty()) return f;
  x509_st* leaf = presented.front();
  // Without the signature check: a name and key-id match is what "issuer presented" means for
  // the question of a missing intermediate.
  f.leaf_self_issued = X509_self_signed(leaf, 0) == 1;
  for (std::size_t i = 1; i < presented.size(); ++i) {
    if (presented[i] != leaf && X509_check_issued(presented[i], leaf) == X509_V_OK) {
      f.leaf_issuer_presented = true;
    }
  }
  f.leaf_has_ca_issuers = !ca_issuers_uri(leaf).empty();
  ERR_clear_error();
  return f;
}

OcspStaple parse_ocsp(std::string_view der, x509_st* leaf) {
  OcspStaple s;
  if (der.empty()) return s;
  s.status = OcspStatus::malformed;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp || OCSP_response_status(resp.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL || leaf == nullptr) {
    ERR_clear_error();
    return s;
  }
  OcspBasicPtr basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) {
    ERR_clear_error();
    return s;
  }
  for (int i = 0; i < OCSP_resp_count(basic.get()); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), i);
    ASN1_INTEGER* serial = nullptr;
    if (OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial,
                          const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single))) != 1 ||
        serial == nullptr || ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf)) != 0) {
      continue;
    }
    int reason = 0;
    ASN1_GENERALIZEDTIME* revoked = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    const int status = OCSP_single_get0_status(single, &reason, &revoked, &this_update, &next_update);
    s.status = status == V_OCSP_CERTSTATUS_GOOD      ? OcspStatus::good
               : status == V_OCSP_CERTSTATUS_REVOKED ? OcspStatus::revoked
               : status == V_OCSP_CERTSTATUS_UNKNOWN ? OcspStatus::unknown
                                                     : OcspStatus::malformed;
    s.this_update = asn1_time_text(this_update);
    s.next_update = asn1_time_text(next_update);
    s.revoked_at = asn1_time_text(revoked);
    break;
  }
  ERR_clear_error();
  return s;
}

// --- options, status, findings ---

std::vector<std::string> default_alpn(AppProtocol protocol) {
  if (protocol == AppProtocol::http) return {"h2", "http/1.1"};
  return {};
}

TlsOptions tls_options(const Target& target, const std::optional<std::string>& sni) {
  TlsOptions o;
  if (sni) {
    o.sni = *sni;
    o.verify_name = *sni;
  } else {
    o.sni = target.is_ip_literal() ? std::string() : target.host;
    o.verify_name = target.host;
  }
  o.alpn = default_alpn(target.protocol);
  return o;
}

TlsResult::TlsResult() = default;
TlsResult::TlsResult(TlsResult&&) noexcept = default;
TlsResult& TlsResult::operator=(TlsResult&&) noexcept = default;
TlsResult::~TlsResult() = default;

StageStatus tls_status(const TlsResult& r) {
  if (r.outcome == TlsOutcome::ok) {
    const bool insecure_failure = r.insecure && r.verification != TlsOutcome::ok;
    return r.expiring_soon || insecure_failure ? StageStatus::warn : StageStatus::ok;
  }
  return r.outcome == TlsOutcome::old_protocol ? StageStatus::warn : StageStatus::fail;
}

std::vector<std::string_view> tls_finding_ids(const TlsResult& r) {
  std::vector<std::string_view> ids;
  const auto add = [&](std::string_view id) {
    if (!id.empty() && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  add(finding_id(r.outcome));
  if (is_old_protocol(r.version_number)) add(finding_id(TlsOutcome::old_protocol));
  if (r.expiring_soon) add("tls.cert_expiring_soon");
  return ids;
}

// --- context ---

void init_tls_library() { OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr); }

Result<TlsContext> make_tls_context(const std::optional<std::string>& ca_file) {
  ERR_clear_error();
  std::shared_ptr<ssl_ctx_st> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return fail("SSL_CTX_new", openssl_reason(ERR_get_error()));
  // Offer everything from TLS 1.0 at security level 0: an old server must be seen and named
  // (tls.old_protocol), not refused by our own defaults.
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0") != 1) {
    return fail("configure TLS client", openssl_reason(ERR_get_error()));
  }
  SSL_CTX_set_security_level(ctx.get(), 0);
  if (!ca_file) {
    // A missing system store is not an error here: verification then says what it could not find.
    SSL_CTX_set_default_verify_paths(ctx.get());
    ERR_clear_error();
    return TlsContext(std::move(ctx));
  }
  const std::string op = fmt::format("--ca-file \"{}\"", *ca_file);
  std::error_code fec;
  if (std::filesystem::is_directory(*ca_file, fec)) return fail(op, "a directory, not a PEM file", EISDIR);
  BioPtr bio(BIO_new_file(ca_file->c_str(), "r"));
  if (!bio) {
    // fopen's errno is in the ERR_LIB_SYS entry, followed by BIO's own.
    int code = 0;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
      if (ERR_GET_LIB(e) == ERR_LIB_SYS && code == 0) code = ERR_GET_REASON(e);
    }
    if (code != 0) return fail_errno(op, code);
    return fail(op, "cannot open it");
  }
  bio.reset();
  if (SSL_CTX_load_verify_file(ctx.get(), ca_file->c_str()) != 1) {
    ERR_clear_error();
    return fail(op, "no PEM certificate in it");
  }
  return TlsContext(std::move(ctx));
}

// --- the stage ---

asio::awaitable<TlsResult> secure(asio::ip::tcp::socket socket, TlsContext context, TlsOptions o) {
  using namespace asio::experimental::awaitable_operators;
  TlsResult res;
  res.sni = o.sni;
  res.verify_name = o.verify_name;
  res.insecure = o.insecure;
  res.alpn_offered = o.alpn;
  const auto configure_error = [&](std::string what) {
    res.outcome = TlsOutcome::other;
    res.error = Error{"configure TLS: " + std::move(what), 0, openssl_reason(ERR_get_error())};
    ERR_clear_error();
  };

  ERR_clear_error();
  SSL* ssl = SSL_new(context.native());
  if (ssl == nullptr) {
    configure_error("SSL_new");
    co_return res;
  }
  auto stream = std::make_unique<TlsStream>(std::move(socket), ssl);  // owns ssl from here

  // SSL_set_tlsext_host_name without its C cast.
  if (!o.sni.empty() && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                 const_cast<char*>(o.sni.c_str())) != 1) {
    configure_error("server name \"" + o.sni + "\"");
    co_return res;
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  std::string ip;
  if (!o.verify_name.empty()) {
    const bool set = is_ip_literal(o.verify_name, &ip)
                         ? X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str()) == 1
                         : X509_VERIFY_PARAM_set1_host(param, o.verify_name.c_str(),
                                                       o.verify_name.size()) == 1;
    if (!set) {
      configure_error("verify name \"" + o.verify_name + "\"");
      co_return res;
    }
  }
  SSL_set_verify(ssl, o.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  if (!o.alpn.empty()) {
    bool ok = false;
    const std::string wire = alpn_wire(o.alpn, &ok);
    if (!ok || SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                                   static_cast<unsigned int>(wire.size())) != 0) {
      configure_error("ALPN list");
      co_return res;
    }
  }
  SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);

  Observed seen;
  SSL_set_msg_callback(ssl, on_message);
  SSL_set_msg_callback_arg(ssl, &seen);
  BIO* rbio = SSL_get_rbio(ssl);  // the SSL's half of the BIO pair Asio's engine made
  BIO_set_callback_ex(rbio, on_bio);
  BIO_set_callback_arg(rbio, reinterpret_cast<char*>(&seen));

  error_code ec;
  Deadline deadline;
  const auto start = Clock::now();
  co_await (run_handshake(*stream, ec, deadline) || watchdog(*stream, o.timeout, deadline));
  res.elapsed = Clock::now() - start;
  res.out_of_order_at_deadline = deadline.out_of_order;

  HandshakeFacts facts;
  facts.end = end_of(ec, deadline);
  facts.insecure = o.insecure;
  if (facts.end != HandshakeEnd::done) drain_first_bytes(*stream, seen);
  // The callbacks point into this frame: the stream outlives it.
  BIO_set_callback_ex(rbio, nullptr);
  BIO_set_callback_arg(rbio, nullptr);
  SSL_set_msg_callback(ssl, nullptr);
  SSL_set_msg_callback_arg(ssl, nullptr);

  res.handshake_complete = facts.end == HandshakeEnd::done;
  if (seen.server_hello || res.handshake_complete) {
    res.version_number = SSL_version(ssl);
    res.version = SSL_get_version(ssl);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) res.cipher = SSL_CIPHER_get_name(c);
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn != nullptr && alpn_len > 0) res.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);

  std::vector<x509_st*> presented;
  if (STACK_OF(X509)* sk = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(sk); ++i) presented.push_back(sk_X509_value(sk, i));
  }
  for (x509_st* cert : presented) res.chain.push_back(describe_cert(cert));
  res.chain_facts = chain_facts(presented);
  if (!presented.empty()) {
    res.verify_code = SSL_get_verify_result(ssl);
    res.verify_error = X509_verify_cert_error_string(res.verify_code);
    res.verification = classify_verify(res.verify_code, res.chain_facts);
    res.verified = res.handshake_complete && res.verify_code == X509_V_OK;
    if (res.verified) {
      STACK_OF(X509)* path = SSL_get0_verified_chain(ssl);
      if (path != nullptr && sk_X509_num(path) > 0) {
        res.trust_anchor = name_text(X509_get_subject_name(sk_X509_value(path, sk_X509_num(path) - 1)));
      }
    }
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    res.days_to_expiry = days_until(res.chain.front().not_after_time, now);
    res.expiring_soon = *res.days_to_expiry >= 0 && *res.days_to_expiry < o.expiring_soon_days;
  }
  if (res.handshake_complete) {
    unsigned char* staple = nullptr;
    const long staple_len = SSL_get_tlsext_status_ocsp_resp(ssl, &staple);
    if (staple != nullptr && staple_len > 0) {
      res.ocsp = parse_ocsp(
          std::string_view(reinterpret_cast<const char*>(staple), static_cast<std::size_t>(staple_len)),
          presented.empty() ? nullptr : presented.front());
    }
  }
  res.alert_received = seen.received;
  res.alert_sent = seen.sent;

  facts.version_number = res.version_number;
  facts.verify_code = res.verify_code;
  facts.chain_received = !presented.empty();
  facts.chain = res.chain_facts;
  facts.alert_received = seen.received;
  if (!res.handshake_complete) {
    facts.first_bytes = seen.bytes;
    res.first_bytes = seen.bytes;
    res.peer_reply = describe_reply(res.first_bytes);
    res.error = handshake_error(ec, facts.end, o.timeout);
  }
  res.outcome = judge(facts);
  if (res.handshake_complete) res.stream = std::move(stream);
  ERR_clear_error();
  co_return res;
}

}  // namespace connscope::probe
