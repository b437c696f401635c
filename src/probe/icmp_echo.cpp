#include "probe/icmp_echo.h"

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sys/sysctl.h"

#include "probe/socket_ops.h"

namespace connscope::probe {

namespace {

constexpr std::size_t kNonceLen = 8;
constexpr std::size_t kIpv6Header = 40;

std::uint16_t load16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[at]) << 8) |
                                    std::to_integer<unsigned>(b[at + 1]));
}
std::uint32_t load32(std::span<const std::byte> b, std::size_t at) {
  return (std::uint32_t{load16(b, at)} << 16) | load16(b, at + 2);
}
void store16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xFFu);
}
std::uint8_t byte_at(std::span<const std::byte> b, std::size_t at) {
  return std::to_integer<std::uint8_t>(b[at]);
}

// The address bytes of a numeric address of `family`; empty when it is not one.
std::vector<std::byte> address_bytes(int family, const std::string& text) {
  std::array<std::byte, 16> raw{};
  if (::inet_pton(family, text.c_str(), raw.data()) != 1) return {};
  return std::vector<std::byte>(raw.begin(), raw.begin() + (family == AF_INET ? 4 : 16));
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool is_error_type(int family, std::uint8_t type) {
  if (family == AF_INET) {
    return type == icmpv4::kDestUnreach || type == icmpv4::kTimeExceeded || type == icmpv4::kParamProblem;
  }
  return type == icmpv6::kDestUnreach || type == icmpv6::kPacketTooBig ||
         type == icmpv6::kTimeExceeded || type == icmpv6::kParamProblem;
}

// The quoted request inside an ICMP error (after its 8-byte header): the IP header of what we
// sent, then our echo request. Returns its sequence when the quote is one of ours.
std::optional<std::uint16_t> quoted_request(const EchoMatcher& m, std::span<const std::byte> quote) {
  const auto dst = address_bytes(m.family, m.destination);
  std::span<const std::byte> inner;
  if (m.family == AF_INET) {
    if (quote.size() < 20 || (byte_at(quote, 0) >> 4) != 4) return std::nullopt;
    const std::size_t ihl = std::size_t{byte_at(quote, 0) & 0x0Fu} * 4;
    if (ihl < 20 || quote.size() < ihl + kIcmpHeaderSize) return std::nullopt;
    if (byte_at(quote, 9) != kProtoIcmp || !same_bytes(quote.subspan(16, 4), dst)) {
      return std::nullopt;
    }
    inner = quote.subspan(ihl);
    if (byte_at(inner, 0) != icmpv4::kEcho) return std::nullopt;
  } else {
    // Our requests carry no extension headers: the ICMPv6 header follows at once.
    if (quote.size() < kIpv6Header + kIcmpHeaderSize || (byte_at(quote, 0) >> 4) != 6) {
      return std::nullopt;
    }
    if (byte_at(quote, 6) != kProtoIcmp6 || !same_bytes(quote.subspan(24, 16), dst)) {
      return std::nullopt;
    }
    inner = quote.subspan(kIpv6Header);
    if (byte_at(inner, 0) != icmpv6::kEcho) return std::nullopt;
  }
  if (m.method == ReachMethod::raw_socket && load16(inner, 4) != m.identifier) return std::nullopt;
  return load16(inner, 6);
}

socklen_t make_sockaddr(int family, std::span<const std::byte> addr, sockaddr_storage& out) {
  out = {};
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, addr.data(), 4);
    std::memcpy(&out, &sin, sizeof sin);
    return sizeof sin;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  std::memcpy(&sin6.sin6_addr, addr.data(), 16);
  std::memcpy(&out, &sin6, sizeof sin6);
  return sizeof sin6;
}

std::string errno_name(int error) {
  if (error == EPERM) return "EPERM";
  if (error == EACCES) return "EACCES";
  if (error == EAFNOSUPPORT) return "EAFNOSUPPORT";
  if (error == EPROTONOSUPPORT) return "EPROTONOSUPPORT";
  return fmt::format("errno {}", error);
}

