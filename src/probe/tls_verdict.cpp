// The secure stage's verdict: OpenSSL's verification codes, alerts and how the handshake ended,

#include "core/error_text.h"
// classified into outcomes, statuses and finding ids. Pure.

#include "probe/tls_result.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

namespace connscope::probe {

std::string_view outcome_name(TlsOutcome o) {
  if (o == TlsOutcome::ok) return "ok";
  if (o == TlsOutcome::not_tls) return "not_tls";
  if (o == TlsOutcome::alert) return "alert";
  if (o == TlsOutcome::client_cert_required) return "client_cert_required";
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
  if (o == TlsOutcome::client_cert_required) return "tls.client_cert_required";
  if (o == TlsOutcome::cert_expired) return "tls.cert_expired";
  if (o == TlsOutcome::cert_not_yet_valid) return "tls.cert_not_yet_valid";
  if (o == TlsOutcome::hostname_mismatch) return "tls.cert_hostname_mismatch";
  if (o == TlsOutcome::untrusted) return "tls.cert_untrusted";
  if (o == TlsOutcome::chain_incomplete) return "tls.chain_incomplete";
  if (o == TlsOutcome::old_protocol) return "tls.old_protocol";
  return "";
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

TlsOutcome classify_alert(const TlsAlert& alert, bool certificate_requested) {
  if (alert.description == SSL_AD_CLOSE_NOTIFY) return TlsOutcome::closed_by_peer;
  return wants_client_certificate(alert, certificate_requested) ? TlsOutcome::client_cert_required
                                                                : TlsOutcome::alert;
}

void refused_after_handshake(TlsResult& r, const TlsAlert& alert) {
  r.alert_received = alert;
  r.alert_after_handshake = true;
  r.outcome = classify_alert(alert, r.certificate_requested);
  if (r.outcome == TlsOutcome::closed_by_peer) r.outcome = TlsOutcome::alert;
  r.verified = false;
  r.error = error_text("TLS handshake", Msg::err_tls_alert_after, {{"alert", alert.name}});

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
  if (f.alert_received) return classify_alert(*f.alert_received, f.certificate_requested);
  if (verify_failed && !f.insecure) return classify_verify(f.verify_code, f.chain);
  if (f.end == HandshakeEnd::eof) return TlsOutcome::closed_by_peer;
  if (f.end == HandshakeEnd::reset) return TlsOutcome::reset_by_peer;
  return TlsOutcome::other;
}

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

}  // namespace connscope::probe
