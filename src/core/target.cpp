#include "core/target.h"
#include "core/error_text.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <array>
#include <cctype>

#include "core/endpoint.h"

namespace connscope {

namespace {

struct SchemeInfo {
  Scheme scheme;
  std::string_view name;
  std::uint16_t port;
  AppProtocol protocol;
  bool tls;
};

constexpr std::array<SchemeInfo, 9> kSchemes{{
    {Scheme::http, "http", 80, AppProtocol::http, false},
    {Scheme::https, "https", 443, AppProtocol::http, true},
    {Scheme::ssh, "ssh", 22, AppProtocol::ssh, false},
    {Scheme::smtp, "smtp", 25, AppProtocol::smtp, false},
    {Scheme::smtps, "smtps", 465, AppProtocol::smtp, true},
    {Scheme::redis, "redis", 6379, AppProtocol::redis, false},
    {Scheme::postgres, "postgres", 5432, AppProtocol::postgres, false},
    {Scheme::mysql, "mysql", 3306, AppProtocol::mysql, false},
    {Scheme::ftp, "ftp", 21, AppProtocol::ftp, false},
}};

// Ports people commonly use for these protocols besides the schemes' defaults.
constexpr std::array<std::pair<std::uint16_t, Scheme>, 3> kExtraPorts{{
    {587, Scheme::smtp},
    {8080, Scheme::http},
    {8443, Scheme::https},
}};

constexpr std::string_view kKnownSchemes =
    "http, https, ssh, smtp, smtps, redis, postgres (or postgresql), mysql, ftp";
constexpr std::size_t kMaxName = 253;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxZone = 15;  // IFNAMSIZ - 1

const SchemeInfo* info(Scheme s) {
  for (const auto& i : kSchemes) {
    if (i.scheme == s) return &i;
  }
  return nullptr;
}

// The input goes into the error line as typed, except bytes a terminal would act on.
std::string printable(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The canonical IPv6 text (via parse_endpoint, the project's one numeric-address parser), with
// a zone kept; nullopt when it is not an IPv6 address.
std::optional<std::string> canonical_v6(std::string_view text) {
  std::string_view addr = text;
  std::string_view zone;
  if (const auto pct = text.find('%'); pct != std::string_view::npos) {
    addr = text.substr(0, pct);
    zone = text.substr(pct + 1);
    if (zone.starts_with("25")) zone.remove_prefix(2);  // RFC 6874: "%25" in a URL
    if (zone.empty() || zone.size() > kMaxZone) return std::nullopt;
    for (const char c : zone) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        return std::nullopt;
      }
    }
  }
  if (addr.empty()) return std::nullopt;
  auto ep = parse_endpoint(fmt::format("[{}]:0", addr), "target", /*allow_zero=*/true);
  if (!ep) return std::nullopt;
  if (zone.empty()) return ep->address;
  return fmt::format("{}%{}", ep->address, zone);
}

std::optional<std::string> canonical_v4(std::string_view text) {
  auto ep = parse_endpoint(fmt::format("{}:0", text), "target", /*allow_zero=*/true);
  if (!ep || ep->family != AF_INET) return std::nullopt;
  return ep->address;
}

struct Host {
  std::string name;
  HostKind kind = HostKind::name;
};

// A host that is not bracketed and has at most one colon removed: an IPv4 literal or a name.
Result<Host> check_name_or_v4(std::string_view text, const std::string& op) {
  if (text.empty()) return fail_text(op, Msg::in_missing_host);
  bool numeric = false;  // digits and dots only, with at least one digit
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      numeric = true;
    } else if (c != '.') {
      numeric = false;
      break;
    }
  }
  if (numeric) {
    auto v4 = canonical_v4(text);
    if (!v4)
      return fail_text(op, Msg::in_bad_ipv4);
    return Host{*v4, HostKind::ipv4};
  }
  std::string_view name = text;
  if (name.ends_with('.')) name.remove_suffix(1);  // an absolute name; SNI and Host want no dot
  if (name.size() > kMaxName) {
    return fail_text(op, Msg::in_name_too_long,
                     {{"length", std::to_string(name.size())}, {"max", std::to_string(kMaxName)}});
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const auto label = name.substr(start, end - start);
    if (label.empty())
      return fail_text(op, Msg::in_empty_label);
    if (label.size() > kMaxLabel) {
      return fail_text(op, Msg::in_label_too_long,
                       {{"label", std::string(label.substr(0, 16))},
                        {"length", std::to_string(label.size())},
                        {"max", std::to_string(kMaxLabel)}});
    }
    for (const char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return fail_text(op, Msg::in_bad_name_char, {{"char", printable({&c, 1})}});
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return fail_text(op, Msg::in_label_dash, {{"label", std::string(label)}});
    }
    start = end + 1;
  }
  return Host{lower(name), HostKind::name};
}

