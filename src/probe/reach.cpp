#include "probe/reach.h"

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
#include <random>
#include <tuple>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sys/sysctl.h"

#include "probe/socket_ops.h"

namespace connscope::probe {

namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kIcmpHeader = 8;
constexpr std::size_t kNonceLen = 8;
constexpr std::size_t kIpv6Header = 40;
constexpr std::uint8_t kIcmpEchoReply = 0;
constexpr std::uint8_t kIcmpDestUnreach = 3;
constexpr std::uint8_t kIcmpEcho = 8;
constexpr std::uint8_t kIcmpTimeExceeded = 11;
constexpr std::uint8_t kIcmpParamProblem = 12;
constexpr std::uint8_t kIcmpFragNeeded = 4;  // code of type 3
constexpr std::uint8_t kIcmp6DestUnreach = 1;
constexpr std::uint8_t kIcmp6PacketTooBig = 2;
constexpr std::uint8_t kIcmp6TimeExceeded = 3;
constexpr std::uint8_t kIcmp6ParamProblem = 4;
constexpr std::uint8_t kIcmp6Echo = 128;
constexpr std::uint8_t kIcmp6EchoReply = 129;
constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoIcmp6 = 58;
// Messages read per wake-up and queue: bounds the work a flood of foreign ICMP can cause.
constexpr int kMaxReadsPerWake = 256;
// The largest payload we send: an IPv4 datagram holds at most 65535 bytes, headers included.
constexpr std::size_t kMaxPayload = 65000;

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
    return type == kIcmpDestUnreach || type == kIcmpTimeExceeded || type == kIcmpParamProblem;
  }
  return type == kIcmp6DestUnreach || type == kIcmp6PacketTooBig ||
         type == kIcmp6TimeExceeded || type == kIcmp6ParamProblem;
}

// The quoted request inside an ICMP error (after its 8-byte header): the IP header of what we
// sent, then our echo request. Returns its sequence when the quote is one of ours.
std::optional<std::uint16_t> quoted_request(const EchoMatcher& m, std::span<const std::byte> quote) {
  const auto dst = address_bytes(m.family, m.destination);
  std::span<const std::byte> inner;
  if (m.family == AF_INET) {
    if (quote.size() < 20 || (byte_at(quote, 0) >> 4) != 4) return std::nullopt;
    const std::size_t ihl = std::size_t{byte_at(quote, 0) & 0x0Fu} * 4;
    if (ihl < 20 || quote.size() < ihl + kIcmpHeader) return std::nullopt;
    if (byte_at(quote, 9) != kProtoIcmp || !same_bytes(quote.subspan(16, 4), dst)) {
      return std::nullopt;
    }
    inner = quote.subspan(ihl);
    if (byte_at(inner, 0) != kIcmpEcho) return std::nullopt;
  } else {
    // Our requests carry no extension headers: the ICMPv6 header follows at once.
    if (quote.size() < kIpv6Header + kIcmpHeader || (byte_at(quote, 0) >> 4) != 6) {
      return std::nullopt;
    }
    if (byte_at(quote, 6) != kProtoIcmp6 || !same_bytes(quote.subspan(24, 16), dst)) {
      return std::nullopt;
    }
    inner = quote.subspan(kIpv6Header);
    if (byte_at(inner, 0) != kIcmp6Echo) return std::nullopt;
  }
  if (m.method == ReachMethod::raw_socket && load16(inner, 4) != m.identifier) return std::nullopt;
  return load16(inner, 6);
}

// The TTL (IP_TTL) or hop limit (IPV6_HOPLIMIT) in a recvmsg control buffer. Walked by hand
// with memcpy, as icmp_error.cpp does, so the bytes need no alignment.
std::optional<int> ttl_from_control(std::span<const std::byte> control) {
  constexpr std::size_t kAlign = sizeof(std::size_t);
  auto align = [](std::size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); };
  const std::size_t header = align(sizeof(cmsghdr));
  std::size_t offset = 0;
  while (offset + sizeof(cmsghdr) <= control.size()) {
    cmsghdr c{};
    std::memcpy(&c, control.data() + offset, sizeof c);
    if (c.cmsg_len < header || c.cmsg_len > control.size() - offset) return std::nullopt;
    const bool ttl = (c.cmsg_level == SOL_IP && c.cmsg_type == IP_TTL) ||
                     (c.cmsg_level == SOL_IPV6 && c.cmsg_type == IPV6_HOPLIMIT);
    if (ttl && c.cmsg_len >= header + sizeof(int)) {
      int v = 0;
      std::memcpy(&v, control.data() + offset + header, sizeof v);
      return v;
    }
    offset += align(c.cmsg_len);
  }
  return std::nullopt;
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

