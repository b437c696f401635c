#pragma once
// What a connect attempt's failure was, from the two things the kernel tells us: the errno the
// connect ended with and, with IP_RECVERR / IPV6_RECVERR set, the ICMP error it queued on the
// socket's error queue (a sock_extended_err followed by the sender's address, in one control
// message of recvmsg(MSG_ERRQUEUE)). Everything here is pure: decoding works on the control
// bytes, classification on numbers, so both are unit-tested on hand-built inputs.
//
// Why the queued ICMP matters: a TCP reset and an ICMP port-unreachable both end a connect with
// ECONNREFUSED, and an ICMP host-unreachable and admin-prohibited both with EHOSTUNREACH (v4).
// Only the queued message says which it was and which router sent it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "probe/icmp.h"

namespace connscope::probe {

// How a connect attempt ended. Each failure value but `other` has a finding id (finding_id).
enum class ConnectFailure {
  none,                   // connected
  refused,                // tcp.refused: a TCP reset (ECONNREFUSED and no ICMP)
  rejected_icmp,          // tcp.rejected_icmp: ICMP port / protocol unreachable
  admin_prohibited,       // net.admin_prohibited: ICMP administratively prohibited, or the
                          // local firewall refused the SYN (EPERM / EACCES without ICMP)
  host_unreachable,       // net.host_unreachable: ICMP host / net unreachable, no route from a
                          // router, time exceeded
  no_route,               // net.no_route: this host has no route (ENETUNREACH, no ICMP)
  filtered,               // tcp.filtered: no answer at all before the deadline
  local_port_exhaustion,  // tcp.local_port_exhaustion: no free local port (EADDRNOTAVAIL)
  other,                  // anything else: see the attempt's errno and operation
};

// "none", "refused", "rejected_icmp", ...: the names in JSON.
std::string_view connect_failure_name(ConnectFailure failure);
// "tcp.refused", "net.admin_prohibited", ...; nullopt for none and other.
std::optional<std::string_view> finding_id(ConnectFailure failure);

// One decoded sock_extended_err.
struct QueuedError {
  ErrOrigin origin = ErrOrigin::none;
  std::uint8_t type = 0;  // ICMP / ICMPv6 type (origin icmp / icmp6)
  std::uint8_t code = 0;
  int error = 0;           // ee_errno: the errno the kernel made of it
  std::uint32_t info = 0;  // ee_info: e.g. the next-hop MTU of a frag-needed / packet-too-big
  // The sender of the ICMP message, numeric ("198.18.2.2", "2001:db8:3::2"; a v4-mapped IPv6
  // address is given in its IPv4 form); absent when the kernel gave none (local errors).
  std::optional<std::string> offender;

  friend bool operator==(const QueuedError&, const QueuedError&) = default;
};

// The payload (CMSG_DATA) of one IP_RECVERR / IPV6_RECVERR control message: a sock_extended_err
// followed by the offender's sockaddr_in / sockaddr_in6 (AF_UNSPEC: none). Reads through memcpy,
// so the bytes need no alignment; too short or an unknown address family is an error.
Result<QueuedError> decode_extended_err(std::span<const std::byte> payload);

// The payload of the first control message in a recvmsg control buffer whose (level, type) is
// v4 or v6 (e.g. {SOL_IP, IP_TTL} and {SOL_IPV6, IPV6_HOPLIMIT}); nullopt when there is none.
// Walked by hand with memcpy, so the bytes need no alignment (recorded ones included). A
// control message whose length runs past the buffer is an error.
struct ControlKind {
  int level;
  int type;
};
Result<std::optional<std::span<const std::byte>>> find_control_message(
    std::span<const std::byte> control, ControlKind v4, ControlKind v6);

// The whole control buffer of one recvmsg(MSG_ERRQUEUE): the first IP_RECVERR (SOL_IP) or
// IPV6_RECVERR (SOL_IPV6) message, or nullopt if it holds none. A control message whose length
// runs past the buffer is an error.
Result<std::optional<QueuedError>> decode_error_control(std::span<const std::byte> control);

// One recvmsg(MSG_ERRQUEUE): the error it decoded (absent when it did not decode) and the bytes
// returned with it (for a ping socket: our echo request back). nullopt when the queue is empty.
struct Dequeued {
  std::optional<QueuedError> error;
  std::vector<std::byte> original;
};
std::optional<Dequeued> read_error_queue(int fd);

// Empties a socket's error queue (one entry per read, at most max_reads; a handshake queues at
// most a few) and returns its first entry that decodes: the one that ended the handshake comes
// first. nullopt when the queue was empty.
std::optional<QueuedError> drain_error_queue(int fd, int max_reads = 8);

// An ICMP (origin icmp) or ICMPv6 (origin icmp6) type/code as a connect failure; nullopt for
// messages that do not end a TCP handshake (frag-needed / packet-too-big, informational types)
// and for other origins.
std::optional<ConnectFailure> classify_icmp(ErrOrigin origin, std::uint8_t type,
                                            std::uint8_t code);

// A failed connect: the errno it ended with (connect() itself or SO_ERROR; ETIMEDOUT when the
// kernel gave up) and the ICMP error queued for it, if any. The ICMP decides when it is one that
// ends a handshake; otherwise the errno. error 0 with no ICMP is `other`.
ConnectFailure classify_connect_error(int error, const std::optional<QueuedError>& queued);

}  // namespace connscope::probe