struct HostPort {
  Host host;
  std::optional<std::uint16_t> port;
};

Result<std::uint16_t> port_of(std::string_view text, const std::string& op) {
  auto port = parse_port(text, "target");
  if (!port) {
    port.error().op = op;
    return std::unexpected(port.error());
  }
  return *port;
}

// HOST, HOST:PORT, [V6], [V6]:PORT and (outside URLs) a bare IPv6 address.
Result<HostPort> parse_authority(std::string_view text, bool in_url, const std::string& op) {
  HostPort out;
  if (text.empty()) return fail_text(op, Msg::in_missing_host);
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail_text(op, Msg::in_missing_bracket);
    const auto inner = text.substr(1, close - 1);
    if (inner.empty()) return fail_text(op, Msg::in_empty_brackets);
    auto v6 = canonical_v6(inner);
    if (!v6) return fail_text(op, Msg::in_not_ipv6_quoted, {{"text", printable(inner)}});
    out.host = Host{*v6, HostKind::ipv6};
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return fail_text(op, Msg::in_text_after_bracket);
      }
      auto port = port_of(rest.substr(1), op);
      if (!port) return std::unexpected(port.error());
      out.port = *port;
    }
    return out;
  }

  const auto first = text.find(':');
  const auto last = text.rfind(':');
  if (first != last) {
    // Two or more colons: IPv6 without brackets.
    const auto head = text.substr(0, last);
    const auto tail = text.substr(last + 1);
    const bool tail_is_port = all_digits(tail) && tail.size() <= 5 && canonical_v6(head);
    if (in_url) {
      return fail_text(op, Msg::in_url_ipv6_brackets,
                       {{"address", tail_is_port ? printable(head) : printable(text)}});
    }
    if (tail_is_port) {
      // "2001:db8::1:443" is itself a valid address: which one was meant cannot be known.
      return fail_text(op, Msg::in_ipv6_port_ambiguous,
                       {{"head", printable(head)}, {"port", std::string(tail)}, {"text", printable(text)}});
    }
    auto v6 = canonical_v6(text);
    if (!v6) return fail_text(op, Msg::in_not_ipv6_no_colon);
    out.host = Host{*v6, HostKind::ipv6};
    return out;
  }

  std::string_view host = text;
  if (first != std::string_view::npos) {
    host = text.substr(0, first);
    if (host.empty()) return fail_text(op, Msg::in_missing_host_before_colon);
    auto port = port_of(text.substr(first + 1), op);
    if (!port) return std::unexpected(port.error());
    out.port = *port;
  }
  auto h = check_name_or_v4(host, op);
  if (!h) return std::unexpected(h.error());
  out.host = std::move(*h);
  return out;
}

}  // namespace

int Target::family() const {
  if (kind == HostKind::ipv4) return AF_INET;
  if (kind == HostKind::ipv6) return AF_INET6;
  return AF_UNSPEC;
}

std::string Target::http_host() const {
  std::string h = host;
  if (kind == HostKind::ipv6) {
    h = fmt::format("[{}]", std::string_view(host).substr(0, host.find('%')));
  }
  if (port && *port != default_port(scheme)) h += fmt::format(":{}", *port);
  return h;
}

std::string_view scheme_name(Scheme s) {
  const auto* i = info(s);
  return i ? i->name : std::string_view{};
}

std::optional<Scheme> parse_scheme(std::string_view name) {
  const std::string l = lower(name);
  if (l == "postgresql") return Scheme::postgres;
  for (const auto& i : kSchemes) {
    if (i.name == l) return i.scheme;
  }
  return std::nullopt;
}

std::uint16_t default_port(Scheme s) {
  const auto* i = info(s);
  return i ? i->port : std::uint16_t{0};
}

AppProtocol scheme_protocol(Scheme s) {
  const auto* i = info(s);
  return i ? i->protocol : AppProtocol::banner;
}

bool scheme_tls(Scheme s) {
  const auto* i = info(s);
  return i != nullptr && i->tls;
}

Scheme scheme_for_port(std::uint16_t port) {
  for (const auto& i : kSchemes) {
    if (i.port == port) return i.scheme;
  }
  for (const auto& [p, s] : kExtraPorts) {
    if (p == port) return s;
  }
  return Scheme::none;
}