std::vector<std::uint32_t> process_groups() {
  std::vector<std::uint32_t> out{static_cast<std::uint32_t>(::getegid())};
  const int n = ::getgroups(0, nullptr);
  if (n > 0) {
    std::vector<gid_t> more(static_cast<std::size_t>(n));
    const int got = ::getgroups(n, more.data());
    for (int i = 0; i < got; ++i) {
      const auto g = static_cast<std::uint32_t>(more[static_cast<std::size_t>(i)]);
      if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
    }
  }
  return out;
}

// IPPROTO_ICMP and IPPROTO_ICMPV6 are members of different anonymous enums.
int icmp_protocol(int family) {
  return family == AF_INET ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6};
}

// A set bit blocks that type: keep echo replies and the errors about our requests.
int set_echo_filter(int fd, int family) {
  if (family == AF_INET) {
    icmp_filter filter{};
    filter.data = ~((1u << icmpv4::kEchoReply) | (1u << icmpv4::kDestUnreach) |
                    (1u << icmpv4::kTimeExceeded) | (1u << icmpv4::kParamProblem));
    return ::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
  }
  // As for IPv4, a set bit blocks (glibc's ICMP6_FILTER_SETPASS clears it).
  icmp6_filter filter{};
  std::memset(&filter, 0xFF, sizeof filter);
  for (const std::uint8_t t : {icmpv6::kEchoReply, icmpv6::kDestUnreach, icmpv6::kPacketTooBig,
                               icmpv6::kTimeExceeded, icmpv6::kParamProblem}) {
    filter.icmp6_filt[t >> 5] &= ~(1u << (t & 31u));
  }
  return ::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
}

}  // namespace

std::string_view reach_method_name(ReachMethod method) {
  switch (method) {
    case ReachMethod::ping_socket: return "ping_socket";
    case ReachMethod::raw_socket: return "raw_socket";
    case ReachMethod::unavailable: return "unavailable";
  }
  return "unavailable";
}

std::uint16_t internet_checksum(std::span<const std::byte> data) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += load16(data, i);
  if (i < data.size()) sum += std::uint32_t{byte_at(data, i)} << 8;  // odd length: pad with 0
  while (sum >> 16) sum = (sum & 0xFFFFu) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xFFFFu);
}

std::vector<std::byte> echo_payload(std::uint64_t nonce, std::size_t size) {
  std::vector<std::byte> out(std::max(size, kNonceLen));
  for (std::size_t i = 0; i < kNonceLen; ++i) {
    out[i] = static_cast<std::byte>((nonce >> (8 * (kNonceLen - 1 - i))) & 0xFFu);
  }
  for (std::size_t i = kNonceLen; i < out.size(); ++i) {
    out[i] = static_cast<std::byte>((0x10u + (i - kNonceLen)) & 0xFFu);
  }
  return out;
}

std::vector<std::byte> build_echo_request(int family, std::uint16_t identifier,
                                          std::uint16_t sequence,
                                          std::span<const std::byte> payload) {
  std::vector<std::byte> out(kIcmpHeaderSize + payload.size());
  out[0] = static_cast<std::byte>(family == AF_INET ? icmpv4::kEcho : icmpv6::kEcho);
  store16(out, 4, identifier);
  store16(out, 6, sequence);
  std::copy(payload.begin(), payload.end(), out.begin() + kIcmpHeaderSize);
  if (family == AF_INET) store16(out, 2, internet_checksum(out));
  return out;
}

