#pragma once
// The secure stage: a TLS handshake (OpenSSL 3 through Asio's ssl::stream) over a socket the
// connect stage connected, with everything a person needs to see why it failed or how close it
// is to failing: version, cipher, ALPN, OCSP staple, the chain as the server presented it,
// the verification result and the days left on the leaf (DESIGN.md, "secure").
//
// We offer TLS 1.0 to 1.3 at OpenSSL security level 0 so that an old server is SEEN (and
// reported as tls.old_protocol) instead of failing with "no protocols available".
// Verification is OpenSSL's own (X509_verify_cert with the name or IP set on the SSL's
// X509_VERIFY_PARAM); without --insecure a failed verification aborts the handshake (we send the
// alert, as any client would), with --insecure the handshake goes on and OpenSSL's verdict is
// kept as evidence (SSL_VERIFY_NONE still verifies and records SSL_get_verify_result).
//
// "The server forgot its intermediate" and "we do not know this CA" fail with the same verify
// codes (20/21/2: the issuer was not found). They are told apart from the chain as presented:
// - the leaf's issuer is missing and the server sent other certificates that do not include it,
//   or the leaf names a caIssuers URL (AIA) to fetch it from → chain_incomplete. Public CAs never
//   sign leaves with a root, so a leaf with AIA whose issuer is missing lacks an intermediate;
// - otherwise (a private CA's leaf without AIA, or the chain connects up to a CA whose own
//   issuer, the root, is unknown: servers leave roots out) → untrusted.
//
// Not TLS: the bytes OpenSSL read are recorded (a BIO callback on the SSL's read BIO), plus what
// was still buffered when it gave up; if they do not start like a TLS record the peer speaks
// something else (describe_reply says what: "HTTP/1.1 400 Bad Request", "SSH-2.0-...").

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <type_traits>

#include "probe/tls_result.h"

namespace connscope::probe {

static_assert(std::is_same_v<TlsStream, boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>,
              "tls_result.h's declaration of TlsStream no longer matches Asio's");

// The stage. Runs on the socket's executor, which must be single-threaded (an io_context run by
// one thread, or a strand). Never throws for network or TLS errors: they are the result. On the
// deadline the socket is closed, which ends the handshake wherever it is.
boost::asio::awaitable<TlsResult> secure(boost::asio::ip::tcp::socket socket, TlsContext context,
                                         TlsOptions options);

}  // namespace connscope::probe
