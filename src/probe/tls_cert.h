#pragma once
// A TLS server's certificates as evidence: each certificate as printable text, what the presented
// chain says about a missing issuer (see tls_probe.h), and the stapled OCSP response. Pure; no
// OpenSSL headers here (the X509 type is declared).

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct x509_st;  // X509

namespace connscope::probe {

enum class OcspStatus {
  none,       // no staple (not asked for is never the case: we always ask)
  good,       // V_OCSP_CERTSTATUS_GOOD for the leaf
  revoked,    // V_OCSP_CERTSTATUS_REVOKED
  unknown,    // V_OCSP_CERTSTATUS_UNKNOWN: the responder does not know the certificate
  malformed,  // a staple that does not parse, is not "successful", or says nothing of the leaf
};
std::string_view ocsp_status_name(OcspStatus status);

// The staple's content. Its signature is NOT checked: this is evidence, not a trust decision.
struct OcspStaple {
  OcspStatus status = OcspStatus::none;
  std::string this_update;  // ISO 8601 UTC, "" when absent
  std::string next_update;
  std::string revoked_at;   // revoked only
};


// One certificate as the server presented it. Strings are printable ASCII (RFC 2253 names with
// OpenSSL's escapes), safe for a terminal and for JSON.
struct CertInfo {
  std::string subject;  // "CN=server.connscope.test"
  std::string issuer;   // "CN=connscope lab CA"
  std::string serial;   // upper-case hex
  std::string not_before;  // ISO 8601 UTC: "2025-01-01T00:00:00Z"
  std::string not_after;
  std::chrono::sys_seconds not_before_time{};
  std::chrono::sys_seconds not_after_time{};
  std::vector<std::string> san;  // "DNS:server.connscope.test", "IP:198.18.3.2", "URI:..."
  std::string key;               // "EC P-256", "RSA 2048", "ED25519 256"
  std::string signature;         // "ecdsa-with-SHA256"
  std::string sha256;            // fingerprint, lower-case hex without separators
  std::string ca_issuers;        // the first AIA caIssuers URI, "" when none
  bool self_issued = false;      // self-signed: issuer == subject, its own key verifies it
  bool ca = false;               // basicConstraints CA:TRUE (X509_check_ca)
};

// What the presented chain says about a missing issuer (tls_probe.h says how it is used).
struct ChainFacts {
  std::size_t presented = 0;           // certificates the server sent, leaf first
  bool leaf_issuer_presented = false;  // some other presented certificate issued the leaf
  bool leaf_self_issued = false;
  bool leaf_has_ca_issuers = false;    // the leaf names an AIA caIssuers URI
};

// Whole days from `now` to `not_after`, rounded down: -1 from one second after expiry.
std::int64_t days_until(std::chrono::sys_seconds not_after, std::chrono::sys_seconds now);
std::string iso8601(std::chrono::sys_seconds t);  // "2049-12-31T00:00:00Z"

// From certificates (the test builds them with OpenSSL; none are read from the network).
CertInfo describe_cert(x509_st* cert);
ChainFacts chain_facts(std::span<x509_st* const> presented);
// A DER OCSP response (as stapled) about `leaf`, matched by serial number.
OcspStaple parse_ocsp(std::string_view der, x509_st* leaf);

}  // namespace connscope::probe
