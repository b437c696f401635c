#pragma once
// What the TLS sources (tls_probe.cpp, tls_cert.cpp) share of OpenSSL: owning pointers and the
// text of a packed error. Internal to src/probe: it includes OpenSSL's headers.

#include <openssl/err.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include <fmt/format.h>

namespace connscope::probe {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};

// OpenSSL's reason for a packed error ("wrong version number"), or its number when it has none.
inline std::string openssl_reason(unsigned long e) {
  if (e == 0) return "unknown OpenSSL error";
  if (const char* r = ERR_reason_error_string(e)) return r;
  return fmt::format("OpenSSL error {:#x}", e);
}

// RFC 2253 with OpenSSL's escapes ("CN=server.connscope.test"); "" for none.
std::string x509_name_text(const X509_NAME* name);

}  // namespace connscope::probe
