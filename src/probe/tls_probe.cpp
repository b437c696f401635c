#include "probe/tls_probe.h"

#include "core/error_text.h"

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
#include <fstream>
#include <iterator>
#include <system_error>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "probe/tls_openssl.h"
#include "probe/watchdog.h"

namespace connscope::probe {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;


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
  bool certificate_requested = false;
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
  if (content_type == SSL3_RT_HANDSHAKE && write_p == 0 && len >= 1 && b[0] == SSL3_MT_CERTIFICATE_REQUEST) {
    seen->certificate_requested = true;
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
    return error_text(op, Msg::err_tls_timeout, {{"ms", std::to_string(timeout.count())}});
  }
  if (end == HandshakeEnd::eof) return error_text(op, Msg::err_peer_closed);
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

// --- context ---

void init_tls_library() { OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr); }

namespace {

// The errno of a failed fopen inside OpenSSL (the ERR_LIB_SYS entry before BIO's own), or 0.
int system_errno_in_queue() {
  int code = 0;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    if (ERR_GET_LIB(e) == ERR_LIB_SYS && code == 0) code = ERR_GET_REASON(e);
  }
  return code;
}

// A readable regular file, or the error naming `op`.
Result<void> check_readable(const std::string& op, const std::string& path) {
  std::error_code fec;
  if (std::filesystem::is_directory(path, fec)) return fail_text(op, Msg::err_directory_not_pem, {}, EISDIR);
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    const int code = system_errno_in_queue();
    return fail_text(op, Msg::err_open, {}, code);
  }
  return {};
}

Result<void> load_trust(SSL_CTX* ctx, const std::optional<std::string>& ca_file) {
  if (!ca_file) {
    // A missing system store is not an error here: verification then says what it could not find.
    SSL_CTX_set_default_verify_paths(ctx);
    ERR_clear_error();
    return {};
  }
  const std::string op = fmt::format("--ca-file \"{}\"", *ca_file);
  if (auto ok = check_readable(op, *ca_file); !ok) return ok;
  if (SSL_CTX_load_verify_file(ctx, ca_file->c_str()) != 1) {
    ERR_clear_error();
    return fail_text(op, Msg::err_no_pem_certificate);
  }
  return {};
}

Result<void> load_client_certificate(SSL_CTX* ctx, const ClientCertificate& c) {
  const std::string cert_op = fmt::format("--cert \"{}\"", c.cert_file);
  const std::string key_op = fmt::format("--key \"{}\"", c.key_file);
  if (auto ok = check_readable(cert_op, c.cert_file); !ok) return ok;
  if (auto ok = check_readable(key_op, c.key_file); !ok) return ok;
  if (SSL_CTX_use_certificate_chain_file(ctx, c.cert_file.c_str()) != 1) {
    const auto reason = openssl_reason(ERR_peek_last_error());
    ERR_clear_error();
    return fail_text(cert_op, Msg::err_no_pem_certificate_reason, {{"reason", reason}});
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const auto reason = openssl_reason(ERR_peek_last_error());
    ERR_clear_error();
    return fail_text(key_op, Msg::err_no_pem_key, {{"reason", reason}});
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return fail_text(key_op, Msg::err_key_mismatch, {{"cert", cert_op}});
  }
  return {};
}

}  // namespace

Result<void> check_tls_files(const std::optional<std::string>& ca_file,
                             const std::optional<ClientCertificate>& client) {
  if (client) {
    auto ctx = make_tls_context(ca_file, client);
    if (!ctx) return std::unexpected(ctx.error());
    return {};
  }
  if (!ca_file) return {};
  const std::string op = fmt::format("--ca-file \"{}\"", *ca_file);
  if (auto ok = check_readable(op, *ca_file); !ok) return ok;
  std::ifstream in(*ca_file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) return fail_text(op, Msg::err_no_pem_certificate);
  return {};
}

Result<TlsContext> make_tls_context(const std::optional<std::string>& ca_file,
                                    const std::optional<ClientCertificate>& client) {
  ERR_clear_error();
  std::shared_ptr<ssl_ctx_st> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return fail("SSL_CTX_new", openssl_reason(ERR_get_error()));
  // Offer everything from TLS 1.0 at security level 0: an old server must be seen and named
  // (tls.old_protocol), not refused by our own defaults.
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0") != 1) {
    return fail("SSL_CTX_set_cipher_list", openssl_reason(ERR_get_error()));  // OpenSSL's own words
  }
  SSL_CTX_set_security_level(ctx.get(), 0);
  if (auto ok = load_trust(ctx.get(), ca_file); !ok) return std::unexpected(ok.error());
  if (client) {
    if (auto ok = load_client_certificate(ctx.get(), *client); !ok) return std::unexpected(ok.error());
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
  // `call` names the OpenSSL call that refused; the detail is OpenSSL's own reason.
  const auto configure_error = [&](std::string call) {
    res.outcome = TlsOutcome::other;
    res.error = Error{std::move(call), 0, openssl_reason(ERR_get_error())};
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
    configure_error("SSL_set_tlsext_host_name \"" + o.sni + "\"");
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
      configure_error("X509_VERIFY_PARAM_set1_host \"" + o.verify_name + "\"");
      co_return res;
    }
  }
  SSL_set_verify(ssl, o.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  if (!o.alpn.empty()) {
    bool ok = false;
    const std::string wire = alpn_wire(o.alpn, &ok);
    if (!ok || SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                                   static_cast<unsigned int>(wire.size())) != 0) {
      configure_error("SSL_set_alpn_protos");

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
        res.trust_anchor = x509_name_text(X509_get_subject_name(sk_X509_value(path, sk_X509_num(path) - 1)));
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
  res.certificate_requested = seen.certificate_requested;
  if (seen.certificate_requested) {
    if (X509* mine = SSL_get_certificate(ssl)) res.client_certificate = x509_name_text(X509_get_subject_name(mine));
  }

  facts.version_number = res.version_number;
  facts.verify_code = res.verify_code;
  facts.chain_received = !presented.empty();
  facts.chain = res.chain_facts;
  facts.alert_received = seen.received;
  facts.certificate_requested = seen.certificate_requested;
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
