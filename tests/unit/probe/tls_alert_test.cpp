#include "probe/tls_alert.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe/tls_result.h"

namespace connscope::probe {
namespace {

// The packed error OpenSSL queues when a read meets the peer's fatal alert `description`.
unsigned long received_alert_error(int description) {
  return ERR_PACK(ERR_LIB_SSL, 0, SSL_AD_REASON_OFFSET + description);
}

TEST(TlsAlertFromError, AReceivedAlertIsReadBackFromTheErrorItRaised) {
  const auto a = alert_from_ssl_error(received_alert_error(116));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->level, 2);
  EXPECT_EQ(a->description, 116);
  EXPECT_EQ(a->name, "certificate required");
  EXPECT_EQ(alert_from_ssl_error(received_alert_error(40))->name, "handshake failure");
  EXPECT_EQ(alert_from_ssl_error(received_alert_error(48))->name, "unknown CA");
  // The reason OpenSSL itself gives such an error: a real one, from its tables.
  EXPECT_EQ(alert_from_ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED))->description, 116);
  EXPECT_EQ(alert_from_ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE))->description, 42);
}

TEST(TlsAlertFromError, OtherErrorsAreNotAlerts) {
  EXPECT_FALSE(alert_from_ssl_error(0).has_value());
  EXPECT_FALSE(alert_from_ssl_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER)).has_value());
  EXPECT_FALSE(alert_from_ssl_error(ERR_PACK(ERR_LIB_SYS, 0, 104)).has_value());
  EXPECT_FALSE(alert_from_ssl_error(ERR_PACK(ERR_LIB_X509, 0, SSL_AD_REASON_OFFSET + 42)).has_value());
}

TEST(TlsAlertMeaning, TheServersCertificateAlertsMeanItWantsOursAndHandshakeFailureOnlyAfterItAsked) {
  for (int d : {116, 42, 48, 43, 46}) {
    EXPECT_TRUE(wants_client_certificate(TlsAlert{2, d, alert_name(d)}, false)) << d;
  }
  for (int d : {40, 49}) {
    EXPECT_FALSE(wants_client_certificate(TlsAlert{2, d, alert_name(d)}, false)) << d;
    EXPECT_TRUE(wants_client_certificate(TlsAlert{2, d, alert_name(d)}, true)) << d;
  }
  for (int d : {0, 70, 112, 80}) {
    EXPECT_FALSE(wants_client_certificate(TlsAlert{2, d, alert_name(d)}, true)) << d;
  }
  EXPECT_EQ(classify_alert(TlsAlert{2, 116, "certificate required"}), TlsOutcome::client_cert_required);
  EXPECT_EQ(classify_alert(TlsAlert{2, 40, "handshake failure"}, true), TlsOutcome::client_cert_required);
  EXPECT_EQ(classify_alert(TlsAlert{2, 40, "handshake failure"}, false), TlsOutcome::alert);
  EXPECT_EQ(finding_id(TlsOutcome::client_cert_required), "tls.client_cert_required");
}

TEST(TlsAlertMeaning, ARefusalAfterTheHandshakeFailsTheSecureStage) {
  TlsResult r;
  r.outcome = TlsOutcome::ok;
  r.handshake_complete = true;
  r.verified = true;
  refused_after_handshake(r, TlsAlert{2, 116, "certificate required"});
  EXPECT_EQ(r.outcome, TlsOutcome::client_cert_required);
  EXPECT_TRUE(r.alert_after_handshake);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(tls_status(r), StageStatus::fail);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->message(), "TLS handshake: the server sent alert \"certificate required\" after the handshake");
  EXPECT_EQ(tls_finding_ids(r), std::vector<std::string_view>{"tls.client_cert_required"});

  TlsResult other;
  other.outcome = TlsOutcome::ok;
  refused_after_handshake(other, TlsAlert{2, 80, "internal error"});
  EXPECT_EQ(other.outcome, TlsOutcome::alert);
  // close_notify right after the handshake is still the server saying no.
  TlsResult closed;
  refused_after_handshake(closed, TlsAlert{1, 0, "close notify"});
  EXPECT_EQ(closed.outcome, TlsOutcome::alert);
}

}  // namespace
}  // namespace connscope::probe
