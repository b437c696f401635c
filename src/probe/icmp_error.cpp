#include "probe/icmp_error.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace connscope::probe {

namespace {

ErrOrigin origin_of(std::uint8_t raw) {
  if (raw == SO_EE_ORIGIN_NONE) return ErrOrigin::none;
  if (raw == SO_EE_ORIGIN_LOCAL) return ErrOrigin::local;
  if (raw == SO_EE_ORIGIN_ICMP) return ErrOrigin::icmp;
  if (raw == SO_EE_ORIGIN_ICMP6) return ErrOrigin::icmp6;
  if (raw == SO_EE_ORIGIN_TXSTATUS) return ErrOrigin::txstatus;
  if (raw == SO_EE_ORIGIN_ZEROCOPY) return ErrOrigin::zerocopy;
  if (raw == SO_EE_ORIGIN_TXTIME) return ErrOrigin::txtime;
  return ErrOrigin::unknown;
}

std::string ntop(int family, const void* addr) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (::inet_ntop(family, addr, buf.data(), static_cast<socklen_t>(buf.size())) == nullptr) {
    return {};
  }
  return std::string(buf.data());
}

// IPv4 destination-unreachable codes (RFC 792, 1122, 1812).
std::optional<ConnectFailure> classify_v4_unreachable(std::uint8_t code) {
  switch (code) {
    case 2:  // protocol unreachable
    case 3:  // port unreachable
      return ConnectFailure::rejected_icmp;
    case 9:   // network administratively prohibited
    case 10:  // host administratively prohibited
    case 13:  // communication administratively prohibited (firewalls)
    case 14:  // host precedence violation
    case 15:  // precedence cutoff in effect
      return ConnectFailure::admin_prohibited;
    case 0:   // net unreachable
    case 1:   // host unreachable
    case 5:   // source route failed
    case 6:   // destination network unknown
    case 7:   // destination host unknown
    case 8:   // source host isolated
    case 11:  // network unreachable for TOS
    case 12:  // host unreachable for TOS
      return ConnectFailure::host_unreachable;
    case 4:  // fragmentation needed: path MTU, TCP carries on
      return std::nullopt;
    default:
      return ConnectFailure::other;
  }
}

// ICMPv6 destination-unreachable codes (RFC 4443, 7112).
std::optional<ConnectFailure> classify_v6_unreachable(std::uint8_t code) {
  switch (code) {
    case 4:  // port unreachable
      return ConnectFailure::rejected_icmp;
    case 1:  // communication administratively prohibited
    case 5:  // source address failed ingress/egress policy
    case 6:  // reject route to destination
      return ConnectFailure::admin_prohibited;
    case 0:  // no route to destination
    case 2:  // beyond scope of source address
    case 3:  // address unreachable
    case 7:  // error in source routing header
      return ConnectFailure::host_unreachable;
    default:
      return ConnectFailure::other;
  }
}

}  // namespace

std::string_view connect_failure_name(ConnectFailure failure) {
  switch (failure) {
    case ConnectFailure::none: return "none";
    case ConnectFailure::refused: return "refused";
    case ConnectFailure::rejected_icmp: return "rejected_icmp";
    case ConnectFailure::admin_prohibited: return "admin_prohibited";
    case ConnectFailure::host_unreachable: return "host_unreachable";
    case ConnectFailure::no_route: return "no_route";
    case ConnectFailure::filtered: return "filtered";
    case ConnectFailure::local_port_exhaustion: return "local_port_exhaustion";
    case ConnectFailure::other: return "other";
  }
  return "other";
}

std::optional<std::string_view> finding_id(ConnectFailure failure) {
  switch (failure) {
    case ConnectFailure::refused: return "tcp.refused";
    case ConnectFailure::rejected_icmp: return "tcp.rejected_icmp";
    case ConnectFailure::admin_prohibited: return "net.admin_prohibited";
    case ConnectFailure::host_unreachable: return "net.host_unreachable";
    case ConnectFailure::no_route: return "net.no_route";
    case ConnectFailure::filtered: return "tcp.filtered";
    case ConnectFailure::local_port_exhaustion: return "tcp.local_port_exhaustion";
    case ConnectFailure::none:
    case ConnectFailure::other: return std::nullopt;
  }
  return std::nullopt;
}

Result<QueuedError> decode_extended_err(std::span<const std::byte> payload) {
  sock_extended_err ee{};
  if (payload.size() < sizeof ee) {
    return fail("IP_RECVERR message", "shorter than a sock_extended_err");
  }
  std::memcpy(&ee, payload.data(), sizeof ee);
  QueuedError out;
  out.origin = origin_of(ee.ee_origin);
  out.type = ee.ee_type;
  out.code = ee.ee_code;
  out.error = static_cast<int>(ee.ee_errno);
  out.info = ee.ee_info;

  // The offender follows the header (SO_EE_OFFENDER). The kernel always writes one, zeroed
  // (AF_UNSPEC) when there is no sender; a shorter payload just has none.
  const auto rest = payload.subspan(sizeof ee);
  sa_family_t family = AF_UNSPEC;
  if (rest.size() < sizeof family) return out;
  std::memcpy(&family, rest.data(), sizeof family);
  if (family == AF_UNSPEC) return out;
  if (family == AF_INET) {
    sockaddr_in sin{};
    if (rest.size() < sizeof sin) return fail("IP_RECVERR message", "truncated sockaddr_in");
    std::memcpy(&sin, rest.data(), sizeof sin);
    out.offender = ntop(AF_INET, &sin.sin_addr);
    return out;
  }
  if (family == AF_INET6) {
    sockaddr_in6 sin6{};
    if (rest.size() < sizeof sin6) return fail("IPV6_RECVERR message", "truncated sockaddr_in6");
    std::memcpy(&sin6, rest.data(), sizeof sin6);
    // A dual-stack socket reports an IPv4 router as ::ffff:a.b.c.d; say a.b.c.d.
    if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
      out.offender = ntop(AF_INET, &sin6.sin6_addr.s6_addr[12]);
    } else {
      out.offender = ntop(AF_INET6, &sin6.sin6_addr);
    }
    return out;
  }
  return fail("IP_RECVERR message", "offender of unknown address family " + std::to_string(family));
}

