#pragma once
// What a person types after `connscope doctor`: HOST, HOST:PORT, [IPV6]:PORT, [IPV6], a bare
// IPv6 address (no port), or a URL whose scheme names the port, the protocol to talk and whether
// TLS comes first (https://example.com/health, redis://10.0.0.5, postgres://db:6432).
// Pure parsing: names are not resolved here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace connscope {

// The URL schemes connscope knows; `none` when the target is not a URL and its port is not a
// well-known one.
enum class Scheme { none, http, https, ssh, smtp, smtps, redis, postgres, mysql, ftp };

// What the talk stage speaks once connected (and, with TLS, secured). `banner` reads whatever
// the server says first and describes it.
enum class AppProtocol { banner, http, ssh, smtp, ftp, redis, postgres, mysql };

enum class HostKind { name, ipv4, ipv6 };

struct Target {
  // Lower case, no brackets, no trailing dot. IP literals in canonical form ("2001:db8::1");
  // a link-local IPv6 address keeps its zone ("fe80::1%eth0").
  std::string host;
  HostKind kind = HostKind::name;
  // Explicit, or the scheme's default; absent for "HOST" and a bare IPv6 address, where the
  // caller picks one.
  std::optional<std::uint16_t> port;
  bool port_explicit = false;
  // As typed, or guessed from a well-known port ("db:5432" → postgres) when there is no scheme.
  Scheme scheme = Scheme::none;
  bool scheme_guessed = false;
  AppProtocol protocol = AppProtocol::banner;  // implied by the scheme
  bool tls = false;                            // implied by the scheme (https, smtps)
  // The HTTP request target for http(s): the URL's path and query ("/health?x=1"), "/" when it
  // has none; empty for other schemes (a database name in postgres://h/db is accepted, unused).
  std::string http_path;

  [[nodiscard]] bool is_ip_literal() const { return kind != HostKind::name; }
  // AF_INET, AF_INET6, or AF_UNSPEC for a name.
  [[nodiscard]] int family() const;
  // The HTTP Host header / URL authority: "example.com", "[2001:db8::1]:8443"; the port is left
  // out when it is the scheme's default or unknown, the zone of a link-local address always.
  [[nodiscard]] std::string http_host() const;
};

// Userinfo ("user:pass@host") is rejected, not ignored: connscope never sends credentials, and
// the target is echoed in output, JSON and the agent's history, where a password must not end up.
// Errors name the input: op `target "foo:70000"`, detail "not a port (1-65535)".
Result<Target> parse_target(std::string_view text);

// Where an HTTP redirect from `base` leads: the Location header's URL made absolute (RFC 3986
// reference resolution for the forms servers send: "https://h/p", "//h/p", "/p", "p"; a query
// or fragment is kept with the path). The base must be an http(s) target. Pure.
Result<std::string> redirect_url(const Target& base, std::string_view location);

// "http", "https", ... ("" for none); parse accepts any case and "postgresql".
std::string_view scheme_name(Scheme s);
std::optional<Scheme> parse_scheme(std::string_view name);
std::uint16_t default_port(Scheme s);  // 0 for none
AppProtocol scheme_protocol(Scheme s);
bool scheme_tls(Scheme s);
// The scheme a well-known port suggests (22 → ssh, 443 → https, 5432 → postgres, ...), or none.
Scheme scheme_for_port(std::uint16_t port);
// What a target implies on `port` (its own, or one given apart) when nothing overrides it: its
// scheme's protocol and TLS; without a scheme, or with one only guessed, what the port suggests.
AppProtocol target_protocol(const Target& t, std::uint16_t port);
bool target_tls(const Target& t, std::uint16_t port);

// "banner", "http", "ssh", ...: the names in JSON.
std::string_view protocol_name(AppProtocol p);

}  // namespace connscope
