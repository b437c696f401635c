#include "probe/tls_alert.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace connscope::probe {

std::string alert_name(int description) {
  const std::string name = SSL_alert_desc_string_long(description & 0xff);
  if (name != "unknown") return name;
  // Alerts OpenSSL 3.0's table lacks; TLS 1.3 servers send 116 when they want a client certificate.
  if (description == 86) return "inappropriate fallback";
  if (description == 109) return "missing extension";
  if (description == 116) return "certificate required";
  return name;
}

std::optional<TlsAlert> alert_from_ssl_error(unsigned long packed_error) {
  if (packed_error == 0 || ERR_GET_LIB(packed_error) != ERR_LIB_SSL) return std::nullopt;
  const int reason = ERR_GET_REASON(packed_error);
  if (reason < SSL_AD_REASON_OFFSET || reason > SSL_AD_REASON_OFFSET + 255) return std::nullopt;
  const int description = reason - SSL_AD_REASON_OFFSET;
  // OpenSSL raises an error only for a fatal alert (or a close_notify seen as an error).
  return TlsAlert{2, description, alert_name(description)};
}

bool wants_client_certificate(const TlsAlert& alert, bool certificate_requested) {
  const int d = alert.description;
  if (d == SSL_AD_CERTIFICATE_REQUIRED || d == SSL_AD_BAD_CERTIFICATE || d == SSL_AD_UNKNOWN_CA ||
      d == SSL_AD_UNSUPPORTED_CERTIFICATE || d == SSL_AD_CERTIFICATE_UNKNOWN) {
    return true;
  }
  // access_denied and handshake_failure also end other refusals; they speak of our certificate
  // only when the server asked for one.
  return certificate_requested && (d == SSL_AD_HANDSHAKE_FAILURE || d == SSL_AD_ACCESS_DENIED);
}

}  // namespace connscope::probe