Result<std::optional<std::span<const std::byte>>> find_control_message(
    std::span<const std::byte> control, ControlKind v4, ControlKind v6) {
  // The CMSG_* macros assume an aligned buffer inside a msghdr; walking by hand with memcpy
  // works on any bytes.
  constexpr std::size_t kAlign = sizeof(std::size_t);
  auto align = [](std::size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); };
  const std::size_t header = align(sizeof(cmsghdr));
  std::size_t offset = 0;
  while (offset + sizeof(cmsghdr) <= control.size()) {
    cmsghdr c{};
    std::memcpy(&c, control.data() + offset, sizeof c);
    if (c.cmsg_len < header || c.cmsg_len > control.size() - offset) {
      return fail("recvmsg control", "control message length out of bounds");
    }
    const bool wanted = (c.cmsg_level == v4.level && c.cmsg_type == v4.type) ||
                        (c.cmsg_level == v6.level && c.cmsg_type == v6.type);
    if (wanted) return std::optional(control.subspan(offset + header, c.cmsg_len - header));
    offset += align(c.cmsg_len);
  }
  return std::optional<std::span<const std::byte>>();
}

Result<std::optional<QueuedError>> decode_error_control(std::span<const std::byte> control) {
  auto found = find_control_message(control, {SOL_IP, IP_RECVERR}, {SOL_IPV6, IPV6_RECVERR});
  if (!found) {
    return fail("recvmsg MSG_ERRQUEUE control", "control message length out of bounds");
  }
  if (!*found) return std::optional<QueuedError>();
  auto decoded = decode_extended_err(**found);
  if (!decoded) return std::unexpected(decoded.error());
  return std::optional<QueuedError>(std::move(*decoded));
}

std::optional<ConnectFailure> classify_icmp(ErrOrigin origin, std::uint8_t type,
                                            std::uint8_t code) {
  if (origin == ErrOrigin::icmp) {
    if (type == icmpv4::kDestUnreach) return classify_v4_unreachable(code);
    // A loop or a path longer than the TTL: the network could not deliver the SYN.
    if (type == icmpv4::kTimeExceeded) return ConnectFailure::host_unreachable;
    // Parameter problem and the rest: TCP aborts on parameter problem, but it names no cause
    // the findings know.
    if (type == icmpv4::kParamProblem) return ConnectFailure::other;
    return std::nullopt;
  }
  if (origin == ErrOrigin::icmp6) {
    if (type == icmpv6::kDestUnreach) return classify_v6_unreachable(code);
    if (type == icmpv6::kTimeExceeded) return ConnectFailure::host_unreachable;
    if (type == icmpv6::kParamProblem) {
      // "Unrecognized next header" is what a host without TCP says: IPv6's protocol unreachable.
      return code == icmpv6::kUnknownNextHeader ? ConnectFailure::rejected_icmp
                                             : ConnectFailure::other;
    }
    return std::nullopt;  // packet too big (2) and informational types (>= 128)
  }
  return std::nullopt;
}

ConnectFailure classify_connect_error(int error, const std::optional<QueuedError>& queued) {
  if (queued) {
    if (auto f = classify_icmp(queued->origin, queued->type, queued->code)) return *f;
  }
  switch (error) {
    case ECONNREFUSED: return ConnectFailure::refused;  // no ICMP: a reset
    case ETIMEDOUT: return ConnectFailure::filtered;    // silence (our deadline or the kernel's)
    case EADDRNOTAVAIL: return ConnectFailure::local_port_exhaustion;
    case ENETUNREACH: return ConnectFailure::no_route;  // no ICMP: this host's own routing
    // No ICMP: the neighbour (ARP / NDP) did not answer, or a local unreachable route.
    case EHOSTUNREACH: return ConnectFailure::host_unreachable;
    // No ICMP: this host's own firewall dropped or rejected the SYN on output.
    case EPERM:
    case EACCES: return ConnectFailure::admin_prohibited;
    default: return ConnectFailure::other;
  }
}

std::optional<Dequeued> read_error_queue(int fd) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    alignas(cmsghdr) std::array<std::byte, 512> control{};
    std::array<std::byte, 2048> data{};  // the offending packet's start
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t got = ::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;  // EAGAIN: empty
    }
    Dequeued out;
    auto decoded = decode_error_control(std::span<const std::byte>(control.data(), msg.msg_controllen));
    if (decoded && decoded->has_value()) out.error = std::move(**decoded);
    const auto n = std::min(static_cast<std::size_t>(got), data.size());
    out.original.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  }
  return std::nullopt;
}

std::optional<QueuedError> drain_error_queue(int fd, int max_reads) {
  std::optional<QueuedError> first;
  for (int i = 0; i < max_reads; ++i) {
    auto d = read_error_queue(fd);
    if (!d) break;
    if (d->error && !first) first = std::move(d->error);
  }
  return first;
}

}  // namespace connscope::probe
