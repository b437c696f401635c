#pragma once
// The secure stage's options, results, client context and pure parts (the verdicts), without
// Asio's or OpenSSL's headers: what rules/, the CLI's renderers and the agent include. The
// stage itself, secure(), is tls_probe.h.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/target.h"
#include "probe/banner.h"
#include "probe/stage.h"
#include "probe/tls_alert.h"
#include "probe/tls_cert.h"

// Declared, not included: the result owns the secured stream (TlsResult::stream), but callers
// that only read results need not compile Asio's and OpenSSL's headers. TlsStream is
// ssl::stream<ip::tcp::socket>, spelt out (tls_probe.h checks that the two agree).
namespace boost::asio {
class any_io_executor;
template <typename Protocol, typename Executor>
class basic_stream_socket;
namespace ip {
class tcp;
}  // namespace ip
namespace ssl {
template <typename Stream>
class stream;
}  // namespace ssl
}  // namespace boost::asio
struct ssl_ctx_st;  // SSL_CTX

namespace connscope::probe {

using TlsStream = boost::asio::ssl::stream<
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::any_io_executor>>;

// The verdict. Each failure value corresponds to a finding (see finding_id).
enum class TlsOutcome {
  ok,
  not_tls,             // the peer's first bytes are not a TLS record (tls.not_tls)
  alert,               // the peer ended the handshake with a TLS alert (tls.alert)
  client_cert_required,  // its alert says it wants (another) client certificate (tls.client_cert_required)
  cert_expired,        // tls.cert_expired
  cert_not_yet_valid,  // tls.cert_not_yet_valid
  hostname_mismatch,   // tls.cert_hostname_mismatch (name or IP address)
  untrusted,           // self-signed, or issued by a CA we do not trust (tls.cert_untrusted)
  chain_incomplete,    // the server left out an intermediate (tls.chain_incomplete)
  old_protocol,        // handshake done, but below TLS 1.2 (tls.old_protocol)
  timeout,             // the handshake was not done at the deadline
  closed_by_peer,      // FIN (or close_notify) during the handshake
  reset_by_peer,       // RST during the handshake
  other,               // anything else: see TlsResult::error and verify_code
};

// "ok", "not_tls", ...: the names in JSON.
std::string_view outcome_name(TlsOutcome outcome);
// "tls.not_tls", ...; "" for ok, timeout, closed_by_peer, reset_by_peer and other, which the
// catalog has no tls.* finding for (the doctor reports them from the evidence).
std::string_view finding_id(TlsOutcome outcome);

struct TlsOptions {
  std::string sni;  // server_name sent; empty: none (IP literals)
  // The identity the certificate must carry: a DNS name (checked against DNS SANs, CN only
  // when there are none, as OpenSSL does) or an IP literal (IP SANs; a %zone is ignored).
  // Empty: the chain is verified but no identity is checked.
  std::string verify_name;
  bool insecure = false;           // verification failures are evidence, not failures
  std::vector<std::string> alpn;   // offered, in order of preference; empty: no ALPN
  std::chrono::milliseconds timeout{5000};  // the whole handshake, including a dripping peer
  int expiring_soon_days = 14;     // a leaf with fewer days left is tls.cert_expiring_soon
};

// SNI and the identity to verify from the target (or --sni, which then is both), ALPN for the
// protocol; timeout and the rest stay at their defaults.
TlsOptions tls_options(const Target& target, const std::optional<std::string>& sni);
// {"h2", "http/1.1"} for HTTP, nothing for every other protocol.
std::vector<std::string> default_alpn(AppProtocol protocol);

inline constexpr std::size_t kFirstBytesMax = 64;

// One handshake. Owns the secured stream when the handshake completed: bound to the executor of
// the socket given to secure(); use it (talk, observe_close on stream->next_layer()) and destroy
// it there. Move-only.
struct TlsResult {
  TlsResult();
  TlsResult(TlsResult&&) noexcept;
  TlsResult& operator=(TlsResult&&) noexcept;
  ~TlsResult();

  TlsOutcome outcome = TlsOutcome::other;
  bool handshake_complete = false;
  Clock::duration elapsed{};  // from the ClientHello to the verdict
  // On timeout: segments that had arrived out of order (as TalkResult's).
  std::optional<std::uint32_t> out_of_order_at_deadline;
  std::string sni;            // as sent, "" when none
  std::string verify_name;    // as checked, "" when none
  bool insecure = false;
  std::vector<std::string> alpn_offered;

  // Negotiated (known once the ServerHello arrived, so also after a failed verification).
  std::string version;  // SSL_get_version: "TLSv1.3", "TLSv1"; "" before a ServerHello
  int version_number = 0;  // 0x0304; 0 before a ServerHello
  std::string cipher;      // "TLS_AES_256_GCM_SHA384"
  std::string alpn;        // selected, "" when none
  OcspStaple ocsp;

  // OpenSSL's verification: X509_V_OK (0) when it passed (or never ran: no certificate came).
  long verify_code = 0;
  std::string verify_error;  // X509_verify_cert_error_string: "certificate has expired"
  // verify_code classified (ok when it passed). Without --insecure a failure here is also the
  // outcome; with --insecure it is the evidence of what would have failed.
  TlsOutcome verification = TlsOutcome::ok;
  bool verified = false;  // the handshake completed and its chain verified (with the identity)
  std::string trust_anchor;  // subject of the verified chain's last certificate