std::chrono::microseconds since(Clock::time_point start, Clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::microseconds>(now - start);
}

// IPPROTO_ICMP and IPPROTO_ICMPV6 are members of different anonymous enums.
int icmp_protocol(int family) {
  return family == AF_INET ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6};
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

std::string_view reach_outcome_name(ReachOutcome outcome) {
  switch (outcome) {
    case ReachOutcome::replied: return "replied";
    case ReachOutcome::partial_loss: return "partial_loss";
    case ReachOutcome::no_reply: return "no_reply";
    case ReachOutcome::unreachable: return "unreachable";
    case ReachOutcome::prohibited: return "prohibited";
    case ReachOutcome::unavailable: return "unavailable";
    case ReachOutcome::send_failed: return "send_failed";
    case ReachOutcome::error: return "error";
  }
  return "error";
}

std::optional<std::string_view> reach_finding_id(ReachOutcome outcome) {
  switch (outcome) {
    case ReachOutcome::partial_loss: return "path.loss";
    case ReachOutcome::unreachable: return "net.host_unreachable";
    case ReachOutcome::prohibited: return "net.admin_prohibited";
    case ReachOutcome::replied:
    case ReachOutcome::no_reply:
    case ReachOutcome::unavailable:
    case ReachOutcome::send_failed:
    case ReachOutcome::error: return std::nullopt;
  }
  return std::nullopt;
}