Received match_packet(const EchoMatcher& matcher, std::span<const std::byte> data,
                      const std::string& from, std::optional<int> ttl) {
  Received out;
  std::span<const std::byte> icmp = data;
  if (matcher.family == AF_INET && matcher.method == ReachMethod::raw_socket) {
    // A raw IPv4 socket hands over the whole datagram, IP header first.
    if (data.size() < 20 || (byte_at(data, 0) >> 4) != 4) return out;
    const std::size_t ihl = std::size_t{byte_at(data, 0) & 0x0Fu} * 4;
    if (ihl < 20 || data.size() < ihl || byte_at(data, 9) != kProtoIcmp) return out;
    ttl = byte_at(data, 8);
    icmp = data.subspan(ihl);
  }
  if (icmp.size() < kIcmpHeaderSize) return out;
  const std::uint8_t type = byte_at(icmp, 0);
  const std::uint8_t code = byte_at(icmp, 1);
  const std::uint8_t reply_type = matcher.family == AF_INET ? icmpv4::kEchoReply : icmpv6::kEchoReply;

  if (type == reply_type) {
    if (from != matcher.destination) return out;
    if (matcher.method == ReachMethod::raw_socket && load16(icmp, 4) != matcher.identifier) {
      return out;
    }
    // The nonce tells our replies from those to an earlier run that used the same identifier.
    const auto body = icmp.subspan(kIcmpHeaderSize);
    const std::size_t nonce = std::min(kNonceLen, matcher.payload.size());
    if (body.size() < nonce ||
        !std::equal(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(nonce),
                    matcher.payload.begin())) {
      return out;
    }
    out.kind = Received::Kind::echo_reply;
    out.sequence = load16(icmp, 6);
    out.ttl = ttl;
    out.from = from;
    return out;
  }

  // Errors reach only raw sockets this way; a ping socket gets them on its error queue.
  if (matcher.method != ReachMethod::raw_socket || !is_error_type(matcher.family, type)) {
    return out;
  }
  const auto sequence = quoted_request(matcher, icmp.subspan(kIcmpHeaderSize));
  if (!sequence) return out;
  out.kind = Received::Kind::icmp_error;
  out.sequence = *sequence;
  out.error.origin = matcher.family == AF_INET ? ErrOrigin::icmp : ErrOrigin::icmp6;
  out.error.type = type;
  out.error.code = code;
  out.error.from = from;
  out.error.sequence = *sequence;
  if (matcher.family == AF_INET && type == icmpv4::kDestUnreach && code == icmpv4::kFragNeeded) {
    out.error.info = load16(icmp, 6);  // RFC 1191: the next-hop MTU in the low half
  } else if (matcher.family == AF_INET6 && type == icmpv6::kPacketTooBig) {
    out.error.info = load32(icmp, 4);
  }
  return out;
}

Received match_queued_error(const EchoMatcher& matcher, const QueuedError& queued,
                            std::span<const std::byte> original) {
  Received out;
  const std::uint8_t request = matcher.family == AF_INET ? icmpv4::kEcho : icmpv6::kEcho;
  if (original.size() < kIcmpHeaderSize || byte_at(original, 0) != request) return out;
  if (matcher.method == ReachMethod::raw_socket && load16(original, 4) != matcher.identifier) {
    return out;
  }
  out.kind = Received::Kind::icmp_error;
  out.sequence = load16(original, 6);
  out.error.origin = queued.origin;
  out.error.type = queued.type;
  out.error.code = queued.code;
  out.error.from = queued.offender.value_or("");
  out.error.sequence = out.sequence;
  out.error.info = queued.info;
  return out;
}

