// X.509 as text: the certificates, chain facts and OCSP staple a TLS server presented, turned into
// printable evidence. Pure: nothing here touches a socket.

#include "probe/tls_cert.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <ctime>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "probe/banner.h"
#include "probe/tls_openssl.h"

namespace connscope::probe {
namespace {

using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using AiaPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS,
                               Deleter<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>>;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, Deleter<OCSP_RESPONSE, OCSP_RESPONSE_free>>;
using OcspBasicPtr = std::unique_ptr<OCSP_BASICRESP, Deleter<OCSP_BASICRESP, OCSP_BASICRESP_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

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

}  // namespace

std::string x509_name_text(const X509_NAME* name) { return name_text(name); }

std::string_view ocsp_status_name(OcspStatus s) {
  if (s == OcspStatus::good) return "good";
  if (s == OcspStatus::revoked) return "revoked";
  if (s == OcspStatus::unknown) return "unknown";
  if (s == OcspStatus::malformed) return "malformed";
  return "none";
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

}  // namespace connscope::probe
