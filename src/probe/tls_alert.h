#pragma once
// A TLS alert (RFC 8446 §6): its numbers, its name, and what it means for the doctor. Shared by
// the secure stage (alerts during the handshake, seen by OpenSSL's message callback) and the talk
// stage (alerts that arrive with a read after the handshake: a TLS 1.3 server checks the client's
// certificate only after the client's Finished, so its refusal comes with the first read). No
// OpenSSL headers here: talk.h and the rules include it.

#include <optional>
#include <string>

namespace connscope::probe {

struct TlsAlert {
  int level = 0;        // 1 warning, 2 fatal
  int description = 0;  // 40 handshake_failure, ...
  std::string name;     // "handshake failure"
};

// SSL_alert_desc_string_long of a description number ("handshake failure"), with the names
// OpenSSL 3.0 lacks (86, 109, 116 "certificate required"); "unknown" for the rest.
std::string alert_name(int description);

// The alert the peer sent, from the OpenSSL error a failed read or handshake returned (the
// `value()` of an asio ssl-category error_code, i.e. ERR_get_error()'s packed code). OpenSSL
// reports a received alert as reason SSL_AD_REASON_OFFSET (1000) + its description, in the SSL
// library; nullopt for any other error.
std::optional<TlsAlert> alert_from_ssl_error(unsigned long packed_error);

// Does a server's alert (or its handshake failure after it asked for a certificate) say it wants
// a client certificate we did not present, or rejected the one we did? `certificate required`
// (116), `bad certificate` (42), `unknown ca` (48), `unsupported certificate` (43),
// `certificate unknown` (46), `access denied` (49, TLS 1.3 servers after a failed check), or
// `handshake failure` (40) when the server had sent a CertificateRequest. A server sends these
// only about the client's certificate: its own is checked by us.
bool wants_client_certificate(const TlsAlert& alert, bool certificate_requested);

}  // namespace connscope::probe
