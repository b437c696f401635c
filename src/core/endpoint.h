#pragma once
// Numeric socket addresses as a person types them on the command line: "127.0.0.1:8080",
// "[::1]:8080", ":8080" (every IPv4 address), "8080". Host names are not resolved here.

#include <cstdint>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>

#include "core/error.h"

namespace connscope {

struct Endpoint {
  int family = AF_INET;  // AF_INET or AF_INET6
  std::string address;   // canonical numeric form, no brackets: "127.0.0.1", "::1"
  std::uint16_t port = 0;

  // "127.0.0.1:8080" or "[::1]:8080".
  [[nodiscard]] std::string to_string() const;
  // Fills a sockaddr_in or sockaddr_in6; returns its length.
  socklen_t to_sockaddr(sockaddr_storage& out) const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// `what` names the input in errors, e.g. "--listen".
Result<std::uint16_t> parse_port(std::string_view text, std::string_view what,
                                 bool allow_zero = false);

// Port 0 is accepted (the kernel picks one) when allow_zero is set.
Result<Endpoint> parse_endpoint(std::string_view text, std::string_view what,
                                bool allow_zero = false);

// From a kernel-filled sockaddr (getsockname and the like).
Endpoint endpoint_from_sockaddr(const sockaddr* sa);

}  // namespace connscope
