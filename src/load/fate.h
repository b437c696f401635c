#pragma once
// What became of one connection of a storm, in the doctor's words: the connect stage's failure
// (probe/icmp_error.h ConnectFailure, with the same RST-vs-ICMP decision), the reason token
// `probe` prints (probe/scan.h scan_reason: "conn-refused", "port-unreachable", ...), and the
// SYN retransmissions a connection needed. Pure.

#include <cstdint>
#include <optional>
#include <string_view>

#include "probe/icmp_error.h"

namespace connscope::load {

// JSON tokens: fate_name.
enum class Fate {
  connected,            // at the first SYN
  connected_retried,    // after SYN retransmissions: 1 s for the first, 3 s for two, ...
  reset,                // the handshake completed, then a RST before connect() returned
  refused,              // a RST to the SYN: nothing listens, or a full SYN queue without cookies
  icmp,                 // an ICMP error (reason: its kind): rejected, prohibited, unreachable
  timed_out,            // no answer before the timeout: filtered, or every SYN dropped
  local_ports,          // EADDRNOTAVAIL: this host had no local port left for the destination
  local_nofile,         // EMFILE / ENFILE: no descriptor left in this process or host
  local_error,          // another local failure: no route, a local firewall, another errno
};
inline constexpr std::size_t kFateCount = 9;

// "connected", "connected_after_retransmits", "reset", "refused", "icmp", "timed_out",
// "local_ports", "local_nofile", "local_error".
std::string_view fate_name(Fate fate);

struct Outcome {
  Fate fate = Fate::local_error;
  probe::ConnectFailure failure = probe::ConnectFailure::other;
  std::string_view reason = "error";  // probe's reason token (static storage)
};

// A connect that ended: `error` is the errno it ended with (0: connected, or our timeout when
// `timed_out`), `queued` the ICMP error the kernel queued for it, `syn_retransmits` from
// tcp_info when it connected.
Outcome classify(int error, bool timed_out, const std::optional<probe::QueuedError>& queued,
                 std::uint32_t syn_retransmits);

// socket() itself failed (no connect was tried).
Outcome classify_socket_error(int error);

// The finding the doctor would name for the failure ("tcp.refused", ...); nullopt when it
// connected, and for failures the doctor has no finding of its own for.
std::optional<std::string_view> fate_finding(const Outcome& o);

}  // namespace connscope::load