std::string_view probe_status_name(ProbeStatus status) {
  switch (status) {
    case ProbeStatus::replied: return "replied";
    case ProbeStatus::icmp_error: return "icmp_error";
    case ProbeStatus::timed_out: return "timed_out";
    case ProbeStatus::send_failed: return "send_failed";
    case ProbeStatus::not_sent: return "not_sent";
  }
  return "not_sent";
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
  std::vector<std::byte> out(kIcmpHeader + payload.size());
  out[0] = static_cast<std::byte>(family == AF_INET ? kIcmpEcho : kIcmp6Echo);
  store16(out, 4, identifier);
  store16(out, 6, sequence);
  std::copy(payload.begin(), payload.end(), out.begin() + kIcmpHeader);
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
  if (icmp.size() < kIcmpHeader) return out;
  const std::uint8_t type = byte_at(icmp, 0);
  const std::uint8_t code = byte_at(icmp, 1);
  const std::uint8_t reply_type = matcher.family == AF_INET ? kIcmpEchoReply : kIcmp6EchoReply;

  if (type == reply_type) {
    if (from != matcher.destination) return out;
    if (matcher.method == ReachMethod::raw_socket && load16(icmp, 4) != matcher.identifier) {
      return out;
    }
    // The nonce tells our replies from those to an earlier run that used the same identifier.
    const auto body = icmp.subspan(kIcmpHeader);
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
  const auto sequence = quoted_request(matcher, icmp.subspan(kIcmpHeader));
  if (!sequence) return out;
  out.kind = Received::Kind::icmp_error;
  out.sequence = *sequence;
  out.error.origin = matcher.family == AF_INET ? ErrOrigin::icmp : ErrOrigin::icmp6;
  out.error.type = type;
  out.error.code = code;
  out.error.from = from;
  out.error.sequence = *sequence;
  if (matcher.family == AF_INET && type == kIcmpDestUnreach && code == kIcmpFragNeeded) {
    out.error.info = load16(icmp, 6);  // RFC 1191: the next-hop MTU in the low half
  } else if (matcher.family == AF_INET6 && type == kIcmp6PacketTooBig) {
    out.error.info = load32(icmp, 4);
  }
  return out;
}

Received match_queued_error(const EchoMatcher& matcher, const QueuedError& queued,
                            std::span<const std::byte> original) {
  Received out;
  const std::uint8_t request = matcher.family == AF_INET ? kIcmpEcho : kIcmp6Echo;
  if (original.size() < kIcmpHeader || byte_at(original, 0) != request) return out;
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

ReachStats reach_stats(std::span<const ProbeResult> probes) {
  ReachStats s;
  std::int64_t total = 0;
  for (const auto& p : probes) {
    if (p.status == ProbeStatus::send_failed || p.status == ProbeStatus::not_sent) continue;
    ++s.sent;
    if (p.status != ProbeStatus::replied || !p.rtt) continue;
    ++s.received;
    total += p.rtt->count();
    if (!s.rtt_min || *p.rtt < *s.rtt_min) s.rtt_min = *p.rtt;
    if (!s.rtt_max || *p.rtt > *s.rtt_max) s.rtt_max = *p.rtt;
  }
  if (s.sent > 0) {
    s.loss_percent = 100.0 * static_cast<double>(s.sent - s.received) / static_cast<double>(s.sent);
  }
  if (s.received > 0) s.rtt_avg = std::chrono::microseconds(total / s.received);
  return s;
}

ReachOutcome classify_reach(std::span<const ProbeResult> probes) {
  const ReachStats s = reach_stats(probes);
  if (s.sent > 0 && s.received == s.sent) return ReachOutcome::replied;
  if (s.received > 0) return ReachOutcome::partial_loss;
  for (const auto& p : probes) {
    if (p.status != ProbeStatus::icmp_error || !p.error) continue;
    const auto failure = classify_icmp(p.error->origin, p.error->type, p.error->code);
    if (!failure) continue;  // e.g. frag-needed: says nothing about reachability
    return *failure == ConnectFailure::admin_prohibited ? ReachOutcome::prohibited
                                                        : ReachOutcome::unreachable;
  }
  const bool any_send_failed = std::any_of(probes.begin(), probes.end(), [](const ProbeResult& p) {
    return p.status == ProbeStatus::send_failed;
  });
  if (s.sent == 0 && any_send_failed) return ReachOutcome::send_failed;
  return ReachOutcome::no_reply;
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

// ---- the stage ----

asio::awaitable<ReachResult> reach(asio::any_io_executor ex, ReachOptions o) {
  const auto start = Clock::now();
  ReachResult r;
  r.destination = o.destination;
  auto finish = [&](ReachOutcome outcome) {
    r.outcome = outcome;
    r.duration = since(start, Clock::now());
    return std::move(r);
  };

  if (!address_bytes(AF_INET, o.destination).empty()) {
    r.family = AF_INET;
  } else if (!address_bytes(AF_INET6, o.destination).empty()) {
    r.family = AF_INET6;
  } else {
    r.reason = Error{"ICMP echo to " + o.destination, 0,
                     "the destination is not a numeric IPv4 or IPv6 address"};
    co_return finish(ReachOutcome::error);
  }
  if (o.count < 1 || o.count > 1000 || o.payload_size > kMaxPayload ||
      o.probe_timeout <= std::chrono::milliseconds::zero() ||
      o.deadline <= std::chrono::milliseconds::zero() ||
      o.interval < std::chrono::milliseconds::zero()) {
    r.reason = Error{"ICMP echo to " + o.destination, 0,
                     "count must be 1-1000, timeouts positive, the interval not negative and "
                     "the payload at most 65000 bytes"};
    co_return finish(ReachOutcome::error);
  }
  const int family = r.family;
  // Canonical text, as inet_ntop will print the replies' sender.
  const auto dst_bytes = address_bytes(family, o.destination);
  const std::string destination = address_text(family, dst_bytes.data());

  EchoSocket s = open_echo_socket(family, [](int domain, int type, int proto) {
    const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    return fd >= 0 ? fd : -errno;
  });
  r.method = s.method;
  r.ping_socket_error = s.ping_error;
  r.raw_socket_error = s.raw_error;
  if (s.ping_error != 0) {
    // Evidence for why the unprivileged way was refused.
    if (auto text = sys::read_sysctl("net.ipv4.ping_group_range")) {
      r.ping_group_range = parse_ping_group_range(*text);
    }
    r.groups = process_groups();
  }
  if (s.method == ReachMethod::unavailable) {
    r.reason = unavailable_reason(o.destination, family, s.ping_error, s.raw_error,
                                  r.ping_group_range, r.groups);
    co_return finish(ReachOutcome::unavailable);
  }

  const int fd = s.fd.get();
  const bool ping = s.method == ReachMethod::ping_socket;
  auto setup_failed = [&](std::string op) {
    r.reason = Error{std::move(op), errno, {}};
    return finish(ReachOutcome::error);
  };
  if (family == AF_INET) {
    if (ping) {
      if (set_int_option(fd, SOL_IP, IP_RECVERR, 1) != 0) co_return setup_failed("setsockopt IP_RECVERR");
      if (set_int_option(fd, SOL_IP, IP_RECVTTL, 1) != 0) co_return setup_failed("setsockopt IP_RECVTTL");
    } else {
      // A set bit blocks that type: keep echo replies and the errors about our requests.
      icmp_filter filter{};
      filter.data = ~((1u << kIcmpEchoReply) | (1u << kIcmpDestUnreach) |
                      (1u << kIcmpTimeExceeded) | (1u << kIcmpParamProblem));
      if (::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0) {
        co_return setup_failed("setsockopt ICMP_FILTER");
      }
    }
  } else {
    if (ping) {
      if (set_int_option(fd, SOL_IPV6, IPV6_RECVERR, 1) != 0) {
        co_return setup_failed("setsockopt IPV6_RECVERR");
      }
    } else {
      // As for IPv4, a set bit blocks (glibc's ICMP6_FILTER_SETPASS clears it).
      icmp6_filter filter{};
      std::memset(&filter, 0xFF, sizeof filter);
      for (const std::uint8_t t : {kIcmp6EchoReply, kIcmp6DestUnreach, kIcmp6PacketTooBig,
                                   kIcmp6TimeExceeded, kIcmp6ParamProblem}) {
        filter.icmp6_filt[t >> 5] &= ~(1u << (t & 31u));
      }
      if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
        co_return setup_failed("setsockopt ICMP6_FILTER");
      }
    }
    if (set_int_option(fd, SOL_IPV6, IPV6_RECVHOPLIMIT, 1) != 0) {
      co_return setup_failed("setsockopt IPV6_RECVHOPLIMIT");
    }
  }

  std::random_device rng;
  if (o.source || ping) {
    // A ping socket gets its identifier (its "port") when bound with port 0.
    sockaddr_storage local{};
    socklen_t local_len = 0;
    if (o.source) {
      const auto src = address_bytes(family, *o.source);
      if (src.empty()) {
        r.reason = Error{"bind " + *o.source, 0, "not a numeric address of the destination's family"};
        co_return finish(ReachOutcome::error);
      }
      local_len = make_sockaddr(family, src, local);
    } else {
      local.ss_family = static_cast<sa_family_t>(family);
      local_len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), local_len) != 0) {
      co_return setup_failed("bind " + o.source.value_or(family == AF_INET ? "0.0.0.0" : "::"));
    }
  }
  if (ping) {
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
      co_return setup_failed("getsockname");
    }
    // sin_port and sin6_port sit at the same offset.
    sockaddr_in sin{};
    std::memcpy(&sin, &bound, sizeof sin);
    r.identifier = ntohs(sin.sin_port);
  } else {
    r.identifier = static_cast<std::uint16_t>(rng() & 0xFFFFu);
  }
  const std::uint64_t nonce = (std::uint64_t{rng()} << 32) | rng();

  EchoMatcher matcher;
  matcher.family = family;
  matcher.method = s.method;
  matcher.identifier = r.identifier;
  matcher.destination = destination;
  matcher.payload = echo_payload(nonce, o.payload_size);

  sockaddr_storage to{};
  const socklen_t to_len = make_sockaddr(family, dst_bytes, to);

  // Asio only watches readiness: the socket was opened above, and sendto / recvmsg are called
  // directly (Asio has no error-queue or control-message reads). The protocol is a label.
  asio::generic::raw_protocol::socket sock(ex);
  boost::system::error_code ec;
  sock.assign(asio::generic::raw_protocol(family, icmp_protocol(family)),
              s.fd.release(), ec);
  if (ec) {
    r.reason = Error{"watch the ICMP socket", ec.value(), ec.message()};
    co_return finish(ReachOutcome::error);
  }
  asio::steady_timer timer(ex);

  const auto count = static_cast<std::size_t>(o.count);
  r.probes.resize(count);
  std::vector<Clock::time_point> sent_time(count);
  std::vector<std::optional<Clock::time_point>> wait_until(count);  // set while waiting
  for (std::size_t i = 0; i < count; ++i) r.probes[i].sequence = static_cast<std::uint16_t>(i + 1);
  const auto stage_deadline = start + o.deadline;
  auto send_at = [&](std::size_t i) { return start + o.interval * static_cast<int>(i); };
  std::optional<Error> first_send_error;

  // A reply echoes our payload behind an IP header (raw IPv4); an ICMP error quotes at most
  // 576 (IPv4) or 1280 (IPv6) bytes. Anything longer is not ours and is dropped as truncated.
  std::vector<std::byte> data(kIcmpHeader + kMaxPayload + 1500);
  std::array<std::byte, 512> control{};

  auto handle = [&](const Received& rec, Clock::time_point now) {
    if (rec.kind == Received::Kind::foreign) return;
    if (rec.sequence < 1 || rec.sequence > count) return;
    const std::size_t i = rec.sequence - 1u;
    ProbeResult& p = r.probes[i];
    if (p.status == ProbeStatus::not_sent || p.status == ProbeStatus::send_failed) return;
    if (rec.kind == Received::Kind::echo_reply) {
      if (p.status == ProbeStatus::replied) {
        ++p.duplicates;
        return;
      }
      if (!wait_until[i]) return;  // late: already counted as lost
      p.status = ProbeStatus::replied;
      p.rtt = std::chrono::duration_cast<std::chrono::microseconds>(now - sent_time[i]);
      p.ttl = rec.ttl;
      p.reply_from = rec.from;
      wait_until[i].reset();
      return;
    }
    r.errors.push_back(rec.error);
    if (wait_until[i]) {
      p.status = ProbeStatus::icmp_error;
      p.error = rec.error;
      wait_until[i].reset();
    }
  };

  auto drain = [&] {
    const int native = sock.native_handle();
    if (ping) {
      for (int n = 0; n < kMaxReadsPerWake; ++n) {
        iovec iov{data.data(), data.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        const ssize_t got = ::recvmsg(native, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (got < 0) {
          if (errno == EINTR) continue;
          break;  // EAGAIN: the queue is empty
        }
        const auto now = Clock::now();
        auto queued = decode_error_control(std::span<const std::byte>(control.data(),
                                                                      msg.msg_controllen));
        if (!queued || !queued->has_value()) continue;
        const auto original = std::span<const std::byte>(
            data.data(), std::min(static_cast<std::size_t>(got), data.size()));
        handle(match_queued_error(matcher, **queued, original), now);
      }
    }
    for (int n = 0; n < kMaxReadsPerWake; ++n) {
      iovec iov{data.data(), data.size()};
      sockaddr_storage from{};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      const ssize_t got = ::recvmsg(native, &msg, MSG_DONTWAIT);
      if (got < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        // A ping socket also reports a queued ICMP error once as the receive's errno; the
        // error queue above already said which. Read on.
        continue;
      }
      if ((msg.msg_flags & MSG_TRUNC) != 0) continue;
      const auto now = Clock::now();
      const auto packet = std::span<const std::byte>(data.data(), static_cast<std::size_t>(got));
      const auto ttl = ttl_from_control(std::span<const std::byte>(control.data(),
                                                                   msg.msg_controllen));
      handle(match_packet(matcher, packet, sockaddr_text(from), ttl), now);
    }
  };

  std::size_t next = 0;
  for (;;) {
    auto now = Clock::now();
    while (next < count && now >= send_at(next) && now < stage_deadline) {
      ProbeResult& p = r.probes[next];
      const auto packet = build_echo_request(family, r.identifier, p.sequence, matcher.payload);
      sent_time[next] = Clock::now();
      p.sent_at = since(start, sent_time[next]);
      const ssize_t n = ::sendto(sock.native_handle(), packet.data(), packet.size(), 0,
                                 reinterpret_cast<const sockaddr*>(&to), to_len);
      if (n < 0) {
        p.status = ProbeStatus::send_failed;
        p.send_error = errno;
        if (!first_send_error) first_send_error = Error{"sendto " + destination, errno, {}};
      } else {
        p.status = ProbeStatus::timed_out;  // until a reply or an error says otherwise
        wait_until[next] = std::min(sent_time[next] + o.probe_timeout, stage_deadline);
      }
      ++next;
      now = Clock::now();
    }
    bool waiting = false;
    auto wake = stage_deadline;
    for (std::size_t i = 0; i < next; ++i) {
      if (!wait_until[i]) continue;
      if (*wait_until[i] <= now) {
        wait_until[i].reset();  // its status stays timed_out
        continue;
      }
      waiting = true;
      wake = std::min(wake, *wait_until[i]);
    }
    if (next == count && !waiting) break;
    if (now >= stage_deadline) break;
    if (next < count) wake = std::min(wake, send_at(next));

    timer.expires_at(wake);
    auto woke = co_await (sock.async_wait(asio::socket_base::wait_read, kTuple) ||
                          timer.async_wait(kTuple));
    if (woke.index() == 0) {
      const auto [wait_ec] = std::get<0>(woke);
      if (wait_ec) {
        r.reason = Error{"wait for ICMP replies", wait_ec.value(), wait_ec.message()};
        co_return finish(ReachOutcome::error);
      }
      drain();
    }
  }

  r.stats = reach_stats(r.probes);
  const auto outcome = classify_reach(r.probes);
  if (outcome == ReachOutcome::send_failed) r.reason = first_send_error;
  co_return finish(outcome);
}

}  // namespace connscope::probe
