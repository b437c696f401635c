#include "serve/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace connscope::serve {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// The most recent OpenSSL error as text, and the queue cleared for the next operation.
std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  // "error:0A00018F:SSL routines::ee key too small" -> keep the reason after the last ':'.
  const std::string full = buf;
  const auto pos = full.rfind(':');
  return pos == std::string::npos ? full : full.substr(pos + 1);
}

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static constexpr unsigned char kProtos[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kProtos, sizeof kProtos, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no common protocol: carry on without ALPN
}

Result<void> make_self_signed(SSL_CTX* ctx, const std::vector<std::string>& names) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return fail("generate TLS key", openssl_error());
  X509Ptr cert(X509_new());
  if (!cert) return fail("generate TLS certificate", openssl_error());
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  // Valid from an hour ago, so a client with a slightly slow clock still accepts it.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("connscope"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("connscope serve"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  std::string san;
  auto add_name = [&san](const std::string& n) {
    unsigned char buf[sizeof(in6_addr)];
    const bool is_ip = inet_pton(AF_INET, n.c_str(), buf) == 1 || inet_pton(AF_INET6, n.c_str(), buf) == 1;
    if (!san.empty()) san += ",";
    san += (is_ip ? "IP:" : "DNS:") + n;
  };
  for (const char* n : {"localhost", "127.0.0.1", "::1"}) add_name(n);
  for (const auto& n : names) {
    if (n != "localhost" && n != "127.0.0.1" && n != "::1" && n != "0.0.0.0" && n != "::") {
      add_name(n);
    }
  }
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, san},
                                   std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
                                   std::pair{NID_ext_key_usage, std::string("serverAuth")}}) {
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return fail("generate TLS certificate", openssl_error());
    }
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return fail("sign TLS certificate", openssl_error());
  }
  if (SSL_CTX_use_certificate(ctx, cert.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    return fail("load generated TLS certificate", openssl_error());
  }
  return {};
}

Result<void> check_readable(const std::string& path, const char* option) {
  if (::access(path.c_str(), R_OK) != 0) {
    const int err = errno;
    return fail(fmt::format("{} \"{}\"", option, path), "cannot read the file", err);
  }
  return {};
}

}  // namespace

Result<void> configure_tls(SSL_CTX* ctx, const TlsConfig& config,
                           const std::vector<std::string>& names) {
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, nullptr);
  if (config.self_signed) return make_self_signed(ctx, names);

  if (auto r = check_readable(config.cert_file, "--tls-cert"); !r) return r;
  if (auto r = check_readable(config.key_file, "--tls-key"); !r) return r;
  if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
    return fail(fmt::format("--tls-cert \"{}\"", config.cert_file),
                "not a PEM certificate: " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the pair as it loads the key; say which of the two problems it is.
    const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    const std::string reason = openssl_error();
    return fail(fmt::format("--tls-key \"{}\"", config.key_file),
                mismatch ? fmt::format("does not match the certificate in \"{}\"", config.cert_file)
                         : "not a PEM private key: " + reason);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail(fmt::format("--tls-key \"{}\"", config.key_file),
                fmt::format("does not match the certificate in \"{}\"", config.cert_file));
  }
  return {};
}

}  // namespace connscope::serve
