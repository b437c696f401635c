#include "probe/tls_result.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace connscope::probe {
namespace {

using namespace std::chrono;

// --- certificates made here, with OpenSSL: nothing comes from the network or from files ---

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

constexpr std::time_t kDay = 86400;

struct Spec {
  std::string cn;
  std::string san;  // "DNS:a.example,IP:192.0.2.1"; "" for none
  bool ca = false;
  std::string aia;  // caIssuers URI; "" for none
  long serial = 1;
  std::time_t not_before = std::time(nullptr) - kDay;
  std::time_t not_after = std::time(nullptr) + 90 * kDay;
  bool rsa = false;
};

struct Issued {
  X509Ptr cert;
  PkeyPtr key;
};

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  ASSERT_NE(ext, nullptr) << value;
  ASSERT_EQ(X509_add_ext(cert, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

// Signed by `issuer`, or self-signed when it is null.
Issued issue(const Spec& s, const Issued* issuer) {
  Issued out;
  out.key.reset(s.rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* c = out.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), s.serial);
  ASN1_TIME_set(X509_getm_notBefore(c), s.not_before);
  ASN1_TIME_set(X509_getm_notAfter(c), s.not_after);
  X509_set_pubkey(c, out.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(s.cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, c, nullptr, nullptr, 0);
  add_ext(c, &ctx, NID_basic_constraints, s.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(c, &ctx, NID_key_usage, s.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  add_ext(c, &ctx, NID_subject_key_identifier, "hash");
  if (issuer) add_ext(c, &ctx, NID_authority_key_identifier, "keyid:always");
  if (!s.san.empty()) add_ext(c, &ctx, NID_subject_alt_name, s.san);
  if (!s.aia.empty()) add_ext(c, &ctx, NID_info_access, "caIssuers;URI:" + s.aia);
  EVP_PKEY* signer = issuer ? issuer->key.get() : out.key.get();
  EXPECT_GT(X509_sign(c, signer, EVP_sha256()), 0);
  return out;
}

Spec ca_spec(std::string cn, long serial) {
  Spec s;
  s.cn = std::move(cn);
  s.ca = true;
  s.serial = serial;
  s.not_after = std::time(nullptr) + 3650 * kDay;
  return s;
}

Spec leaf_spec(std::string aia = "") {
  Spec s;
  s.cn = "www.example.test";
  s.san = "DNS:www.example.test,DNS:*.api.example.test,IP:192.0.2.7,IP:2001:db8::7";
  s.aia = std::move(aia);
  s.serial = 0x1234abcd;
  return s;
}

// OpenSSL's own verification, as the handshake runs it: `trusted` in the store, the rest of
// `presented` as untrusted intermediates, `presented[0]` the leaf.
long verify(const std::vector<X509*>& presented, const std::vector<X509*>& trusted,
            const std::string& host = "", std::time_t at = 0) {
  X509_STORE* store = X509_STORE_new();
  for (X509* t : trusted) X509_STORE_add_cert(store, t);
  STACK_OF(X509)* chain = sk_X509_new_null();
  for (std::size_t i = 1; i < presented.size(); ++i) sk_X509_push(chain, presented[i]);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, presented[0], chain);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  if (!host.empty()) X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (at != 0) X509_VERIFY_PARAM_set_time(param, at);
  X509_verify_cert(ctx);
  const long code = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  sk_X509_free(chain);
  X509_STORE_free(store);
  return code;
}

ChainFacts facts_of(const std::vector<X509*>& presented) { return chain_facts(presented); }

// --- names and ids ---

TEST(TlsNames, EveryOutcomeHasANameAndTheRightFinding) {
  struct Row {
    TlsOutcome outcome;
    std::string_view name;
    std::string_view finding;
  };
  const Row rows[] = {
      {TlsOutcome::ok, "ok", ""},
      {TlsOutcome::not_tls, "not_tls", "tls.not_tls"},
      {TlsOutcome::alert, "alert", "tls.alert"},
      {TlsOutcome::cert_expired, "cert_expired", "tls.cert_expired"},
      {TlsOutcome::cert_not_yet_valid, "cert_not_yet_valid", "tls.cert_not_yet_valid"},
      {TlsOutcome::hostname_mismatch, "hostname_mismatch", "tls.cert_hostname_mismatch"},
      {TlsOutcome::untrusted, "untrusted", "tls.cert_untrusted"},
      {TlsOutcome::chain_incomplete, "chain_incomplete", "tls.chain_incomplete"},
      {TlsOutcome::old_protocol, "old_protocol", "tls.old_protocol"},
      {TlsOutcome::timeout, "timeout", ""},
      {TlsOutcome::closed_by_peer, "closed_by_peer", ""},
      {TlsOutcome::reset_by_peer, "reset_by_peer", ""},
      {TlsOutcome::other, "other", ""},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(outcome_name(r.outcome), r.name);
    EXPECT_EQ(finding_id(r.outcome), r.finding) << r.name;
  }
  EXPECT_EQ(ocsp_status_name(OcspStatus::none), "none");
  EXPECT_EQ(ocsp_status_name(OcspStatus::good), "good");
  EXPECT_EQ(ocsp_status_name(OcspStatus::revoked), "revoked");
  EXPECT_EQ(ocsp_status_name(OcspStatus::unknown), "unknown");
  EXPECT_EQ(ocsp_status_name(OcspStatus::malformed), "malformed");
}

// --- bytes, versions, alerts ---

TEST(CouldBeTls, RecordHeadersYesOtherProtocolsNo) {
  struct Row {
    std::string bytes;
    bool tls;
  };
  const Row rows[] = {
      {"", true},                                    // nothing to judge
      {std::string("\x16", 1), true},                // handshake, too short to tell more
      {std::string("\x16\x03\x03\x00\x7a\x02", 6), true},  // ServerHello
      {std::string("\x15\x03\x01\x00\x02\x02\x28", 7), true},  // fatal handshake_failure
      {std::string("\x14\x03\x03\x00\x01\x01", 6), true},      // change_cipher_spec
      {std::string("\x17\x03\x03", 3), true},
      {std::string("\x18\x03\x03", 3), true},  // heartbeat
      {std::string("\x19\x03\x03", 3), false},
      {std::string("\x13\x03\x03", 3), false},
      {std::string("\x16\x02\x00", 3), false},  // SSL 2-ish major
      {std::string("\x16\x03\x05", 3), false},  // no such minor
      {"HTTP/1.1 400 Bad Request\r\n", false},
      {"SSH-2.0-OpenSSH_9.2p1\r\n", false},
      {"220 mail.example.test ESMTP\r\n", false},
      {"+PONG\r\n", false},
      {std::string("\x00\xff\x13\x37", 4), false},
  };
  for (const auto& r : rows) EXPECT_EQ(could_be_tls(r.bytes), r.tls) << testing::PrintToString(r.bytes);
}

TEST(OldProtocol, BelowTls12Only) {
  EXPECT_FALSE(is_old_protocol(0));
  EXPECT_TRUE(is_old_protocol(SSL3_VERSION));
  EXPECT_TRUE(is_old_protocol(TLS1_VERSION));
  EXPECT_TRUE(is_old_protocol(TLS1_1_VERSION));
  EXPECT_FALSE(is_old_protocol(TLS1_2_VERSION));
  EXPECT_FALSE(is_old_protocol(TLS1_3_VERSION));
}

TEST(TlsAlerts, NamesAndOutcomes) {
  struct Row {
    int description;
    std::string_view name;
    TlsOutcome outcome;
  };
  const Row rows[] = {
      {0, "close notify", TlsOutcome::closed_by_peer},
      {10, "unexpected_message", TlsOutcome::alert},
      {40, "handshake failure", TlsOutcome::alert},
      // A server sends these only about the client's certificate: it wants mutual TLS.
      {42, "bad certificate", TlsOutcome::client_cert_required},
      {48, "unknown CA", TlsOutcome::client_cert_required},
      {70, "protocol version", TlsOutcome::alert},
      {80, "internal error", TlsOutcome::alert},
      {86, "inappropriate fallback", TlsOutcome::alert},
      {109, "missing extension", TlsOutcome::alert},
      {112, "unrecognized name", TlsOutcome::alert},
      {116, "certificate required", TlsOutcome::client_cert_required},
      {120, "no application protocol", TlsOutcome::alert},
      {201, "unknown", TlsOutcome::alert},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(alert_name(r.description), r.name) << r.description;
    EXPECT_EQ(classify_alert(TlsAlert{2, r.description, alert_name(r.description)}), r.outcome)
        << r.description;
  }
}

// --- verification codes ---

TEST(ClassifyVerify, CodesToOutcomes) {
  const ChainFacts plain{1, false, false, false};
  struct Row {
    long code;
    TlsOutcome outcome;
  };
  const Row rows[] = {
      {X509_V_OK, TlsOutcome::ok},
      {X509_V_ERR_CERT_HAS_EXPIRED, TlsOutcome::cert_expired},
      {X509_V_ERR_CERT_NOT_YET_VALID, TlsOutcome::cert_not_yet_valid},
      {X509_V_ERR_HOSTNAME_MISMATCH, TlsOutcome::hostname_mismatch},
      {X509_V_ERR_IP_ADDRESS_MISMATCH, TlsOutcome::hostname_mismatch},
      {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, TlsOutcome::untrusted},
      {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, TlsOutcome::untrusted},
      {X509_V_ERR_CERT_UNTRUSTED, TlsOutcome::untrusted},
      {X509_V_ERR_CERT_REJECTED, TlsOutcome::untrusted},
      {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TlsOutcome::untrusted},
      {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, TlsOutcome::untrusted},
      {X509_V_ERR_CERT_SIGNATURE_FAILURE, TlsOutcome::other},
      {X509_V_ERR_INVALID_PURPOSE, TlsOutcome::other},
      {X509_V_ERR_INVALID_CA, TlsOutcome::other},
  };
  for (const auto& r : rows) EXPECT_EQ(classify_verify(r.code, plain), r.outcome) << r.code;
}

TEST(ClassifyVerify, MissingIssuerIsChainIncompleteOnlyWhenAnIntermediateIsMissing) {
  struct Row {
    ChainFacts facts;
    TlsOutcome outcome;
    const char* why;
  };
  const Row rows[] = {
      {{1, false, false, false}, TlsOutcome::untrusted, "private CA's leaf alone: unknown CA"},
      {{1, false, false, true}, TlsOutcome::chain_incomplete, "leaf with AIA alone: intermediate left out"},
      {{2, false, false, false}, TlsOutcome::chain_incomplete, "a chain was sent, but not the leaf's issuer"},
      {{2, true, false, false}, TlsOutcome::untrusted, "chain connects; its root is unknown"},
      {{2, true, false, true}, TlsOutcome::untrusted, "chain connects; its root is unknown (AIA)"},
      {{1, false, true, true}, TlsOutcome::untrusted, "self-issued leaf"},
  };
  for (const auto code : {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                          X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
                          X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT}) {
    for (const auto& r : rows) EXPECT_EQ(classify_verify(code, r.facts), r.outcome) << code << ": " << r.why;
  }
}

// OpenSSL's real verdicts on generated chains, classified: what the handshake will see.
class GeneratedChains : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new Issued(issue(ca_spec("Test Root", 1), nullptr));
    intermediate_ = new Issued(issue(ca_spec("Test Intermediate", 2), root_));
    Spec via = leaf_spec("http://ca.example.test/intermediate.der");
    leaf_ = new Issued(issue(via, intermediate_));
    direct_ = new Issued(issue(leaf_spec(), root_));
    Spec self = leaf_spec();
    self_ = new Issued(issue(self, nullptr));
    other_root_ = new Issued(issue(ca_spec("Other Root", 3), nullptr));
  }
  static void TearDownTestSuite() {
    for (Issued* p : {root_, intermediate_, leaf_, direct_, self_, other_root_}) delete p;
  }
  static X509* root() { return root_->cert.get(); }
  static X509* intermediate() { return intermediate_->cert.get(); }
  static X509* leaf() { return leaf_->cert.get(); }
  static X509* direct() { return direct_->cert.get(); }
  static X509* self() { return self_->cert.get(); }
  static X509* other_root() { return other_root_->cert.get(); }

  static inline Issued* root_ = nullptr;
  static inline Issued* intermediate_ = nullptr;
  static inline Issued* leaf_ = nullptr;   // via the intermediate, with AIA
  static inline Issued* direct_ = nullptr;  // signed by the root itself, no AIA
  static inline Issued* self_ = nullptr;
  static inline Issued* other_root_ = nullptr;
};

TEST_F(GeneratedChains, ChainFacts) {
  const ChainFacts full = facts_of({leaf(), intermediate()});
  EXPECT_EQ(full.presented, 2u);
  EXPECT_TRUE(full.leaf_issuer_presented);
  EXPECT_FALSE(full.leaf_self_issued);
  EXPECT_TRUE(full.leaf_has_ca_issuers);

  const ChainFacts alone = facts_of({leaf()});
  EXPECT_EQ(alone.presented, 1u);
  EXPECT_FALSE(alone.leaf_issuer_presented);
  EXPECT_TRUE(alone.leaf_has_ca_issuers);

  const ChainFacts wrong = facts_of({leaf(), other_root()});
  EXPECT_EQ(wrong.presented, 2u);
  EXPECT_FALSE(wrong.leaf_issuer_presented);

  const ChainFacts selfsigned = facts_of({self()});
  EXPECT_TRUE(selfsigned.leaf_self_issued);
  EXPECT_FALSE(selfsigned.leaf_has_ca_issuers);

  EXPECT_EQ(facts_of({}).presented, 0u);
}

TEST_F(GeneratedChains, OpenSslVerdictsClassified) {
  struct Row {
    std::vector<X509*> presented;
    std::vector<X509*> trusted;
    long code;
    TlsOutcome outcome;
    const char* why;
  };
  const Row rows[] = {
      {{leaf(), intermediate()}, {root()}, X509_V_OK, TlsOutcome::ok, "complete chain"},
      {{direct()}, {root()}, X509_V_OK, TlsOutcome::ok, "leaf signed by the root"},
      {{leaf()}, {root()}, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TlsOutcome::chain_incomplete,
       "server forgot the intermediate"},
      {{leaf(), other_root()}, {root()}, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
       TlsOutcome::chain_incomplete, "server sent the wrong intermediate"},
      {{direct()}, {other_root()}, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TlsOutcome::untrusted,
       "unknown private CA"},
      {{leaf(), intermediate()}, {other_root()}, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
       TlsOutcome::untrusted, "complete chain to an unknown root"},
      {{self()}, {root()}, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, TlsOutcome::untrusted, "self-signed"},
      {{leaf(), intermediate(), root()}, {other_root()}, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
       TlsOutcome::untrusted, "chain with an unknown root in it"},
  };
  for (const auto& r : rows) {
    const long code = verify(r.presented, r.trusted);
    EXPECT_EQ(code, r.code) << r.why << ": " << X509_verify_cert_error_string(code);
    EXPECT_EQ(classify_verify(code, facts_of(r.presented)), r.outcome) << r.why;
  }
}

TEST_F(GeneratedChains, NamesAndTimesClassified) {
  const std::vector<X509*> chain{leaf(), intermediate()};
  EXPECT_EQ(verify(chain, {root()}, "www.example.test"), X509_V_OK);
  EXPECT_EQ(verify(chain, {root()}, "x.api.example.test"), X509_V_OK);
  const long wrong = verify(chain, {root()}, "other.example.test");
  EXPECT_EQ(wrong, X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(classify_verify(wrong, facts_of(chain)), TlsOutcome::hostname_mismatch);

  const long late = verify(chain, {root()}, "", std::time(nullptr) + 91 * kDay);
  EXPECT_EQ(late, X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(classify_verify(late, facts_of(chain)), TlsOutcome::cert_expired);
  const long early = verify(chain, {root()}, "", std::time(nullptr) - 2 * kDay);
  EXPECT_EQ(early, X509_V_ERR_CERT_NOT_YET_VALID);
  EXPECT_EQ(classify_verify(early, facts_of(chain)), TlsOutcome::cert_not_yet_valid);
}

TEST_F(GeneratedChains, DescribeCert) {
  const CertInfo c = describe_cert(leaf());
  EXPECT_EQ(c.subject, "CN=www.example.test");
  EXPECT_EQ(c.issuer, "CN=Test Intermediate");
  EXPECT_EQ(c.serial, "1234ABCD");
  EXPECT_EQ(c.san, (std::vector<std::string>{"DNS:www.example.test", "DNS:*.api.example.test",
                                             "IP:192.0.2.7", "IP:2001:db8::7"}));
  EXPECT_EQ(c.key, "EC P-256");
  EXPECT_EQ(c.signature, "ecdsa-with-SHA256");
  EXPECT_EQ(c.ca_issuers, "http://ca.example.test/intermediate.der");
  EXPECT_FALSE(c.self_issued);
  EXPECT_FALSE(c.ca);
  ASSERT_EQ(c.sha256.size(), 64u);
  EXPECT_EQ(c.sha256.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(c.sha256, describe_cert(direct()).sha256);

  const CertInfo r = describe_cert(root());
  EXPECT_EQ(r.subject, "CN=Test Root");
  EXPECT_EQ(r.issuer, "CN=Test Root");
  EXPECT_TRUE(r.self_issued);
  EXPECT_TRUE(r.ca);
  EXPECT_TRUE(r.san.empty());
  EXPECT_EQ(r.ca_issuers, "");
  EXPECT_TRUE(describe_cert(self()).self_issued);
  EXPECT_FALSE(describe_cert(intermediate()).self_issued);
  EXPECT_TRUE(describe_cert(intermediate()).ca);
}

TEST(DescribeCert, ExactDatesKeyTypesAndEscapedNames) {
  Spec s = leaf_spec();
  s.cn = "caf\xc3\xa9\x01";  // UTF-8 and a control character: both escaped, never raw
  s.san = "DNS:a.example.test";
  s.not_before = 1735689600;  // 2025-01-01T00:00:00Z
  s.not_after = 2524607999;   // 2049-12-31T23:59:59Z
  s.rsa = true;
  const Issued rsa = issue(s, nullptr);
  const CertInfo c = describe_cert(rsa.cert.get());
  EXPECT_EQ(c.subject, "CN=caf\\C3\\A9\\01");
  EXPECT_EQ(c.not_before, "2025-01-01T00:00:00Z");
  EXPECT_EQ(c.not_after, "2049-12-31T23:59:59Z");
  EXPECT_EQ(c.not_before_time, sys_seconds(seconds(1735689600)));
  EXPECT_EQ(c.not_after_time, sys_seconds(seconds(2524607999)));
  EXPECT_EQ(c.key, "RSA 2048");
  EXPECT_EQ(c.signature, "sha256WithRSAEncryption");
  EXPECT_TRUE(c.self_issued);
  EXPECT_EQ(describe_cert(nullptr).subject, "");
}

// --- days and dates ---

TEST(TlsExpiry, DaysRoundDownAndGoNegative) {
  const sys_seconds not_after = sys_days{2030y / 6 / 15} + 12h;
  struct Row {
    sys_seconds now;
    std::int64_t days;
  };
  const Row rows[] = {
      {not_after - days{30}, 30},
      {not_after - days{30} + 1s, 29},
      {not_after - 1s, 0},
      {not_after, 0},
      {not_after + 1s, -1},
      {not_after + days{1}, -1},
      {not_after + days{1} + 1s, -2},
      {not_after + days{400}, -400},
  };
  for (const auto& r : rows) EXPECT_EQ(days_until(not_after, r.now), r.days) << iso8601(r.now);
  EXPECT_EQ(iso8601(not_after), "2030-06-15T12:00:00Z");
  EXPECT_EQ(iso8601(sys_seconds{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso8601(sys_days{2049y / 12 / 31} + 23h + 59min + 59s), "2049-12-31T23:59:59Z");
}

// --- OCSP staples ---

std::string der_of(OCSP_RESPONSE* resp) {
  unsigned char* buf = nullptr;
  const int len = i2d_OCSP_RESPONSE(resp, &buf);
  std::string out(reinterpret_cast<char*>(buf), static_cast<std::size_t>(len));
  OPENSSL_free(buf);
  OCSP_RESPONSE_free(resp);
  return out;
}

// A signed response from `ca` about `cert` (status V_OCSP_CERTSTATUS_*).
std::string ocsp_response(const Issued& ca, X509* cert, int status, std::time_t revoked_at = 0) {
  OCSP_BASICRESP* basic = OCSP_BASICRESP_new();
  OCSP_CERTID* id = OCSP_cert_to_id(EVP_sha1(), cert, ca.cert.get());
  ASN1_TIME* this_update = ASN1_TIME_set(nullptr, 1767225600);  // 2026-01-01T00:00:00Z
  ASN1_TIME* next_update = ASN1_TIME_set(nullptr, 1767830400);  // 2026-01-08T00:00:00Z
  ASN1_TIME* revoked = revoked_at ? ASN1_TIME_set(nullptr, revoked_at) : nullptr;
  OCSP_basic_add1_status(basic, id, status, status == V_OCSP_CERTSTATUS_REVOKED ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : 0,
                         revoked, this_update, next_update);
  OCSP_basic_sign(basic, ca.cert.get(), ca.key.get(), EVP_sha256(), nullptr, 0);
  OCSP_RESPONSE* resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
  OCSP_BASICRESP_free(basic);
  OCSP_CERTID_free(id);
  ASN1_TIME_free(this_update);
  ASN1_TIME_free(next_update);
  ASN1_TIME_free(revoked);
  return der_of(resp);
}

TEST_F(GeneratedChains, OcspStaples) {
  const OcspStaple good = parse_ocsp(ocsp_response(*root_, direct(), V_OCSP_CERTSTATUS_GOOD), direct());
  EXPECT_EQ(good.status, OcspStatus::good);
  EXPECT_EQ(good.this_update, "2026-01-01T00:00:00Z");
  EXPECT_EQ(good.next_update, "2026-01-08T00:00:00Z");
  EXPECT_EQ(good.revoked_at, "");

  const OcspStaple revoked =
      parse_ocsp(ocsp_response(*root_, direct(), V_OCSP_CERTSTATUS_REVOKED, 1767312000), direct());
  EXPECT_EQ(revoked.status, OcspStatus::revoked);
  EXPECT_EQ(revoked.revoked_at, "2026-01-02T00:00:00Z");

  EXPECT_EQ(parse_ocsp(ocsp_response(*root_, direct(), V_OCSP_CERTSTATUS_UNKNOWN), direct()).status,
            OcspStatus::unknown);
  // About another certificate (another serial): says nothing of ours.
  EXPECT_EQ(parse_ocsp(ocsp_response(*root_, intermediate(), V_OCSP_CERTSTATUS_GOOD), direct()).status,
            OcspStatus::malformed);
  EXPECT_EQ(parse_ocsp(der_of(OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, nullptr)), direct()).status,
            OcspStatus::malformed);
  EXPECT_EQ(parse_ocsp(std::string("\x30\x03\x0a\x01", 4), direct()).status, OcspStatus::malformed);
  EXPECT_EQ(parse_ocsp("", direct()).status, OcspStatus::none);
}

// --- judge ---

TEST(TlsJudge, Table) {
  const ChainFacts one{1, false, false, false};
  struct Row {
    HandshakeFacts f;
    TlsOutcome outcome;
    const char* why;
  };
  const auto f = [&](HandshakeEnd end) {
    HandshakeFacts h;
    h.end = end;
    h.chain = one;
    return h;
  };
  std::vector<Row> rows;
  rows.push_back({f(HandshakeEnd::done), TlsOutcome::ok, "done"});
  {
    auto h = f(HandshakeEnd::done);
    h.version_number = TLS1_3_VERSION;
    rows.push_back({h, TlsOutcome::ok, "TLS 1.3"});
    h.version_number = TLS1_1_VERSION;
    rows.push_back({h, TlsOutcome::old_protocol, "TLS 1.1"});
    h.version_number = TLS1_VERSION;
    rows.push_back({h, TlsOutcome::old_protocol, "TLS 1.0"});
  }
  {
    auto h = f(HandshakeEnd::done);
    h.insecure = true;
    h.chain_received = true;
    h.verify_code = X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
    rows.push_back({h, TlsOutcome::ok, "insecure: verification is evidence"});
  }
  {
    auto h = f(HandshakeEnd::deadline);
    h.first_bytes = "HT";
    rows.push_back({h, TlsOutcome::timeout, "deadline, even with a non-TLS prefix"});
  }
  {
    auto h = f(HandshakeEnd::tls_error);
    h.first_bytes = "HTTP/1.1 400 Bad Request\r\n";
    rows.push_back({h, TlsOutcome::not_tls, "HTTP answer"});
    h.end = HandshakeEnd::eof;
    rows.push_back({h, TlsOutcome::not_tls, "HTTP answer, then FIN"});
  }
  {
    auto h = f(HandshakeEnd::tls_error);
    h.first_bytes = std::string("\x15\x03\x03\x00\x02\x02\x28", 7);
    h.alert_received = TlsAlert{2, 40, "handshake failure"};
    rows.push_back({h, TlsOutcome::alert, "fatal alert"});
    h.alert_received = TlsAlert{1, 0, "close notify"};
    rows.push_back({h, TlsOutcome::closed_by_peer, "close_notify"});
  }
  {
    auto h = f(HandshakeEnd::tls_error);
    h.first_bytes = std::string("\x16\x03\x03\x00\x7a\x02", 6);
    h.chain_received = true;
    h.verify_code = X509_V_ERR_CERT_HAS_EXPIRED;
    rows.push_back({h, TlsOutcome::cert_expired, "verification failed"});
    h.verify_code = X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
    h.chain.leaf_has_ca_issuers = true;
    rows.push_back({h, TlsOutcome::chain_incomplete, "intermediate missing"});
    h.chain_received = false;  // no chain: the verify code is OpenSSL's default, meaningless
    rows.push_back({h, TlsOutcome::other, "no chain"});
  }
  rows.push_back({f(HandshakeEnd::eof), TlsOutcome::closed_by_peer, "FIN, nothing sent"});
  rows.push_back({f(HandshakeEnd::reset), TlsOutcome::reset_by_peer, "RST"});
  rows.push_back({f(HandshakeEnd::system_error), TlsOutcome::other, "other"});
  rows.push_back({f(HandshakeEnd::tls_error), TlsOutcome::other, "TLS error, TLS bytes, no alert"});
  for (const auto& r : rows) EXPECT_EQ(judge(r.f), r.outcome) << r.why;
}

// --- options, status, findings ---

TEST(TlsOptionsFromTarget, SniAndIdentity) {
  const auto https = parse_target("https://www.example.test/health");
  ASSERT_TRUE(https);
  const TlsOptions a = tls_options(*https, std::nullopt);
  EXPECT_EQ(a.sni, "www.example.test");
  EXPECT_EQ(a.verify_name, "www.example.test");
  EXPECT_EQ(a.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_FALSE(a.insecure);

  const auto ip = parse_target("https://[2001:db8::7]:8443/");
  ASSERT_TRUE(ip);
  const TlsOptions b = tls_options(*ip, std::nullopt);
  EXPECT_EQ(b.sni, "");
  EXPECT_EQ(b.verify_name, "2001:db8::7");

  const TlsOptions c = tls_options(*ip, std::string("www.example.test"));
  EXPECT_EQ(c.sni, "www.example.test");
  EXPECT_EQ(c.verify_name, "www.example.test");

  const auto smtps = parse_target("smtps://mail.example.test");
  ASSERT_TRUE(smtps);
  EXPECT_TRUE(tls_options(*smtps, std::nullopt).alpn.empty());
  EXPECT_TRUE(default_alpn(AppProtocol::redis).empty());
}

TEST(TlsStatusAndFindings, FromResults) {
  TlsResult ok;
  ok.outcome = TlsOutcome::ok;
  ok.version_number = TLS1_3_VERSION;
  EXPECT_EQ(tls_status(ok), StageStatus::ok);
  EXPECT_TRUE(tls_finding_ids(ok).empty());

  ok.expiring_soon = true;
  EXPECT_EQ(tls_status(ok), StageStatus::warn);
  EXPECT_EQ(tls_finding_ids(ok), (std::vector<std::string_view>{"tls.cert_expiring_soon"}));

  TlsResult insecure;
  insecure.outcome = TlsOutcome::ok;
  insecure.insecure = true;
  insecure.verification = TlsOutcome::untrusted;
  EXPECT_EQ(tls_status(insecure), StageStatus::warn);
  EXPECT_TRUE(tls_finding_ids(insecure).empty());  // evidence, not a finding

  TlsResult old;
  old.outcome = TlsOutcome::old_protocol;
  old.version_number = TLS1_VERSION;
  EXPECT_EQ(tls_status(old), StageStatus::warn);
  EXPECT_EQ(tls_finding_ids(old), (std::vector<std::string_view>{"tls.old_protocol"}));

  TlsResult expired_old;
  expired_old.outcome = TlsOutcome::cert_expired;
  expired_old.version_number = TLS1_1_VERSION;
  EXPECT_EQ(tls_status(expired_old), StageStatus::fail);
  EXPECT_EQ(tls_finding_ids(expired_old),
            (std::vector<std::string_view>{"tls.cert_expired", "tls.old_protocol"}));

  for (const auto o : {TlsOutcome::timeout, TlsOutcome::closed_by_peer, TlsOutcome::reset_by_peer,
                       TlsOutcome::other}) {
    TlsResult r;
    r.outcome = o;
    EXPECT_EQ(tls_status(r), StageStatus::fail);
    EXPECT_TRUE(tls_finding_ids(r).empty());
  }
  TlsResult not_tls;
  not_tls.outcome = TlsOutcome::not_tls;
  EXPECT_EQ(tls_finding_ids(not_tls), (std::vector<std::string_view>{"tls.not_tls"}));
  // A default result is not a success by omission.
  EXPECT_EQ(tls_status(TlsResult{}), StageStatus::fail);
}

// --- the CA file ---

class TlsCaFile : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tls_probe_test_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const auto p = dir_ / name;
    std::ofstream(p) << content;
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(TlsCaFile, ValidPemLoadsAndDefaultsLoad) {
  const Issued ca = issue(ca_spec("File CA", 9), nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, ca.cert.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string path = write("ca.pem", std::string(data, static_cast<std::size_t>(n)));
  BIO_free(bio);
  auto ctx = make_tls_context(path);
  ASSERT_TRUE(ctx) << ctx.error().message();
  EXPECT_NE(ctx->native(), nullptr);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx->native());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)), 1);
  // TLS 1.0 is offered, at security level 0, so old servers are seen.
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->native()), TLS1_VERSION);
  EXPECT_EQ(SSL_CTX_get_security_level(ctx->native()), 0);

  auto defaults = make_tls_context(std::nullopt);
  ASSERT_TRUE(defaults) << defaults.error().message();
}

TEST_F(TlsCaFile, UnusableFilesAreErrorsNamingTheOption) {
  const std::string missing = (dir_ / "missing.pem").string();
  auto a = make_tls_context(missing);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().op, "--ca-file \"" + missing + "\"");
  EXPECT_EQ(a.error().code, ENOENT);

  auto b = make_tls_context(dir_.string());
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, EISDIR);
  EXPECT_EQ(b.error().detail, "a directory, not a PEM file");

  auto c = make_tls_context(write("garbage.pem", "not a certificate\n"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, 0);
  EXPECT_EQ(c.error().detail, "no PEM certificate in it");

  auto d = make_tls_context(write("empty.pem", ""));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().detail, "no PEM certificate in it");

  if (::geteuid() != 0) {  // root reads a mode-000 file anyway
    const std::string locked = write("locked.pem", "x");
    std::filesystem::permissions(locked, std::filesystem::perms::none);
    auto e = make_tls_context(locked);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, EACCES);
  }
}

}  // namespace
}  // namespace connscope::probe
