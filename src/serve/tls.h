#pragma once
// Server-side TLS material for `connscope serve`: a certificate and key from files, or a
// self-signed pair generated in memory (never written to disk).

#include <openssl/types.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "serve/options.h"

namespace connscope::serve {

// Loads the configured certificate and key into `ctx` (an SSL_CTX owned by the caller), checks
// that they belong together, sets TLS 1.2 as the floor and ALPN (http/1.1 when offered).
// `names` are put into a self-signed certificate's subjectAltName (IP addresses or DNS names).
Result<void> configure_tls(SSL_CTX* ctx, const TlsConfig& config,
                           const std::vector<std::string>& names);

}  // namespace connscope::serve
