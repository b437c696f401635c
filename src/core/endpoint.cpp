#include "core/endpoint.h"
#include "core/error_text.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace connscope {

namespace {

std::string quoted(std::string_view what, std::string_view text) {
  return fmt::format("{} \"{}\"", what, text);
}

}  // namespace

std::string Endpoint::to_string() const {
  if (family == AF_INET6) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, address.c_str(), &sin6->sin6_addr);
    return sizeof(sockaddr_in6);
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(&out);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &sin->sin_addr);
  return sizeof(sockaddr_in);
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view what, bool allow_zero) {
  const Msg range = allow_zero ? Msg::in_not_port_or_zero : Msg::in_not_port;
  if (text.empty() || text.size() > 5) return fail_text(quoted(what, text), range);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value > 65535 ||
      (value == 0 && !allow_zero)) {
    return fail_text(quoted(what, text), range);
  }
  return static_cast<std::uint16_t>(value);
}

Result<Endpoint> parse_endpoint(std::string_view text, std::string_view what, bool allow_zero) {
  Endpoint ep;
  std::string_view host;
  std::string_view port_text;

  if (text.empty()) return fail_text(quoted(what, text), Msg::in_empty_address);
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail_text(quoted(what, text), Msg::in_missing_bracket);
    }
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return fail_text(quoted(what, text), Msg::in_missing_port_ipv6);
    }
    port_text = rest.substr(1);
    ep.family = AF_INET6;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      port_text = text;  // a bare port: every IPv4 address
      host = "0.0.0.0";
    } else if (text.find(':') != colon) {
      return fail_text(quoted(what, text), Msg::in_ipv6_needs_brackets);
    } else {
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (host.empty()) host = "0.0.0.0";
    }
    ep.family = AF_INET;
  }

  auto port = parse_port(port_text, what, allow_zero);
  if (!port) {
    port.error().op = quoted(what, text);
    return std::unexpected(port.error());
  }
  ep.port = *port;

  const std::string host_str(host);
  // Brackets hold an IPv6 address; "[localhost]" would otherwise become an IPv4 endpoint that
  // claims to be IPv6.
  if (host_str == "localhost" && ep.family == AF_INET) {
    ep.address = "127.0.0.1";
    return ep;
  }
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(ep.family, host_str.c_str(), buf) != 1) {
    return fail_text(quoted(what, text), ep.family == AF_INET6 ? Msg::in_not_ipv6 : Msg::in_not_numeric_ip);
  }
  char canon[INET6_ADDRSTRLEN];
  inet_ntop(ep.family, buf, canon, sizeof canon);
  ep.address = canon;
  return ep;
}

Endpoint endpoint_from_sockaddr(const sockaddr* sa) {
  Endpoint ep;
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ep.family = AF_INET6;
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
    ep.port = ntohs(sin6->sin6_port);
  } else {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    ep.family = AF_INET;
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    ep.port = ntohs(sin->sin_port);
  }
  ep.address = buf;
  return ep;
}

}  // namespace connscope