EchoSocket open_echo_socket(int family, const SocketOpener& opener) {
  EchoSocket out;
  const int proto = icmp_protocol(family);
  const int ping = opener(family, SOCK_DGRAM, proto);
  if (ping >= 0) {
    out.method = ReachMethod::ping_socket;
    out.fd.reset(ping);
    return out;
  }
  out.ping_error = -ping;
  const int raw = opener(family, SOCK_RAW, proto);
  if (raw >= 0) {
    out.method = ReachMethod::raw_socket;
    out.fd.reset(raw);
    return out;
  }
  out.raw_error = -raw;
  out.method = ReachMethod::unavailable;
  return out;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_ping_group_range(
    std::string_view text) {
  auto skip_space = [&] {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  };
  auto number = [&]() -> std::optional<std::uint32_t> {
    skip_space();
    std::uint32_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    return v;
  };
  const auto low = number();
  if (!low) return std::nullopt;
  const auto high = number();
  if (!high) return std::nullopt;
  skip_space();
  if (!text.empty() && text != "\n") return std::nullopt;
  return std::pair{*low, *high};
}

Error unavailable_reason(const std::string& destination, int family, int ping_error,
                         int raw_error,
                         const std::optional<std::pair<std::uint32_t, std::uint32_t>>& range,
                         std::span<const std::uint32_t> groups) {
  const std::string op = "ICMP echo to " + destination;
  if (ping_error == EAFNOSUPPORT && raw_error == EAFNOSUPPORT) {
    return Error{op, raw_error,
                 family == AF_INET6 ? "IPv6 is not available on this host"
                                    : "IPv4 is not available on this host"};
  }
  std::string raw_part;
  if (raw_error == EPERM || raw_error == EACCES) {
    raw_part = "no CAP_NET_RAW for a raw socket";
  } else {
    raw_part = fmt::format("a raw socket failed with {}", errno_name(raw_error));
  }
  std::string ping_part;
  if (ping_error == EACCES || ping_error == EPERM) {
    const std::string setting =
        range ? fmt::format("{} {}", range->first, range->second) : std::string("unreadable");
    ping_part = fmt::format(
        "no group of this process ({}) is inside net.ipv4.ping_group_range ({}) for a ping "
        "socket",
        fmt::join(groups, ", "), setting);
  } else {
    ping_part = fmt::format("a ping socket failed with {}", errno_name(ping_error));
  }
  return Error{op, raw_error, raw_part + ", and " + ping_part};
}

PingGroupEvidence ping_group_evidence() {
  PingGroupEvidence out;
  if (auto text = sys::read_sysctl("net.ipv4.ping_group_range")) {
    out.range = parse_ping_group_range(*text);
  }
  out.groups = process_groups();
  return out;
}

int open_socket_nonblocking(int domain, int type, int protocol) {
  const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  return fd >= 0 ? fd : -errno;
}

Result<std::uint16_t> prepare_echo_socket(const EchoSocket& socket, int family,
                                          const std::optional<std::string>& source, bool with_ttl,
                                          std::uint16_t raw_identifier) {
  const int fd = socket.fd.get();
  const bool ping = socket.method == ReachMethod::ping_socket;
  const bool v4 = family == AF_INET;
  if (ping) {
    if (int e = set_recverr(fd, family)) return fail_errno(recverr_option_name(family), e);
    if (with_ttl && v4) {
      if (int e = set_int_option(fd, SOL_IP, IP_RECVTTL, 1)) return fail_errno("setsockopt IP_RECVTTL", e);
    }
  } else if (set_echo_filter(fd, family) != 0) {
    return fail_errno(v4 ? "setsockopt ICMP_FILTER" : "setsockopt ICMP6_FILTER", errno);
  }
  if (with_ttl && !v4) {
    if (int e = set_int_option(fd, SOL_IPV6, IPV6_RECVHOPLIMIT, 1)) {
      return fail_errno("setsockopt IPV6_RECVHOPLIMIT", e);
    }
  }

  if (source || ping) {
    // A ping socket gets its identifier (its "port") when bound with port 0.
    sockaddr_storage local{};
    socklen_t local_len = 0;
    if (source) {
      const auto src = address_bytes(family, *source);
      if (src.empty()) {
        return fail("bind " + *source, "not a numeric address of the destination's family");
      }
      local_len = make_sockaddr(family, src, local);
    } else {
      local.ss_family = static_cast<sa_family_t>(family);
      local_len = v4 ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), local_len) != 0) {
      return fail_errno("bind " + source.value_or(v4 ? "0.0.0.0" : "::"), errno);
    }
  }
  if (!ping) return raw_identifier;
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return fail_errno("getsockname", errno);
  }
  // sin_port and sin6_port sit at the same offset.
  sockaddr_in sin{};
  std::memcpy(&sin, &bound, sizeof sin);
  return ntohs(sin.sin_port);
}

}  // namespace connscope::probe