  std::optional<TlsAlert> alert_received;  // the first alert the peer sent
  std::optional<TlsAlert> alert_sent;      // the first alert we sent (e.g. a failed verify)
  // The alert came after our side of the handshake was done (a TLS 1.3 server checks the
  // client's certificate then): the talk stage's first read met it. See refused_after_handshake.
  bool alert_after_handshake = false;
  bool certificate_requested = false;  // the server sent a CertificateRequest
  std::string client_certificate;      // subject of the certificate we presented, "" when none

  std::vector<CertInfo> chain;  // as presented, leaf first; empty when none came
  ChainFacts chain_facts;
  std::optional<std::int64_t> days_to_expiry;  // of the leaf, at the verdict; may be negative
  bool expiring_soon = false;  // 0 <= days_to_expiry < TlsOptions::expiring_soon_days

  // When the handshake failed: the peer's first bytes (at most kFirstBytesMax) and what they
  // look like. Empty / kind none when nothing came or the handshake completed.
  std::string first_bytes;
  ReplyDescription peer_reply;

  // The handshake's error when it failed: op "TLS handshake", the errno for system errors,
  // OpenSSL's reason ("wrong version number", "certificate verify failed") as detail.
  std::optional<Error> error;

  std::unique_ptr<TlsStream> stream;  // handshake_complete only
};

// The stage status: ok; warn for old_protocol, a leaf expiring soon, or (--insecure) a
// verification that failed; fail for every other outcome.
StageStatus tls_status(const TlsResult& result);

// The finding ids the result calls for, without repeats: the outcome's, tls.old_protocol when
// an old version was negotiated but another failure is the outcome, tls.cert_expiring_soon.
// Nothing for a verification failure under --insecure (evidence only).
std::vector<std::string_view> tls_finding_ids(const TlsResult& result);

// The client configuration every handshake shares: trust store (a CA file, or the system's
// default paths), protocol range, security level. Immutable once made; copies share the
// SSL_CTX (OpenSSL counts references), so any thread may use it for handshakes.
class TlsContext {
 public:
  explicit TlsContext(std::shared_ptr<ssl_ctx_st> ctx) : ctx_(std::move(ctx)) {}
  [[nodiscard]] ssl_ctx_st* native() const { return ctx_.get(); }

 private:
  std::shared_ptr<ssl_ctx_st> ctx_;
};

// OpenSSL's one-time setup (its configuration file, providers), as curl does at start: call it
// before the stages so that no handshake's time includes it. Idempotent, thread-safe.
void init_tls_library();

// A client certificate to present when the server asks for one (--cert, --key): PEM files, the
// certificate file may hold the chain after the leaf; the key file may be the same file.
struct ClientCertificate {
  std::string cert_file;
  std::string key_file;
};

// Loads the trust store: `ca_file` (PEM, only those CAs are trusted, like curl --cacert) or the
// system's default paths; and the client certificate with its key, when given. An unreadable
// file, one without a certificate, or a key that does not match the certificate is an error
// naming the option (`--ca-file "PATH"`, `--cert "PATH"`, `--key "PATH"`): a usage error for
// the caller to report.
Result<TlsContext> make_tls_context(const std::optional<std::string>& ca_file,
                                    const std::optional<ClientCertificate>& client = std::nullopt);

// The usage check of the TLS files a command was given, before any stage runs: a wrong path is a
// usage error naming it. With a client certificate the whole context is loaded (the key must
// match). With a CA file alone only the file is read, for a PEM certificate: OpenSSL's first
// load of a trust store also initialises its decoders, work that belongs in the secure stage's
// time as it is in curl's time_appconnect.
Result<void> check_tls_files(const std::optional<std::string>& ca_file,
                             const std::optional<ClientCertificate>& client);

// --- The pure parts, exposed for tests ---

// Could these bytes be the start of a TLS record (content type 20-24, version 3.x)? True for
// a prefix too short to tell.
bool could_be_tls(std::string_view first_bytes);

// TLS 1.0 and 1.1 (and SSL 3.0): 0x0300-0x0302. 0 (nothing negotiated) is not old.
bool is_old_protocol(int version_number);

// An X509_V_ERR_* code, with the chain facts for the "issuer not found" codes.
TlsOutcome classify_verify(long verify_code, const ChainFacts& facts);

// A received alert: close_notify ends the handshake like a FIN (closed_by_peer), one that speaks
// of the client's certificate is client_cert_required (wants_client_certificate), every other
// alert is `alert`.
TlsOutcome classify_alert(const TlsAlert& alert, bool certificate_requested = false);

// A fatal alert that arrived with a read after the handshake completed on our side: the server
// refused the handshake after all (TLS 1.3 sends its verdict on the client's certificate then).
// The result becomes that refusal: the alert, its outcome, a failed status; the secured stream
// is no longer usable.
void refused_after_handshake(TlsResult& result, const TlsAlert& alert);

// How the handshake ended, as secure() saw it.
enum class HandshakeEnd { done, tls_error, eof, reset, deadline, system_error };

struct HandshakeFacts {
  HandshakeEnd end = HandshakeEnd::system_error;
  bool insecure = false;
  int version_number = 0;
  long verify_code = 0;
  bool chain_received = false;
  ChainFacts chain;
  std::optional<TlsAlert> alert_received;
  bool certificate_requested = false;
  std::string first_bytes;
};
// The verdict: deadline → timeout; done → old_protocol or ok; a failure → not_tls when the
// first bytes cannot be TLS, then the peer's alert, then the failed verification, then FIN/RST.
TlsOutcome judge(const HandshakeFacts& facts);

}  // namespace connscope::probe