AppProtocol target_protocol(const Target& t, std::uint16_t port) {
  if (t.scheme == Scheme::none || t.scheme_guessed) return scheme_protocol(scheme_for_port(port));
  return t.protocol;
}

bool target_tls(const Target& t, std::uint16_t port) {
  if (t.scheme == Scheme::none || t.scheme_guessed) return scheme_tls(scheme_for_port(port));
  return t.tls;
}

std::string_view protocol_name(AppProtocol p) {
  if (p == AppProtocol::http) return "http";
  if (p == AppProtocol::ssh) return "ssh";
  if (p == AppProtocol::smtp) return "smtp";
  if (p == AppProtocol::ftp) return "ftp";
  if (p == AppProtocol::redis) return "redis";
  if (p == AppProtocol::postgres) return "postgres";
  if (p == AppProtocol::mysql) return "mysql";
  return "banner";
}

Result<Target> parse_target(std::string_view text) {
  const std::string op = fmt::format("target \"{}\"", printable(text));
  if (text.empty()) {
    return fail_text(op, Msg::in_empty_target);
  }
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      return fail_text(op, Msg::in_non_ascii);
    }
    if (c <= 0x20 || c == 0x7f) return fail_text(op, Msg::in_space_or_control);
  }

  Target t;
  std::string_view authority = text;
  std::string_view rest;  // path, query and fragment of a URL
  if (const auto sep = text.find("://"); sep != std::string_view::npos) {
    const auto name = text.substr(0, sep);
    if (name.empty())
      return fail_text(op, Msg::in_missing_scheme, {{"known", std::string(kKnownSchemes)}});
    auto scheme = parse_scheme(name);
    if (!scheme) {
      return fail_text(op, Msg::in_unknown_scheme,
                       {{"scheme", std::string(name)}, {"known", std::string(kKnownSchemes)}});
    }
    t.scheme = *scheme;
    const auto after = text.substr(sep + 3);
    const auto end = after.find_first_of("/?#");
    authority = after.substr(0, end);
    if (end != std::string_view::npos) rest = after.substr(end);
  } else if (text.find_first_of("/?#") != std::string_view::npos) {
    return fail_text(op, Msg::in_path_needs_scheme);
  }
  if (authority.find('@') != std::string_view::npos) {
    return fail_text(op, Msg::in_credentials);
  }

  auto hp = parse_authority(authority, t.scheme != Scheme::none, op);
  if (!hp) return std::unexpected(hp.error());
  t.host = std::move(hp->host.name);
  t.kind = hp->host.kind;
  t.port = hp->port;
  t.port_explicit = hp->port.has_value();

  if (t.scheme == Scheme::none && t.port) {
    t.scheme = scheme_for_port(*t.port);
    t.scheme_guessed = t.scheme != Scheme::none;
  }
  if (t.scheme != Scheme::none) {
    if (!t.port) t.port = default_port(t.scheme);
    t.protocol = scheme_protocol(t.scheme);
    t.tls = scheme_tls(t.scheme);
  }
  if (t.protocol == AppProtocol::http) {
    std::string_view target = rest.substr(0, rest.find('#'));  // a fragment is never sent
    t.http_path = target.starts_with('/') ? std::string(target) : fmt::format("/{}", target);
  }
  return t;
}

Result<std::string> redirect_url(const Target& base, std::string_view location) {
  const std::string op = "redirect to \"" + std::string(location) + "\"";
  if (base.scheme != Scheme::http && base.scheme != Scheme::https) {
    return fail_text(op, Msg::in_redirect_scheme);
  }
  if (location.empty()) return fail_text(op, Msg::in_empty_location);
  for (char ch : location) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return fail_text(op, Msg::in_location_control);
  }
  const std::string scheme(scheme_name(base.scheme));
  if (location.find("://") != std::string_view::npos) return std::string(location);
  if (location.starts_with("//")) return scheme + ":" + std::string(location);
  const std::string origin = scheme + "://" + base.http_host();
  if (location.front() == '/') return origin + std::string(location);
  // Relative to the base path's directory ("a/b?x" keeps "a/"); a query-only reference replaces
  // the query.
  std::string path = base.http_path.empty() ? "/" : base.http_path;
  path = path.substr(0, path.find_first_of("?#"));
  if (location.front() == '?') return origin + path + std::string(location);
  return origin + path.substr(0, path.rfind('/') + 1) + std::string(location);
}

}  // namespace connscope
