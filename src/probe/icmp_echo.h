#pragma once
// The ICMP echo socket, shared by the reach stage (reach.h) and `trace --icmp` (trace.h): which
// socket this process may open, how it is set up, the echo requests it sends and how the
// replies and errors meant for it are told from everyone else's.
//
// Which socket (the kernel decides, we only ask in order):
// - a ping socket, socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) or AF_INET6/IPPROTO_ICMPV6: no
//   privilege, but only for processes with a group inside net.ipv4.ping_group_range, else
//   EACCES. The kernel owns the identifier (the socket's "port") and the checksum, hands us only
//   replies to this socket, and with IP_RECVERR / IPV6_RECVERR queues the ICMP errors about our
//   requests (type, code, sender, and our request back);
// - a raw socket, SOCK_RAW: needs CAP_NET_RAW, else EPERM. It sees every ICMP message the host
//   receives (ICMP_FILTER / ICMP6_FILTER keep echo replies and errors only), so replies are
//   matched by our identifier, sequence and payload, errors by the request they quote;
// - neither: unavailable, with both errnos and the setting.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "probe/icmp.h"
#include "probe/icmp_error.h"
#include "sys/unique_fd.h"

namespace connscope::probe {

// How echo requests are sent (the names are the reach stage's JSON).
enum class ReachMethod { ping_socket, raw_socket, unavailable };
std::string_view reach_method_name(ReachMethod method);  // "ping_socket", "raw_socket", ...

// One ICMP error about one of our requests.
struct ReachIcmpError {
  ErrOrigin origin = ErrOrigin::icmp;  // icmp / icmp6; local for an error this host raised
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::string from;        // the sender, numeric ("198.18.1.1"); empty when none (local)
  std::uint16_t sequence = 0;  // of the request it is about
  std::uint32_t info = 0;      // the next-hop MTU of frag-needed / packet-too-big, else 0

  friend bool operator==(const ReachIcmpError&, const ReachIcmpError&) = default;
};

// ---- the packets (pure) ----

// The Internet checksum (RFC 1071) of `data`, ready to store in network byte order.
std::uint16_t internet_checksum(std::span<const std::byte> data);

// The payload every request carries: an 8-byte nonce (network byte order), then the bytes
// 0x10, 0x11, ... as ping fills them; at least the nonce.
std::vector<std::byte> echo_payload(std::uint64_t nonce, std::size_t size);

// An echo request: type 8 (IPv4) or 128 (IPv6), code 0, identifier and sequence in network
// byte order, the payload. IPv4 gets its checksum; IPv6's is left 0 (the kernel computes it
// over the pseudo-header).
std::vector<std::byte> build_echo_request(int family, std::uint16_t identifier,
                                          std::uint16_t sequence,
                                          std::span<const std::byte> payload);

// What a stage waits for: how it recognises its own replies and errors.
struct EchoMatcher {
  int family = AF_INET;
  ReachMethod method = ReachMethod::raw_socket;
  std::uint16_t identifier = 0;  // checked for raw sockets (the kernel demuxes ping sockets)
  std::string destination;      // numeric, canonical (inet_ntop form)
  std::vector<std::byte> payload;  // what every request carried; replies must echo its nonce
};

struct Received {
  enum class Kind { echo_reply, icmp_error, foreign };
  Kind kind = Kind::foreign;
  std::uint16_t sequence = 0;
  std::optional<int> ttl;
  ReachIcmpError error;  // icmp_error
  std::string from;      // echo_reply: the sender

  friend bool operator==(const Received&, const Received&) = default;
};

// One datagram read from the socket (normal queue): `data` as recvmsg returned it (raw IPv4:
// with its IP header), `from` the sender from msg_name, `ttl` from IP_TTL / IPV6_HOPLIMIT when
// the socket got one. Anything not ours, truncated or garbled is foreign, never an error.
Received match_packet(const EchoMatcher& matcher, std::span<const std::byte> data,
                      const std::string& from, std::optional<int> ttl);

// One message of a ping socket's error queue: the decoded IP_RECVERR / IPV6_RECVERR and the
// bytes it returned (our request as sent, from its ICMP header).
Received match_queued_error(const EchoMatcher& matcher, const QueuedError& queued,
                            std::span<const std::byte> original);

// ---- the socket ----

// Opens a socket: the fd, or -errno. The real one is ::socket with SOCK_NONBLOCK | SOCK_CLOEXEC.
using SocketOpener = std::function<int(int domain, int type, int protocol)>;

struct EchoSocket {
  ReachMethod method = ReachMethod::unavailable;
  sys::UniqueFd fd;
  int ping_error = 0;  // errno of the ping socket attempt (0: it worked)
  int raw_error = 0;   // errno of the raw socket attempt (0: it worked or was not needed)
};

// A ping socket first, else a raw socket, else unavailable with both errnos.
EchoSocket open_echo_socket(int family, const SocketOpener& opener);

// "1\t0" (net.ipv4.ping_group_range) as a pair; nullopt when malformed.
std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_ping_group_range(
    std::string_view text);

// Why no ICMP socket could be opened, as an Error whose op names the destination and whose code
// is the raw socket's errno; the detail names CAP_NET_RAW, the setting's value and the groups.
Error unavailable_reason(const std::string& destination, int family, int ping_error,
                         int raw_error,
                         const std::optional<std::pair<std::uint32_t, std::uint32_t>>& range,
                         std::span<const std::uint32_t> groups);

// The evidence for why a ping socket was refused: net.ipv4.ping_group_range as read (absent
// when unreadable) and this process's groups, the effective gid first.
struct PingGroupEvidence {
  std::optional<std::pair<std::uint32_t, std::uint32_t>> range;
  std::vector<std::uint32_t> groups;
};
PingGroupEvidence ping_group_evidence();

// Sets up an opened echo socket: for a ping socket IP_RECVERR / IPV6_RECVERR (with_ttl: and
// IP_RECVTTL), for a raw one the ICMP filter that passes echo replies and errors; with_ttl also
// IPV6_RECVHOPLIMIT for IPv6. Binds to `source` when given (and a ping socket to the wildcard,
// which gives it its identifier). Returns the identifier to send with: the ping socket's, or
// `raw_identifier`. The error's op names the call that failed.
Result<std::uint16_t> prepare_echo_socket(const EchoSocket& socket, int family,
                                          const std::optional<std::string>& source, bool with_ttl,
                                          std::uint16_t raw_identifier);

// The real SocketOpener: ::socket nonblocking and close-on-exec, -errno on failure.
int open_socket_nonblocking(int domain, int type, int protocol);

}  // namespace connscope::probe
